/**
 * Load balancing over a cluster's endpoints: pure and synchronous, so it is
 * tested without I/O. State (the round-robin cursor, requests in flight) lives per cluster
 * and is carried across config pushes (`stages/clusters.ts`).
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
  /** Requests in flight by `address:port`; shared with the balancer this one replaced. */
  #active = new Map<string, number>();

  /** Requests in flight to `ep` (counted for LEAST_REQUEST). */
  active(ep: Endpoint): number {
    return this.#active.get(`${ep.address}:${ep.port}`) ?? 0;
  }

  /** Marks a request to `ep` started; call the returned function when it ends. */
  begin(ep: Endpoint): () => void {
    const key = `${ep.address}:${ep.port}`;
    const active = this.#active;
    active.set(key, (active.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (active.get(key) ?? 1) - 1;
      if (n > 0) active.set(key, n);
      else active.delete(key);
    };
  }

  /**
   * Takes over from the balancer of the same cluster in the previous config (its endpoints
   * changed): requests in flight keep counting (one map, shared), and the round-robin cursor
   * goes on where it was.
   */
  inherit(prev: Balancer): void {
    this.#active = prev.#active;
    const n = this.cluster.endpoints.length;
    this.#next = n ? prev.#next % n : 0;
  }

  #ring?: { points: Uint32Array; owners: Uint32Array };

  /**
   * The endpoint for a hash key (consistent hashing): the first point at or after the key's
   * hash on a ring where each endpoint has {@linkcode RING_POINTS_PER_ENDPOINT} points, as
   * Envoy's ring hash. Endpoints `skip` rejects are passed over, going round the ring.
   */
  pickByKey(key: string, skip?: (ep: Endpoint) => boolean): Endpoint | undefined {
    const eps = this.cluster.endpoints;
    if (eps.length === 0) return undefined;
    const ring = this.#ring ??= buildRing(eps);
    const h = hash32(key);
    let lo = 0;
    let hi = ring.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring.points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < ring.points.length; i++) {
      const ep = eps[ring.owners[(lo + i) % ring.points.length]];
      if (!skip || !skip(ep)) return ep;
    }
    return eps[ring.owners[lo % ring.points.length]];
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

/**
 * Points each endpoint has on the hash ring. A fixed count (Istio's default ring of 1,024
 * for four endpoints) keeps keys where they were when other endpoints come or go.
 */
export const RING_POINTS_PER_ENDPOINT = 256;

/** 32-bit FNV-1a of a string's UTF-16 code units (stable across proxies). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche, so that near keys land far apart on the ring.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Endpoints a ring can index: owner numbers are packed below the hash in one float. */
const OWNER_BITS = 2 ** 20;

function buildRing(eps: Endpoint[]): { points: Uint32Array; owners: Uint32Array } {
  const per = RING_POINTS_PER_ENDPOINT;
  const n = Math.min(eps.length, OWNER_BITS);
  // Hash and owner packed in one number, so a typed-array sort does the work.
  const packed = new Float64Array(n * per);
  for (let i = 0; i < n; i++) {
    const base = `${eps[i].address}:${eps[i].port}_`;
    for (let r = 0; r < per; r++) packed[i * per + r] = hash32(base + r) * OWNER_BITS + i;
  }
  packed.sort();
  const points = new Uint32Array(packed.length);
  const owners = new Uint32Array(packed.length);
  for (let k = 0; k < packed.length; k++) {
    points[k] = Math.floor(packed[k] / OWNER_BITS);
    owners[k] = packed[k] % OWNER_BITS;
  }
  return { points, owners };
}
