/**
 * Just enough DER (ASN.1) encoding to build PKCS#10 requests without a
 * certificate library, so the proxy's import graph stays small.
 *
 * @example
 * ```ts
 * const bytes = seq(oid("1.2.840.10045.4.3.2")); // AlgorithmIdentifier ecdsa-with-SHA256
 * ```
 * @module
 */

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n >>>= 8;
  }
  return [0x80 | out.length, ...out];
}

/** A TLV with the given tag byte. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const head = [tag, ...lengthBytes(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SEQUENCE. */
export const seq = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => tlv(0x30, ...parts);
/** SET. */
export const set = (...parts: Uint8Array[]): Uint8Array => tlv(0x31, ...parts);

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const bytes = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const enc = [arc & 0x7f];
    let v = Math.floor(arc / 128);
    while (v > 0) {
      enc.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(...enc);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

/** A non-negative INTEGER from big-endian bytes (minimal form, sign bit respected). */
export function uint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let b = bytes.subarray(i);
  if (b[0] & 0x80) b = Uint8Array.of(0, ...b);
  return tlv(0x02, b);
}

/** BIT STRING with no unused bits. */
export const bitString = (bytes: Uint8Array): Uint8Array => tlv(0x03, Uint8Array.of(0), bytes);
/** OCTET STRING. */
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(0x04, bytes);

/** An ECDSA signature as WebCrypto returns it (r‖s) in DER form (SEQUENCE of two INTEGERs). */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return seq(uint(raw.subarray(0, half)), uint(raw.subarray(half)));
}
