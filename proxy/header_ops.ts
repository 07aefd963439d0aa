/**
 * Header changes the proxy can always make: a route's `set`/`add`/`remove` (VirtualService
 * `headers`, Gateway API header modifiers converted to them), CORS and redirect headers, and the
 * header list of a request sent upstream. A name or value that `Headers` would refuse (not an
 * RFC 9110 token, a NUL, CR or LF in a value, a character past U+00FF, a `:pseudo` name) is
 * skipped instead of throwing at request time: the request goes on without that change, and one
 * warning is logged per distinct name (the names remembered are capped). Istio's validation lets
 * some of these through (it never checks a name's characters), and a control plane may push
 * config mesh's validation never saw, so the proxy can't rely on validation.
 *
 * On the request side (a header list mesh's HTTP/1.1 client writes itself), a value past Latin-1
 * is fine (sent as UTF-8, as before) but a NUL, CR or LF never is (it would inject headers),
 * and the authority is Istio's: request `set` or `add` of `:authority` or `host` replaces the
 * one `host`, and `host` is never removed.
 *
 * @example
 * ```ts
 * applyHeaderChanges(res.headers, { set: { "x-a": "1" }, remove: ["bad name"] }); // skips, warns
 * ```
 * @module
 */
import type { HeaderChanges } from "../api/proxy_config.ts";
import { copyTrailers } from "./trailers.ts";
import { logger } from "../util/log.ts";

const log = logger("proxy");

/** RFC 9110 token characters: what `Headers` accepts in a name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What `Headers` refuses in a value: NUL, CR, LF, and anything that isn't a byte (> U+00FF). */
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;
/** The whitespace `Headers` strips from both ends of a value. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
/** What a head mesh writes itself can't carry in a value (anywhere: it isn't stripped). */
const LINE_BREAK = /[\0\r\n]/;

/** Why `Headers` would refuse this name, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  if (TOKEN.test(name)) return undefined;
  if (name === "") return "an empty header name";
  if (name.startsWith(":")) return "a pseudo-header can't be changed as a header";
  return "not a valid header name (RFC 9110 token characters only)";
}

/**
 * Why `Headers` would refuse this value, or undefined. As `Headers`, leading and trailing
 * whitespace (tab, CR, LF, space) doesn't count: it is stripped.
 */
export function headerValueProblem(value: string): string | undefined {
  if (!BAD_VALUE.test(value)) return undefined;
  value = value.replace(EDGE_WHITESPACE, "");
  if (!BAD_VALUE.test(value)) return undefined;
  return LINE_BREAK.test(value)
    ? "the value has a NUL, CR or LF"
    : "the value has a character outside Latin-1";
}

/** Why `Headers` would refuse `name: value` (or `name` alone), or undefined. */
export function headerProblem(name: string, value?: string): string | undefined {
  return headerNameProblem(name) ?? (value === undefined ? undefined : headerValueProblem(value));
}

/**
 * Why `name: value` can't go in a request head mesh writes itself, or undefined: as
 * {@linkcode headerProblem}, but a character past U+00FF is fine (written as UTF-8, as Envoy
 * sends the bytes it is configured with); a NUL, CR or LF never is (header injection).
 */
export function listHeaderProblem(name: string, value: string): string | undefined {
  return headerNameProblem(name) ??
    (LINE_BREAK.test(value) ? "the value has a NUL, CR or LF" : undefined);
}

/** How many distinct skipped names are remembered (for one warning each) by default. */
export const SKIP_LOG_NAMES = 256;

/**
 * Remembers the names of skipped header changes so each is warned about once; past `cap`
 * names, the oldest is forgotten (memory stays bounded; a forgotten name may warn again).
 */
export class SkipLog {
  #seen = new Set<string>();
  readonly #cap: number;
  readonly #warn: (name: string, why: string) => void;

  constructor(
    cap = SKIP_LOG_NAMES,
    warn: (name: string, why: string) => void = (name, why) =>
      log.warn("header change skipped: the proxy can't send this header", { name, why }),
  ) {
    this.#cap = Math.max(1, cap);
    this.#warn = warn;
  }

