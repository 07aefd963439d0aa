import assert from "node:assert/strict";
import type { ServiceEntry } from "../../api/resources.ts";
import { loadInputs } from "./context.ts";
import { istioFqdn, istioHostsMatch, ScopedHosts, visibleIn } from "./hosts.ts";
import { kubeService } from "./testutil.ts";

const registry = (yaml: string) => loadInputs([{ file: "h.yaml", text: yaml }]).hosts;

const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com, "*.wild.example.com"]
  ports: [{number: 443, name: tls, protocol: tls}]
  resolution: NONE
---
`;

Deno.test("hosts: a Kubernetes Service is <name>.<namespace>.svc.cluster.local", () => {
  const hosts = registry(kubeService("reviews", [9080, 9090], "shop"));
  const e = hosts.lookup("reviews", "shop");
  assert.equal(e?.host, "reviews.shop.svc.cluster.local");
  assert.equal(e?.kind, "Service");
  assert.deepEqual(e?.ports.map((p) => [p.number, p.name, p.protocol]), [
    [9080, "http-9080", "TCP"],
    [9090, "http-9090", "TCP"],
  ]);
  // A short name resolves in the namespace of the resource that wrote it.
  assert.equal(hosts.lookup("reviews", "default"), undefined);
  assert.equal(hosts.lookup("reviews.shop.svc.cluster.local", "default")?.namespace, "shop");
  assert.equal(hosts.lookup("REVIEWS.shop.svc.cluster.local", "default")?.namespace, "shop");
  // Only the full name or the short one: Istio's analyzers don't expand reviews.shop.
  assert.equal(hosts.lookup("reviews.shop", "default"), undefined);
});

Deno.test("hosts: ServiceEntry hosts, exact and wildcard, with their protocols", () => {
  const hosts = registry(SE);
  assert.equal(hosts.lookup("api.example.com", "other")?.ports[0].protocol, "TLS");
  assert.equal(hosts.lookup("a.wild.example.com", "other")?.host, "*.wild.example.com");
  assert.equal(hosts.lookup("*.b.wild.example.com", "other")?.host, "*.wild.example.com");
  assert.equal(hosts.lookup("wild.example.com", "other"), undefined);
  assert.equal(hosts.lookup("nope.example.com", "other"), undefined);
  assert.deepEqual(hosts.matching("*.example.com", "other").map((e) => e.host), [
    "api.example.com",
    "*.wild.example.com",
  ]);
  assert.deepEqual(hosts.matching("*.org", "other"), []);
});

Deno.test("hosts: exportTo and the exportTo annotation limit where a host is visible", () => {
  const yaml = SE.replace("resolution: NONE", 'resolution: NONE\n  exportTo: ["."]') +
    kubeService("reviews", [9080], "shop").replace(
      "metadata:\n",
      'metadata:\n  annotations: {networking.istio.io/exportTo: "team-a,."}\n',
    );
  const hosts = registry(yaml);
  assert.ok(hosts.lookup("api.example.com", "shop"));
  assert.equal(hosts.lookup("api.example.com", "other"), undefined);
  assert.ok(hosts.lookup("reviews.shop.svc.cluster.local", "team-a"));
  assert.ok(hosts.lookup("reviews", "shop"));
  assert.equal(hosts.lookup("reviews.shop.svc.cluster.local", "team-b"), undefined);

  assert.ok(visibleIn(undefined, "a", "b"));
  assert.ok(visibleIn(["*"], "a", "b"));
  assert.ok(visibleIn(["."], "a", "a"));
  assert.ok(!visibleIn(["."], "a", "b"));
  assert.ok(visibleIn(["b"], "a", "b"));
});

Deno.test("hosts: a Service wins over a ServiceEntry for the same host", () => {
  const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews-se}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 1, name: a}, {number: 2, name: b}]
---
`;
  const hosts = registry(se + kubeService("reviews", [9080]));
  assert.equal(hosts.lookup("reviews", "default")?.kind, "Service");
  assert.equal(hosts.entries.length, 2);
});

Deno.test("Istio's host forms: short names, overlap of wildcards", () => {
  assert.equal(istioFqdn("reviews", "shop"), "reviews.shop.svc.cluster.local");
  assert.equal(istioFqdn("reviews.shop", "x"), "reviews.shop");
  assert.equal(istioFqdn("*", "x"), "*");
  assert.ok(istioHostsMatch("*.d", "*.productpage.d"));
  assert.ok(istioHostsMatch("*.productpage.d", "*.d"));
  assert.ok(istioHostsMatch("a.b.com", "*.com"));
  assert.ok(istioHostsMatch("*", "anything"));
  assert.ok(!istioHostsMatch("a.com", "b.com"));
  assert.ok(!istioHostsMatch("*.a.com", "*.b.com"));
});

Deno.test("ScopedHosts: exported everywhere, to the own namespace, to named ones", () => {
  const se = (name: string, ns: string, hosts: string[], exportTo?: string[]) =>
    ({
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name, namespace: ns },
      spec: { hosts, ...(exportTo ? { exportTo } : {}), ports: [{ number: 80, name: "http" }] },
      source: { file: "", line: 1 },
    }) as unknown as ServiceEntry;
  const index = new ScopedHosts([
    se("all", "a", ["all.com"]),
    se("own", "a", ["own.com"], ["."]),
    se("named", "a", ["named.com"], ["b"]),
    se("wild", "a", ["*.wild.com"], ["."]),
  ], []);
  assert.equal(index.lookup("z", [], "all.com")?.name, "all");
  assert.equal(index.lookup("a", [], "own.com")?.name, "own");
  assert.equal(index.lookup("b", [], "own.com"), undefined);
  assert.equal(index.lookup("b", [], "named.com")?.name, "named");
  // A resource in `a` exported to `b` only looks hosts up as seen from `b`.
  assert.equal(index.lookup("a", ["b"], "own.com"), undefined);
  assert.equal(index.lookup("a", ["b"], "named.com")?.name, "named");
  assert.equal(index.lookup("a", [], "x.wild.com")?.name, "wild");
  assert.equal(index.lookup("c", [], "x.wild.com"), undefined);
});
