/**
 * Request path normalization as Istio configures Envoy's (MeshConfig
 * `pathNormalization.normalization`), applied once on gateways and on a sidecar's inbound
 * side, before routing and authorization; the app is sent the same normalized path.
 *
 * - `NONE`: the path is forwarded as sent.
 * - `BASE` (Istio's default, `DEFAULT` too): Envoy's `normalize_path`, RFC 3986 §6.2.2: a
 *   backslash is a slash, percent-encoded unreserved characters are decoded (`%61` is `a`,
 *   `%2E` is `.`), other escapes get upper-case hex digits, characters a path can't carry
 *   raw (space, `"`, `<`, `>`, non-ASCII, ...) are percent-encoded, and `.`/`..` segments
 *   are removed (§5.2.4; `..` never climbs above the root). Escaped slashes (`%2F`, `%5C`) are
 *   kept as they are (Envoy's `path_with_escaped_slashes_action` default, KEEP_UNCHANGED).
 * - `MERGE_SLASHES`: BASE, then repeated slashes merged (`//a///b` is `/a/b`).
 * - `DECODE_AND_MERGE_SLASHES`: `%2F` and `%5C` (either case) decoded first (Envoy's
 *   UNESCAPE_AND_FORWARD), then MERGE_SLASHES.
 *
 * In every mode a request whose path has a NUL (raw or `%00`), another control character, or
 * a `%` not followed by two hex digits is rejected (400), and a fragment (`#...`) is dropped.
 * Case is kept (Istio doesn't fold it: a policy on `/admin` doesn't cover `/ADMIN`), and `;`
 * is ordinary segment text (`/admin;x` is under `/admin*`, `/;/admin` isn't `/admin`), as
 * Envoy treats both. The query is kept as sent.
 *
 * @example
 * ```ts
 * normalizePath("/x/%2E%2E/admin", "BASE"); // { path: "/admin" }
 * normalizePath("/%00/admin", "BASE"); // { reject: "..." }
 * ```
 * @module
 */
import type { PathNormalization } from "../api/proxy_config.ts";

/** A normalized request target (path and query), or why the request is refused (400). */
export type NormalizedPath = { path: string; reject?: undefined } | { reject: string };

// Origin-form targets made only of characters normalization leaves alone, with no `/.`
// (a possible dot segment) and no `//`: the common case, returned as is.
const PLAIN =
  /^\/(?!\/)(?:[A-Za-z0-9\-_~!$&'()*+,;=:@]|\.(?!\.?(?:\/|$|\?))|\/(?!\/))*(?:\?[^#]*)?$/;

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Characters RFC 3986 leaves unreserved: their escapes mean the same as the characters. */
function isUnreserved(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

/** Characters a path may carry raw (RFC 3986 `pchar` and `/`, `%` for escapes). */
const RAW_OK = /[A-Za-z0-9\-._~!$&'()*+,;=:@/%]/;

/**
 * Normalizes a request target (origin-form, or absolute-form reduced to its path) with
 * `mode` (BASE when absent).
 */
export function normalizePath(
  target: string,
  mode: PathNormalization | undefined = "BASE",
): NormalizedPath {
  if (mode !== "NONE" && PLAIN.test(target)) return { path: target };
  let t = target;
  if (!t.startsWith("/")) {
    const m = t.match(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/);
    if (m) t = t.slice(m[0].length);
    if (!t.startsWith("/")) t = "/" + t;
  }
  const hash = t.indexOf("#");
  if (hash >= 0) t = t.slice(0, hash);
  const q = t.indexOf("?");
  let path = q < 0 ? t : t.slice(0, q);
  const query = q < 0 ? "" : t.slice(q);
  const bad = invalidPath(path);
  if (bad) return { reject: bad };
  if (mode === "NONE") return { path: path + query };
  if (mode === "DECODE_AND_MERGE_SLASHES") {
    path = path.replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  }
  path = removeDotSegments(canonicalChars(path));
  if (mode === "MERGE_SLASHES" || mode === "DECODE_AND_MERGE_SLASHES") {
    path = path.replace(/\/{2,}/g, "/");
  }
  return { path: path + query };
}

/** Why a path can't be served (NUL, control characters, bad escapes); undefined if it can. */
function invalidPath(path: string): string | undefined {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return "the request path has a control character";
    if (c !== 0x25) continue;
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return `the request path has an invalid percent-encoding at ${i}`;
    if (hex === "00") return "the request path has an encoded NUL (%00)";
    i += 2;
  }
  return undefined;
}

/** Backslashes as slashes, unreserved escapes decoded, others upper-cased, the rest encoded. */
function canonicalChars(path: string): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === "\\") {
      out += "/";
    } else if (ch === "%") {
      const hex = path.slice(i + 1, i + 3);
      const c = parseInt(hex, 16);
      out += isUnreserved(c) ? String.fromCharCode(c) : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (RAW_OK.test(ch)) {
      out += ch;
    } else {
      // Outside a path's character set (space, quotes, <>, non-ASCII): UTF-8, percent-encoded.
      const cp = path.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of new TextEncoder().encode(String.fromCodePoint(cp))) {
        out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
      }
    }
  }
  return out;
}

/** RFC 3986 §5.2.4 on an absolute path: `.` segments dropped, `..` removes the one before. */
export function removeDotSegments(path: string): string {
  if (!path.includes(".")) return path;
  const segments = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    const last = i === segments.length - 1;
    if (s === ".") {
      if (last) out.push("");
    } else if (s === "..") {
      out.pop();
      if (last) out.push("");
    } else out.push(s);
  }
  return "/" + out.join("/");
}

/** The MeshConfig `pathNormalization.normalization` values and what mesh applies for each. */
export const PATH_NORMALIZATIONS: readonly PathNormalization[] = [
  "NONE",
  "BASE",
  "MERGE_SLASHES",
  "DECODE_AND_MERGE_SLASHES",
];
