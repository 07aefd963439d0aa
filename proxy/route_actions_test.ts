import assert from "node:assert/strict";
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
import { FakeClock, sleep } from "../util/clock.ts";

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
  const abort = ({ status }: { status: number }) => new Response("fault filter abort", { status });
  const r1 = await injectFault({ abort: { status: 503, percent: 100 } }, { forward, abort });
  assert.equal(r1.status, 503);
  assert.equal(forwarded, 0);
  const r2 = await injectFault({ abort: { status: 503, percent: 0 } }, { forward, abort });
  assert.equal(await r2.text(), "up");
  assert.equal(forwarded, 1);
});

Deno.test("injectFault: a delay waits (on the clock given), then aborts or forwards (Envoy's order)", async () => {
  const clock = new FakeClock();
  const abort = ({ status }: { status: number }) => new Response(null, { status });
  let delays = 0;
  const onDelay = () => delays++;
  let settled = false;
  const pending = Promise.resolve(injectFault(
    { delay: { ms: 50, percent: 100 }, abort: { status: 500, percent: 100 } },
    { forward: () => new Response("up"), abort, onDelay, sleep: (ms) => sleep(clock, ms) },
  )).then((r) => {
    settled = true;
    return r;
  });
  await clock.advance(49);
  assert.equal(settled, false, "still delayed at 49 ms");
  await clock.advance(1);
  const r = await pending;
  assert.equal(r.status, 500);
  assert.equal(delays, 1, "the delay is reported (Envoy's DI flag)");
  const r2 = await injectFault(
    { delay: { ms: 50, percent: 0 } },
    { forward: () => new Response("up"), abort, onDelay, sleep: (ms) => sleep(clock, ms) },
  );
  assert.equal(r2.status, 200);
  assert.equal(delays, 1, "0% delays nothing");
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

Deno.test("withDelayFlag: DI joins the flags in Envoy's order", () => {
  assert.equal(withDelayFlag(undefined), "DI");
  assert.equal(withDelayFlag("FI"), "DI,FI");
  assert.equal(withDelayFlag("UT"), "UT,DI");
  assert.equal(withDelayFlag("UF"), "UF,DI");
});
