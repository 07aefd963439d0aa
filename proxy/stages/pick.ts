/**
 * Which endpoint of a cluster an attempt goes to: the balancer's pick with outlier-ejected
 * endpoints skipped (Envoy's panic threshold as `minHealthPercent`), endpoints already tried
 * avoided on a retry when the policy asks, a consistent-hash key's endpoint, or, for an
 * original-destination cluster, the host the client asked for.
 *
 * @example
 * ```ts
 * const ep = pickEndpoint(lb, { tried: [], avoidTried: false, outliers });
 * ```
 * @module
 */
import { hostMatches, splitHostPort } from "../../api/host.ts";
import type { Cluster, Endpoint, HashPolicy } from "../../api/proxy_config.ts";
import { type Balancer, keyDraw } from "../balancer.ts";

/** What {@linkcode pickEndpoint} reads of outlier detection. */
export interface Ejections {
  isEjected(cluster: Cluster, ep: Endpoint): boolean;
  /** Changes whenever ejections may have (`OutlierDetector.version`); absent: at any time. */
  version?(): number;
}

/** How to pick. */
export interface PickOptions {
  /** Endpoints this request already tried. */
  tried: readonly Endpoint[];
  /** Avoid `tried` when another endpoint exists (`retryRemoteLocalities`/previous hosts). */
  avoidTried: boolean;
  outliers: Ejections;
  /** The request's consistent-hash key, when its cluster hashes and it has one. */
  hashKey?: string;
  /** Random draws in [0, 1). */
  random?: () => number;
}

/** The next endpoint that isn't ejected (undefined: no healthy upstream). */
export function pickEndpoint(lb: Balancer, o: PickOptions): Endpoint | undefined {
  if (lb.levels) return pickByLevel(lb, o);
  const cluster = lb.cluster;
  const rand = o.random ?? Math.random;
  const { tried, outliers } = o;
  let skip = cluster.outlier ? (e: Endpoint) => outliers.isEjected(cluster, e) : undefined;
  // Panic mode: with too few healthy endpoints, ejections are ignored (minHealthPercent).
  const min = cluster.outlier?.minHealthPercent;
  if (skip && min) {
    const healthy = cluster.endpoints.filter((e) => !skip!(e)).length;
    if (healthy * 100 < min * cluster.endpoints.length) skip = undefined;
  }
  if (o.hashKey !== undefined) {
    // Consistent hashing: the key's endpoint; a retry that avoids tried hosts walks the ring on.
    const ep = lb.pickByKey(
      o.hashKey,
      (e) => (skip?.(e) ?? false) || (o.avoidTried && tried.includes(e)),
    );
    return ep && skip?.(ep) ? undefined : ep;
  }
  let ep = lb.pick(rand(), skip);
  // Istio's default minHealthPercent 0 turns Envoy's panic mode off: with every endpoint
  // ejected there is no healthy upstream.
  if (ep && skip?.(ep)) return undefined;
  if (!o.avoidTried || tried.length === 0) return ep;
  // Envoy's previous_hosts predicate with host_selection_retry_max_attempts 5, as Istio sets.
  for (let i = 0; i < 5 && ep && tried.includes(ep); i++) ep = lb.pick(rand(), skip);
  return ep && skip?.(ep) ? undefined : ep;
}

/**
 * {@linkcode pickEndpoint} over priority levels (locality load balancing): the level by the
 * levels' health (ejected endpoints unhealthy), then the endpoint within it. A level in panic
 * (`minHealthPercent`) ignores ejections; a hash key picks its level by its hash and the
 * endpoint on that level's ring; a retry that avoids tried hosts stays in the level chosen.
 */
function pickByLevel(lb: Balancer, o: PickOptions): Endpoint | undefined {
  const cluster = lb.cluster;
  const rand = o.random ?? Math.random;
  const { tried, outliers } = o;
  const ejected = cluster.outlier ? (e: Endpoint) => outliers.isEjected(cluster, e) : undefined;
  const version = ejected ? outliers.version?.() : undefined;
  const hashed = o.hashKey !== undefined;
  const level = lb.chooseLevel(hashed ? keyDraw(o.hashKey!) : rand(), ejected, version);
  if (level < 0) return undefined; // no healthy upstream
  const skip = lb.inPanic(level) ? undefined : ejected;
  if (hashed) {
    const ep = lb.pickByKeyIn(
      level,
      o.hashKey!,
      (e) => (skip?.(e) ?? false) || (o.avoidTried && tried.includes(e)),
    );
    return ep && skip?.(ep) ? undefined : ep;
  }
  let ep = lb.pickIn(level, rand(), skip);
  if (o.avoidTried && tried.length) {
    for (let i = 0; i < 5 && ep && tried.includes(ep); i++) ep = lb.pickIn(level, rand(), skip);
  }
  return ep && skip?.(ep) ? undefined : ep;
}

/**
 * A request's consistent-hash key: its header, cookie, query parameter or client address.
 * A missing cookie with a TTL is made up, and `setCookie` hands it to the client (as Envoy
 * does); other missing keys give no key (the cluster's usual balancing).
 */
export function hashKeyOf(
  policy: HashPolicy,
  req: { header(name: string): string | undefined; path: string; clientIp(): string | undefined },
): { key?: string; setCookie?: string } | undefined {
  if (policy.header) {
    const v = req.header(policy.header);
    return v === undefined ? undefined : { key: v };
  }
  if (policy.sourceIp) {
    const ip = req.clientIp();
    return ip === undefined ? undefined : { key: ip };
  }
  if (policy.queryParameter) {
    const q = req.path.indexOf("?");
    const v = q < 0 ? null : new URLSearchParams(req.path.slice(q + 1)).get(policy.queryParameter);
    return v === null ? undefined : { key: v };
  }
  const c = policy.cookie;
  if (!c) return undefined;
  for (const part of (req.header("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === c.name) return { key: part.slice(eq + 1).trim() };
  }
  if (!c.ttlSeconds) return undefined;
  const value = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  return {
    key: value,
    setCookie: `${c.name}=${value}; Max-Age=${c.ttlSeconds}; Path=${c.path ?? "/"}; HttpOnly`,
  };
}

/**
 * Where a request for an original-destination cluster goes: the host the client asked for
 * (before any rewrite), when the cluster's host covers it, on the cluster's own port (a Host
 * header never picks the port). Undefined otherwise.
 */
export function originalDestination(authority: string, cluster: Cluster): Endpoint | undefined {
  const address = splitHostPort(authority).host.replace(/^\[|\]$/g, "").toLowerCase();
  if (!address || !hostMatches(cluster.host, address)) return undefined;
  return { address, port: cluster.port, mtls: false, labels: {} };
}
