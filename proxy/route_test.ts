import assert from "node:assert/strict";
import type { ProxyConfig, Route, RouteMatch, VirtualHost } from "../api/proxy_config.ts";
import { compileStringMatch, pickDestination, type RequestView, RouteTable } from "./route.ts";

/** The cluster `pickDestination` picks, or "" when none. */
const pickWeighted = (dests: { cluster: string; weight: number }[], rand: number) =>
  pickDestination(dests, rand)?.cluster ?? "";
import { corsFor, rewritePath } from "./route_actions.ts";
import { Runtime } from "./runtime.ts";

/** A request; `headers` keys are lowercase as the proxy passes them. */
function req(
  authority: string,
  opts: { path?: string; method?: string; port?: number; headers?: Record<string, string> } = {},
): RequestView {
  const headers = opts.headers ?? {};
  return {
    authority,
    path: opts.path ?? "/",
    method: opts.method ?? "GET",
    port: opts.port ?? 80,
    header: (name) => headers[name],
  };
}

function route(cluster: string, match: RouteMatch[] = [], name = cluster): Route {
  return { source: "test", name, match, destinations: [{ cluster, weight: 100 }] };
}

function vhost(name: string, domains: string[], routes: Route[] = [route(name)]): VirtualHost {
  return { name, domains, routes };
}

/** The cluster picked for a request, or the null/undefined miss. */
function clusterOf(table: RouteTable, r: RequestView, rand = 0): string | null | undefined {
  const hit = table.match(r, rand);
  return hit === null || hit === undefined ? hit : hit.cluster;
}

// ---------------------------------------------------------------------------------------------
// Domains

Deno.test("RouteTable: host:port domain matches only that port", () => {
  const t = new RouteTable([vhost("reviews-9080", ["reviews:9080"])]);
  assert.equal(clusterOf(t, req("reviews:9080", { port: 9080 })), "reviews-9080");
  assert.equal(clusterOf(t, req("reviews", { port: 9080 })), "reviews-9080");
  assert.equal(clusterOf(t, req("reviews:8080", { port: 8080 })), undefined);
  assert.equal(clusterOf(t, req("reviews", { port: 80 })), undefined);
});

Deno.test("RouteTable: bare host domain matches on any port", () => {
  const t = new RouteTable([vhost("web", ["web"])]);
  assert.equal(clusterOf(t, req("web", { port: 80 })), "web");
  assert.equal(clusterOf(t, req("web:8080", { port: 8080 })), "web");
  assert.equal(clusterOf(t, req("other", { port: 80 })), undefined);
});

Deno.test("RouteTable: host:port domain is preferred over a bare host domain", () => {
  const t = new RouteTable([vhost("bare", ["svc"]), vhost("ported", ["svc:9080"])]);
  assert.equal(clusterOf(t, req("svc:9080", { port: 9080 })), "ported");
  assert.equal(clusterOf(t, req("svc:80", { port: 80 })), "bare");
});

Deno.test("RouteTable: domains and authorities compare case-insensitively", () => {
  const t = new RouteTable([vhost("r", ["Reviews.Default:9080"])]);
  assert.equal(clusterOf(t, req("REVIEWS.default:9080", { port: 9080 })), "r");
});

Deno.test("RouteTable: exact domains win over wildcards and the catch-all", () => {
  const t = new RouteTable([
    vhost("any", ["*"]),
    vhost("wild", ["*.example.com"]),
    vhost("exact", ["api.example.com"]),
  ]);
  assert.equal(clusterOf(t, req("api.example.com")), "exact");
  assert.equal(clusterOf(t, req("web.example.com")), "wild");
  assert.equal(clusterOf(t, req("example.org")), "any");
});

