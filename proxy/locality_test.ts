import assert from "node:assert/strict";
import type { Cluster, Endpoint, LocalityLbPolicy } from "../api/proxy_config.ts";
import {
  failoverPriorityRank,
  levelHealth,
  localityLevels,
  localityMatches,
  localityPriority,
  panicLoads,
  priorityLoads,
} from "./locality.ts";

const ep = (
  port: number,
  locality?: string,
  labels: Record<string, string> = {},
): Endpoint => ({
  address: "127.0.0.1",
  port,
  mtls: false,
  labels,
  ...(locality ? { locality } : {}),
});

const cluster = (endpoints: Endpoint[], locality: LocalityLbPolicy = {}): Cluster => ({
  name: "outbound|5000||helloworld.sample.svc.cluster.local",
  host: "helloworld.sample.svc.cluster.local",
  port: 5000,
  lb: "ROUND_ROBIN",
  endpoints,
  locality,
});

/** Each level's endpoint ports. */
const ports = (levels: ReturnType<typeof localityLevels>) =>
  levels?.map((l) => l.endpoints.map((e) => e.port));

const loads = (health: number[]) => {
  const out = new Int32Array(health.length);
  priorityLoads(health, out);
  return [...out];
};

Deno.test("level health: healthy share × 1.4, capped at 100 (Envoy's integer score)", () => {
  // Envoy's table (P=0 healthy share → its health score).
  assert.equal(levelHealth(100, 100), 100);
  assert.equal(levelHealth(72, 100), 100);
  assert.equal(levelHealth(71, 100), 99);
  assert.equal(levelHealth(50, 100), 70);
  assert.equal(levelHealth(25, 100), 35);
  assert.equal(levelHealth(0, 100), 0);
  // 5 of 7 healthy is still whole (71.4%), 4 of 7 is not.
  assert.equal(levelHealth(5, 7), 100);
  assert.equal(levelHealth(4, 7), 80);
  assert.equal(levelHealth(0, 0), 0);
});

Deno.test("priority load: spill-over to the next level, as Envoy's table (P=1 fully healthy)", () => {
  const table: [number, number, number][] = [
    [100, 100, 0],
    [72, 100, 0],
    [71, 99, 1],
    [50, 70, 30],
    [25, 35, 65],
    [0, 0, 100],
  ];
  for (const [healthyPercent, p0, p1] of table) {
    assert.deepEqual(
      loads([levelHealth(healthyPercent, 100), 100]),
      [p0, p1],
      `${healthyPercent}%`,
    );
  }
  // Three levels: what P=0 and P=1 can't take goes further down.
  assert.deepEqual(loads([35, 35, 100]), [35, 35, 30]);
  assert.deepEqual(loads([100, 100, 100]), [100, 0, 0]);
});

Deno.test("priority load: under 100 in total, the health scores are normalized", () => {
  // Envoy's example: healths {20, 30} → {40%, 60%}.
  assert.deepEqual(loads([20, 30]), [40, 60]);
  // {28, 28} (20% healthy each) → half each.
  assert.deepEqual(loads([28, 28]), [50, 50]);
  // Rounding leftovers go to the first level with health: 7 and 91 → 7 + 1, 92.
  assert.deepEqual(loads([7, 91]), [8, 92]);
  assert.deepEqual(loads([0, 0, 14]), [0, 0, 100]);
  // Nothing healthy: no load anywhere (no healthy upstream).
  const out = new Int32Array(2);
  assert.equal(priorityLoads([0, 0], out), false);
  assert.deepEqual([...out], [0, 0]);
});

Deno.test("total panic: the load follows the levels' sizes", () => {
  const out = new Int32Array(3);
  assert.equal(panicLoads([1, 1, 2], out), true);
  assert.deepEqual([...out], [25, 25, 50]);
  assert.equal(panicLoads([1, 2], out.subarray(0, 2)), true);
  assert.deepEqual([...out.subarray(0, 2)], [34, 66]);
  assert.equal(panicLoads([0, 0], out.subarray(0, 2)), false);
});

Deno.test("locality priority: Istio's failover task's table from region1/zone1", () => {
  const failover = [{ from: "region1", to: "region2" }];
  const from = "region1/zone1";
  assert.equal(localityPriority(from, "region1/zone1", failover), 0);
  assert.equal(localityPriority("region1/zone1/a", "region1/zone1/b", failover), 1);
  assert.equal(localityPriority(from, "region1/zone2", failover), 2);
  assert.equal(localityPriority(from, "region2/zone3", failover), 3);
  assert.equal(localityPriority(from, "region3/zone4", failover), 4);
  // Without a failover rule for the proxy's region, every other region is 3.
  assert.equal(localityPriority(from, "region3/zone4"), 3);
  assert.equal(localityPriority("region9/z", "region3/zone4", failover), 3);
  // A proxy without a locality is closest to endpoints without one.
  assert.equal(localityPriority(undefined, undefined), 0);
  assert.equal(localityPriority(undefined, "region1/zone1"), 3);
});

Deno.test("locality match: wildcards and missing parts, as Istio's LocalityMatch", () => {
  assert.ok(localityMatches("region1/zone1/s", "region1/zone1/*"));
  assert.ok(localityMatches("region1/zone1/s", "region1/zone1"));
  assert.ok(localityMatches("region1/zone1", "region1"));
  assert.ok(localityMatches("region1/zone1", "*"));
  assert.ok(localityMatches("region1/zone1", "region1/*"));
  assert.ok(!localityMatches("region1/zone2", "region1/zone1/*"));
  assert.ok(!localityMatches("region2/zone1", "region1"));
  assert.ok(!localityMatches(undefined, "region1"));
});

