/**
 * The logical stage in process, composed as the sidecar's outbound listener composes it
 * (`outbound.ts`), against a fake upstream and a fake clock: route filters (fault delay and
 * abort, CORS, redirect, direct response, rewrite, header changes), the access log flags and
 * the passthrough/blackhole fallback. No sockets.
 */
import assert from "node:assert/strict";
import type { ProxyConfig, Route } from "../../api/proxy_config.ts";
import type { AccessEntry, AccessLog } from "../access_log.ts";
import { Runtime } from "../runtime.ts";
import { Stats } from "../stats.ts";
import { outboundHandler } from "../outbound.ts";
import { ClusterStates } from "./clusters.ts";
import { FakeClock } from "../../util/clock.ts";
import { FakeEndpoints, reply } from "./fake_endpoints.ts";
import type { RoutedContext } from "./routed.ts";

const CLUSTER = "outbound|80||svc.default.svc.cluster.local";

function route(prefix: string, r: Partial<Route>): Route {
  return {
    source: "default/svc",
    name: prefix,
    match: [{ uri: { prefix } }],
    destinations: [{ cluster: CLUSTER, weight: 100 }],
    ...r,
  };
}

function config(routes: Route[], over: Partial<ProxyConfig> = {}): ProxyConfig {
  return {
    version: "1",
    trustDomain: "cluster.local",
    roots: "",
    outboundTrafficPolicy: "REGISTRY_ONLY",
    virtualHosts: [{ name: "svc", domains: ["svc", "svc:80"], routes }],
    listeners: [],
    clusters: {
      [CLUSTER]: {
        name: CLUSTER,
        host: "svc.default.svc.cluster.local",
        port: 80,
        lb: "ROUND_ROBIN",
        endpoints: [{ address: "10.0.0.1", port: 8080, mtls: false, labels: {} }],
      },
    },
    ...over,
  };
}

function stack(cfg: ProxyConfig, up = new FakeEndpoints()) {
  const rt = Runtime.compile(cfg);
  const clock = new FakeClock();
  const log: AccessEntry[] = [];
  const stats = new Stats({ namespace: "default", workload: "app", principal: "" });
  const ctx: RoutedContext = {
    runtime: () => rt,
    endpoints: up,
    clusters: new ClusterStates(),
    stats,
    accessLog: { enabled: true, write: (e: AccessEntry) => log.push(e) } as unknown as AccessLog,
    clock,
    random: () => 0.5,
  };
  const handler = outboundHandler(ctx, { table: (r) => r.outbound, port: 80 });
  const call = (path: string, init: RequestInit & { host?: string } = {}) => {
    const headers = new Headers(init.headers);
    headers.set("host", init.host ?? "svc");
    return Promise.resolve(
      handler(new Request(`http://${init.host ?? "svc"}${path}`, { ...init, headers }), undefined!),
    );
  };
  return { call, up, clock, log, stats };
}

Deno.test("logical: a fault delay waits on the clock, then forwards; the log says DI", async () => {
  const s = stack(config([route("/", { fault: { delay: { ms: 1000, percent: 100 } } })]));
  let answered = false;
  const res = s.call("/slow").then((r) => (answered = true, r));
  await s.clock.advance(999);
  assert.equal(answered, false);
  assert.equal(s.up.sent.length, 0, "not forwarded during the delay");
  await s.clock.advance(1);
  assert.equal((await res).status, 200);
  assert.equal(s.log[0].flags, "DI");
  assert.equal(s.log[0].upstreamCluster, CLUSTER);
  assert.equal(s.log[0].routeName, "/");
});

Deno.test("logical: a fault abort answers without forwarding (FI)", async () => {
  const s = stack(config([route("/", { fault: { abort: { status: 418, percent: 100 } } })]));
  const res = await s.call("/");
  assert.equal(res.status, 418);
  assert.equal(await res.text(), "fault filter abort");
  assert.equal(s.up.sent.length, 0);
  assert.equal(s.log[0].flags, "FI");
});