Deno.test("RouteTable: the longest wildcard suffix wins, whatever the declaration order", () => {
  const t = new RouteTable([
    vhost("short", ["*.com"]),
    vhost("mid", ["*.example.com"]),
    vhost("long", ["*.api.example.com"]),
  ]);
  assert.equal(clusterOf(t, req("v1.api.example.com")), "long");
  assert.equal(clusterOf(t, req("www.example.com")), "mid");
  assert.equal(clusterOf(t, req("foo.com")), "short");
  assert.equal(clusterOf(t, req("foo.org")), undefined);
});

Deno.test("RouteTable: a wildcard needs at least one label before its suffix", () => {
  const t = new RouteTable([vhost("wild", ["*.example.com"])]);
  assert.equal(clusterOf(t, req("example.com")), undefined);
  assert.equal(clusterOf(t, req("a.b.example.com")), "wild");
  assert.equal(clusterOf(t, req("notexample.com")), undefined);
});

Deno.test("RouteTable: a wildcard with a port matches only that port", () => {
  const t = new RouteTable([vhost("wild8080", ["*.example.com:8080"])]);
  assert.equal(clusterOf(t, req("a.example.com:8080", { port: 8080 })), "wild8080");
  assert.equal(clusterOf(t, req("a.example.com", { port: 8080 })), "wild8080");
  assert.equal(clusterOf(t, req("a.example.com:80", { port: 80 })), undefined);
});

Deno.test("RouteTable: '*' catches every authority; the first '*' wins", () => {
  const t = new RouteTable([vhost("first", ["*"]), vhost("second", ["*"])]);
  assert.equal(clusterOf(t, req("anything:1234", { port: 1234 })), "first");
  assert.equal(clusterOf(t, req("")), "first");
  assert.equal(t.virtualHost("x", 80)?.name, "first");
});

Deno.test("RouteTable: the first virtual host declaring an exact domain keeps it", () => {
  const t = new RouteTable([vhost("a", ["dup:80"]), vhost("b", ["dup:80", "only-b"])]);
  assert.equal(clusterOf(t, req("dup", { port: 80 })), "a");
  assert.equal(clusterOf(t, req("only-b")), "b");
});

Deno.test("RouteTable: IPv6 authorities keep their brackets", () => {
  const t = new RouteTable([
    vhost("v6-port", ["[::1]:9080"]),
    vhost("v6-bare", ["[fe80::1]"]),
  ]);
  assert.equal(clusterOf(t, req("[::1]:9080", { port: 9080 })), "v6-port");
  assert.equal(clusterOf(t, req("[::1]", { port: 9080 })), "v6-port");
  assert.equal(clusterOf(t, req("[::1]:80", { port: 80 })), undefined);
  assert.equal(clusterOf(t, req("[FE80::1]:443", { port: 443 })), "v6-bare");
});

Deno.test("RouteTable: virtualHost() returns the host or undefined", () => {
  const vh = vhost("r", ["reviews:9080"]);
  const t = new RouteTable([vh]);
  assert.equal(t.virtualHost("reviews", 9080), vh);
  assert.equal(t.virtualHost("reviews", 80), undefined);
});

Deno.test("RouteTable: no virtual hosts → undefined", () => {
  const t = new RouteTable([]);
  assert.equal(t.match(req("x")), undefined);
});

// ---------------------------------------------------------------------------------------------
// Routes

Deno.test("RouteTable: undefined without a virtual host, null with one but no matching route", () => {
  const t = new RouteTable([
    vhost("r", ["reviews"], [route("api", [{ uri: { prefix: "/api" } }])]),
  ]);
  assert.equal(clusterOf(t, req("nope")), undefined);
  assert.equal(t.match(req("reviews", { path: "/other" })), null);
  assert.equal(clusterOf(t, req("reviews", { path: "/api/x" })), "api");
});

Deno.test("RouteTable: a virtual host with no routes answers null", () => {
  const t = new RouteTable([vhost("empty", ["empty"], [])]);
  assert.equal(t.match(req("empty")), null);
});

