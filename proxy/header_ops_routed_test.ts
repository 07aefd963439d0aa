/**
 * Routes whose header changes the proxy can't make (config built directly, as a control plane
 * might push it, bypassing validation) still serve: the change is skipped, the request goes on.
 * Before `header_ops.ts`, a response change `Headers` refused was a 500 ("proxy error: Invalid
 * header name"), and a request value with CR LF was written as is (header injection).
 */
import assert from "node:assert/strict";
import type { HeaderOps, ProxyConfig, Route } from "../api/proxy_config.ts";
import { Runtime } from "./runtime.ts";
import { outboundHandler } from "./outbound.ts";
import type { RoutedContext } from "./stages/routed.ts";
import { ClusterStates } from "./stages/clusters.ts";
import { H1EndpointClient } from "./stages/endpoint.ts";
import { Upstreams } from "./forward.ts";
import { Stats } from "./stats.ts";
import { serveHttp } from "./listener.ts";

const CLUSTER = "outbound|80||svc.default.svc.cluster.local";

/** Runs `fn` against an outbound listener whose one route (for any host) is `route`. */
async function withRoute(
  route: Partial<Route>,
  fn: (url: string, seen: () => Record<string, string>) => Promise<void>,
): Promise<void> {
  let last: Record<string, string> = {};
  const up = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    last = Object.fromEntries(req.headers);
    return new Response("ok", { headers: { "x-upstream": "1" } });
  });
  const config: ProxyConfig = {
    version: "1",
    trustDomain: "cluster.local",
    roots: "",
    outboundTrafficPolicy: "REGISTRY_ONLY",
    virtualHosts: [{
      name: "svc",
      domains: ["*"],
      routes: [{
        source: "default/test",
        match: [],
        destinations: [{ cluster: CLUSTER, weight: 100 }],
        ...route,
      }],
    }],
    listeners: [],
    clusters: {
      [CLUSTER]: {
        name: CLUSTER,
        host: "svc.default.svc.cluster.local",
        port: 80,
        lb: "ROUND_ROBIN",
        endpoints: [{ address: "127.0.0.1", port: up.addr.port, mtls: false, labels: {} }],
      },
    },
  };
  // The proxy takes such a config (no NACK): the changes are skipped when requests come.
  const rt = Runtime.compile(config);
  const upstreams = new Upstreams();
  const ctx: RoutedContext = {
    runtime: () => rt,
    endpoints: new H1EndpointClient(upstreams),
    clusters: new ClusterStates(),
    stats: new Stats({ namespace: "default", workload: "test", principal: "" }),
  };
  const listener = await serveHttp({
    name: "outbound",
    hostname: "127.0.0.1",
    port: 0,
    handler: outboundHandler(ctx, { table: (r) => r.outbound, port: 80 }),
  });
  try {
    await fn(`http://127.0.0.1:${listener.port}/`, () => last);
  } finally {
    await listener.shutdown();
    upstreams.close();
    await up.shutdown();
  }
}

const BAD: [string, HeaderOps][] = [
  ["a response set of a name with a space", { response: { set: { "bad name": "v" } } }],
  ["a response add of :authority", { response: { add: { ":authority": "v" } } }],
  ["a response set of a value with a newline", { response: { set: { "x-a": "a\nb" } } }],
  ["a response remove of a name with a space", { response: { remove: ["bad name"] } }],
  ["a response value past Latin-1", { response: { set: { "x-a": "\u65e5\u672c" } } }],
  ["a response set of :status", { response: { set: { ":status": "500" } } }],
  ["a request value with CR LF", { request: { set: { "x-a": "a\r\nx-injected: 1" } } }],
  ["a request set of a name with a space", { request: { set: { "bad name": "v" } } }],
  ["a request add of a name with a colon", { request: { add: { "x-a:b": "v" } } }],
  ["a request add of :path", { request: { add: { ":path": "/x" } } }],
  ["a request remove of host", { request: { remove: ["host"] } }],
  ["a request NUL value", { request: { add: { "x-a": "a\0b" } } }],
];

