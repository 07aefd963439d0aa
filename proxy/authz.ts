/**
 * AuthorizationPolicy enforcement on the inbound side, as Istio's: DENY
 * policies first (any match denies), then ALLOW policies (when a workload
 * has any, a request must match one). A request that is refused gets 403
 * `RBAC: access denied`, as Envoy answers. Pure: tested without I/O. Requests come here with
 * their path already normalized (`path_normalize.ts`) and their authority canonical
 * (`authority.ts`), so a policy sees the path and host the app is sent.
 *
 * @example
 * ```ts
 * const check = compileAuthz(config.authz ?? []);
 * check({ principal: "cluster.local/ns/default/sa/sleep", method: "GET", path: "/", ... }); // allowed?
 * ```
 * @module
 */
import { claimValues, type RequestAuth } from "./jwt.ts";
import type {
  AuthzCondition,
  AuthzOperation,
  AuthzPolicy,
  AuthzRule,
  AuthzSource,
} from "../api/proxy_config.ts";
import { stripQuery } from "./route.ts";

/** What authorization reads of a request. */
export interface AuthzRequest {
  /** The peer's SPIFFE ID without `spiffe://` (`cluster.local/ns/default/sa/sleep`); "" if none. */
  principal: string;
  /** The peer's IP address. */
  sourceIp: string;
  /** Host header (with or without port). */
  host: string;
  /** The port the workload serves on (its app port, as Istio's `destination.port`). */
  port: number;
  method: string;
  /** The path with query (Istio matches `paths` against the path without query). */
  path: string;
  header(name: string): string | undefined;
  /**
   * A TCP connection (a CONNECT tunnel), not an HTTP request: HTTP-only
   * fields (hosts, methods, paths, request headers) make an ALLOW rule never
   * match and are ignored by a DENY rule, as Istio does.
   */
  tcp?: boolean;
  /** The identity a verified JWT gave the request (RequestAuthentication); none without. */
  auth?: RequestAuth;
}

/**
 * What a workload's dry-run policies would have decided, per action (Istio's shadow engine
 * result): for DENY, denied by the named policy or allowed; for ALLOW, allowed by the named
 * policy or denied for lack of a match.
 */
export interface DryRunDecision {
  action: "ALLOW" | "DENY";
  allowed: boolean;
  policy?: string;
}

/**
 * The outcome: allowed, or denied by the named policy (or for lack of an ALLOW match); with
 * dry-run policies, also what they would have decided (never part of the outcome).
 */
export type AuthzDecision = ({ allowed: true } | { allowed: false; policy?: string }) & {
  dryRun?: DryRunDecision[];
};

/** Istio's string matching: `*` (any, non-empty), `prefix*`, `*suffix`, or exact. */
export function authzStringMatch(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern === "*") return value !== "";
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

function anyOf(patterns: string[] | undefined, value: string | undefined): boolean {
  return patterns !== undefined && patterns.some((p) => authzStringMatch(p, value));
}

/** `in` must match (when set), `notIn` must not. */
function field(
  inList: string[] | undefined,
  notIn: string[] | undefined,
  value: string | undefined,
): boolean {
  if (inList !== undefined && !anyOf(inList, value)) return false;
  if (notIn !== undefined && anyOf(notIn, value)) return false;
  return true;
}

function v4(a: string): bigint | undefined {
  const p = a.split(".");
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
  return p.reduce((n, x) => (n << 8n) | BigInt(Number(x)), 0n);
}