Deno.test("RouteTable: the first matching route wins", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [
      route("exact-a", [{ uri: { exact: "/a" } }]),
      route("prefix", [{ uri: { prefix: "/" } }]),
      route("never", [{ uri: { exact: "/a" } }]),
      route("catch-all"),
    ]),
  ]);
  assert.equal(clusterOf(t, req("h", { path: "/a" })), "exact-a");
  assert.equal(clusterOf(t, req("h", { path: "/b" })), "prefix");
});

Deno.test("RouteTable: a route without match entries takes every request", () => {
  const t = new RouteTable([vhost("h", ["h"], [route("all")])]);
  assert.equal(clusterOf(t, req("h", { method: "DELETE", path: "/x?y" })), "all");
});

Deno.test("RouteTable: an empty match entry takes every request", () => {
  const t = new RouteTable([vhost("h", ["h"], [route("all", [{}])])]);
  assert.equal(clusterOf(t, req("h", { path: "/anything" })), "all");
});

Deno.test("RouteTable: match entries OR; conditions within one entry AND", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [
      route("hit", [
        { uri: { prefix: "/a" }, method: { exact: "POST" } },
        { headers: { "x-test": { exact: "1" } } },
      ]),
      route("miss"),
    ]),
  ]);
  // First entry: both conditions.
  assert.equal(clusterOf(t, req("h", { path: "/a/1", method: "POST" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/a/1", method: "GET" })), "miss");
  assert.equal(clusterOf(t, req("h", { path: "/b", method: "POST" })), "miss");
  // Second entry alone.
  assert.equal(clusterOf(t, req("h", { path: "/b", headers: { "x-test": "1" } })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/b", headers: { "x-test": "2" } })), "miss");
});

Deno.test("RouteTable: all of uri, method, headers and port must hold in one entry", () => {
  const m: RouteMatch = {
    uri: { exact: "/x" },
    method: { exact: "GET" },
    port: 9080,
    headers: { "end-user": { exact: "jason" }, "x-a": {} },
  };
  const t = new RouteTable([vhost("h", ["h"], [route("hit", [m]), route("miss")])]);
  const ok = { path: "/x", method: "GET", port: 9080, headers: { "end-user": "jason", "x-a": "" } };
  assert.equal(clusterOf(t, req("h", ok)), "hit");
  assert.equal(clusterOf(t, req("h", { ...ok, path: "/y" })), "miss");
  assert.equal(clusterOf(t, req("h", { ...ok, method: "PUT" })), "miss");
  assert.equal(clusterOf(t, req("h", { ...ok, port: 9081 })), "miss");
  assert.equal(clusterOf(t, req("h", { ...ok, headers: { "end-user": "jason" } })), "miss");
  assert.equal(clusterOf(t, req("h", { ...ok, headers: { "x-a": "" } })), "miss");
});

Deno.test("RouteTable: uri exact ignores the query string", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [route("hit", [{ uri: { exact: "/productpage" } }])]),
  ]);
  assert.equal(clusterOf(t, req("h", { path: "/productpage" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/productpage?u=normal" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/productpage/" })), null);
  assert.equal(clusterOf(t, req("h", { path: "/productpages" })), null);
  assert.equal(clusterOf(t, req("h", { path: "/ProductPage" })), null);
});

Deno.test("RouteTable: uri prefix is matched against the path with its query", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [
      route("static", [{ uri: { prefix: "/static" } }]),
      route("query", [{ uri: { prefix: "/search?q=" } }]),
    ]),
  ]);
  assert.equal(clusterOf(t, req("h", { path: "/static" })), "static");
  assert.equal(clusterOf(t, req("h", { path: "/static/app.css?v=1" })), "static");
  assert.equal(clusterOf(t, req("h", { path: "/staticfoo" })), "static");
  assert.equal(clusterOf(t, req("h", { path: "/search?q=books" })), "query");
  assert.equal(clusterOf(t, req("h", { path: "/search" })), null);
  assert.equal(clusterOf(t, req("h", { path: "/Static" })), null);
});

