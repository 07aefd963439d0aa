import assert from "node:assert/strict";
import type { Cluster, Endpoint, ProxyConfig } from "../../api/proxy_config.ts";
import type { Origination } from "../forward.ts";
import { Runtime } from "../runtime.ts";
import { ClusterStates } from "./clusters.ts";

const ep = (i: number): Endpoint => ({ address: `10.0.0.${i}`, port: 80, mtls: false, labels: {} });

function runtime(clusters: Cluster[]): Runtime {
  return Runtime.compile({
    version: "1",
    trustDomain: "cluster.local",
    roots: "",
    outboundTrafficPolicy: "ALLOW_ANY",
    virtualHosts: [],
    listeners: [],
    clusters: Object.fromEntries(clusters.map((c) => [c.name, c])),
  } as ProxyConfig);
}

const c = (name: string, eps: Endpoint[], over: Partial<Cluster> = {}): Cluster => ({
  name,
  host: `${name}.svc`,
  port: 80,
  lb: "LEAST_REQUEST",
  endpoints: eps,
  limits: { maxConnections: 10 },
  outlier: {
    consecutive5xx: 1,
    consecutiveGatewayErrors: 0,
    baseEjectionMs: 1000,
    maxEjectionPercent: 100,
  },
  ...over,
});

Deno.test("ClusterStates: an unchanged cluster keeps its balancer across a push", () => {
  const states = new ClusterStates();
  const a = runtime([c("a", [ep(1), ep(2)])]);
  states.adopt(a);
  const b = runtime([c("a", [ep(1), ep(2)])]);
  states.adopt(b, a);
  assert.equal(b.balancers.get("a"), a.balancers.get("a"));
});

Deno.test("ClusterStates: changed endpoints get a new balancer that keeps the requests in flight", () => {
  const states = new ClusterStates();
  const a = runtime([c("a", [ep(1), ep(2)])]);
  states.adopt(a);
  const done = a.balancers.get("a")!.begin(ep(1));
  const b = runtime([c("a", [ep(1), ep(3)])]);
  states.adopt(b, a);
  const lb = b.balancers.get("a")!;
  assert.notEqual(lb, a.balancers.get("a"));
  assert.equal(lb.active(ep(1)), 1, "the request started before the push still counts");
  done();
  assert.equal(lb.active(ep(1)), 0, "and its end is counted in the new balancer");
});

Deno.test("ClusterStates: a cluster that goes takes its breaker gate, outlier records and pools", async () => {
  const retained: string[][] = [];
  const pools = {
    retain: (keep: Iterable<[Endpoint, Origination | undefined]>) =>
      retained.push([...keep].map(([e]) => e.address)),
  };
  let now = 0;
  const states = new ClusterStates({ pools: [pools], now: () => now });
  const a = runtime([c("a", [ep(1)]), c("b", [ep(2), ep(3)])]);
  states.adopt(a);
  const ca = a.config.clusters["a"];
  const cb = a.config.clusters["b"];
  const release = states.breakers.acquire(ca);
  assert.equal(typeof release, "function");
  states.breakers.acquire(cb);
  states.outliers.report(ca, ep(1), 503);
  states.outliers.report(cb, ep(2), 503);
  states.outliers.report(cb, ep(3), 503);
  assert.equal(states.outliers.isEjected(cb, ep(3)), true);
  assert.equal(states.breakers.size, 2);
  assert.equal(states.outliers.size, 3);
  // b loses endpoint 3, a goes.
  const b = runtime([c("b", [ep(2)])]);
  states.adopt(b, a);
  assert.equal(states.breakers.size, 1);
  assert.deepEqual(states.breakers.usage("a"), { active: 0, pending: 0 });
  assert.equal(states.outliers.size, 1, "only b's remaining endpoint is remembered");
  assert.equal(states.outliers.isEjected(b.config.clusters["b"], ep(2)), true, "and stays ejected");
  assert.deepEqual(retained.at(-1), ["10.0.0.2"], "pools are pruned to the new endpoints");
  (release as () => void)(); // a request of a forgotten cluster ends harmlessly
  now += 1;
  await Promise.resolve();
});