Deno.test("failover: levels by closeness to the proxy, empty levels left out", () => {
  const eps = [
    ep(1, "region1/zone1"),
    ep(2, "region1/zone2"),
    ep(3, "region2/zone3"),
    ep(4, "region3/zone4"),
    ep(5, "region1/zone1"),
  ];
  const local = { locality: "region1/zone1", labels: {} };
  assert.deepEqual(ports(localityLevels(cluster(eps), local)), [[1, 5], [2], [3, 4]]);
  // With region1 → region2 failover, region3 comes after region2 (Istio's task).
  const failover = cluster(eps, { failover: [{ from: "region1", to: "region2" }] });
  assert.deepEqual(ports(localityLevels(failover, local)), [[1, 5], [2], [3], [4]]);
  // From region2, the failover rule of region1 doesn't apply: all of region1 is one level.
  assert.deepEqual(
    ports(localityLevels(failover, { locality: "region2/zone3", labels: {} })),
    [[3], [1, 2, 4, 5]],
  );
});

Deno.test("failover: one level, or no setting, changes nothing (the flat path)", () => {
  const local = { locality: "region1/zone1", labels: {} };
  const same = [ep(1, "region1/zone1"), ep(2, "region1/zone1")];
  assert.equal(localityLevels(cluster(same), local), undefined);
  // Nobody with a locality: one level.
  assert.equal(localityLevels(cluster([ep(1), ep(2)]), { labels: {} }), undefined);
  const { locality: _, ...plain } = cluster([ep(1, "region1/zone1"), ep(2, "region1/zone2")]);
  assert.equal(localityLevels(plain, local), undefined);
});

Deno.test("failoverPriority: endpoints matching more of the proxy's labels first", () => {
  const net = "topology.istio.io/network";
  const eps = [
    ep(1, "region1/zone1", { [net]: "n1", tier: "a" }),
    ep(2, "region1/zone1", { [net]: "n1", tier: "b" }),
    ep(3, "region1/zone1", { [net]: "n2", tier: "a" }),
    ep(4, "region2/zone3", { [net]: "n1", tier: "a" }),
  ];
  const local = { locality: "region1/zone1", labels: { [net]: "n1", tier: "a" } };
  // Labels only (no `failover`): locality plays no part; 1 and 4 match both labels.
  const byLabels = cluster(eps, { failoverPriority: [net, "tier"] });
  assert.deepEqual(ports(localityLevels(byLabels, local)), [[1, 4], [2], [3]]);
  // The topology labels come from the localities (istiod's AugmentLabels).
  const byRegion = cluster(eps, {
    failoverPriority: [net, "topology.kubernetes.io/region"],
  });
  assert.deepEqual(ports(localityLevels(byRegion, local)), [[1, 2], [4], [3]]);
  // `key=value` compares with that value, not the proxy's.
  const pinned = cluster(eps, { failoverPriority: [`${net}=n2`] });
  assert.deepEqual(ports(localityLevels(pinned, local)), [[3], [1, 2, 4]]);
  // With `failover` too, locality orders the endpoints within each label rank.
  const both = cluster(eps, {
    failoverPriority: [net],
    failover: [{ from: "region1", to: "region2" }],
  });
  assert.deepEqual(ports(localityLevels(both, local)), [[1, 2], [4], [3]]);
  // A proxy without labels or locality: istiod skips failoverPriority.
  assert.equal(localityLevels(byLabels, { labels: {} }), undefined);
  assert.equal(failoverPriorityRank(["a", "b", "c"], { a: "1", b: "2", c: "3" }, { a: "1" }), 2);
  assert.equal(failoverPriorityRank(["a", "b", "c"], { a: "1" }, { b: "2" }), 3);
  assert.equal(failoverPriorityRank(["a"], {}, {}), 0);
});

Deno.test("distribute: Istio's task's weights from region1/zone1, other localities dropped", () => {
  const eps = [
    ep(1, "region1/zone1"),
    ep(2, "region1/zone2"),
    ep(3, "region2/zone3"),
    ep(4, "region3/zone4"),
  ];
  const c = cluster(eps, {
    distribute: [{
      from: "region1/zone1/*",
      to: { "region1/zone1/*": 70, "region1/zone2/*": 20, "region3/zone4/*": 10 },
    }],
  });
  const levels = localityLevels(c, { locality: "region1/zone1", labels: {} })!;
  assert.equal(levels.length, 1);
  assert.deepEqual(
    levels[0].groups?.map((g) => [g.endpoints.map((e) => e.port), g.weight]),
    [[[1], 70], [[2], 20], [[4], 10]],
  );
  assert.deepEqual(levels[0].endpoints.map((e) => e.port), [1, 2, 4]);
  // A proxy no `from` matches balances as before.
  assert.equal(localityLevels(c, { locality: "region2/zone3", labels: {} }), undefined);
});

Deno.test("distribute: a wildcard's weight is shared by endpoint count, rounded up", () => {
  const eps = [
    ep(1, "region2/zone1"),
    ep(2, "region2/zone1"),
    ep(3, "region2/zone2"),
    ep(4, "region1/zone1"),
  ];
  const c = cluster(eps, {
    distribute: [{ from: "region1/*", to: { "region2/*": 80, "region1/zone1": 20 } }],
  });
  const [level] = localityLevels(c, { locality: "region1/zone1", labels: {} })!;
  assert.deepEqual(
    level.groups?.map((g) => [g.endpoints.map((e) => e.port), g.weight]),
    [[[1, 2], 54], [[3], 27], [[4], 20]],
  );
  // Nothing matches any `to`: no endpoint takes traffic.
  const none = cluster(eps, { distribute: [{ from: "*", to: { "region9": 100 } }] });
  assert.deepEqual(localityLevels(none, { labels: {} }), [{ endpoints: [], groups: [] }]);
});
