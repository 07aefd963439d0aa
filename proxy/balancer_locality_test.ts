/**
 * Balancing over priority levels (locality load balancing): the level by its health, spill-over
 * past 71% healthy, distribute weights, each algorithm inside the level, the outlier detector's
 * version driving recomputation, panic.
 */
import assert from "node:assert/strict";
import type { Cluster, Endpoint, LocalityLbPolicy, OutlierPolicy } from "../api/proxy_config.ts";
import { Balancer } from "./balancer.ts";
import { OutlierDetector } from "./outlier.ts";
import { pickEndpoint } from "./stages/pick.ts";

const ep = (port: number, locality: string): Endpoint => ({
  address: "127.0.0.1",
  port,
  mtls: false,
  labels: {},
  locality,
});

function cluster(
  endpoints: Endpoint[],
  o: { lb?: Cluster["lb"]; locality?: LocalityLbPolicy; outlier?: Partial<OutlierPolicy> } = {},
): Cluster {
  return {
    name: "outbound|5000||helloworld.sample.svc.cluster.local",
    host: "helloworld.sample.svc.cluster.local",
    port: 5000,
    lb: o.lb ?? "ROUND_ROBIN",
    endpoints,
    locality: o.locality ?? {},
    outlier: {
      consecutive5xx: 1,
      consecutiveGatewayErrors: 0,
      baseEjectionMs: 30_000,
      maxEjectionPercent: 100,
      ...o.outlier,
    },
  };
}

const HERE = { locality: "region1/zone1", labels: {} };

/** `n` endpoints in `locality`, ports from `first`. */
const zone = (first: number, n: number, locality: string) =>
  Array.from({ length: n }, (_, i) => ep(first + i, locality));

/** How many of 100 evenly spread draws go to each level. */
function levelShares(lb: Balancer, od: OutlierDetector): number[] {
  const out = new Array(lb.levels!.length).fill(0);
  for (let k = 0; k < 100; k++) {
    const l = lb.chooseLevel(k / 100, (e) => od.isEjected(lb.cluster, e), od.version());
    if (l >= 0) out[l]++;
  }
  return out;
}

Deno.test("levels: all traffic to the proxy's zone while it is healthy", () => {
  const c = cluster([...zone(1, 2, "region1/zone1"), ...zone(10, 2, "region1/zone2")]);
  const lb = new Balancer(c, 0, HERE);
  assert.equal(lb.levels?.length, 2);
  const od = new OutlierDetector(() => 0);
  const got = Array.from(
    { length: 6 },
    () => pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od })?.port,
  );
  assert.deepEqual(got, [1, 2, 1, 2, 1, 2]);
  // Without a locality setting on the cluster: one flat level, round robin over all.
  const { locality: _, ...plain } = c;
  const flat = new Balancer(plain, 0, HERE);
  assert.equal(flat.levels, undefined);
  assert.deepEqual(Array.from({ length: 4 }, () => flat.pick()?.port), [1, 2, 10, 11]);
});

Deno.test("levels: below ~71% healthy, the spill-over goes to the next level (overprovisioning 1.4)", () => {
  let now = 0;
  const od = new OutlierDetector(() => now);
  const c = cluster([...zone(1, 7, "region1/zone1"), ...zone(20, 7, "region1/zone2")]);
  const lb = new Balancer(c, 0, HERE);
  assert.deepEqual(levelShares(lb, od), [100, 0]);
  // 5 of 7 healthy (71.4%) is still whole.
  od.report(c, c.endpoints[0], 503);
  od.report(c, c.endpoints[1], 503);
  assert.deepEqual(levelShares(lb, od), [100, 0]);
  // 4 of 7 (57%): health 80, so 80% stays and 20% spills over.
  od.report(c, c.endpoints[2], 503);
  assert.deepEqual(levelShares(lb, od), [80, 20]);
  // The level's ejected endpoints get none of its share.
  const seen = new Set<number>();
  let draw = 0;
  const random = () => (draw++ % 100) / 100;
  for (let i = 0; i < 200; i++) {
    seen.add(pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od, random })!.port);
  }
  for (const p of [1, 2, 3]) assert.ok(!seen.has(p), `ejected ${p} picked`);
  assert.ok(seen.has(4) && seen.has(20), [...seen].join(","));
  // All of zone1 ejected: zone2 takes everything.
  for (const e of c.endpoints.slice(3, 7)) od.report(c, e, 503);
  assert.deepEqual(levelShares(lb, od), [0, 100]);
  // The ejections run out: back to zone1, with no push (the detector's version moved on).
  now = 30_001;
  assert.deepEqual(levelShares(lb, od), [100, 0]);
});