Deno.test("logical: CORS preflights are answered here; allowed origins get the headers", async () => {
  const s = stack(config([route("/", {
    cors: {
      allowOrigins: [{ exact: "https://a.example" }],
      allowMethods: ["GET"],
      unmatchedPreflights: "FORWARD",
    },
  })]));
  const pre = await s.call("/", {
    method: "OPTIONS",
    headers: { origin: "https://a.example", "access-control-request-method": "GET" },
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers.get("access-control-allow-methods"), "GET");
  assert.equal(s.up.sent.length, 0, "a preflight isn't forwarded");
  const res = await s.call("/", { headers: { origin: "https://a.example" } });
  assert.equal(res.headers.get("access-control-allow-origin"), "https://a.example");
  const other = await s.call("/", { headers: { origin: "https://b.example" } });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  assert.equal(s.up.sent.length, 2);
});

Deno.test("logical: redirect and direct response are answered here", async () => {
  const s = stack(config([
    route("/old", { destinations: [], redirect: { uri: "/new", code: 301 } }),
    route("/fixed", {
      destinations: [],
      directResponse: { status: 503, bodyBase64: btoa("down") },
    }),
  ]));
  const r = await s.call("/old?x=1");
  assert.equal(r.status, 301);
  assert.equal(r.headers.get("location"), "http://svc/new?x=1");
  const d = await s.call("/fixed");
  assert.equal(d.status, 503);
  assert.equal(await d.text(), "down");
  assert.equal(s.up.sent.length, 0);
});

Deno.test("logical: rewrite and header changes in Envoy's order reach the upstream", async () => {
  const up = new FakeEndpoints(() => reply(200, "ok", [["server", "app"]]));
  const s = stack(
    config([route("/api", {
      rewrite: { uri: "/v2", authority: "backend" },
      headers: { request: { set: { "x-who": "route" } }, response: { remove: ["server"] } },
      destinations: [{
        cluster: CLUSTER,
        weight: 100,
        headers: { request: { set: { "x-who": "destination", "x-dest": "1" } } },
      }],
    })]),
    up,
  );
  const res = await s.call("/api/items?q=1", { headers: { "x-request-id": "r1" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("server"), null);
  const sent = s.up.sent[0];
  assert.equal(sent.req.path, "/v2/items?q=1");
  assert.equal(s.up.header(0, "host"), "backend");
  assert.equal(s.up.header(0, "x-who"), "route", "the route's set wins over the destination's");
  assert.equal(s.up.header(0, "x-dest"), "1");
  assert.equal(s.up.header(0, "x-request-id"), "r1");
  assert.ok(s.up.header(0, "x-mesh-via"), "the loop marker goes on");
  assert.equal(sent.target.endpoint.address, "10.0.0.1");
});

Deno.test("logical: a bad upstream status is a 502 UPE; a route timeout a 504 UT", async () => {
  const up = new FakeEndpoints(() => reply(600, "weird"));
  const s = stack(config([route("/", {})]), up);
  const res = await s.call("/");
  assert.equal(res.status, 502);
  assert.equal(s.log[0].flags, "UPE");
  up.answer = (_r, _t, signal) =>
    new Promise((_, reject) =>
      signal?.addEventListener("abort", () => reject(new Error("aborted")))
    );
  const t = stack(config([route("/", { timeoutMs: 50 })]), up);
  const slow = t.call("/");
  await t.clock.advance(50);
  const r = await slow;
  assert.equal(r.status, 504);
  assert.equal(await r.text(), "upstream request timeout");
  assert.equal(t.log[0].flags, "UT");
});

Deno.test("logical: unknown hosts are a BlackHoleCluster 502 (REGISTRY_ONLY) or go through (ALLOW_ANY)", async () => {
  const s = stack(config([route("/", {})]));
  const res = await s.call("/", { host: "example.org" });
  assert.equal(res.status, 502);
  assert.equal(s.log[0].upstreamCluster, "BlackHoleCluster");
  assert.equal(s.log[0].flags, "NR");
  const a = stack(config([route("/", {})], { outboundTrafficPolicy: "ALLOW_ANY" }));
  const pass = await a.call("/x", { host: "example.org:8080" });
  assert.equal(pass.status, 200);
  assert.deepEqual(a.up.sent[0].target.endpoint, {
    address: "example.org",
    port: 8080,
    mtls: false,
    labels: {},
  });
  assert.equal(a.log[0].upstreamCluster, "PassthroughCluster");
  // A known host without a matching route: 404 NR.
  const none = stack(config([route("/only", {})]));
  const nr = await none.call("/other");
  assert.equal(nr.status, 404);
  assert.equal(none.log[0].flags, "NR");
});

Deno.test("logical: a request this proxy already forwarded is a 508 (loop), never sent on", async () => {
  const s = stack(config([route("/", {})]));
  const first = await s.call("/");
  assert.equal(first.status, 200);
  const via = s.up.header(0, "x-mesh-via")!;
  const again = await s.call("/", { headers: { "x-mesh-via": via } });
  assert.equal(again.status, 508);
  assert.equal(s.up.sent.length, 1);
});
