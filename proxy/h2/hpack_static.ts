/**
 * The HPACK static table (RFC 7541 Appendix A) and the lookups an encoder needs: the index of
 * a full (name, value) match and the first index of a name.
 *
 * @example
 * ```ts
 * import { STATIC_TABLE, staticIndex, staticName, staticNameIndex } from "./hpack_static.ts";
 * STATIC_TABLE[2 - 1]; // [":method", "GET"]
 * staticIndex(":method", "GET"); // 2
 * staticNameIndex("cookie"); // 32
 * staticName(":status")?.values.get("404"); // 13
 * ```
 * @module
 */

/** Entries 1-61 (array index = HPACK index - 1). */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** Number of static entries; dynamic indexes start after it. */
export const STATIC_LENGTH = 61;

/** A name's static entries: its first index and the index of each of its values. */
export interface StaticName {
  readonly index: number;
  readonly values: ReadonlyMap<string, number>;
}

const byName = new Map<string, { index: number; values: Map<string, number> }>();
STATIC_TABLE.forEach(([name, value], i) => {
  let e = byName.get(name);
  if (!e) byName.set(name, e = { index: i + 1, values: new Map() });
  if (!e.values.has(value)) e.values.set(value, i + 1);
});

/** The static entries with this name, if any (one map lookup for the encoder's hot path). */
export function staticName(name: string): StaticName | undefined {
  return byName.get(name);
}

/** The static index of the entry (name, value), or 0. */
export function staticIndex(name: string, value: string): number {
  return byName.get(name)?.values.get(value) ?? 0;
}

/** The first static index with this name, or 0. */
export function staticNameIndex(name: string): number {
  return byName.get(name)?.index ?? 0;
}
