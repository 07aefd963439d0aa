/**
 * Load balancing over a cluster's endpoints: pure and synchronous, so it is
 * tested without I/O. State (the round-robin cursor) lives per cluster and is
 * rebuilt when config arrives.
 *
 * @example
 * ```ts
 * const lb = new Balancer(cluster);
 * lb.pick(); // next endpoint, or undefined when the cluster has none
 * ```
 * @module
 */
import type { Cluster, Endpoint } from "../api/proxy_config.ts";

/** Picks endpoints of one cluster according to its policy. */
export class Balancer {
  readonly cluster: Cluster;
  #next = 0;
  #active = new Map<Endpoint, number>();

  /** Requests in flight to `ep` (counted for LEAST_REQUEST). */
  active(ep: Endpoint): number {
    return this.#active.get(ep) ?? 0;
  }

  /** Marks a request to `ep` started; call the returned function when it ends. */
  begin(ep: Endpoint): () => void {
    this.#active.set(ep, this.active(ep) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#active.set(ep, this.active(ep) - 1);
    };
  }

  constructor(cluster: Cluster, start = 0) {
    this.cluster = cluster;
    // Start proxies at different offsets so they don't all hit the first endpoint together.
    this.#next = cluster.endpoints.length ? start % cluster.endpoints.length : 0;
  }

  /**
   * The next endpoint, or undefined when there is none ("no healthy upstream").
   * Endpoints `skip` rejects (ejected ones) are passed over unless every one
   * is rejected: then all are used, as Envoy's panic mode.
   */
  pick(rand: number = Math.random(), skip?: (ep: Endpoint) => boolean): Endpoint | undefined {
    const eps = this.cluster.endpoints;
    if (eps.length === 0) return undefined;
    if (this.cluster.lb === "LEAST_REQUEST" && eps.length > 1) {
      // Envoy's least request: the less busy of two random endpoints ("power of two choices").
      const candidates = skip ? eps.filter((e) => !skip(e)) : eps;
      const from = candidates.length ? candidates : eps;
      const a = from[Math.floor(rand * from.length)];
      const b = from[Math.floor(Math.random() * from.length)];
      return this.active(b) < this.active(a) ? b : a;
    }
    if (this.cluster.lb === "RANDOM") {
      const start = Math.floor(rand * eps.length);
      if (!skip) return eps[start];
      for (let i = 0; i < eps.length; i++) {
        const ep = eps[(start + i) % eps.length];
        if (!skip(ep)) return ep;
      }
      return eps[start];
    }
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[this.#next];
      this.#next = (this.#next + 1) % eps.length;
      if (!skip || !skip(ep)) return ep;
    }
    const ep = eps[this.#next];
    this.#next = (this.#next + 1) % eps.length;
    return ep;
  }
}