Deno.test("levels: the loads are recomputed only when the ejections' version changes", () => {
  const c = cluster([ep(1, "region1/zone1"), ep(2, "region1/zone2")]);
  const lb = new Balancer(c, 0, HERE);
  let down = false;
  const ejected = (e: Endpoint) => down && e.port === 1;
  assert.equal(lb.chooseLevel(0.5, ejected, 7), 0);
  down = true;
  // Same version: the cached loads stand (nothing counted again).
  assert.equal(lb.chooseLevel(0.5, ejected, 7), 0);
  assert.equal(lb.chooseLevel(0.5, ejected, 8), 1);
  // Without a version: counted every time.
  down = false;
  assert.equal(lb.chooseLevel(0.5, ejected), 0);
  // The detector's version moves on each ejection and when one runs out.
  let now = 0;
  const od = new OutlierDetector(() => now);
  const v0 = od.version();
  assert.equal(od.version(), v0);
  od.report(c, c.endpoints[0], 503);
  const v1 = od.version();
  assert.notEqual(v1, v0);
  now = 29_999;
  assert.equal(od.version(), v1);
  now = 30_000;
  assert.notEqual(od.version(), v1);
});

Deno.test("levels: failover walks region1 zones, then the failover region, then the rest", () => {
  const c = cluster([
    ep(1, "region1/zone1"),
    ep(2, "region1/zone2"),
    ep(3, "region2/zone3"),
    ep(4, "region3/zone4"),
  ], { locality: { failover: [{ from: "region1", to: "region2" }] } });
  const od = new OutlierDetector(() => 0);
  const lb = new Balancer(c, 0, HERE);
  const order: number[] = [];
  for (let i = 0; i < 4; i++) {
    const got = pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od })!;
    order.push(got.port);
    od.report(c, got, 503); // fails, is ejected: the next request moves a level down
  }
  assert.deepEqual(order, [1, 2, 3, 4]);
  assert.equal(pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od }), undefined);
});

Deno.test("levels: distribute sends 70/20/10 by locality weight, an ejected locality's share to the others", () => {
  const c = cluster([ep(1, "region1/zone1"), ep(2, "region1/zone2"), ep(3, "region3/zone4")], {
    locality: {
      distribute: [{
        from: "region1/zone1/*",
        to: { "region1/zone1/*": 70, "region1/zone2/*": 20, "region3/zone4/*": 10 },
      }],
    },
  });
  const od = new OutlierDetector(() => 0);
  const lb = new Balancer(c, 0, HERE);
  const count = (n: number) => {
    const out: Record<number, number> = {};
    for (let i = 0; i < n; i++) {
      const p = pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od })!.port;
      out[p] = (out[p] ?? 0) + 1;
    }
    return out;
  };
  assert.deepEqual(count(100), { 1: 70, 2: 20, 3: 10 });
  od.report(c, c.endpoints[0], 503);
  assert.deepEqual(count(30), { 2: 20, 3: 10 });
});

