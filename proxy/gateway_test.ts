/**
 * The gateway as a composition of the stages (`gateway.ts`), in process against a fake
 * upstream: server-level routing, path normalization before routing, authorization at the
 * gateway, no catch-all, untrusted `x-envoy-*` headers and `x-forwarded-proto`.
 */
import assert from "node:assert/strict";
import type { ProxyConfig } from "../api/proxy_config.ts";
import { Runtime } from "./runtime.ts";
import { Stats } from "./stats.ts";
import { gatewayHandler } from "./gateway.ts";
import { ClusterStates } from "./stages/clusters.ts";
import { FakeEndpoints } from "./stages/fake_endpoints.ts";
import type { RoutedContext } from "./stages/routed.ts";

const CLUSTER = "outbound|9080||productpage.default.svc.cluster.local";

function gateway(over: Partial<ProxyConfig> = {}) {
  const config: ProxyConfig = {
    version: "1",
    trustDomain: "cluster.local",
    roots: "",
    outboundTrafficPolicy: "ALLOW_ANY",
    virtualHosts: [],
    listeners: [{
      port: 8080,
      protocol: "HTTP",
      virtualHosts: [{
        name: "bookinfo",
        domains: ["*"],
        routes: [{
          source: "default/bookinfo",
          match: [{ uri: { prefix: "/productpage" } }],
          destinations: [{ cluster: CLUSTER, weight: 100 }],
        }],
      }],
    }],
    clusters: {
      [CLUSTER]: {
        name: CLUSTER,
        host: "productpage.default.svc.cluster.local",
        port: 9080,
        lb: "ROUND_ROBIN",
        endpoints: [{ address: "10.0.0.7", port: 9080, mtls: true, labels: {} }],
      },
    },
    ...over,
  } as ProxyConfig;
  const rt = Runtime.compile(config);
  const up = new FakeEndpoints();
  const ctx: RoutedContext = {
    runtime: () => rt,
    endpoints: up,
    clusters: new ClusterStates(),
    stats: new Stats({ namespace: "istio-system", workload: "gw", principal: "" }),
  };
  const handler = gatewayHandler(ctx, 8080);
  const call = (path: string, headers: Record<string, string> = {}) =>
    Promise.resolve(handler(
      new Request(`http://shop.example${path}`, { headers: { host: "shop.example", ...headers } }),
      { remoteAddr: { hostname: "203.0.113.9", port: 5555, transport: "tcp" } } as never,
    ));
  return { call, up };
}

Deno.test("gateway: routes by its server table; x-envoy-* dropped; x-forwarded-proto set", async () => {
  const g = gateway();
  const res = await g.call("/productpage", { "x-envoy-retry-on": "5xx", "x-app": "1" });
  assert.equal(res.status, 200);
  assert.equal(g.up.header(0, "x-envoy-retry-on"), undefined, "clients aren't trusted with it");
  assert.equal(g.up.header(0, "x-app"), "1");
  assert.equal(g.up.header(0, "x-forwarded-proto"), "http");
  assert.equal(g.up.sent[0].target.endpoint.address, "10.0.0.7");
});

Deno.test("gateway: no catch-all: a path no route covers is 404, nothing sent", async () => {
  const g = gateway();
  assert.equal((await g.call("/admin")).status, 404);
  assert.equal(g.up.sent.length, 0);
});

Deno.test("gateway: the path is normalized before routing and goes upstream normalized", async () => {
  const g = gateway();
  const res = await g.call("/static/../productpage");
  assert.equal(res.status, 200);
  assert.equal(g.up.sent[0].req.path, "/productpage");
});

Deno.test("gateway: its AuthorizationPolicies are enforced before routing (403 RBAC)", async () => {
  const g = gateway({
    authz: [{
      name: "istio-system/deny-admin",
      action: "DENY",
      rules: [{
        to: [{ paths: ["/productpage"] }],
        when: [{ key: "request.headers[x-block]", values: ["1"] }],
      }],
    }],
  });
  const denied = await g.call("/productpage", { "x-block": "1" });
  assert.equal(denied.status, 403);
  assert.equal(await denied.text(), "RBAC: access denied");
  assert.equal(g.up.sent.length, 0);
  assert.equal((await g.call("/productpage")).status, 200);
});
