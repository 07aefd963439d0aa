import assert from "node:assert/strict";
import type { Cluster, Endpoint } from "../../api/proxy_config.ts";
import { Balancer } from "../balancer.ts";
import { hashKeyOf, originalDestination, pickEndpoint } from "./pick.ts";

const eps: Endpoint[] = [1, 2, 3, 4].map((i) => ({
  address: `10.0.0.${i}`,
  port: 80,
  mtls: false,
  labels: {},
}));
const cluster: Cluster = {
  name: "c",
  host: "h",
  port: 80,
  lb: "ROUND_ROBIN",
  endpoints: eps,
  outlier: {
    consecutive5xx: 5,
    consecutiveGatewayErrors: 0,
    baseEjectionMs: 1000,
    maxEjectionPercent: 100,
  },
};

Deno.test("pickEndpoint: ejected endpoints are skipped, unless too few are healthy (minHealthPercent)", () => {
  const ejected = new Set(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  const outliers = { isEjected: (_c: Cluster, e: Endpoint) => ejected.has(e.address) };
  const picks = (c: Cluster) => {
    const lb = new Balancer(c);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      seen.add(pickEndpoint(lb, { tried: [], avoidTried: false, outliers })?.address ?? "none");
    }
    return [...seen].sort();
  };
  // 25% healthy: without a threshold, only the healthy one.
  assert.deepEqual(picks(cluster), ["10.0.0.4"]);
  // A 50% threshold: panic, every endpoint takes traffic.
  assert.deepEqual(picks({ ...cluster, outlier: { ...cluster.outlier!, minHealthPercent: 50 } }), [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
  ]);
  // Every endpoint ejected, no threshold: no healthy upstream.
  for (const e of eps) ejected.add(e.address);
  assert.equal(
    pickEndpoint(new Balancer(cluster), { tried: [], avoidTried: false, outliers }),
    undefined,
  );
});

Deno.test("pickEndpoint: a retry avoids the endpoints tried; a hash key keeps its endpoint", () => {
  const outliers = { isEjected: () => false };
  const lb = new Balancer({ ...cluster, outlier: undefined });
  const first = pickEndpoint(lb, { tried: [], avoidTried: true, outliers })!;
  for (let i = 0; i < 10; i++) {
    assert.notEqual(pickEndpoint(lb, { tried: [first], avoidTried: true, outliers }), first);
  }
  const keyed = pickEndpoint(lb, { tried: [], avoidTried: false, outliers, hashKey: "user-1" })!;
  for (let i = 0; i < 10; i++) {
    assert.equal(
      pickEndpoint(lb, { tried: [], avoidTried: false, outliers, hashKey: "user-1" }),
      keyed,
    );
  }
  // A retry of a hashed request walks the ring on to another endpoint.
  const other = pickEndpoint(lb, { tried: [keyed], avoidTried: true, outliers, hashKey: "user-1" });
  assert.ok(other && other !== keyed);
});

Deno.test("hashKeyOf: header, query parameter, source IP, cookie (made up with a TTL)", () => {
  const req = (h: Record<string, string>, path = "/") => ({
    header: (n: string) => h[n],
    path,
    clientIp: () => "10.1.1.1",
  });
  assert.deepEqual(hashKeyOf({ header: "x-user" }, req({ "x-user": "a" })), { key: "a" });
  assert.equal(hashKeyOf({ header: "x-user" }, req({})), undefined);
  assert.deepEqual(hashKeyOf({ queryParameter: "u" }, req({}, "/p?u=7")), { key: "7" });
  assert.deepEqual(hashKeyOf({ sourceIp: true }, req({})), { key: "10.1.1.1" });
  assert.deepEqual(
    hashKeyOf({ cookie: { name: "s" } }, req({ cookie: "a=1; s=xyz" })),
    { key: "xyz" },
  );
  assert.equal(hashKeyOf({ cookie: { name: "s" } }, req({})), undefined);
  const made = hashKeyOf({ cookie: { name: "s", ttlSeconds: 60 } }, req({}));
  assert.match(made!.setCookie!, new RegExp(`^s=${made!.key}; Max-Age=60; Path=/; HttpOnly$`));
});

Deno.test("originalDestination: the host asked for, when the cluster covers it, on the cluster's port", () => {
  const c: Cluster = { ...cluster, host: "*.example.com", port: 443, endpoints: [] };
  assert.deepEqual(originalDestination("API.example.com:8080", c), {
    address: "api.example.com",
    port: 443,
    mtls: false,
    labels: {},
  });
  assert.equal(originalDestination("other.org", c), undefined);
});
