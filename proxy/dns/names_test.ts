import assert from "node:assert/strict";
import { buildNameTable } from "./names.ts";
import { TYPE_A, TYPE_AAAA } from "./wire.ts";

const TYPE_MX = 15;

const table = buildNameTable({
  namespace: "default",
  hosts: [
    { hostname: "reviews.default.svc.cluster.local", addresses: ["10.0.0.7", "fd00::7"] },
    { hostname: "ratings.prod.svc.cluster.local", addresses: ["10.0.0.8"] },
    { hostname: "api.example.com", addresses: ["192.0.2.1", "192.0.2.1", "not-an-ip"] },
    { hostname: "*.example.com", addresses: ["192.0.2.50"] },
    { hostname: "*.eu.example.com", addresses: ["192.0.2.60", "2001:DB8:0::60", "fe80::1%eth0"] },
    { hostname: "v6only.example.org.", addresses: ["2001:db8::1"] },
    { hostname: "details", namespace: "default", addresses: ["10.0.0.9"] },
    { hostname: "noaddr.example.net", addresses: [] },
    { hostname: "*", addresses: ["10.9.9.9"] },
  ],
});

const a = (name: string, type = TYPE_A) => {
  const r = table.lookup(name, type);
  return r?.kind === "answer" ? r.addresses : r?.kind;
};

Deno.test("names: a Kubernetes host and its aliases, in any case, trailing dot or not", () => {
  for (
    const n of [
      "reviews.default.svc.cluster.local",
      "reviews.default.svc.cluster.local.",
      "REVIEWS.Default.Svc.Cluster.Local",
      "reviews.default.svc",
      "reviews.default",
      "reviews", // same namespace as the proxy
      "Reviews.",
    ]
  ) {
    assert.deepEqual(a(n), ["10.0.0.7"], n);
    assert.deepEqual(a(n, TYPE_AAAA), ["fd00::7"], n);
  }
  // Another namespace: no bare name.
  assert.deepEqual(a("ratings.prod"), ["10.0.0.8"]);
  assert.deepEqual(a("ratings.prod.svc"), ["10.0.0.8"]);
  assert.equal(a("ratings"), undefined);
  // A short hostname is completed with its namespace.
  assert.deepEqual(a("details.default.svc.cluster.local"), ["10.0.0.9"]);
  assert.deepEqual(a("details"), ["10.0.0.9"]);
});

Deno.test("names: a known name without an address of that type is NOERROR-empty", () => {
  assert.deepEqual(a("ratings.prod", TYPE_AAAA), []);
  assert.deepEqual(a("v6only.example.org", TYPE_A), []);
  assert.deepEqual(a("v6only.example.org", TYPE_AAAA), ["2001:db8::1"]);
  assert.deepEqual(a("reviews", TYPE_MX), []);
});

Deno.test("names: wildcards, most specific first; exact beats wildcard", () => {
  assert.deepEqual(a("api.example.com"), ["192.0.2.1"]); // exact, deduplicated
  assert.deepEqual(a("www.example.com"), ["192.0.2.50"]);
  assert.deepEqual(a("a.b.example.com"), ["192.0.2.50"]);
  assert.deepEqual(a("x.eu.example.com"), ["192.0.2.60"]);
  assert.deepEqual(a("x.y.eu.example.com", TYPE_AAAA), ["2001:db8::60"]);
  assert.deepEqual(a("eu.example.com"), ["192.0.2.50"]); // under *.example.com only
  assert.equal(a("example.com"), undefined); // a wildcard needs a label
});

Deno.test("names: search-path names under .svc.<domain> are NXDOMAIN; others forwarded", () => {
  assert.equal(a("reviews.default.svc.cluster.local.default.svc.cluster.local"), "nxdomain");
  assert.equal(a("reviews.default.svc.cluster.local.svc.cluster.local"), "nxdomain");
  assert.equal(a("www.google.com.default.svc.cluster.local", TYPE_AAAA), "nxdomain");
  assert.equal(a("unknown.prod.svc.cluster.local"), "nxdomain");
  assert.equal(a("www.google.com.cluster.local"), undefined);
  assert.equal(a("www.google.com"), undefined);
  assert.equal(a("noaddr.example.net"), undefined); // no address: left to upstream
  assert.equal(a("anything.else"), undefined); // "*" is never a table entry
  assert.equal(a(""), undefined);
  assert.equal(a("."), undefined);
  const off = buildNameTable({ hosts: [], namespace: "default", svcNxdomain: false });
  assert.equal(off.lookup("x.default.svc.cluster.local", TYPE_A), undefined);
});

Deno.test("names: another cluster domain", () => {
  const t = buildNameTable({
    namespace: "shop",
    domain: "corp.internal",
    hosts: [{ hostname: "cart.shop.svc.corp.internal", addresses: ["10.1.0.1"] }],
  });
  assert.deepEqual(t.lookup("cart", TYPE_A), { kind: "answer", addresses: ["10.1.0.1"] });
  assert.deepEqual(t.lookup("x.svc.corp.internal", TYPE_A), { kind: "nxdomain" });
  assert.equal(t.lookup("x.svc.cluster.local", TYPE_A), undefined);
  assert.ok(Object.isFrozen(t));
});
