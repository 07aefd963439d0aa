/**
 * Passive health checking (Envoy's outlier detection, as Istio's
 * DestinationRule `outlierDetection` sets it): endpoints that fail several
 * times in a row are ejected from their cluster's balancing for a while,
 * longer each time; never more than a share of the cluster at once (but at
 * least one endpoint). Pure bookkeeping over a clock, tested without I/O.
 *
 * @example
 * ```ts
 * const od = new OutlierDetector();
 * od.report(cluster, ep, 503); // ...five times with the default policy
 * od.isEjected(cluster, ep); // true
 * ```
 * @module
 */
import type { Cluster, Endpoint } from "../api/proxy_config.ts";

/** What an attempt ended with: a status, or a failure before any response. */
export type Outcome = number | "connect" | "reset" | "timeout";

interface State {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejections: number;
  ejectedUntil: number;
}

/** Envoy's default `max_ejection_time`. */
export const MAX_EJECTION_MS = 300_000;

/** Tracks consecutive failures per cluster endpoint and ejects as the cluster's policy says. */
export class OutlierDetector {
  #state = new Map<string, State>();
  #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  #version = 0;
  /** The earliest end of an ejection in force (Infinity: none). */
  #expiry = Infinity;

  /**
   * A number that changes whenever the set of ejected endpoints may have: an ejection, one
   * running out, a record forgotten. Balancers recompute their priority levels' health only
   * when it does (`balancer.ts`), so a request costs no count of the healthy endpoints.
   */
  version(): number {
    const now = this.#now();
    if (this.#expiry <= now) {
      this.#version++;
      let next = Infinity;
      for (const s of this.#state.values()) {
        if (s.ejectedUntil > now && s.ejectedUntil < next) next = s.ejectedUntil;
      }
      this.#expiry = next;
    }
    return this.#version;
  }

  #key(cluster: Cluster, ep: Endpoint): string {
    return `${cluster.name}|${ep.address}:${ep.port}`;
  }

  /** Whether `ep` is ejected from `cluster` now. */
  isEjected(cluster: Cluster, ep: Endpoint): boolean {
    if (!cluster.outlier) return false;
    const s = this.#state.get(this.#key(cluster, ep));
    return s !== undefined && s.ejectedUntil > this.#now();
  }

  /** Endpoints of `cluster` ejected now. */
  ejectedCount(cluster: Cluster): number {
    let n = 0;
    for (const ep of cluster.endpoints) if (this.isEjected(cluster, ep)) n++;
    return n;
  }

  /** Forgets endpoints and clusters no longer in `clusters` (bounded by the config). */
  retain(clusters: Iterable<Cluster>): void {
    if (this.#state.size === 0) return;
    const keep = new Set<string>();
    for (const c of clusters) for (const ep of c.endpoints) keep.add(this.#key(c, ep));
    for (const key of this.#state.keys()) {
      if (!keep.has(key)) {
        this.#state.delete(key);
        this.#version++;
      }
    }
  }

  /** Endpoints with failures or ejections on record. */
  get size(): number {
    return this.#state.size;
  }

  /** Records how an attempt on `ep` ended; may eject it. */
  report(cluster: Cluster, ep: Endpoint, outcome: Outcome): void {
    const policy = cluster.outlier;
    if (!policy) return;
    const key = this.#key(cluster, ep);
    let s = this.#state.get(key);
    const failedLocally = typeof outcome === "string";
    const is5xx = failedLocally || outcome >= 500;
    const isGateway = failedLocally || outcome === 502 || outcome === 503 || outcome === 504;
    if (!is5xx) {
      if (s) s.consecutive5xx = s.consecutiveGateway = 0;
      return;
    }
    if (!s) {
      s = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntil: 0 };
      this.#state.set(key, s);
    }
    s.consecutive5xx++;
    if (isGateway) s.consecutiveGateway++;
    const tripped = (policy.consecutive5xx > 0 && s.consecutive5xx >= policy.consecutive5xx) ||
      (policy.consecutiveGatewayErrors > 0 &&
        s.consecutiveGateway >= policy.consecutiveGatewayErrors);
    if (!tripped || s.ejectedUntil > this.#now()) return;
    const max = Math.max(
      1,
      Math.floor(cluster.endpoints.length * policy.maxEjectionPercent / 100),
    );
    if (this.ejectedCount(cluster) >= max) return;
    s.ejections++;
    // Envoy's max_ejection_time (300 s by default) caps how long the multiplier can grow.
    s.ejectedUntil = this.#now() +
      Math.min(
        policy.baseEjectionMs * s.ejections,
        Math.max(MAX_EJECTION_MS, policy.baseEjectionMs),
      );
    s.consecutive5xx = s.consecutiveGateway = 0;
    this.#version++;
    if (s.ejectedUntil < this.#expiry) this.#expiry = s.ejectedUntil;
  }
}
