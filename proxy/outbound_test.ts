import assert from "node:assert/strict";
import { Balancer } from "./balancer.ts";
import {
  changeHeaderList,
  corsFor,
  faultHits,
  injectFault,
  redirectLocation,
  rewritePath,
  shadowAuthority,
  withDelayFlag,
  withHeaders,
} from "./route_actions.ts";
import { onEnd, pickAvoiding, RouteTimeoutError, untilDeadline } from "./forward_routed.ts";
import { splitUrl } from "./outbound.ts";

Deno.test("faultHits: 0 never, 100 always, fractions by the random draw", () => {
  assert.equal(faultHits(0, () => 0), false);
  assert.equal(faultHits(100, () => 0.9999), true);
  assert.equal(faultHits(0.5, () => 0.004), true); // 0.4% < 0.5%
  assert.equal(faultHits(0.5, () => 0.006), false);
  assert.equal(faultHits(50, () => 0.49), true);
  assert.equal(faultHits(50, () => 0.5), false);
});

Deno.test("injectFault: abort answers instead of forwarding; no fault hit forwards", async () => {
  let forwarded = 0;
  const forward = () => {
    forwarded++;
    return new Response("up");
  };
  const abort = (status: number) => new Response("fault filter abort", { status });
  const r1 = await injectFault({ abort: { status: 503, percent: 100 } }, forward, abort);
  assert.equal(r1.status, 503);
  assert.equal(forwarded, 0);
  const r2 = await injectFault({ abort: { status: 503, percent: 0 } }, forward, abort);
  assert.equal(await r2.text(), "up");
  assert.equal(forwarded, 1);
});

Deno.test("injectFault: a delay waits, then aborts or forwards (Envoy's order)", async () => {
  const abort = (status: number) => new Response(null, { status });
  let delays = 0;
  const onDelay = () => delays++;
  const t = performance.now();
  const r = await injectFault(
    { delay: { ms: 50, percent: 100 }, abort: { status: 500, percent: 100 } },
    () => new Response("up"),
    abort,
    Math.random,
    onDelay,
  );
  assert.equal(r.status, 500);
  assert.ok(performance.now() - t >= 45);
  assert.equal(delays, 1, "the delay is reported (Envoy's DI flag)");
  const r2 = await injectFault(
    { delay: { ms: 50, percent: 0 } },
    () => new Response("up"),
    abort,
    Math.random,
    onDelay,
  );
  assert.equal(r2.status, 200);
  assert.equal(delays, 1, "0% delays nothing");
});

Deno.test("splitUrl: authority and path from Request.url", () => {
  assert.deepEqual(splitUrl("http://reviews:9080/a?b=1"), {
    authority: "reviews:9080",
    path: "/a?b=1",
  });
  assert.deepEqual(splitUrl("http://reviews"), { authority: "reviews", path: "/" });
});

