/**
 * Locality load balancing, the proxy's half: a cluster's endpoints ordered into priority levels
 * (failover) or weighted localities (distribute) from this proxy's own locality and labels, as
 * istiod's ApplyLocalityLoadBalancer assigns them per proxy, and Envoy's priority-load math that
 * spreads traffic over those levels by their health. Pure and synchronous; the levels are
 * computed once per config (`balancer.ts`), the loads again only when ejections change.
 *
 * @example
 * ```ts
 * const levels = localityLevels(cluster, { locality: "region1/zone1", labels: {} });
 * // [{ endpoints: [zone1's] }, { endpoints: [zone2's] }, ...], or undefined: one flat level
 * ```
 * @module
 */
import type { Cluster, Endpoint, LocalityLbPolicy } from "../api/proxy_config.ts";

/** What the proxy knows of itself: its `--locality` and labels. */
export interface LocalNode {
  /** `region/zone/subzone`; absent: the empty locality (which only endpoints without one match). */
  locality?: string;
  labels: Readonly<Record<string, string>>;
}

/** A locality of a `distribute` level and the share of the level's traffic it gets. */
export interface LocalityGroup {
  endpoints: Endpoint[];
  /** Relative weight (istiod's locality load-balancing weight). */
  weight: number;
}

/** One priority level: the endpoints it balances over, by locality weight when `groups` is set. */
export interface LocalityLevel {
  endpoints: Endpoint[];
  /** `distribute`: the localities that get traffic (their endpoints make `endpoints`). */
  groups?: LocalityGroup[];
}

/** Envoy's default overprovisioning factor (1.4), in percent. */
export const OVERPROVISIONING = 140;

/** The topology labels istiod sets on endpoints and proxies from their locality. */
export const REGION_LABEL = "topology.kubernetes.io/region";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const SUBZONE_LABEL = "topology.istio.io/subzone";

/** `region/zone/subzone` split as Istio's SplitLocalityLabel does (missing parts empty). */
export function splitLocality(locality: string | undefined): [string, string, string] {
  const parts = (locality ?? "").split("/");
  return [parts[0] ?? "", parts[1] ?? "", parts[2] ?? ""];
}

/**
 * Whether `locality` matches a rule's locality (`region`, `region/zone`, `region/zone/subzone`,
 * `*` for any at a level; a missing zone or subzone matches any), as Istio's LocalityMatch.
 */
export function localityMatches(locality: string | undefined, rule: string): boolean {
  const [r, z, s] = splitLocality(rule);
  const [region, zone, subzone] = splitLocality(locality);
  return (r === "*" || r === region) && (z === "*" || z === "" || z === zone) &&
    (s === "*" || s === "" || s === subzone);
}

/**
 * How close an endpoint's locality is to the proxy's (Istio's LbPriority): 0 same subzone,
 * 1 same zone, 2 same region, 3 elsewhere; with `failover`, 3 only for the region that the
 * proxy's region fails over to, 4 for every other one.
 */
export function localityPriority(
  proxy: string | undefined,
  endpoint: string | undefined,
  failover: LocalityLbPolicy["failover"] = [],
): number {
  const [pr, pz, ps] = splitLocality(proxy);
  const [er, ez, es] = splitLocality(endpoint);
  if (pr === er) return pz !== ez ? 2 : ps !== es ? 1 : 0;
  const f = failover.find((f) => f.from === pr);
  return f && f.to !== er ? 4 : 3;
}

/** Labels with the topology labels of a locality set (istiod's AugmentLabels). */
function withTopology(
  labels: Readonly<Record<string, string>>,
  locality: string | undefined,
): Record<string, string> {
  const [region, zone, subzone] = splitLocality(locality);
  const out: Record<string, string> = { ...labels };
  if (region) out[REGION_LABEL] = region;
  if (zone) out[ZONE_LABEL] = zone;
  if (subzone) out[SUBZONE_LABEL] = subzone;
  return out;
}

/**
 * An endpoint's `failoverPriority` rank (istiod's applyFailoverPriorityPerLocality): 0 when it
 * matches the proxy on every label, else the number of labels from the first one it doesn't
 * match to the end. A `key=value` entry compares the endpoint with that value instead of the
 * proxy's.
 */
export function failoverPriorityRank(
  priorities: readonly string[],
  proxyLabels: Readonly<Record<string, string>>,
  endpointLabels: Readonly<Record<string, string>>,
): number {
  for (let j = 0; j < priorities.length; j++) {
    // `key=value` (exactly one `=`) overrides the proxy's value, as istiod reads it.
    const parts = priorities[j].split("=");
    const key = parts[0];
    const want = parts.length === 2 ? parts[1] : proxyLabels[key] ?? "";
    if (want !== (endpointLabels[key] ?? "")) return priorities.length - j;
  }
  return 0;
}