Deno.test("RouteTable: uri regex must match the whole path, without the query", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [route("hit", [{ uri: { regex: "/api/v[0-9]+/products" } }])]),
  ]);
  assert.equal(clusterOf(t, req("h", { path: "/api/v1/products" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/api/v12/products?x=1" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/api/v1/products/0" })), null);
  assert.equal(clusterOf(t, req("h", { path: "/x/api/v1/products" })), null);
});

Deno.test("RouteTable: uri regex alternation is anchored as a whole", () => {
  const t = new RouteTable([vhost("h", ["h"], [route("hit", [{ uri: { regex: "/a|/b" } }])])]);
  assert.equal(clusterOf(t, req("h", { path: "/a" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/b" })), "hit");
  assert.equal(clusterOf(t, req("h", { path: "/a/x" })), null);
  assert.equal(clusterOf(t, req("h", { path: "/x/b" })), null);
});

Deno.test("RouteTable: header exact, prefix, regex and presence", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [
      route("exact", [{ headers: { "end-user": { exact: "jason" } } }]),
      route("prefix", [{ headers: { "x-version": { prefix: "v2" } } }]),
      route("regex", [{ headers: { "x-id": { regex: "[0-9]{3}" } } }]),
      route("present", [{ headers: { "x-canary": {} } }]),
    ]),
  ]);
  assert.equal(clusterOf(t, req("h", { headers: { "end-user": "jason" } })), "exact");
  assert.equal(clusterOf(t, req("h", { headers: { "end-user": "Jason" } })), null);
  assert.equal(clusterOf(t, req("h", { headers: { "end-user": "jason2" } })), null);
  assert.equal(clusterOf(t, req("h", { headers: { "x-version": "v2.1" } })), "prefix");
  assert.equal(clusterOf(t, req("h", { headers: { "x-version": "v1" } })), null);
  assert.equal(clusterOf(t, req("h", { headers: { "x-id": "123" } })), "regex");
  assert.equal(clusterOf(t, req("h", { headers: { "x-id": "1234" } })), null);
  assert.equal(clusterOf(t, req("h", { headers: { "x-canary": "" } })), "present");
  assert.equal(clusterOf(t, req("h", { headers: { "x-canary": "anything" } })), "present");
  assert.equal(clusterOf(t, req("h")), null);
});

Deno.test("RouteTable: header names in matches are looked up in lowercase", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [route("hit", [{ headers: { "End-User": { exact: "jason" } } }])]),
  ]);
  assert.equal(clusterOf(t, req("h", { headers: { "end-user": "jason" } })), "hit");
});

Deno.test("RouteTable: method match", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [
      route("write", [{ method: { regex: "POST|PUT" } }]),
      route("get", [{ method: { exact: "GET" } }]),
    ]),
  ]);
  assert.equal(clusterOf(t, req("h", { method: "POST" })), "write");
  assert.equal(clusterOf(t, req("h", { method: "PUT" })), "write");
  assert.equal(clusterOf(t, req("h", { method: "GET" })), "get");
  assert.equal(clusterOf(t, req("h", { method: "PATCH" })), null);
});

Deno.test("RouteTable: authority match sees the authority as sent", () => {
  const t = new RouteTable([
    vhost("h", ["*"], [route("hit", [{ authority: { prefix: "api." } }])]),
  ]);
  assert.equal(clusterOf(t, req("api.example.com:8080", { port: 8080 })), "hit");
  assert.equal(clusterOf(t, req("www.example.com")), null);
});

Deno.test("RouteTable: port match compares the addressed port", () => {
  const t = new RouteTable([
    vhost("h", ["h"], [route("p9080", [{ port: 9080 }]), route("p80", [{ port: 80 }])]),
  ]);
  assert.equal(clusterOf(t, req("h:9080", { port: 9080 })), "p9080");
  assert.equal(clusterOf(t, req("h", { port: 80 })), "p80");
  assert.equal(clusterOf(t, req("h:81", { port: 81 })), null);
});

