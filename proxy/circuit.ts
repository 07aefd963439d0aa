/**
 * Circuit breaking on a cluster's connection pool (Envoy's thresholds, as
 * Istio's DestinationRule `connectionPool` sets them): requests in flight
 * beyond `maxConnections` wait in a queue of at most `maxPendingRequests`;
 * beyond that, or beyond `maxRequests`, they fail at once with 503
 * (`overflow`) instead of piling up on a struggling upstream.
 *
 * @example
 * ```ts
 * const cb = new CircuitBreakers();
 * const slot = cb.acquire(cluster); // a release function, a promise of one, or undefined
 * if (slot === undefined) return overflow();
 * const release = await slot;
 * try { ... } finally { release(); }
 * ```
 * @module
 */
import type { Cluster } from "../api/proxy_config.ts";

interface Gate {
  active: number;
  pending: Array<() => void>;
}

/** Per-cluster admission by the cluster's {@linkcode ClusterLimits}. */
export class CircuitBreakers {
  #gates = new Map<string, Gate>();

  /** Requests in flight and waiting for `cluster`. */
  usage(cluster: string): { active: number; pending: number } {
    const g = this.#gates.get(cluster);
    return { active: g?.active ?? 0, pending: g?.pending.length ?? 0 };
  }

  /**
   * Forgets the clusters not in `names` (a request still holding a slot of one releases it
   * into the forgotten gate).
   */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.#gates.keys()) if (!names.has(name)) this.#gates.delete(name);
  }

  /** Clusters with a gate. */
  get size(): number {
    return this.#gates.size;
  }

  /**
   * Admits a request to `cluster`: a release function at once, a promise of
   * one once a slot frees up, or undefined when the request overflows.
   */
  acquire(cluster: Cluster): (() => void) | Promise<() => void> | undefined {
    const limits = cluster.limits;
    if (!limits) return noop;
    let g = this.#gates.get(cluster.name);
    if (!g) this.#gates.set(cluster.name, g = { active: 0, pending: [] });
    const gate = g;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      gate.active--;
      const next = gate.pending.shift();
      if (next) next();
    };
    // Envoy's max_requests counts every request to the cluster, waiting ones included.
    if (
      limits.maxRequests !== undefined && gate.active + gate.pending.length >= limits.maxRequests
    ) {
      return undefined;
    }
    if (limits.maxConnections === undefined || gate.active < limits.maxConnections) {
      gate.active++;
      return release;
    }
    if (gate.pending.length >= (limits.maxPendingRequests ?? Number.MAX_SAFE_INTEGER)) {
      return undefined;
    }
    return new Promise((resolve) => {
      gate.pending.push(() => {
        gate.active++;
        resolve(release);
      });
    });
  }
}

const noop = () => {};
