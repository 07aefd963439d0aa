/**
 * Per-cluster state that outlives a config push: balancers (round-robin cursor, requests in
 * flight for LEAST_REQUEST, the consistent-hash ring), circuit-breaker gates, outlier records
 * and connection pools. A push keeps a cluster's balancer when the cluster is unchanged, hands
 * its counts to the new one when its endpoints or policy changed, and forgets every piece of
 * state of a cluster (or endpoint) that went, so memory follows the config.
 *
 * @example
 * ```ts
 * const clusters = new ClusterStates({ pools: upstreams });
 * const next = Runtime.compile(config);
 * clusters.adopt(next, current); // before `next` serves
 * ```
 * @module
 */
import type { Endpoint } from "../../api/proxy_config.ts";
import { CircuitBreakers } from "../circuit.ts";
import { OutlierDetector } from "../outlier.ts";
import type { Origination } from "../forward.ts";
import type { Runtime } from "../runtime.ts";

/** Connection pools, pruned to the config's endpoints (`forward.ts`'s `Upstreams`). */
export interface PrunablePools {
  retain(keep: Iterable<[Endpoint, Origination | undefined]>): void;
}

/** What {@linkcode ClusterStates} is made with. */
export interface ClusterStatesOptions {
  /** Every pool of upstream connections (HTTP/1.1, HTTP/2). */
  pools?: readonly PrunablePools[];
  /** The outlier detector's clock (tests). */
  now?: () => number;
}

/** The request path's per-cluster state, across config pushes. */
export class ClusterStates {
  readonly breakers: CircuitBreakers = new CircuitBreakers();
  readonly outliers: OutlierDetector;
  readonly #pools: readonly PrunablePools[];

  constructor(opts: ClusterStatesOptions = {}) {
    this.outliers = new OutlierDetector(opts.now);
    this.#pools = opts.pools ?? [];
  }

  /**
   * Carries state from `prev` (the runtime serving now) into `next` (about to serve) and
   * prunes what `next` no longer has.
   */
  adopt(next: Runtime, prev?: Runtime): void {
    if (prev) {
      for (const [name, lb] of next.balancers) {
        const old = prev.balancers.get(name);
        if (!old) continue;
        if (sameCluster(old.cluster, lb.cluster)) next.balancers.set(name, old);
        else lb.inherit(old);
      }
    }
    const clusters = Object.values(next.config.clusters);
    this.breakers.retain(new Set(clusters.map((c) => c.name)));
    this.outliers.retain(clusters);
    if (this.#pools.length) {
      const endpoints = [...next.endpoints()];
      for (const pools of this.#pools) pools.retain(endpoints);
    }
  }
}

function sameCluster(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
