import assert from "node:assert/strict";
import {
  DEFAULT_DOMAIN_SUFFIX,
  fqdn,
  hostAliases,
  hostMatches,
  hostsIntersect,
  splitHostPort,
} from "./host.ts";

// ---------------------------------------------------------------------------------------------
// fqdn

Deno.test("fqdn: a short name gets the namespace and domain suffix", () => {
  assert.equal(DEFAULT_DOMAIN_SUFFIX, "cluster.local");
  assert.equal(fqdn("reviews", "default"), "reviews.default.svc.cluster.local");
  assert.equal(fqdn("ratings", "bookinfo"), "ratings.bookinfo.svc.cluster.local");
});

Deno.test("fqdn: a custom domain suffix", () => {
  assert.equal(fqdn("reviews", "default", "mesh.example"), "reviews.default.svc.mesh.example");
});

Deno.test("fqdn: names with a dot are taken as written", () => {
  assert.equal(
    fqdn("reviews.default.svc.cluster.local", "other"),
    "reviews.default.svc.cluster.local",
  );
  assert.equal(fqdn("reviews.default", "other"), "reviews.default");
  assert.equal(fqdn("www.google.com", "default"), "www.google.com");
  assert.equal(fqdn("*.example.com", "default"), "*.example.com");
});

Deno.test("fqdn: '*' stays '*'", () => {
  assert.equal(fqdn("*", "default"), "*");
});

Deno.test("fqdn: lowercases", () => {
  assert.equal(fqdn("Reviews", "default"), "reviews.default.svc.cluster.local");
  assert.equal(fqdn("WWW.Example.COM", "default"), "www.example.com");
});

// ---------------------------------------------------------------------------------------------
// hostAliases

Deno.test("hostAliases: a client in the same namespace may use every short form", () => {
  assert.deepEqual(hostAliases("reviews.default.svc.cluster.local", "default"), [
    "reviews.default.svc.cluster.local",
    "reviews.default.svc",
    "reviews.default",
    "reviews",
  ]);
});

Deno.test("hostAliases: a client in another namespace can't use the bare name", () => {
  assert.deepEqual(hostAliases("reviews.default.svc.cluster.local", "istio-system"), [
    "reviews.default.svc.cluster.local",
    "reviews.default.svc",
    "reviews.default",
  ]);
});

Deno.test("hostAliases: hosts outside <name>.<ns>.svc.<suffix> have only their full name", () => {
  assert.deepEqual(hostAliases("www.google.com", "default"), ["www.google.com"]);
  assert.deepEqual(hostAliases("*.example.com", "default"), ["*.example.com"]);
  // Too many labels before .svc: not a service name.
  assert.deepEqual(hostAliases("a.b.default.svc.cluster.local", "default"), [
    "a.b.default.svc.cluster.local",
  ]);
  // Other suffix.
  assert.deepEqual(hostAliases("reviews.default.svc.other.local", "default"), [
    "reviews.default.svc.other.local",
  ]);
});

Deno.test("hostAliases: custom suffix", () => {
  assert.deepEqual(hostAliases("reviews.default.svc.mesh.example", "default", "mesh.example"), [
    "reviews.default.svc.mesh.example",
    "reviews.default.svc",
    "reviews.default",
    "reviews",
  ]);
  assert.deepEqual(hostAliases("reviews.default.svc.cluster.local", "default", "mesh.example"), [
    "reviews.default.svc.cluster.local",
  ]);
});

// ---------------------------------------------------------------------------------------------
// hostMatches / hostsIntersect

Deno.test("hostMatches: exact", () => {
  assert.equal(
    hostMatches("reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local"),
    true,
  );
  assert.equal(
    hostMatches("reviews.default.svc.cluster.local", "ratings.default.svc.cluster.local"),
    false,
  );
});

Deno.test("hostMatches: '*' matches everything", () => {
  assert.equal(hostMatches("*", "anything.example.com"), true);
  assert.equal(hostMatches("*", "*.example.com"), true);
});

Deno.test("hostMatches: '*.suffix' matches subdomains, not the bare domain", () => {
  assert.equal(hostMatches("*.example.com", "www.example.com"), true);
  assert.equal(hostMatches("*.example.com", "a.b.example.com"), true);
  assert.equal(hostMatches("*.example.com", "example.com"), false);
  assert.equal(hostMatches("*.example.com", "badexample.com"), false);
  assert.equal(hostMatches("*.example.com", "www.example.org"), false);
});

Deno.test("hostMatches: a partial wildcard '*suffix' matches by suffix (Istio, Envoy)", () => {
  assert.equal(hostMatches("*-foo.example.com", "a-foo.example.com"), true);
  assert.equal(hostMatches("*foo.example.com", "barfoo.example.com"), true);
  assert.equal(hostMatches("*-foo.example.com", "a.foo.example.com"), false);
  assert.equal(hostsIntersect("*-foo.example.com", "*.example.com"), true);
});