/**
 * The priority levels of `cluster` for the proxy `local`, highest first, or undefined when
 * locality changes nothing (no setting, or every endpoint in one level): then the cluster is
 * balanced as one flat set, as before.
 *
 * Failover (istiod's applyFailoverPriorities, then applyLocalityFailover): with
 * `failoverPriority`, endpoints are ranked by the labels they share with the proxy (its own and
 * those of its locality); without it, or with `failover` too, by locality closeness; with both,
 * the label rank first (istiod's rank × 5 + locality priority). Empty levels are dropped.
 *
 * Distribute (istiod's applyLocalityWeights): the first rule whose `from` matches the proxy's
 * locality gives each locality its weight: a `to` entry's weight shared over the localities it
 * matches in proportion to their endpoints (rounded up); localities no entry matches get no
 * traffic. No rule matching: undefined.
 */
export function localityLevels(
  cluster: Cluster,
  local: LocalNode,
): LocalityLevel[] | undefined {
  const policy = cluster.locality;
  if (!policy || cluster.originalDst) return undefined;
  const eps = cluster.endpoints;
  if (policy.distribute?.length) return distributeLevel(eps, policy.distribute, local.locality);
  const priorities = policy.failoverPriority ?? [];
  const proxyLabels = withTopology(local.labels, local.locality);
  // istiod skips failoverPriority for a proxy without labels.
  const byLabels = priorities.length > 0 && Object.keys(proxyLabels).length > 0;
  const byLocality = priorities.length === 0 || (policy.failover?.length ?? 0) > 0;
  const keys = eps.map((ep) =>
    (byLabels
      ? failoverPriorityRank(priorities, proxyLabels, withTopology(ep.labels, ep.locality)) * 5
      : 0) +
    (byLocality ? localityPriority(local.locality, ep.locality, policy.failover) : 0)
  );
  const distinct = [...new Set(keys)].sort((a, b) => a - b);
  if (distinct.length < 2) return undefined;
  return distinct.map((k) => ({ endpoints: eps.filter((_, i) => keys[i] === k) }));
}

function distributeLevel(
  eps: readonly Endpoint[],
  rules: NonNullable<LocalityLbPolicy["distribute"]>,
  locality: string | undefined,
): LocalityLevel[] | undefined {
  const rule = rules.find((r) => localityMatches(locality, r.from));
  if (!rule) return undefined;
  // Endpoints by locality (as `region/zone/subzone`), in the order they come.
  const byLocality = new Map<string, Endpoint[]>();
  for (const ep of eps) {
    const key = splitLocality(ep.locality).join("/");
    let list = byLocality.get(key);
    if (!list) byLocality.set(key, list = []);
    list.push(ep);
  }
  const weights = new Map<string, number>();
  for (const [to, weight] of Object.entries(rule.to)) {
    const matched = [...byLocality.keys()].filter((l) => !weights.has(l) && localityMatches(l, to));
    const total = matched.reduce((n, l) => n + byLocality.get(l)!.length, 0);
    for (const l of matched) {
      weights.set(l, Math.ceil(byLocality.get(l)!.length * weight / total));
    }
  }
  const groups: LocalityGroup[] = [];
  for (const [l, list] of byLocality) {
    const weight = weights.get(l);
    if (weight) groups.push({ endpoints: list, weight });
  }
  return [{ endpoints: groups.flatMap((g) => g.endpoints), groups }];
}

/**
 * A level's health score, as Envoy's: its share of healthy endpoints × the overprovisioning
 * factor, in integer percent, capped at 100 (so a level counts as whole down to ~71%).
 */
export function levelHealth(healthy: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.floor(OVERPROVISIONING * healthy / total));
}

/**
 * Envoy's priority load: the percent of traffic each level gets from the levels' health
 * scores. Each level takes what its health allows of what the levels before it left, the
 * health scores scaled up when they sum to under 100 (normalized total health), and a rounding
 * remainder goes to the first level with any health. Writes `out` (one entry per level) and
 * returns false, all zero, when no level has health.
 */
export function priorityLoads(health: ArrayLike<number>, out: Int32Array): boolean {
  let total = 0;
  for (let i = 0; i < health.length; i++) total += health[i];
  const normalized = Math.min(100, total);
  out.fill(0);
  if (normalized === 0) return false;
  let remaining = 100;
  let first = -1;
  for (let i = 0; i < health.length; i++) {
    if (health[i] > 0 && first < 0) first = i;
    const load = Math.min(remaining, Math.floor(health[i] * 100 / normalized));
    out[i] = load;
    remaining -= load;
  }
  if (remaining > 0 && first >= 0) out[first] += remaining;
  return true;
}

/**
 * Envoy's load in total panic (every level under the panic threshold): by each level's share
 * of the endpoints. Returns false when there are none.
 */
export function panicLoads(sizes: ArrayLike<number>, out: Int32Array): boolean {
  let total = 0;
  for (let i = 0; i < sizes.length; i++) total += sizes[i];
  out.fill(0);
  if (total === 0) return false;
  let remaining = 100;
  let first = -1;
  for (let i = 0; i < sizes.length; i++) {
    out[i] = Math.floor(sizes[i] * 100 / total);
    remaining -= out[i];
    if (out[i] > 0 && first < 0) first = i;
  }
  if (first < 0) first = Array.prototype.findIndex.call(sizes, (n: number) => n > 0);
  out[first] += remaining;
  return true;
}