Deno.test("RouteTable: match() returns the virtual host and route", () => {
  const r = route("c", [], "the-route");
  const vh = vhost("vh", ["h"], [r]);
  const hit = new RouteTable([vh]).match(req("h"), 0);
  assert.ok(hit);
  assert.equal(hit.virtualHost, vh);
  assert.equal(hit.route, r);
  assert.equal(hit.cluster, "c");
});

Deno.test("RouteTable: match() picks among weighted destinations with rand", () => {
  const r: Route = {
    source: "test",
    match: [],
    destinations: [{ cluster: "v1", weight: 80 }, { cluster: "v2", weight: 20 }],
  };
  const t = new RouteTable([vhost("h", ["h"], [r])]);
  assert.equal(clusterOf(t, req("h"), 0), "v1");
  assert.equal(clusterOf(t, req("h"), 0.79), "v1");
  assert.equal(clusterOf(t, req("h"), 0.8), "v2");
  assert.equal(clusterOf(t, req("h"), 0.99), "v2");
});

// ---------------------------------------------------------------------------------------------
// pickDestination (weighted)

Deno.test("pickDestination: 50/50 split at deterministic rand values", () => {
  const dests = [{ cluster: "a", weight: 50 }, { cluster: "b", weight: 50 }];
  assert.equal(pickWeighted(dests, 0), "a");
  assert.equal(pickWeighted(dests, 0.49), "a");
  assert.equal(pickWeighted(dests, 0.5), "b");
  assert.equal(pickWeighted(dests, 0.99), "b");
});

Deno.test("pickDestination: three-way split and weights not summing to 100", () => {
  const dests = [
    { cluster: "a", weight: 1 },
    { cluster: "b", weight: 2 },
    { cluster: "c", weight: 1 },
  ];
  assert.equal(pickWeighted(dests, 0), "a");
  assert.equal(pickWeighted(dests, 0.24), "a");
  assert.equal(pickWeighted(dests, 0.25), "b");
  assert.equal(pickWeighted(dests, 0.74), "b");
  assert.equal(pickWeighted(dests, 0.75), "c");
  assert.equal(pickWeighted(dests, 0.99), "c");
});

Deno.test("pickDestination: a zero-weight destination is never picked", () => {
  const dests = [{ cluster: "zero", weight: 0 }, { cluster: "all", weight: 100 }];
  for (const r of [0, 0.49, 0.5, 0.99]) assert.equal(pickWeighted(dests, r), "all");
});

Deno.test("pickDestination: a single destination is picked whatever its weight or rand", () => {
  for (const r of [0, 0.49, 0.5, 0.99]) {
    assert.equal(pickWeighted([{ cluster: "only", weight: 100 }], r), "only");
    assert.equal(pickWeighted([{ cluster: "only", weight: 0 }], r), "only");
  }
});

Deno.test("pickDestination: rand at the top edge falls to the last destination", () => {
  const dests = [{ cluster: "a", weight: 50 }, { cluster: "b", weight: 50 }];
  assert.equal(pickWeighted(dests, 1), "b");
});

Deno.test("pickDestination: the distribution over an even grid follows the weights", () => {
  const dests = [{ cluster: "v1", weight: 80 }, { cluster: "v2", weight: 20 }];
  const counts: Record<string, number> = { v1: 0, v2: 0 };
  for (let i = 0; i < 1000; i++) counts[pickWeighted(dests, i / 1000)]++;
  assert.deepEqual(counts, { v1: 800, v2: 200 });
});

// ---------------------------------------------------------------------------------------------
// compileStringMatch

Deno.test("compileStringMatch: exact", () => {
  const f = compileStringMatch({ exact: "abc" });
  assert.equal(f("abc"), true);
  assert.equal(f("abcd"), false);
  assert.equal(f("ABC"), false);
  assert.equal(f(undefined), false);
});

Deno.test("compileStringMatch: exact empty string matches only an empty value", () => {
  const f = compileStringMatch({ exact: "" });
  assert.equal(f(""), true);
  assert.equal(f("x"), false);
  assert.equal(f(undefined), false);
});