Deno.test("levels: RANDOM, LEAST_REQUEST and consistent hashing stay inside the level", () => {
  const eps = [...zone(1, 4, "region1/zone1"), ...zone(10, 4, "region2/zone1")];
  const od = new OutlierDetector(() => 0);
  // RANDOM: the within-level draw picks among the level's endpoints only.
  const random = new Balancer(cluster(eps, { lb: "RANDOM" }), 0, HERE);
  let draws = [0, 0.99, 0.5, 0.74];
  const got = Array.from({ length: 2 }, () =>
    pickEndpoint(random, {
      tried: [],
      avoidTried: false,
      outliers: od,
      random: () => draws.shift()!,
    })?.port);
  assert.deepEqual(got, [4, 3]);
  // LEAST_REQUEST: the less busy of two, both from the level.
  const lr = new Balancer(cluster(eps, { lb: "LEAST_REQUEST" }), 0, HERE);
  const busy = [lr.begin(eps[1]), lr.begin(eps[2]), lr.begin(eps[3]), lr.begin(eps[4])];
  for (let i = 0; i < 50; i++) {
    const p = pickEndpoint(lr, { tried: [], avoidTried: false, outliers: od })!.port;
    assert.ok(p >= 1 && p <= 4, `picked ${p}`);
  }
  // rand 0 draws zone1's idle first endpoint; the other draw (Math.random's) is never less busy.
  for (let i = 0; i < 10; i++) {
    draws = [0.1, 0];
    const random = () => draws.shift()!;
    assert.equal(pickEndpoint(lr, { tried: [], avoidTried: false, outliers: od, random })?.port, 1);
  }
  for (const done of busy) done();
  // Consistent hashing: a key keeps its endpoint in the level, moves down when it is ejected.
  const c = cluster(eps, { locality: {} });
  c.hash = { header: "x-user" };
  const hashed = new Balancer(c, 0, HERE);
  const keyed = () =>
    pickEndpoint(hashed, { tried: [], avoidTried: false, outliers: od, hashKey: "u-1" });
  const first = keyed()!;
  assert.ok(first.port <= 4);
  for (let i = 0; i < 5; i++) assert.equal(keyed(), first);
  for (const e of eps.slice(0, 4)) od.report(c, e, 503);
  const moved = keyed()!;
  assert.ok(moved.port >= 10, `moved to ${moved.port}`);
  for (let i = 0; i < 5; i++) assert.equal(keyed(), moved);
});

Deno.test("levels: a retry that avoids tried hosts stays in the level (no retry priority)", () => {
  const c = cluster([ep(1, "region1/zone1"), ep(2, "region1/zone2")]);
  const lb = new Balancer(c, 0, HERE);
  const od = new OutlierDetector(() => 0);
  const first = pickEndpoint(lb, { tried: [], avoidTried: true, outliers: od })!;
  assert.equal(first.port, 1);
  assert.equal(pickEndpoint(lb, { tried: [first], avoidTried: true, outliers: od })?.port, 1);
});

Deno.test("levels: panic (minHealthPercent) only when the total health is under 100", () => {
  const c = cluster([...zone(1, 4, "region1/zone1"), ...zone(10, 4, "region1/zone2")], {
    outlier: { minHealthPercent: 50 },
  });
  const od = new OutlierDetector(() => 0);
  const lb = new Balancer(c, 0, HERE);
  // Zone1 25% healthy (health 35), zone2 whole: 35/65, no panic; zone1's ejected never picked.
  for (const e of c.endpoints.slice(0, 3)) od.report(c, e, 503);
  assert.deepEqual(levelShares(lb, od), [35, 65]);
  assert.equal(lb.inPanic(0), false);
  for (let i = 0; i < 20; i++) {
    const p = pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od })!.port;
    assert.ok(p === 4 || p >= 10, `picked ${p}`);
  }
  // Zone2 at 25% too: total 70, both levels in panic (total panic: by size, 50/50), and the
  // ejected endpoints take traffic again.
  for (const e of c.endpoints.slice(4, 7)) od.report(c, e, 503);
  assert.deepEqual(levelShares(lb, od), [50, 50]);
  assert.equal(lb.inPanic(0), true);
  const seen = new Set<number>();
  for (let i = 0; i < 40; i++) {
    seen.add(pickEndpoint(lb, { tried: [], avoidTried: false, outliers: od })!.port);
  }
  assert.ok(seen.has(1), [...seen].join(","));
  // Without a panic threshold (Istio's default), every endpoint ejected: no healthy upstream.
  const strict = cluster(zone(1, 2, "region1/zone1").concat(zone(10, 1, "region1/zone2")));
  const s = new Balancer(strict, 0, HERE);
  for (const e of strict.endpoints) od.report(strict, e, 503);
  assert.equal(pickEndpoint(s, { tried: [], avoidTried: false, outliers: od }), undefined);
});
