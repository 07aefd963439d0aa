import assert from "node:assert/strict";
import type { Cluster, Endpoint, OutlierPolicy } from "../api/proxy_config.ts";
import { OutlierDetector } from "./outlier.ts";

const ep = (port: number): Endpoint => ({ address: "127.0.0.1", port, mtls: false, labels: {} });

function cluster(n: number, outlier: Partial<OutlierPolicy> = {}): Cluster {
  return {
    name: "outbound|80||svc",
    host: "svc",
    port: 80,
    lb: "ROUND_ROBIN",
    endpoints: Array.from({ length: n }, (_, i) => ep(1000 + i)),
    outlier: {
      consecutive5xx: 5,
      consecutiveGatewayErrors: 0,
      baseEjectionMs: 30_000,
      maxEjectionPercent: 10,
      ...outlier,
    },
  };
}

Deno.test("five consecutive 5xx eject for the base time; a success resets the count", () => {
  let now = 0;
  const od = new OutlierDetector(() => now);
  const c = cluster(3);
  const [a] = c.endpoints;
  for (let i = 0; i < 4; i++) od.report(c, a, 500);
  od.report(c, a, 200);
  for (let i = 0; i < 4; i++) od.report(c, a, 503);
  assert.equal(od.isEjected(c, a), false);
  od.report(c, a, "connect"); // connect failures count as 5xx
  assert.equal(od.isEjected(c, a), true);
  now = 29_999;
  assert.equal(od.isEjected(c, a), true);
  now = 30_001;
  assert.equal(od.isEjected(c, a), false);
  // The second ejection lasts twice as long.
  for (let i = 0; i < 5; i++) od.report(c, a, 500);
  now += 59_000;
  assert.equal(od.isEjected(c, a), true);
  now += 2_000;
  assert.equal(od.isEjected(c, a), false);
});

Deno.test("gateway errors count only 502/503/504 and local failures; 5xx can be off", () => {
  const od = new OutlierDetector(() => 0);
  const c = cluster(2, { consecutive5xx: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 });
  const [a, b] = c.endpoints;
  od.report(c, a, 500);
  od.report(c, a, 500);
  assert.equal(od.isEjected(c, a), false);
  od.report(c, b, 502);
  od.report(c, b, "timeout");
  assert.equal(od.isEjected(c, b), true);
});

Deno.test("at most maxEjectionPercent are ejected, but always at least one", () => {
  const od = new OutlierDetector(() => 0);
  const c = cluster(4, { consecutive5xx: 1, maxEjectionPercent: 10 });
  for (const e of c.endpoints) od.report(c, e, 500);
  assert.equal(od.ejectedCount(c), 1);
  const half = cluster(4, { consecutive5xx: 1, maxEjectionPercent: 50 });
  for (const e of half.endpoints) od.report(half, e, 500);
  assert.equal(od.ejectedCount(half), 2);
});

Deno.test("clusters without a policy are never ejected", () => {
  const od = new OutlierDetector(() => 0);
  const c: Cluster = { ...cluster(1), outlier: undefined };
  for (let i = 0; i < 10; i++) od.report(c, c.endpoints[0], 500);
  assert.equal(od.isEjected(c, c.endpoints[0]), false);
});