Deno.test("compileStringMatch: prefix", () => {
  const f = compileStringMatch({ prefix: "/api" });
  assert.equal(f("/api"), true);
  assert.equal(f("/api/v1"), true);
  assert.equal(f("/ap"), false);
  assert.equal(f(undefined), false);
  // An empty prefix matches any present value.
  assert.equal(compileStringMatch({ prefix: "" })(""), true);
  assert.equal(compileStringMatch({ prefix: "" })(undefined), false);
});

Deno.test("compileStringMatch: regex is a full match", () => {
  const f = compileStringMatch({ regex: "v[12]" });
  assert.equal(f("v1"), true);
  assert.equal(f("v2"), true);
  assert.equal(f("v12"), false);
  assert.equal(f("xv1"), false);
  assert.equal(f(undefined), false);
  const alt = compileStringMatch({ regex: "a|bc" });
  assert.equal(alt("a"), true);
  assert.equal(alt("bc"), true);
  assert.equal(alt("abc"), false);
});

Deno.test("compileStringMatch: an empty match tests presence", () => {
  const f = compileStringMatch({});
  assert.equal(f(""), true);
  assert.equal(f("x"), true);
  assert.equal(f(undefined), false);
});

Deno.test("compileStringMatch: exact takes precedence over prefix and regex", () => {
  const f = compileStringMatch({ exact: "a", prefix: "b", regex: "c" });
  assert.equal(f("a"), true);
  assert.equal(f("b"), false);
  assert.equal(f("c"), false);
});

Deno.test("compileStringMatch: an invalid regex never matches (and doesn't throw)", () => {
  let f!: (v: string | undefined) => boolean;
  stderrOf(() => f = compileStringMatch({ regex: "(" }));
  assert.equal(f("("), false);
  assert.equal(f(""), false);
});

// ---------------------------------------------------------------------------------------------
// Query parameters, case, negative headers, scheme

Deno.test("RouteTable: queryParams exact, regex, and presence with an empty exact", () => {
  const t = new RouteTable([vhost("svc", ["svc"], [
    route("exact", [{ queryParams: { v: { exact: "1" } } }]),
    route("regex", [{ queryParams: { v: { regex: "[2-3]" } } }]),
    route("present", [{ queryParams: { debug: { exact: "" } } }]),
    route("rest"),
  ])]);
  assert.equal(clusterOf(t, req("svc", { path: "/a?v=1" })), "exact");
  assert.equal(clusterOf(t, req("svc", { path: "/a?x=0&v=3" })), "regex");
  assert.equal(clusterOf(t, req("svc", { path: "/a?v=4" })), "rest");
  assert.equal(clusterOf(t, req("svc", { path: "/a?debug" })), "present");
  assert.equal(clusterOf(t, req("svc", { path: "/a?debug=yes" })), "present");
  assert.equal(clusterOf(t, req("svc", { path: "/a" })), "rest");
});

Deno.test("RouteTable: ignoreUriCase folds exact and prefix, not the query", () => {
  const t = new RouteTable([vhost("svc", ["svc"], [
    route("exact", [{ uri: { exact: "/Login" }, ignoreUriCase: true }]),
    route("prefix", [{ uri: { prefix: "/API/" }, ignoreUriCase: true }]),
    route("rest"),
  ])]);
  assert.equal(clusterOf(t, req("svc", { path: "/LOGIN?x=1" })), "exact");
  assert.equal(clusterOf(t, req("svc", { path: "/login" })), "exact");
  assert.equal(clusterOf(t, req("svc", { path: "/api/v1" })), "prefix");
  assert.equal(clusterOf(t, req("svc", { path: "/apis" })), "rest");
});

