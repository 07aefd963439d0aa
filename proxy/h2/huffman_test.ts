import assert from "node:assert/strict";
import {
  HUFFMAN_EOS,
  HUFFMAN_PADDING,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
} from "./huffman.ts";

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: t.length / 2 },
    (_, i) => parseInt(t.slice(2 * i, 2 * i + 2), 16),
  );
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function encode(s: string): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(s));
  assert.equal(huffmanEncode(s, out, 0), out.length);
  return out;
}

/** The decoded byte string, or the negative error result. */
function decode(b: Uint8Array): string | number {
  const out = new Uint8Array(Math.ceil(b.length * 8 / 5));
  const n = huffmanDecode(b, 0, b.length, out);
  if (n < 0) return n;
  assert.equal(huffmanDecode(b, 0, b.length), n, "measuring gives the same length");
  return Array.from(out.subarray(0, n), (c) => String.fromCharCode(c)).join("");
}

/** A small seeded PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The Huffman strings of RFC 7541 Appendix C.4 and C.6.
const RFC_STRINGS: [string, string][] = [
  ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
  ["no-cache", "a8eb 1064 9cbf"],
  ["custom-key", "25a8 49e9 5ba9 7d7f"],
  ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
  ["302", "6402"],
  ["307", "640e ff"],
  ["private", "aec3 771a 4b"],
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
  ["Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"],
  ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
  ["gzip", "9bd9 ab"],
  [
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ],
  ["", ""],
];

for (const [plain, coded] of RFC_STRINGS) {
  Deno.test(`huffman: RFC 7541 C.4/C.6 string ${JSON.stringify(plain)}`, () => {
    assert.equal(toHex(encode(plain)), coded.replace(/\s+/g, ""));
    assert.equal(huffmanEncodedLength(plain), hex(coded).length);
    assert.equal(decode(hex(coded)), plain);
  });
}

Deno.test("huffman: every byte value round-trips, alone and all together", () => {
  let all = "";
  for (let c = 0; c < 256; c++) {
    const s = String.fromCharCode(c);
    assert.equal(decode(encode(s)), s, `byte ${c}`);
    all += s;
  }
  assert.equal(decode(encode(all)), all);
  const reversed = all.split("").reverse().join("");
  assert.equal(decode(encode(reversed)), reversed);
});

Deno.test("huffman: random strings round-trip (seeded)", () => {
  const rand = prng(7541);
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rand() * 64);
    // Half printable ASCII (short codes), half any byte (long codes up to 30 bits).
    const ascii = i % 2 === 0;
    const chars: string[] = [];
    for (let j = 0; j < len; j++) {
      chars.push(
        String.fromCharCode(ascii ? 32 + Math.floor(rand() * 95) : Math.floor(rand() * 256)),
      );
    }
    const s = chars.join("");
    assert.equal(decode(encode(s)), s, `string ${i}: ${JSON.stringify(s)}`);
  }
});

Deno.test("huffman: encodes at an offset into a larger buffer", () => {
  const out = new Uint8Array(20).fill(0xaa);
  const end = huffmanEncode("no-cache", out, 3);
  assert.equal(end, 9);
  assert.equal(toHex(out.subarray(3, end)), "a8eb10649cbf");
  assert.equal(out[2], 0xaa);
  assert.equal(out[9], 0xaa);
  assert.equal(huffmanDecode(hex("00 a8eb 1064 9cbf 00"), 1, 7, new Uint8Array(10)), 8);
});

const MALFORMED: [name: string, bytes: string, result: number][] = [
  ["EOS alone (30 ones and 2 padding bits)", "ffff ffff", HUFFMAN_EOS],
  ["EOS after a symbol", "1fff ffff ff", HUFFMAN_EOS], // '0' (00000) then 35 ones
  ["a whole byte of padding", "ff", HUFFMAN_PADDING],
  ["padding of 12 bits after a string", "f1e3 c2e5 f23a 6ba0 ab90 f4ff ff", HUFFMAN_PADDING],
  ["padding with a zero bit", "06", HUFFMAN_PADDING], // '0' then 110
  ["padding all zeros", "00", HUFFMAN_PADDING], // '0' then 000
  ["a code cut short", "fe", HUFFMAN_PADDING], // 1111 1110 is the start of a longer code
];

for (const [name, bytes, result] of MALFORMED) {
  Deno.test(`huffman: rejects ${name}`, () => {
    const b = hex(bytes);
    assert.equal(huffmanDecode(b, 0, b.length, new Uint8Array(16)), result);
    assert.equal(huffmanDecode(b, 0, b.length), result);
  });
}

Deno.test("huffman: up to 7 one bits of padding are accepted", () => {
  // '0' is 00000 and 'a' 00011.
  assert.equal(decode(hex("07")), "0"); // 00000 111
  assert.equal(decode(hex("18 3f")), "a0"); // 00011 00000 111111
  assert.equal(decode(hex("18 07")), "a0a"); // 00011 00000 00011 1
  assert.equal(decode(hex("0000")), HUFFMAN_PADDING); // 00000 00000 000000: a zero tail
});
