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
import {
  levelHealth,
  type LocalityLevel,
  localityLevels,
  type LocalNode,
  OVERPROVISIONING,
  panicLoads,
  priorityLoads,
} from "./locality.ts";

type Ring = { points: Uint32Array; owners: Uint32Array };

/** Picks endpoints of one cluster according to its policy. */
export class Balancer {
  readonly cluster: Cluster;
  /**
   * The cluster's priority levels for this proxy (locality load balancing: `locality.ts`),
   * highest first; undefined when every endpoint is in one level (the flat path below).
   */
  readonly levels?: readonly LocalityLevel[];
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

  #ring?: Ring;

  /**
   * The endpoint for a hash key (consistent hashing): the first point at or after the key's
   * hash on a ring where each endpoint has {@linkcode RING_POINTS_PER_ENDPOINT} points, as
   * Envoy's ring hash. Endpoints `skip` rejects are passed over, going round the ring. With
   * priority levels, the key's level (by its hash, as Envoy's) and that level's ring.
   */
  pickByKey(key: string, skip?: (ep: Endpoint) => boolean): Endpoint | undefined {
    if (this.levels) {
      const l = this.chooseLevel(keyDraw(key), skip);
      return l < 0 ? this.pickByKeyIn(0, key) : this.pickByKeyIn(l, key, skip);
    }
    const eps = this.cluster.endpoints;
    if (eps.length === 0) return undefined;
    return ringPick(eps, this.#ring ??= buildRing(eps), key, skip);
  }

  constructor(cluster: Cluster, start = 0, local: LocalNode = { labels: {} }) {
    this.cluster = cluster;
    // Start proxies at different offsets so they don't all hit the first endpoint together.
    this.#next = cluster.endpoints.length ? start % cluster.endpoints.length : 0;
    const levels = cluster.locality ? localityLevels(cluster, local) : undefined;
    if (!levels) return;
    this.levels = levels;
    const offsets = new Int32Array(levels.length);
    let groups = 0;
    for (let l = 0; l < levels.length; l++) {
      offsets[l] = groups;
      groups += levels[l].groups?.length ?? 0;
    }
    this.#groupOffset = offsets;
    this.#weights = new Float64Array(groups);
    this.#current = new Float64Array(groups);
    this.#health = new Int32Array(levels.length);
    this.#healthy = new Int32Array(levels.length);
    this.#loads = new Int32Array(levels.length);
    this.#panic = new Uint8Array(levels.length);
    this.#sizes = Int32Array.from(levels, (lv) => lv.endpoints.length);
    const cursors = new Int32Array(levels.length + groups);
    for (let l = 0; l < levels.length; l++) {
      const lv = levels[l];
      if (lv.endpoints.length) cursors[l] = start % lv.endpoints.length;
      lv.groups?.forEach((g, i) => {
        if (g.endpoints.length) {
          cursors[levels.length + offsets[l] + i] = start % g.endpoints.length;
        }
      });
    }
    this.#cursors = cursors;
  }

  // Priority levels: per level and per distribute group (level's offset + index), fixed at
  // construction; the health-derived state is recomputed only when the ejections change.
  #groupOffset?: Int32Array;
  #cursors?: Int32Array;
  #sizes?: Int32Array;
  /** Groups' effective weights (weight × their health, overprovisioned) and their SWRR state. */
  #weights?: Float64Array;
  #current?: Float64Array;
  #health?: Int32Array;
  #healthy?: Int32Array;
  /** Percent of traffic per level; levels in panic (ejections ignored there). */
  #loads?: Int32Array;
  #panic?: Uint8Array;
  /** The ejections' version the loads were computed for (-1: none ejectable; NaN: not yet). */
  #seen = NaN;
  #computed = false;
  #levelRings?: Ring[];

  /**
   * The level a request goes to, by `draw` in [0, 1) against the levels' loads (Envoy's
   * priority load, overprovisioning factor 1.4): -1 when none can take it (every endpoint
   * `ejected` and no panic threshold). `version` tells when ejections last changed
   * (`OutlierDetector.version`): the loads are recomputed only then, or every time without
   * one. Without levels, 0.
   */
  chooseLevel(draw: number, ejected?: (ep: Endpoint) => boolean, version?: number): number {
    if (!this.levels) return 0;
    this.#refresh(ejected, version);
    const loads = this.#loads!;
    let point = Math.floor(draw * 100);
    for (let l = 0; l < loads.length; l++) {
      if (point < loads[l]) return l;
      point -= loads[l];
    }
    return -1;
  }

  /**
   * Whether level `l` is in panic (fewer healthy endpoints than the cluster's
   * `minHealthPercent`, Envoy's per-priority panic): ejections are ignored there. As of the
   * last {@linkcode chooseLevel}.
   */
  inPanic(l: number): boolean {
    return this.#panic?.[l] === 1;
  }

  #refresh(ejected: ((ep: Endpoint) => boolean) | undefined, version: number | undefined): void {
    const key = ejected ? version : -1;
    if (key !== undefined && key === this.#seen) return;
    this.#seen = key ?? NaN;
    this.#computed = true;
    const levels = this.levels!;
    const health = this.#health!;
    const healthy = this.#healthy!;
    const panic = this.#panic!;
    const weights = this.#weights!;
    const count = (eps: readonly Endpoint[]) => {
      if (!ejected) return eps.length;
      let n = 0;
      for (const ep of eps) if (!ejected(ep)) n++;
      return n;
    };
    let total = 0;
    for (let l = 0; l < levels.length; l++) {
      const lv = levels[l];
      healthy[l] = 0;
      if (lv.groups) {
        const offset = this.#groupOffset![l];
        lv.groups.forEach((g, i) => {
          const h = count(g.endpoints);
          healthy[l] += h;
          // Envoy's locality weight × its availability (overprovisioned, at most 1).
          const n = g.endpoints.length;
          weights[offset + i] = n ? g.weight * Math.min(1, OVERPROVISIONING * h / (100 * n)) : 0;
        });
      } else healthy[l] = count(lv.endpoints);
      health[l] = levelHealth(healthy[l], lv.endpoints.length);
      total += health[l];
    }
    priorityLoads(health, this.#loads!);
    // Envoy's panic: never while the normalized total health is 100; else a level under the
    // threshold (`minHealthPercent`; Istio's default 0 turns it off) balances over all its
    // endpoints, and with every level in panic the load follows the levels' sizes.
    const min = this.cluster.outlier?.minHealthPercent ?? 0;
    let all = levels.length > 0;
    for (let l = 0; l < levels.length; l++) {
      const size = levels[l].endpoints.length;
      panic[l] = total < 100 && min > 0 && (size === 0 || healthy[l] * 100 < min * size) ? 1 : 0;
      all &&= panic[l] === 1;
    }
    if (all) panicLoads(this.#sizes!, this.#loads!);
  }

  /**
   * An endpoint of level `l`: with localities (`distribute`), one by their effective weights
   * (smooth weighted round robin), then the cluster's algorithm over its endpoints, those
   * `skip` rejects passed over unless it rejects every one.
   */
  pickIn(l: number, rand: number, skip?: (ep: Endpoint) => boolean): Endpoint | undefined {
    const levels = this.levels;
    if (!levels) return this.pick(rand, skip);
    const lv = levels[l];
    if (!lv) return undefined;
    if (!lv.groups) return this.#from(lv.endpoints, l, rand, skip);
    if (!this.#computed) this.#refresh(undefined, undefined);
    const offset = this.#groupOffset![l];
    const weights = this.#weights!;
    const current = this.#current!;
    let total = 0;
    let best = -1;
    for (let i = 0; i < lv.groups.length; i++) {
      const w = weights[offset + i];
      if (w <= 0) continue;
      current[offset + i] += w;
      total += w;
      if (best < 0 || current[offset + i] > current[offset + best]) best = i;
    }
    if (best < 0 && this.inPanic(l)) {
      // Every locality without a healthy endpoint, the level in panic: by their weights.
      for (let i = 0; i < lv.groups.length; i++) {
        const w = lv.groups[i].endpoints.length ? lv.groups[i].weight : 0;
        if (w <= 0) continue;
        current[offset + i] += w;
        total += w;
        if (best < 0 || current[offset + i] > current[offset + best]) best = i;
      }
    }
    if (best < 0) return undefined;
    current[offset + best] -= total;
    return this.#from(lv.groups[best].endpoints, levels.length + offset + best, rand, skip);
  }

  /** The endpoint of level `l` for a hash key: that level's ring (see {@linkcode pickByKey}). */
  pickByKeyIn(l: number, key: string, skip?: (ep: Endpoint) => boolean): Endpoint | undefined {
    if (!this.levels) return this.pickByKey(key, skip);
    const eps = this.levels[l]?.endpoints;
    if (!eps?.length) return undefined;
    const rings = this.#levelRings ??= this.levels.map((lv) => buildRing(lv.endpoints));
    return ringPick(eps, rings[l], key, skip);
  }

  /** The cluster's algorithm over `eps` (a level's or locality's), `slot` its cursor. */
  #from(
    eps: readonly Endpoint[],
    slot: number,
    rand: number,
    skip?: (ep: Endpoint) => boolean,
  ): Endpoint | undefined {
    const n = eps.length;
    if (n === 0) return undefined;
    if (this.cluster.lb === "LEAST_REQUEST" && n > 1) {
      // The less busy of two random endpoints that `skip` doesn't reject, counted, not copied.
      let healthy = n;
      if (skip) {
        healthy = 0;
        for (const ep of eps) if (!skip(ep)) healthy++;
      }
      const only = healthy > 0 ? skip : undefined;
      const m = healthy > 0 ? healthy : n;
      const a = nth(eps, Math.floor(rand * m), only);
      const b = nth(eps, Math.floor(Math.random() * m), only);
      return this.active(b) < this.active(a) ? b : a;
    }
    if (this.cluster.lb === "RANDOM") {
      const start = Math.floor(rand * n);
      if (!skip) return eps[start];
      for (let i = 0; i < n; i++) {
        const ep = eps[(start + i) % n];
        if (!skip(ep)) return ep;
      }
      return eps[start];
    }
    const cursors = this.#cursors!;
    for (let i = 0; i < n; i++) {
      const ep = eps[cursors[slot]];
      cursors[slot] = (cursors[slot] + 1) % n;
      if (!skip || !skip(ep)) return ep;
    }
    const ep = eps[cursors[slot]];
    cursors[slot] = (cursors[slot] + 1) % n;
    return ep;
  }

  /**
   * The next endpoint, or undefined when there is none ("no healthy upstream").
   * Endpoints `skip` rejects (ejected ones) are passed over unless every one
   * is rejected: then all are used, as Envoy's panic mode.
   */
  pick(rand: number = Math.random(), skip?: (ep: Endpoint) => boolean): Endpoint | undefined {
    if (this.levels) {
      // The level by `rand`, and what is left of it for the algorithm within.
      const l = this.chooseLevel(rand, skip);
      const within = (rand * 100) % 1;
      return l < 0 ? this.pickIn(0, within) : this.pickIn(l, within, skip);
    }
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

/** The key's draw in [0, 1) for its priority level: its hash modulo 100, as Envoy's. */
export function keyDraw(key: string): number {
  return (hash32(key) % 100) / 100;
}

/** The `k`th endpoint of `eps` that `skip` doesn't reject (or the `k`th, without `skip`). */
function nth(eps: readonly Endpoint[], k: number, skip?: (ep: Endpoint) => boolean): Endpoint {
  if (!skip) return eps[k];
  for (const ep of eps) {
    if (skip(ep)) continue;
    if (k-- === 0) return ep;
  }
  return eps[0];
}

/** The first endpoint at or after the key's point on `ring` that `skip` doesn't reject. */
function ringPick(
  eps: readonly Endpoint[],
  ring: Ring,
  key: string,
  skip?: (ep: Endpoint) => boolean,
): Endpoint | undefined {
  if (ring.points.length === 0) return undefined;
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

function buildRing(eps: readonly Endpoint[]): Ring {
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