Deno.test("RouteTable: withoutHeaders excludes matching requests; an absent header passes", () => {
  const t = new RouteTable([vhost("svc", ["svc"], [
    route("not-jason", [{ withoutHeaders: { "end-user": { exact: "jason" } } }]),
    route("rest"),
  ])]);
  assert.equal(clusterOf(t, req("svc", { headers: { "end-user": "jason" } })), "rest");
  assert.equal(clusterOf(t, req("svc", { headers: { "end-user": "kim" } })), "not-jason");
  assert.equal(clusterOf(t, req("svc")), "not-jason");
});

Deno.test("RouteTable: scheme matches http on mesh listeners", () => {
  const t = new RouteTable([vhost("svc", ["svc"], [
    route("https", [{ scheme: { exact: "https" } }]),
    route("http", [{ scheme: { exact: "http" } }]),
  ])]);
  assert.equal(clusterOf(t, req("svc")), "http");
});

Deno.test("RouteTable: header matches on pseudo-headers read the request line; claim keys never match", () => {
  const t = new RouteTable([vhost("web", ["web"], [
    route("by-authority", [{
      headers: { ":authority": { prefix: "web" }, ":method": { exact: "POST" } },
    }]),
    route("by-path", [{ headers: { ":path": { prefix: "/p" }, ":scheme": { exact: "http" } } }]),
    route("by-claim", [{ headers: { "@request.auth.claims.group": { exact: "admin" } } }]),
    route("no-claim", [{ withoutHeaders: { "@request.auth.claims.group": { exact: "admin" } } }]),
  ])]);
  assert.equal(clusterOf(t, req("web", { method: "POST" })), "by-authority");
  assert.equal(clusterOf(t, req("web", { path: "/p/1" })), "by-path");
  // Never a header of a request (and no throw from an invalid header name): the claim match fails.
  assert.equal(clusterOf(t, req("web", { path: "/x" })), "no-claim");
});

// ---------------------------------------------------------------------------------------------
// RE2 regexes (translated by api/re2.ts, as Envoy's safe_regex reads them)

/** Runs `f`, returning the lines it wrote to standard error (the logger's warnings). */
function stderrOf(f: () => void): string[] {
  const lines: string[] = [];
  const original = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (b: Uint8Array) => {
    lines.push(new TextDecoder().decode(b));
    return b.length;
  };
  try {
    f();
  } finally {
    Deno.stderr.writeSync = original;
  }
  return lines;
}

Deno.test("RouteTable: a (?i) uri regex matches case-insensitively", () => {
  const t = new RouteTable([vhost("svc", ["svc"], [
    route("api", [{ uri: { regex: "(?i)/api/.*" } }]),
    route("rest"),
  ])]);
  assert.equal(clusterOf(t, req("svc", { path: "/API/x" })), "api");
  assert.equal(clusterOf(t, req("svc", { path: "/api/x?q=1" })), "api");
  assert.equal(clusterOf(t, req("svc", { path: "/apix" })), "rest");
});

Deno.test("compileStringMatch: RE2 syntax JavaScript lacks or reads differently", () => {
  const cases: [string, string[], string[]][] = [
    ["(?P<v>v\\d+)", ["v1", "v22"], ["v", "x1"]],
    ["\\Aabc\\z", ["abc"], ["abcd"]],
    ["[[:alpha:]]+", ["abc", "XYZ"], ["ab1"]],
    ["[[:^digit:]]+", ["abc"], ["a1"]],
    ["\\pL+", ["héllo", "αβ"], ["a1"]],
    ["\\p{Greek}+", ["αβ"], ["ab"]],
    ["\\Qa.b\\E", ["a.b"], ["axb"]],
    ["a(?i)b", ["aB"], ["AB"]],
    ["(?s)a.b", ["a\nb"], []],
    ["a.b", ["a\rb"], ["a\nb"]],
    ["x]{2}", ["x]]"], ["x]"]],
    ["\\s", [" "], ["\v", "\u00a0"]],
  ];
  for (const [re, yes, no] of cases) {
    const f = compileStringMatch({ regex: re });
    for (const s of yes) assert.ok(f(s), `${re} should match ${JSON.stringify(s)}`);
    for (const s of no) assert.ok(!f(s), `${re} should not match ${JSON.stringify(s)}`);
    assert.equal(f(undefined), false);
  }
});