Deno.test("hostMatches: a concrete pattern doesn't match a wildcard host", () => {
  assert.equal(hostMatches("www.example.com", "*.example.com"), false);
  assert.equal(hostMatches("www.example.com", "*"), false);
});

Deno.test("hostMatches: a narrower wildcard host is matched by a broader pattern", () => {
  assert.equal(hostMatches("*.example.com", "*.api.example.com"), true);
  assert.equal(hostMatches("*.api.example.com", "*.example.com"), false);
});

Deno.test("hostsIntersect: is symmetric", () => {
  const cases: [string, string, boolean][] = [
    ["*", "reviews.default.svc.cluster.local", true],
    ["*.example.com", "www.example.com", true],
    ["*.example.com", "*.api.example.com", true],
    ["*.example.com", "*.example.org", false],
    ["a.example.com", "b.example.com", false],
    ["a.example.com", "a.example.com", true],
    ["*.example.com", "example.com", false],
    ["*", "*", true],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(hostsIntersect(a, b), want, `${a} ∩ ${b}`);
    assert.equal(hostsIntersect(b, a), want, `${b} ∩ ${a}`);
  }
});

// ---------------------------------------------------------------------------------------------
// splitHostPort

Deno.test("splitHostPort: host and port", () => {
  assert.deepEqual(splitHostPort("reviews:9080"), { host: "reviews", port: 9080 });
  assert.deepEqual(splitHostPort("10.1.2.3:443"), { host: "10.1.2.3", port: 443 });
});

Deno.test("splitHostPort: without a port", () => {
  assert.deepEqual(splitHostPort("reviews"), { host: "reviews", port: undefined });
  assert.deepEqual(splitHostPort(""), { host: "", port: undefined });
});

Deno.test("splitHostPort: lowercases the host", () => {
  assert.deepEqual(splitHostPort("Reviews.Default:9080"), { host: "reviews.default", port: 9080 });
});

Deno.test("splitHostPort: IPv6 keeps brackets", () => {
  assert.deepEqual(splitHostPort("[::1]:9080"), { host: "[::1]", port: 9080 });
  assert.deepEqual(splitHostPort("[::1]"), { host: "[::1]", port: undefined });
  assert.deepEqual(splitHostPort("[FE80::1]:80"), { host: "[fe80::1]", port: 80 });
});

Deno.test("splitHostPort: a bad port is dropped, the host kept", () => {
  assert.deepEqual(splitHostPort("reviews:abc"), { host: "reviews", port: undefined });
  assert.deepEqual(splitHostPort("reviews:"), { host: "reviews", port: undefined });
  assert.deepEqual(splitHostPort("reviews:0"), { host: "reviews", port: undefined });
  assert.deepEqual(splitHostPort("reviews:-1"), { host: "reviews", port: undefined });
  assert.deepEqual(splitHostPort("reviews:1.5"), { host: "reviews", port: undefined });
  assert.deepEqual(splitHostPort("[::1]:abc"), { host: "[::1]", port: undefined });
});

// Regression test (was a bug, now fixed): api/host.ts splitHostPort (lines 64-76) accepts ports outside 1..65535: "reviews:99999"
// gives port 99999 (no upper bound), and IPv6 lacks the `> 0` check the plain branch has, so
// "[::1]:0" and "[::1]:" give port 0 where "reviews:0" and "reviews:" give undefined.
// It also reads ports with Number(), so "reviews:0x10" gives 16 and "reviews:1e3" gives 1000.
// proxy/stages/passthrough.ts then uses such a port as the upstream port of a passthrough request.
Deno.test({
  name: "splitHostPort: ports outside 1..65535 are dropped, IPv6 included",
  fn() {
    assert.deepEqual(splitHostPort("reviews:99999"), { host: "reviews", port: undefined });
    assert.deepEqual(splitHostPort("reviews:65536"), { host: "reviews", port: undefined });
    assert.deepEqual(splitHostPort("[::1]:0"), { host: "[::1]", port: undefined });
    assert.deepEqual(splitHostPort("[::1]:"), { host: "[::1]", port: undefined });
    assert.deepEqual(splitHostPort("[::1]:70000"), { host: "[::1]", port: undefined });
    assert.deepEqual(splitHostPort("reviews:0x10"), { host: "reviews", port: undefined });
    assert.deepEqual(splitHostPort("reviews:1e3"), { host: "reviews", port: undefined });
  },
});

Deno.test("splitHostPort: the largest valid port", () => {
  assert.deepEqual(splitHostPort("reviews:65535"), { host: "reviews", port: 65535 });
  assert.deepEqual(splitHostPort("[::1]:65535"), { host: "[::1]", port: 65535 });
});