  /** Records a skipped change of `name`; warns the first time the name is seen. */
  skipped(name: string, why: string): void {
    if (this.#seen.has(name)) return;
    if (this.#seen.size >= this.#cap) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(name);
    this.#warn(name, why);
  }

  /** How many names are remembered. */
  get size(): number {
    return this.#seen.size;
  }
}

/** The log the proxy's header changes report to. */
export const skipLog: SkipLog = new SkipLog();

/** `h.set(name, value)`, or a skip (false) when `Headers` would refuse it. Never throws. */
export function safeSet(h: Headers, name: string, value: string, skips = skipLog): boolean {
  return attempt(name, value, () => h.set(name, value), skips);
}

/** `h.append(name, value)`, or a skip (false) when `Headers` would refuse it. Never throws. */
export function safeAppend(h: Headers, name: string, value: string, skips = skipLog): boolean {
  return attempt(name, value, () => h.append(name, value), skips);
}

/** `h.delete(name)`, or a skip (false) when `Headers` would refuse the name. Never throws. */
export function safeDelete(h: Headers, name: string, skips = skipLog): boolean {
  return attempt(name, undefined, () => h.delete(name), skips);
}

function attempt(
  name: string,
  value: string | undefined,
  op: () => void,
  skips: SkipLog,
): boolean {
  const why = headerProblem(name, value);
  if (why) {
    skips.skipped(name, why);
    return false;
  }
  try {
    op();
    return true;
  } catch (err) {
    skips.skipped(name, (err as Error).message);
    return false;
  }
}

/**
 * Applies header changes to `h` in Envoy's order: remove, then set (replacing), then add.
 * Changes `Headers` would refuse are skipped. Returns false, with nothing changed, when `h`
 * refuses the first change it is given that is valid (immutable headers): the caller copies
 * them and applies the changes to the copy. Never throws.
 */
export function applyHeaderChanges(h: Headers, c: HeaderChanges, skips = skipLog): boolean {
  let mutable = false;
  const run = (name: string, value: string | undefined, op: () => void): boolean => {
    const why = headerProblem(name, value);
    if (why) {
      skips.skipped(name, why);
      return true;
    }
    try {
      op();
      mutable = true;
      return true;
    } catch (err) {
      if (!mutable) return false;
      skips.skipped(name, (err as Error).message);
      return true;
    }
  };
  for (const k of c.remove ?? []) {
    if (!run(k, undefined, () => h.delete(k))) return false;
  }
  for (const [k, v] of Object.entries(c.set ?? {})) {
    if (!run(k, v, () => h.set(k, v))) return false;
  }
  for (const [k, v] of Object.entries(c.add ?? {})) {
    if (!run(k, v, () => h.append(k, v))) return false;
  }
  return true;
}

/** Applies header changes to headers that are known to take them: a refusal is a skip. */
function applyLeniently(h: Headers, c: HeaderChanges, skips: SkipLog): void {
  for (const k of c.remove ?? []) safeDelete(h, k, skips);
  for (const [k, v] of Object.entries(c.set ?? {})) safeSet(h, k, v, skips);
  for (const [k, v] of Object.entries(c.add ?? {})) safeAppend(h, k, v, skips);
}

/**
 * `res` with header changes applied (in place, or on a copy when its headers are immutable).
 * Changes `Headers` would refuse are skipped. Never throws.
 */
export function withHeaderChanges(
  res: Response,
  c: HeaderChanges | undefined,
  skips = skipLog,
): Response {
  if (!c || applyHeaderChanges(res.headers, c, skips)) return res;
  const out = new Response(res.body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  applyLeniently(out.headers, c, skips);
  return copyTrailers(res, out);
}

/** Whether a request-side name stands for the authority (sent upstream as the `host` header). */
function isAuthority(lower: string): boolean {
  return lower === "host" || lower === ":authority";
}

/**
 * Applies header changes to the header list of a request sent upstream (names lowercase):
 * remove, then set (replacing), then add. A change that can't be written is skipped (see
 * {@linkcode listHeaderProblem}: a value past Latin-1 goes as UTF-8); `set` or
 * `add` of `:authority` or `host` replaces the `host` (Istio's authority rewrite), and `host`
 * is never removed (a request needs it). Never throws.
 */
export function changeHeaderList(
  list: [string, string][],
  c: HeaderChanges,
  skips = skipLog,
): [string, string][] {
  const drop = new Set<string>();
  const put: [string, string][] = [];
  for (const name of c.remove ?? []) {
    const k = name.toLowerCase();
    if (isAuthority(k)) skips.skipped(name, "a request's authority can't be removed");
    else {
      const why = headerNameProblem(k);
      if (why) skips.skipped(name, why);
      else drop.add(k);
    }
  }
  const change = (name: string, value: string, replace: boolean) => {
    let k = name.toLowerCase();
    if (isAuthority(k)) {
      k = "host";
      replace = true;
    }
    const why = listHeaderProblem(k, value);
    if (why) return skips.skipped(name, why);
    if (replace) {
      drop.add(k);
      // A later `set` of the same name wins over an earlier one (the authority set twice).
      for (let i = put.length - 1; i >= 0; i--) if (put[i][0] === k) put.splice(i, 1);
    }
    put.push([k, value]);
  };
  for (const [k, v] of Object.entries(c.set ?? {})) change(k, v, true);
  for (const [k, v] of Object.entries(c.add ?? {})) change(k, v, false);
  const out = drop.size ? list.filter(([k]) => !drop.has(k)) : list.slice();
  for (const kv of put) out.push(kv);
  return out;
}

/**
 * Whether `name: value` can go in a request head mesh writes (see {@linkcode listHeaderProblem});
 * when it can't, the skip is logged. For values that become headers outside a header change
 * (a rewritten authority).
 */
export function sendable(name: string, value: string, skips = skipLog): boolean {
  const why = listHeaderProblem(name, value);
  if (why) skips.skipped(name, why);
  return why === undefined;
}

/**
 * `list` without the pairs that can't be written in an HTTP/1.1 head (an invalid name, a value
 * with a NUL, CR or LF): the last guard against header injection. The same array when every
 * pair is fine. Never throws.
 */
export function sendableHeaderList(
  list: [string, string][],
  skips = skipLog,
): [string, string][] {
  let out: [string, string][] | undefined;
  for (let i = 0; i < list.length; i++) {
    const [k, v] = list[i];
    if (TOKEN.test(k) && !LINE_BREAK.test(v)) {
      out?.push(list[i]);
      continue;
    }
    skips.skipped(k, listHeaderProblem(k, v) ?? "not sendable");
    out ??= list.slice(0, i);
  }
  return out ?? list;
}