Deno.test("rewritePath: uriRegexRewrite with an RE2 named group and \\0", () => {
  assert.equal(
    rewritePath("/v1/items?q=1", {
      regex: { match: "^/(?P<n>v\\d+)/", rewrite: "/api/\\1/" },
    }),
    "/api/v1/items?q=1",
  );
  // Every match is replaced; \0 is the whole match; a $ in the rewrite is literal.
  assert.equal(
    rewritePath("/A/b/a", { regex: { match: "(?i)a", rewrite: "[\\0$&]" } }),
    "/[A$&]/b/[a$&]",
  );
  assert.equal(rewritePath("/x", { regex: { match: "x", rewrite: "\\\\y" } }), "/\\y");
});

Deno.test("corsFor: an RE2 (?i) origin regex", () => {
  const cors = {
    allowOrigins: [{ regex: "(?i)https://[[:alnum:]-]+\\.example" }],
    unmatchedPreflights: "FORWARD" as const,
  };
  const get = new Request("http://shop/cart");
  assert.ok(corsFor(cors, get, "https://Shop-1.EXAMPLE") !== undefined);
  assert.equal(corsFor(cors, get, "https://shop.test"), undefined);
});

Deno.test("RouteTable: a regex that isn't RE2 never matches, is warned once, and the rest applies", () => {
  const bad = "/lookahead(?=x)-route-test";
  const badRewrite = "(?<=y)rewrite-route-test";
  const table = () =>
    new RouteTable([vhost("svc", ["svc"], [
      route("bad-uri", [{ uri: { regex: bad } }]),
      route("bad-without", [{ withoutHeaders: { "x-h": { regex: bad } } }]),
      route("good", [{ uri: { prefix: "/" } }]),
    ])]);
  let t!: RouteTable;
  const lines = stderrOf(() => {
    t = table();
    table(); // a second config with the same regex: no second warning
  });
  assert.equal(lines.length, 1, lines.join(""));
  assert.match(lines[0], /WARN/);
  assert.ok(lines[0].includes(JSON.stringify(bad)), lines[0]);
  assert.equal(clusterOf(t, req("svc", { path: bad })), "good");
  assert.equal(clusterOf(t, req("svc", { path: "/lookaheadx-route-test" })), "good");
  // A rewrite whose regex can't be used leaves the path alone (and is warned once).
  const rewrites = stderrOf(() => {
    const rw = { regex: { match: badRewrite, rewrite: "/z" } };
    assert.equal(rewritePath("/yrewrite-route-test?q", rw), "/yrewrite-route-test?q");
    assert.equal(rewritePath("/yrewrite-route-test", rw), "/yrewrite-route-test");
  });
  assert.equal(rewrites.length, 1);
  const cors = { allowOrigins: [{ regex: bad }], unmatchedPreflights: "FORWARD" as const };
  stderrOf(() => assert.equal(corsFor(cors, new Request("http://svc/"), bad), undefined));
});

Deno.test("Runtime.compile: a config with a regex that isn't RE2 is applied, not refused", () => {
  const config = {
    version: "1",
    trustDomain: "cluster.local",
    roots: "",
    outboundTrafficPolicy: "ALLOW_ANY",
    virtualHosts: [vhost("svc", ["svc"], [
      route("bad", [{ headers: { "x-v": { regex: "(a)\\1-runtime-test" } } }]),
      route("good"),
    ])],
    listeners: [],
    clusters: {},
  } as unknown as ProxyConfig;
  let rt!: Runtime;
  stderrOf(() => rt = Runtime.compile(config));
  assert.equal(
    clusterOf(rt.outbound, req("svc", { headers: { "x-v": "aa-runtime-test" } })),
    "good",
  );
});