Deno.test("rewritePath: prefix, exact, no match, regex; the query is kept", () => {
  assert.equal(
    rewritePath("/ratings/1?x=1", { uri: "/v1/ratings" }, { uri: { prefix: "/ratings" } }),
    "/v1/ratings/1?x=1",
  );
  assert.equal(rewritePath("/old?q", { uri: "/new" }, { uri: { exact: "/old" } }), "/new?q");
  assert.equal(rewritePath("/a/b", { uri: "/v2/" }), "/v2/a/b");
  assert.equal(
    rewritePath("/service/foo/v1/api", {
      regex: { match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1" },
    }),
    "/v1/api/instance/foo",
  );
  assert.equal(rewritePath("/x", { authority: "y" }), "/x");
});

Deno.test("redirectLocation: uri, prefix, authority, port, scheme", () => {
  assert.equal(
    redirectLocation(
      { uri: "/v1/bookRatings", code: 301 },
      "/v1/getProductRatings?x=1",
      "ratings:9080",
      9080,
    ),
    "http://ratings:9080/v1/bookRatings?x=1",
  );
  assert.equal(
    redirectLocation(
      { authority: "newratings.default.svc.cluster.local", code: 301 },
      "/a",
      "ratings",
      80,
    ),
    "http://newratings.default.svc.cluster.local/a",
  );
  assert.equal(
    redirectLocation(
      { scheme: "https", port: 8443, code: 302 },
      "/a",
      "shop.example.com:8080",
      8080,
    ),
    "https://shop.example.com:8443/a",
  );
  assert.equal(
    redirectLocation(
      { scheme: "https", derivePort: "FROM_PROTOCOL_DEFAULT", code: 301 },
      "/a",
      "h:8080",
      8080,
    ),
    "https://h/a",
  );
  assert.equal(
    redirectLocation({ prefixRewrite: "/new", code: 301 }, "/old/x", "h", 80, {
      uri: { prefix: "/old" },
    }),
    "http://h/new/x",
  );
});

Deno.test("header changes: remove, set replaces, add appends; responses too", () => {
  const list: [string, string][] = [["host", "a"], ["x-a", "1"], ["x-b", "2"]];
  assert.deepEqual(
    changeHeaderList(list, { set: { "x-a": "one" }, add: { "x-c": "3" }, remove: ["x-b"] }),
    [["host", "a"], ["x-a", "one"], ["x-c", "3"]],
  );
  const res = withHeaders(
    new Response("ok", { headers: { server: "app", "x-keep": "1" } }),
    { set: { "x-set": "s" }, add: { "x-keep": "2" }, remove: ["server"] },
  );
  assert.equal(res.headers.get("server"), null);
  assert.equal(res.headers.get("x-set"), "s");
  assert.equal(res.headers.get("x-keep"), "1, 2");
});

Deno.test("shadowAuthority: -shadow goes on the host, before the port", () => {
  assert.equal(shadowAuthority("reviews:9080"), "reviews-shadow:9080");
  assert.equal(
    shadowAuthority("reviews.default.svc.cluster.local"),
    "reviews.default.svc.cluster.local-shadow",
  );
});

Deno.test("corsFor: preflights from allowed origins are answered; others forwarded or ignored", async () => {
  const cors = {
    allowOrigins: [{ exact: "https://shop.example" }, { regex: "https://.*\\.test" }],
    allowMethods: ["GET", "POST"],
    allowHeaders: ["x-user"],
    exposeHeaders: ["x-trace"],
    maxAge: 86400,
    allowCredentials: true,
    unmatchedPreflights: "FORWARD" as const,
  };
  const preflight = (origin: string) =>
    new Request("http://shop/cart", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST" },
    });
  const ok = corsFor(cors, preflight("https://shop.example"), "https://shop.example");
  assert.ok(ok instanceof Response);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://shop.example");
  assert.equal(ok.headers.get("access-control-allow-methods"), "GET,POST");
  assert.equal(ok.headers.get("access-control-max-age"), "86400");
  assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
  await ok.body?.cancel();
  assert.equal(corsFor(cors, preflight("https://evil.example"), "https://evil.example"), undefined);
  const ignored = corsFor(
    { ...cors, unmatchedPreflights: "IGNORE" },
    preflight("https://evil.example"),
    "https://evil.example",
  );
  assert.ok(ignored instanceof Response && !ignored.headers.has("access-control-allow-origin"));
  // An actual request from an allowed origin gets headers for its response.
  const actual = corsFor(cors, new Request("http://shop/cart"), "https://a.test");
  assert.deepEqual(actual, {
    set: {
      "access-control-allow-origin": "https://a.test",
      "access-control-expose-headers": "x-trace",
      "access-control-allow-credentials": "true",
    },
  });
  assert.equal(corsFor(cors, new Request("http://shop/cart"), "https://b.example"), undefined);
});

Deno.test("onEnd: called once when the body ends, or when it is cancelled", async () => {
  let ends = 0;
  const body = onEnd(new Response("abc").body!, () => ends++);
  assert.equal(await new Response(body).text(), "abc");
  assert.equal(ends, 1);
  let cancels = 0;
  const b2 = onEnd(new Response("xyz").body!, () => cancels++);
  await b2.cancel();
  assert.equal(cancels, 1);
});

Deno.test("untilDeadline: a body that ends in time passes whole; a slow one is cut off", async () => {
  const fast = untilDeadline(new Response("abc").body!, 1_000);
  assert.equal(await new Response(fast).text(), "abc");
  let cancelled: unknown;
  const slow = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("first"));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const reader = untilDeadline(slow, 30).getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "first");
  await assert.rejects(() => reader.read(), RouteTimeoutError);
  assert.ok(cancelled instanceof RouteTimeoutError, "the upstream body was cancelled");
});

Deno.test("withDelayFlag: DI joins the flags in Envoy's order", () => {
  assert.equal(withDelayFlag(undefined), "DI");
  assert.equal(withDelayFlag("FI"), "DI,FI");
  assert.equal(withDelayFlag("UT"), "UT,DI");
  assert.equal(withDelayFlag("UF"), "UF,DI");
});

Deno.test("pickAvoiding: ejected endpoints are skipped, unless too few are healthy (minHealthPercent)", () => {
  const eps = [1, 2, 3, 4].map((i) => ({
    address: `10.0.0.${i}`,
    port: 80,
    mtls: false,
    labels: {},
  }));
  const cluster = {
    name: "c",
    host: "h",
    port: 80,
    lb: "ROUND_ROBIN" as const,
    endpoints: eps,
    outlier: {
      consecutive5xx: 5,
      consecutiveGatewayErrors: 0,
      baseEjectionMs: 1000,
      maxEjectionPercent: 100,
    },
  };
  const ejected = new Set(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  const outliers = { isEjected: (_c: unknown, e: { address: string }) => ejected.has(e.address) };
  const picks = (c: typeof cluster & { outlier: { minHealthPercent?: number } }) => {
    const lb = new Balancer(c);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      seen.add(pickAvoiding(lb, [], false, outliers as never)?.address ?? "none");
    }
    return [...seen].sort();
  };
  // 25% healthy: without a threshold, only the healthy one.
  assert.deepEqual(picks(cluster), ["10.0.0.4"]);
  // A 50% threshold: panic, every endpoint takes traffic.
  assert.deepEqual(picks({ ...cluster, outlier: { ...cluster.outlier, minHealthPercent: 50 } }), [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
  ]);
});