for (const [what, headers] of BAD) {
  Deno.test(`a route with ${what} still serves (200), its valid changes made`, async () => {
    const ops: HeaderOps = {
      request: {
        ...headers.request,
        set: { ...headers.request?.set, "x-good": "1" },
      },
      response: {
        ...headers.response,
        add: { ...headers.response?.add, "x-good-response": "1" },
      },
    };
    await withRoute({ headers: ops }, async (url, seen) => {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(url);
        assert.equal(res.status, 200, await res.clone().text());
        assert.equal(await res.text(), "ok");
        assert.equal(res.headers.get("x-good-response"), "1");
        assert.equal(res.headers.get("x-upstream"), "1");
        assert.equal(seen()["x-good"], "1");
        assert.equal(seen()["x-injected"], undefined, "no header injection");
        assert.equal(seen()["x-a"], undefined);
        assert.ok(seen()["host"]?.startsWith("127.0.0.1:"), "the request keeps its host");
      }
    });
  });
}

Deno.test("a destination's header changes the proxy can't make are skipped too", async () => {
  await withRoute({
    destinations: [{
      cluster: CLUSTER,
      weight: 100,
      headers: {
        request: { set: { "x-a": "a\nb", "x-dest": "1" } },
        response: { set: { "bad name": "v", "x-dest-response": "1" } },
      },
    }],
  }, async (url, seen) => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-dest-response"), "1");
    await res.body?.cancel();
    assert.equal(seen()["x-dest"], "1");
    assert.equal(seen()["x-a"], undefined);
  });
});

Deno.test("a request set of :authority rewrites the host, as Istio's", async () => {
  await withRoute(
    { headers: { request: { set: { ":authority": "reviews:9080" } } } },
    async (url, seen) => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal(seen()["host"], "reviews:9080");
    },
  );
});

Deno.test("a redirect and a direct response with header changes the proxy can't make still answer", async () => {
  await withRoute({
    destinations: [],
    redirect: { uri: "/x\r\nset-cookie: s=1", code: 301 },
    headers: { response: { set: { "bad name": "v", "x-ok": "1" } } },
  }, async (url) => {
    const res = await fetch(url, { redirect: "manual" });
    assert.equal(res.status, 301);
    assert.equal(res.headers.get("location"), null, "a location that can't be sent is left out");
    assert.equal(res.headers.get("set-cookie"), null);
    assert.equal(res.headers.get("x-ok"), "1");
    await res.body?.cancel();
  });
  await withRoute({
    destinations: [],
    directResponse: { status: 200, bodyBase64: btoa("direct") },
    headers: { response: { add: { ":authority": "v", "x-ok": "1" } } },
  }, async (url) => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "direct");
    assert.equal(res.headers.get("x-ok"), "1");
  });
});

Deno.test("a CORS policy with values the proxy can't send still serves", async () => {
  await withRoute({
    cors: {
      allowOrigins: [{ exact: "https://a" }],
      allowMethods: ["G\nET"],
      exposeHeaders: ["x-\u65e5"],
      unmatchedPreflights: "FORWARD",
    },
  }, async (url) => {
    const preflight = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "https://a", "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://a");
    assert.equal(preflight.headers.get("access-control-allow-methods"), null);
    await preflight.body?.cancel();
    const res = await fetch(url, { headers: { origin: "https://a" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "https://a");
    assert.equal(res.headers.get("access-control-expose-headers"), null);
    await res.body?.cancel();
  });
});

Deno.test("a rewritten authority with CR LF isn't sent (no header injection)", async () => {
  await withRoute({ rewrite: { authority: "a\r\nx-injected: 1" } }, async (url, seen) => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(seen()["x-injected"], undefined);
    assert.ok(seen()["host"]?.startsWith("127.0.0.1:"), "the request's own authority");
  });
});
