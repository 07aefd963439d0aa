/**
 * The name table the sidecar's DNS proxy answers from, as istio-agent's: the mesh's hosts
 * (ServiceEntry hosts, Kubernetes services as `name.ns.svc.cluster.local`) with their
 * addresses, plus the short forms a client may use for in-cluster names
 * (`reviews.default.svc`, `reviews.default`, and `reviews` from the same namespace), and
 * wildcard hosts (`*.example.com`).
 *
 * A name under `.svc.<domain>` that isn't in the table is answered NXDOMAIN here rather than
 * sent upstream: those are mostly the resolver's search-path expansions
 * (`reviews.default.svc.cluster.local.default.svc.cluster.local`, or
 * `api.example.com.default.svc.cluster.local` under `ndots:5`), each of which would otherwise
 * cost an upstream round trip. Turn it off with `svcNxdomain: false`.
 *
 * Built once per configuration; immutable.
 *
 * @example
 * ```ts
 * const table = buildNameTable({
 *   hosts: [{ hostname: "reviews.default.svc.cluster.local", addresses: ["10.0.0.7"] }],
 *   namespace: "default",
 * });
 * table.lookup("Reviews.", TYPE_A); // { kind: "answer", addresses: ["10.0.0.7"] }
 * table.lookup("reviews", TYPE_AAAA); // { kind: "answer", addresses: [] }: NOERROR, empty
 * table.lookup("x.svc.cluster.local", TYPE_A); // { kind: "nxdomain" }
 * table.lookup("example.org", TYPE_A); // undefined: forward it
 * ```
 * @module
 */

import { DEFAULT_DOMAIN_SUFFIX, fqdn, hostAliases } from "../../api/host.ts";
import { formatIpv6, ipv4Bytes, ipv6Bytes, TYPE_A, TYPE_AAAA } from "./wire.ts";

/** One host of the mesh and the addresses it resolves to. */
export interface NameEntry {
  /** A full name, a wildcard `*.suffix`, or a short name completed with `namespace`. */
  hostname: string;
  /** IPv4 addresses answer A queries, IPv6 ones AAAA; anything else is ignored. */
  addresses: readonly string[];
  /** The namespace the host was declared in (completes a short hostname). */
  namespace?: string;
}

/** Options of {@link buildNameTable}. */
export interface NameTableOptions {
  hosts: readonly NameEntry[];
  /** The proxy's own namespace: its services also answer by their bare name. */
  namespace: string;
  /** The cluster domain, `cluster.local` by default. */
  domain?: string;
  /**
   * Answer NXDOMAIN for names under `.svc.<domain>` not in the table instead of forwarding
   * them (default true).
   */
  svcNxdomain?: boolean;
}

/** What the table says about a name: answer it (maybe with no records), NXDOMAIN. */
export type NameLookup =
  | { kind: "answer"; addresses: readonly string[] }
  | { kind: "nxdomain" };

/** The immutable table. */
export interface NameTable {
  /**
   * The answer for `name` (any case, a trailing dot ignored) and QTYPE `type`: the addresses
   * of that family for A and AAAA, none for other types of a known name (NOERROR, empty);
   * `nxdomain` for an unknown name under `.svc.<domain>`; undefined to forward the query.
   */
  lookup(name: string, type: number): NameLookup | undefined;
  /** How many names (hosts and aliases, wildcards included) the table holds. */
  readonly size: number;
}

interface Addrs {
  v4: readonly string[];
  v6: readonly string[];
}

const NXDOMAIN: NameLookup = Object.freeze({ kind: "nxdomain" });
const EMPTY: NameLookup = Object.freeze({ kind: "answer", addresses: Object.freeze([]) });

/** Lowercase, without a trailing dot. */
function normalize(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n.slice(0, -1) : n;
}

/** Builds the table; hosts with no valid address are left out (they resolve upstream). */
export function buildNameTable(opts: NameTableOptions): NameTable {
  const domain = normalize(opts.domain ?? DEFAULT_DOMAIN_SUFFIX);
  const primary = new Map<string, { v4: Set<string>; v6: Set<string> }>();
  const aliases = new Map<string, { v4: Set<string>; v6: Set<string> }>();
  const add = (map: typeof primary, name: string, v4: string[], v6: string[]) => {
    let e = map.get(name);
    if (!e) map.set(name, e = { v4: new Set(), v6: new Set() });
    for (const a of v4) e.v4.add(a);
    for (const a of v6) e.v6.add(a);
  };
  for (const h of opts.hosts) {
    let host = normalize(h.hostname);
    if (host === "" || host === "*") continue; // `*` would swallow every name
    if (!host.includes(".") && h.namespace) host = fqdn(host, h.namespace, domain);
    const v4 = h.addresses.filter((a) => ipv4Bytes(a));
    const v6 = h.addresses.flatMap((a) => {
      const b = a.includes(":") ? ipv6Bytes(a) : undefined;
      return b ? [formatIpv6(b)] : [];
    });
    if (v4.length + v6.length === 0) continue;
    add(primary, host, v4, v6);
    if (host.startsWith("*")) continue;
    for (const alias of hostAliases(host, opts.namespace, domain).slice(1)) {
      add(aliases, alias, v4, v6);
    }
  }
  const exact = new Map<string, Addrs>();
  const freeze = (e: { v4: Set<string>; v6: Set<string> }): Addrs =>
    Object.freeze({ v4: Object.freeze([...e.v4]), v6: Object.freeze([...e.v6]) });
  for (const [name, e] of aliases) exact.set(name, freeze(e));
  for (const [name, e] of primary) if (!name.startsWith("*")) exact.set(name, freeze(e)); // hosts beat aliases
  // Wildcards `*.suffix` (and Envoy-style `*suffix`), longest suffix first.
  const wildcards = [...primary]
    .filter(([name]) => name.startsWith("*"))
    .map(([name, e]) => ({ suffix: name.slice(1), addrs: freeze(e) }))
    .sort((a, b) => b.suffix.length - a.suffix.length);
  const svcSuffix = `.svc.${domain}`;
  const svcNxdomain = opts.svcNxdomain ?? true;

  const answer = (a: Addrs, type: number): NameLookup => {
    const addresses = type === TYPE_A ? a.v4 : type === TYPE_AAAA ? a.v6 : [];
    return addresses.length ? { kind: "answer", addresses } : EMPTY;
  };

  return Object.freeze({
    size: exact.size + wildcards.length,
    lookup(name: string, type: number): NameLookup | undefined {
      const n = normalize(name);
      if (n === "") return undefined;
      const hit = exact.get(n);
      if (hit) return answer(hit, type);
      for (const w of wildcards) {
        if (n.length > w.suffix.length && n.endsWith(w.suffix)) return answer(w.addrs, type);
      }
      if (svcNxdomain && n.endsWith(svcSuffix)) return NXDOMAIN;
      return undefined;
    },
  });
}
