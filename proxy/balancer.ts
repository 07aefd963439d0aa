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
