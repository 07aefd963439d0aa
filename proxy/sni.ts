/**
 * Reading the server name (SNI) a TLS client asks for, from the first bytes
 * of its connection (a ClientHello), without terminating TLS: what Envoy's TLS
 * inspector does for passthrough routing.
 *
 * @example
 * ```ts
 * const r = serverName(firstBytes); // { name: "example.com" }, { more: true }, or {}
 * ```
 * @module
 */

/** The most bytes read looking for a ClientHello (one TLS record). */
export const MAX_HELLO_BYTES = 16 * 1024 + 5;

/**
 * The SNI of the ClientHello at the start of `buf`: `{ name }` when found, `{ more: true }`
 * when more bytes are needed, `{}` when it isn't a ClientHello or names no server.
 */
export function serverName(buf: Uint8Array): { name?: string; more?: boolean } {
  if (buf.length < 5) return { more: true };
  if (buf[0] !== 0x16) return {}; // not a TLS handshake record
  const recordLen = (buf[3] << 8) | buf[4];
  if (buf.length < 5 + recordLen) return { more: true };
  const r = buf.subarray(5, 5 + recordLen);
  if (r.length < 4 || r[0] !== 0x01) return {}; // not a ClientHello
  let p = 4 + 2 + 32; // handshake header, client version, random
  const skip = (lenBytes: number) => {
    if (p + lenBytes > r.length) return false;
    let n = 0;
    for (let i = 0; i < lenBytes; i++) n = (n << 8) | r[p + i];
    p += lenBytes + n;
    return p <= r.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return {}; // session id, cipher suites, compression
  if (p + 2 > r.length) return {};
  const extEnd = Math.min(r.length, p + 2 + ((r[p] << 8) | r[p + 1]));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (r[p] << 8) | r[p + 1];
    const len = (r[p + 2] << 8) | r[p + 3];
    p += 4;
    if (type === 0) {
      // server_name: list length (2), then entries of type (1), length (2), name.
      let q = p + 2;
      while (q + 3 <= p + len) {
        const nameType = r[q];
        const nameLen = (r[q + 1] << 8) | r[q + 2];
        q += 3;
        if (nameType === 0 && q + nameLen <= p + len) {
          return { name: new TextDecoder().decode(r.subarray(q, q + nameLen)).toLowerCase() };
        }
        q += nameLen;
      }
      return {};
    }
    p += len;
  }
  return {};
}
