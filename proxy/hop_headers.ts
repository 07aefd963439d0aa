/**
 * Which request and response headers a proxy doesn't pass on (RFC 9110 §7.6.1, as Envoy):
 * the standard hop-by-hop set, every header a `Connection` header names (`Connection: x-foo`
 * makes `x-foo` hop-by-hop), and, from clients the mesh doesn't trust (a gateway's clients, a
 * plaintext peer of the inbound side), Envoy's own `x-envoy-*` headers, which Envoy strips
 * from untrusted edges: a client must not steer retries, timeouts or overload answers.
 * @module
 */
import { HOP_BY_HOP } from "./h1_codec.ts";

/** The lower-cased header names a `Connection` value lists (without `close`, `keep-alive`). */
export function connectionNominated(values: Iterable<string>): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (const v of values) {
    for (const token of v.split(",")) {
      const t = token.trim().toLowerCase();
      if (t === "" || t === "close" || t === "keep-alive") continue;
      (out ??= new Set()).add(t);
    }
  }
  return out;
}

/** Whether a header is Envoy's own (`x-envoy-*`), trusted only between mesh proxies. */
export function isEnvoyHeader(name: string): boolean {
  return name.startsWith("x-envoy-");
}

/**
 * A header filter for one message: true for headers to drop (hop-by-hop, named by
 * `Connection`, and `x-envoy-*` when `untrusted`).
 */
export function hopFilter(
  connection: Iterable<string>,
  untrusted: boolean,
): (name: string) => boolean {
  const named = connectionNominated(connection);
  return (k) => HOP_BY_HOP.has(k) || (named?.has(k) ?? false) || (untrusted && isEnvoyHeader(k));
}

/** `headers` without what {@linkcode hopFilter} drops. */
export function withoutHopHeaders(
  headers: [string, string][],
  untrusted = false,
): [string, string][] {
  const drop = hopFilter(headers.filter(([k]) => k === "connection").map(([, v]) => v), untrusted);
  return headers.filter(([k]) => !drop(k));
}
