/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B) for string literals.
 *
 * The code is canonical: codes of one length are consecutive in symbol order and shorter codes
 * sort before longer ones, so the table below holds only each symbol's code length (symbols
 * 0-255 and EOS, 256) and the codes are rebuilt from it. Decoding runs a byte-at-a-time state
 * machine (one state per internal node of the code tree, 256 entries per state) built on first
 * use; each step emits at most two symbols and says whether the bits read so far may end the
 * string (padding of at most 7 one bits, RFC 7541 §5.2).
 *
 * Strings are byte strings: each char code (0-255) is one byte.
 *
 * @example
 * ```ts
 * import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
 * const out = new Uint8Array(huffmanEncodedLength("www.example.com")); // 12 bytes
 * huffmanEncode("www.example.com", out, 0);
 * const back = new Uint8Array(out.length * 8 / 5 + 1);
 * const n = huffmanDecode(out, 0, out.length, back); // 15, or HUFFMAN_EOS / HUFFMAN_PADDING
 * ```
 * @module
 */

/** Code lengths in bits of symbols 0-255 and EOS (256), RFC 7541 Appendix B. */
// deno-fmt-ignore
const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
]

/** The end-of-string symbol; its code is 30 one bits. */
const EOS = 256;

/** Returned by {@link huffmanDecode} when the string contains the EOS code. */
export const HUFFMAN_EOS = -1;
/** Returned by {@link huffmanDecode} when the padding is over 7 bits or not all ones. */
export const HUFFMAN_PADDING = -2;

/** Code length per byte value (index 0-255). */
const codeLength = new Uint8Array(LENGTHS.slice(0, 256));
/** Code per symbol 0-256, right-aligned. */
const codes = new Uint32Array(257);

(function assignCanonicalCodes() {
  const order = Array.from({ length: 257 }, (_, i) => i)
    .sort((a, b) => LENGTHS[a] - LENGTHS[b] || a - b);
  let code = 0;
  let len = LENGTHS[order[0]];
  for (let i = 0; i < order.length; i++) {
    const sym = order[i];
    if (i > 0) code = (code + 1) * 2 ** (LENGTHS[sym] - len);
    len = LENGTHS[sym];
    codes[sym] = code;
  }
})();

/** The Huffman-coded length in bytes of a byte string (the last byte padded). */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += codeLength[s.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman code of byte string `s` into `out` from `offset`, padded with one bits,
 * and returns the offset after it. `out` must have {@link huffmanEncodedLength} bytes free.
 * Char codes above 0xff are taken modulo 256 (callers validate first).
 */
export function huffmanEncode(s: string, out: Uint8Array, offset: number): number {
  let p = offset;
  let acc = 0; // pending bits, fewer than 8 between symbols
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    let len = codeLength[sym];
    let code = codes[sym];
    if (len > 24) {
      // Push the high part first so the accumulator never exceeds 31 bits.
      const high = len - 16;
      acc = (acc << high) | (code >>> 16);
      n += high;
      while (n >= 8) {
        n -= 8;
        out[p++] = acc >>> n;
      }
      acc &= (1 << n) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    n += len;
    while (n >= 8) {
      n -= 8;
      out[p++] = acc >>> n;
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[p++] = (acc << (8 - n)) | (0xff >>> n);
  return p;
}

// Decoder state machine: entry = next state (bits 0-7) | first symbol (8-15) |
// second symbol (16-23) | emitted count (24-25) | FAIL (26) | ACCEPT (27).
const FAIL = 1 << 26;
const ACCEPT = 1 << 27;

let machine: Uint32Array | undefined;

function buildMachine(): Uint32Array {
  // Code tree: internal nodes 0..255 (root 0); child >= 0 is a node, < 0 is -(symbol + 1).
  const child = new Int32Array(512);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = LENGTHS[sym];
    let node = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(codes[sym] / 2 ** b) & 1;
      const slot = node * 2 + bit;
      if (b === 0) child[slot] = -(sym + 1);
      else {
        if (child[slot] === 0) child[slot] = nodes++;
        node = child[slot];
      }
    }
  }
  // A string may end at the root or on the all-ones path at most 7 bits deep.
  const accepting = new Uint8Array(nodes);
  accepting[0] = 1;
  for (let d = 1, node = 0; d <= 7; d++) {
    node = child[node * 2 + 1];
    accepting[node] = 1;
  }
  const table = new Uint32Array(nodes * 256);
  for (let state = 0; state < nodes; state++) {
    for (let byte = 0; byte < 256; byte++) {
      let node = state;
      let emitted = 0;
      let syms = 0;
      let failed = false;
      for (let b = 7; b >= 0 && !failed; b--) {
        const next = child[node * 2 + ((byte >>> b) & 1)];
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = -next - 1;
        if (sym === EOS) failed = true;
        else {
          syms |= sym << (8 * emitted);
          emitted++;
          node = 0;
        }
      }
      table[state * 256 + byte] = failed
        ? FAIL
        : node | (syms << 8) | (emitted << 24) | (accepting[node] ? ACCEPT : 0);
    }
  }
  return table;
}

/**
 * Decodes the Huffman-coded bytes `src[start..end)` into `out` (from index 0) and returns the
 * decoded length, {@link HUFFMAN_EOS} or {@link HUFFMAN_PADDING}. `out` needs
 * `ceil((end - start) * 8 / 5)` bytes; without `out` the string is only checked and measured.
 */
export function huffmanDecode(
  src: Uint8Array,
  start: number,
  end: number,
  out?: Uint8Array,
): number {
  const m = machine ??= buildMachine();
  let state = 0;
  let entry = ACCEPT;
  let n = 0;
  if (out) {
    for (let i = start; i < end; i++) {
      entry = m[(state << 8) | src[i]];
      if (entry & FAIL) return HUFFMAN_EOS;
      const count = (entry >>> 24) & 3;
      if (count > 0) {
        out[n++] = entry >>> 8;
        if (count > 1) out[n++] = entry >>> 16;
      }
      state = entry & 0xff;
    }
  } else {
    for (let i = start; i < end; i++) {
      entry = m[(state << 8) | src[i]];
      if (entry & FAIL) return HUFFMAN_EOS;
      n += (entry >>> 24) & 3;
      state = entry & 0xff;
    }
  }
  return entry & ACCEPT ? n : HUFFMAN_PADDING;
}
