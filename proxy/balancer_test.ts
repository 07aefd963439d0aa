import assert from "node:assert/strict";
import type { Cluster, Endpoint } from "../api/proxy_config.ts";
import { Balancer } from "./balancer.ts";

function ep(port: number): Endpoint {
  return { address: "127.0.0.1", port, mtls: false, labels: {} };
}

function cluster(ports: number[], lb: Cluster["lb"] = "ROUND_ROBIN"): Cluster {
  return {
    name: "outbound|9080||reviews.default.svc.cluster.local",
    host: "reviews.default.svc.cluster.local",
    port: 9080,
    lb,
    endpoints: ports.map(ep),
  };
}

function picks(lb: Balancer, n: number, rand?: number): (number | undefined)[] {
  return Array.from({ length: n }, () => lb.pick(rand)?.port);
}

Deno.test("Balancer: round robin visits endpoints in order and wraps", () => {
  const lb = new Balancer(cluster([1, 2, 3]));
  assert.deepEqual(picks(lb, 7), [1, 2, 3, 1, 2, 3, 1]);
});

Deno.test("Balancer: round robin ignores rand", () => {
  const lb = new Balancer(cluster([1, 2, 3]));
  assert.deepEqual(picks(lb, 3, 0.99), [1, 2, 3]);
});

Deno.test("Balancer: round robin with one endpoint always picks it", () => {
  const lb = new Balancer(cluster([7]), 5);
  assert.deepEqual(picks(lb, 3), [7, 7, 7]);
});

Deno.test("Balancer: start offset begins the rotation there", () => {
  assert.deepEqual(picks(new Balancer(cluster([1, 2, 3]), 1), 4), [2, 3, 1, 2]);
  assert.deepEqual(picks(new Balancer(cluster([1, 2, 3]), 2), 4), [3, 1, 2, 3]);
});

Deno.test("Balancer: start offset wraps modulo the endpoint count", () => {
  assert.deepEqual(picks(new Balancer(cluster([1, 2, 3]), 3), 3), [1, 2, 3]);
  assert.deepEqual(picks(new Balancer(cluster([1, 2, 3]), 1024), 3), [2, 3, 1]);
});

Deno.test("Balancer: any start offset still visits every endpoint once per round", () => {
  for (let start = 0; start < 10; start++) {
    const got = picks(new Balancer(cluster([1, 2, 3, 4]), start), 4);
    assert.deepEqual([...got].sort(), [1, 2, 3, 4], `start ${start}`);
  }
});

Deno.test("Balancer: RANDOM picks the endpoint rand points at", () => {
  const lb = new Balancer(cluster([1, 2, 3, 4], "RANDOM"));
  assert.equal(lb.pick(0)?.port, 1);
  assert.equal(lb.pick(0.24)?.port, 1);
  assert.equal(lb.pick(0.25)?.port, 2);
  assert.equal(lb.pick(0.49)?.port, 2);
  assert.equal(lb.pick(0.5)?.port, 3);
  assert.equal(lb.pick(0.99)?.port, 4);
  // Same rand, same endpoint: no hidden cursor.
  assert.deepEqual(picks(lb, 3, 0.5), [3, 3, 3]);
});

Deno.test("Balancer: RANDOM without rand returns an endpoint of the cluster", () => {
  const lb = new Balancer(cluster([1, 2, 3], "RANDOM"));
  for (let i = 0; i < 20; i++) assert.ok([1, 2, 3].includes(lb.pick()!.port));
});

Deno.test("Balancer: an empty cluster gives undefined", () => {
  assert.equal(new Balancer(cluster([])).pick(), undefined);
  assert.equal(new Balancer(cluster([]), 5).pick(), undefined);
  assert.equal(new Balancer(cluster([], "RANDOM")).pick(0.5), undefined);
});

Deno.test("Balancer: returns the cluster's own endpoint objects", () => {
  const c = cluster([1, 2]);
  const lb = new Balancer(c);
  assert.equal(lb.cluster, c);
  assert.equal(lb.pick(), c.endpoints[0]);
  assert.equal(lb.pick(), c.endpoints[1]);
});

Deno.test("pick skips rejected endpoints, and uses all when every one is rejected (panic)", () => {
  const lb = new Balancer({
    name: "c",
    host: "h",
    port: 80,
    lb: "ROUND_ROBIN",
    endpoints: [1, 2, 3].map((p) => ({ address: "127.0.0.1", port: p, mtls: false, labels: {} })),
  });
  const seen = Array.from({ length: 4 }, () => lb.pick(0, (e) => e.port === 2)?.port);
  assert.ok(!seen.includes(2), `picked ${seen}`);
  assert.ok(lb.pick(0, () => true) !== undefined, "panic mode still picks");
});

Deno.test("LEAST_REQUEST picks the less busy of two endpoints", () => {
  const eps = [1, 2].map((p) => ({ address: "127.0.0.1", port: p, mtls: false, labels: {} }));
  const lb = new Balancer({ name: "c", host: "h", port: 80, lb: "LEAST_REQUEST", endpoints: eps });
  const end = lb.begin(eps[0]);
  lb.begin(eps[0]);
  // With endpoint 1 busy, any pair that includes endpoint 2 picks it.
  let twos = 0;
  for (let i = 0; i < 50; i++) if (lb.pick(0.9)?.port === 2) twos++;
  assert.equal(twos, 50);
  end();
  assert.equal(lb.active(eps[0]), 1);
});

Deno.test("pickByKey: a key keeps its endpoint; keys spread; losing an endpoint moves only its keys", () => {
  const eps = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map((address) => ({
    address,
    port: 8080,
    mtls: false,
    labels: {},
  }));
  const all = new Balancer({ name: "c", host: "h", port: 80, lb: "ROUND_ROBIN", endpoints: eps });
  const keys = Array.from({ length: 400 }, (_, i) => `user-${i}`);
  const before = new Map(keys.map((k) => [k, all.pickByKey(k)!.address]));
  for (const k of keys.slice(0, 20)) assert.equal(all.pickByKey(k)!.address, before.get(k));
  const counts = new Map<string, number>();
  for (const a of before.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
  assert.equal(counts.size, 4);
  for (const n of counts.values()) {
    assert.ok(n > 50 && n < 150, `uneven spread: ${[...counts.values()]}`);
  }
  // Without 10.0.0.4, keys that were elsewhere stay where they were.
  const three = new Balancer({
    name: "c",
    host: "h",
    port: 80,
    lb: "ROUND_ROBIN",
    endpoints: eps.slice(0, 3),
  });
  for (const k of keys) {
    if (before.get(k) !== "10.0.0.4") assert.equal(three.pickByKey(k)!.address, before.get(k), k);
  }
  // A skipped endpoint (ejected, or already tried) passes the key on round the ring.
  const k = keys[0];
  const next = all.pickByKey(k, (e) => e.address === before.get(k))!;
  assert.notEqual(next.address, before.get(k));
  assert.equal(all.pickByKey(k, (e) => e.address === before.get(k))!.address, next.address);
});
