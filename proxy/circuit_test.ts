import assert from "node:assert/strict";
import type { Cluster, ClusterLimits } from "../api/proxy_config.ts";
import { CircuitBreakers } from "./circuit.ts";

function cluster(limits?: ClusterLimits): Cluster {
  return {
    name: "outbound|80||svc",
    host: "svc",
    port: 80,
    lb: "ROUND_ROBIN",
    endpoints: [],
    limits,
  };
}

Deno.test("no limits: every request goes at once", () => {
  const cb = new CircuitBreakers();
  for (let i = 0; i < 100; i++) assert.equal(typeof cb.acquire(cluster()), "function");
});

Deno.test("maxConnections admits that many, queues maxPendingRequests, overflows the rest", async () => {
  const cb = new CircuitBreakers();
  const c = cluster({ maxConnections: 1, maxPendingRequests: 1 });
  const first = cb.acquire(c);
  assert.equal(typeof first, "function");
  const second = cb.acquire(c);
  assert.ok(second instanceof Promise, "the second waits");
  assert.equal(cb.acquire(c), undefined, "the third overflows");
  assert.deepEqual(cb.usage(c.name), { active: 1, pending: 1 });
  (first as () => void)();
  const release = await second;
  assert.deepEqual(cb.usage(c.name), { active: 1, pending: 0 });
  release();
  release(); // twice is harmless
  assert.deepEqual(cb.usage(c.name), { active: 0, pending: 0 });
});

Deno.test("maxRequests is a hard cap with no queue", () => {
  const cb = new CircuitBreakers();
  const c = cluster({ maxRequests: 2 });
  assert.equal(typeof cb.acquire(c), "function");
  assert.equal(typeof cb.acquire(c), "function");
  assert.equal(cb.acquire(c), undefined);
});