function v6(a: string): bigint | undefined {
  let s = a.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const tail = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (tail) {
    const n = v4(tail[1]);
    if (n === undefined) return undefined;
    s = s.slice(0, -tail[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const groups = [...head, ...Array(Math.max(0, fill)).fill("0"), ...rest];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** An address as (bits, value); IPv4-mapped IPv6 addresses count as IPv4. */
function parseIp(a: string): { bits: number; value: bigint } | undefined {
  const four = v4(a);
  if (four !== undefined) return { bits: 32, value: four };
  const six = v6(a);
  if (six === undefined) return undefined;
  if (six >> 32n === 0xffffn) return { bits: 32, value: six & 0xffffffffn };
  return { bits: 128, value: six };
}

/**
 * Whether `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or one address);
 * undefined when either doesn't parse, for the caller to fail closed.
 */
export function ipInBlock(ip: string, cidr: string): boolean | undefined {
  const [base, bitsText] = cidr.split("/");
  const a = parseIp(ip);
  const b = parseIp(base);
  if (!a || !b) return undefined;
  if (a.bits !== b.bits) return false;
  const bits = bitsText === undefined ? b.bits : Number(bitsText);
  if (bits <= 0) return true;
  const shift = BigInt(b.bits - Math.min(bits, b.bits));
  return (a.value >> shift) === (b.value >> shift);
}

function namespaceOf(principal: string): string | undefined {
  return principal.match(/\/ns\/([^/]+)\//)?.[1];
}

function sourceMatches(s: AuthzSource, r: AuthzRequest): boolean {
  if (!field(s.principals, s.notPrincipals, r.principal)) return false;
  if (!field(s.requestPrincipals, s.notRequestPrincipals, r.auth?.principal)) return false;
  if (!field(s.namespaces, s.notNamespaces, namespaceOf(r.principal))) return false;
  // An address that can't be compared never satisfies ipBlocks and always hits notIpBlocks.
  if (s.ipBlocks && !s.ipBlocks.some((b) => ipInBlock(r.sourceIp, b) === true)) return false;
  if (s.notIpBlocks && s.notIpBlocks.some((b) => ipInBlock(r.sourceIp, b) !== false)) return false;
  return true;
}

/** Istio matches `hosts` case-insensitively, with or without the port. */
function hostMatches(patterns: string[], host: string): boolean {
  const h = host.toLowerCase();
  const bare = h.replace(/:\d+$/, "");
  return patterns.some((p) =>
    authzStringMatch(p.toLowerCase(), h) || authzStringMatch(p.toLowerCase(), bare)
  );
}

function operationMatches(o: AuthzOperation, r: AuthzRequest): boolean {
  if (o.hosts && !hostMatches(o.hosts, r.host)) return false;
  if (o.notHosts && hostMatches(o.notHosts, r.host)) return false;
  if (!field(o.ports, o.notPorts, String(r.port))) return false;
  if (!field(o.methods, o.notMethods, r.method)) return false;
  if (!field(o.paths, o.notPaths, stripQuery(r.path))) return false;
  return true;
}

/** The values of a list attribute (`request.auth.audiences`, `request.auth.claims[...]`). */
function listAttribute(key: string, r: AuthzRequest): string[] | undefined {
  if (key === "request.auth.audiences") return r.auth?.audiences ?? [];
  if (key.startsWith("request.auth.claims[")) {
    if (!r.auth) return [];
    // request.auth.claims[a][b] → ["a", "b"]
    const path = key.slice("request.auth.claims".length).slice(1, -1).split("][");
    return claimValues(r.auth, path);
  }
  return undefined;
}

function attribute(key: string, r: AuthzRequest): string | undefined {
  switch (key) {
    case "request.auth.principal":
      return r.auth?.principal;
    case "request.auth.presenter":
      return r.auth?.presenter;
    case "source.principal":
      return r.principal;
    case "source.namespace":
      return namespaceOf(r.principal);
    case "source.ip":
      return r.sourceIp;
    case "destination.port":
      return String(r.port);
  }
  const h = key.match(/^request\.headers\[([^\]]+)\]$/);
  return h ? r.header(h[1].toLowerCase()) : undefined;
}

function conditionMatches(c: AuthzCondition, r: AuthzRequest): boolean {
  const v = attribute(c.key, r);
  if (c.key === "source.ip") {
    if (c.values && (v === undefined || !c.values.some((b) => ipInBlock(v, b) === true))) {
      return false;
    }
    if (c.notValues && (v === undefined || c.notValues.some((b) => ipInBlock(v, b) !== false))) {
      return false;
    }
    return true;
  }
  const list = listAttribute(c.key, r);
  if (list !== undefined) {
    if (c.values && !list.some((x) => anyOf(c.values, x))) return false;
    if (c.notValues && list.some((x) => anyOf(c.notValues, x))) return false;
    return true;
  }
  return field(c.values, c.notValues, v);
}

const HTTP_ONLY_OPERATION = [
  "hosts",
  "notHosts",
  "methods",
  "notMethods",
  "paths",
  "notPaths",
] as const;

/** A rule as it applies to a TCP connection: undefined if it can't match one. */
function forTcp(rule: AuthzRule, deny: boolean): AuthzRule | undefined {
  const httpOp = rule.to?.some((o) => HTTP_ONLY_OPERATION.some((k) => o[k] !== undefined));
  const httpWhen = rule.when?.some((c) => c.key.startsWith("request."));
  const httpFrom = rule.from?.some((s) => s.requestPrincipals || s.notRequestPrincipals);
  if (!httpOp && !httpWhen && !httpFrom) return rule;
  if (!deny) return undefined;
  return {
    ...rule,
    from: rule.from?.map(({ requestPrincipals: _r, notRequestPrincipals: _n, ...rest }) => rest),
    to: rule.to?.map((o) => ({ ports: o.ports, notPorts: o.notPorts })),
    when: rule.when?.filter((c) => !c.key.startsWith("request.")),
  };
}

function ruleMatches(rule: AuthzRule, r: AuthzRequest, deny: boolean): boolean {
  if (r.tcp) {
    const t = forTcp(rule, deny);
    if (!t) return false;
    rule = t;
  }
  if (rule.from && !rule.from.some((s) => sourceMatches(s, r))) return false;
  if (rule.to && !rule.to.some((o) => operationMatches(o, r))) return false;
  if (rule.when && !rule.when.every((c) => conditionMatches(c, r))) return false;
  return true;
}

/**
 * Compiles a workload's policies into one decision function. Dry-run policies never change the
 * decision; what they would have decided comes with it (`dryRun`).
 */
export function compileAuthz(policies: AuthzPolicy[]): (r: AuthzRequest) => AuthzDecision {
  const enforced = compileEnforced(policies.filter((p) => !p.dryRun));
  const shadowDeny = policies.filter((p) => p.dryRun && p.action === "DENY");
  const shadowAllow = policies.filter((p) => p.dryRun && p.action === "ALLOW");
  if (shadowDeny.length === 0 && shadowAllow.length === 0) return enforced;
  return (r) => {
    const dryRun: DryRunDecision[] = [];
    if (shadowDeny.length) {
      const hit = shadowDeny.find((p) => p.rules.some((rule) => ruleMatches(rule, r, true)));
      dryRun.push({ action: "DENY", allowed: !hit, ...(hit ? { policy: hit.name } : {}) });
    }
    if (shadowAllow.length) {
      const hit = shadowAllow.find((p) => p.rules.some((rule) => ruleMatches(rule, r, false)));
      dryRun.push({ action: "ALLOW", allowed: !!hit, ...(hit ? { policy: hit.name } : {}) });
    }
    return { ...enforced(r), dryRun };
  };
}

function compileEnforced(policies: AuthzPolicy[]): (r: AuthzRequest) => AuthzDecision {
  const deny = policies.filter((p) => p.action === "DENY");
  const allow = policies.filter((p) => p.action === "ALLOW");
  if (deny.length === 0 && allow.length === 0) return () => ({ allowed: true });
  return (r) => {
    for (const p of deny) {
      if (p.rules.some((rule) => ruleMatches(rule, r, true))) {
        return { allowed: false, policy: p.name };
      }
    }
    if (allow.length === 0) return { allowed: true };
    for (const p of allow) {
      if (p.rules.some((rule) => ruleMatches(rule, r, false))) return { allowed: true };
    }
    return { allowed: false };
  };
}
