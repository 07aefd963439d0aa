/**
 * Host names as Istio resolves them: a short name in a VirtualService or
 * DestinationRule means `<name>.<namespace>.svc.<domain suffix>`; a name with a
 * dot is taken as written. Clients in the same namespace may use the short forms.
 *
 * @example
 * ```ts
 * fqdn("reviews", "default"); // "reviews.default.svc.cluster.local"
 * hostAliases("reviews.default.svc.cluster.local", "default");
 * // ["reviews.default.svc.cluster.local", "reviews.default.svc", "reviews.default", "reviews"]
 * ```
 * @module
 */

/** The DNS suffix of in-mesh services, as Kubernetes' cluster domain. */
export const DEFAULT_DOMAIN_SUFFIX = "cluster.local";

/** Resolves a host as written in a resource of `namespace` to its full name. */
export function fqdn(host: string, namespace: string, suffix = DEFAULT_DOMAIN_SUFFIX): string {
  const h = host.toLowerCase();
  if (h === "*" || h.includes(".")) return h;
  return `${h}.${namespace}.svc.${suffix}`;
}

/**
 * The names a client in `clientNamespace` may use for `host`: the full name,
 * and for `<name>.<ns>.svc.<suffix>` hosts the shorter `<name>.<ns>.svc` and
 * `<name>.<ns>`, plus the bare `<name>` when the client shares the namespace.
 */
export function hostAliases(
  host: string,
  clientNamespace: string,
  suffix = DEFAULT_DOMAIN_SUFFIX,
): string[] {
  const out = [host];
  const tail = `.svc.${suffix}`;
  if (host.endsWith(tail)) {
    const parts = host.slice(0, -tail.length).split(".");
    if (parts.length === 2) {
      const [name, ns] = parts;
      out.push(`${name}.${ns}.svc`, `${name}.${ns}`);
      if (ns === clientNamespace) out.push(name);
    }
  }
  return out;
}

/**
 * Whether `host` is matched by `pattern`: exact, `*`, or a wildcard `*.suffix` or `*suffix`
 * (Istio's host.Name and Envoy's suffix wildcards: `*-bar.example.com`).
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  if (pattern.startsWith("*")) return host.endsWith(pattern.slice(1));
  return false;
}

/** Whether two host patterns can match a common host (for binding VirtualServices to Gateways). */
export function hostsIntersect(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/**
 * Splits a `Host` header or authority into lowercase host and port.
 * IPv6 literals keep their brackets. Returns `port` undefined when absent.
 */
export function splitHostPort(authority: string): { host: string; port: number | undefined } {
  const a = authority.toLowerCase();
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    const port = a[end + 1] === ":" ? parsePort(a.slice(end + 2)) : undefined;
    return { host: a.slice(0, end + 1), port };
  }
  const i = a.lastIndexOf(":");
  if (i < 0) return { host: a, port: undefined };
  return { host: a.slice(0, i), port: parsePort(a.slice(i + 1)) };
}

/** A decimal port 1..65535, or undefined. */
function parsePort(s: string): number | undefined {
  if (s.length === 0 || s.length > 5) return undefined;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n >= 1 && n <= 65535 ? n : undefined;
}
