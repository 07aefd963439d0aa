/** ReferenceGrants, backendRefs and hostname isolation as Istio resolves them. */
import assert from "node:assert/strict";
import { parseResources } from "../../api/resources.ts";
import {
  hostnameAllowedByIsolation,
  References,
  resolveBackend,
  type RouteParentRef,
} from "./references.ts";
import { services } from "./testutil.ts";

const GRANTS = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: shop}
spec:
  from:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: web}
  - {group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}
  to:
  - {group: "", kind: Service, name: cart}
  - {group: "", kind: Secret}
${services(["cart.shop.svc.cluster.local", "a.web.svc.cluster.local", "api.example.com"])}`;

const refs = new References(parseResources(GRANTS, "g.yaml").resources);

Deno.test("ReferenceGrant: from kind and namespace, to kind and (optional) name", () => {
  const table: [string, string, string, string, string, boolean][] = [
    ["HTTPRoute", "web", "/Service", "cart", "shop", true],
    ["HTTPRoute", "web", "/Service", "orders", "shop", false],
    ["GRPCRoute", "web", "/Service", "cart", "shop", false],
    ["HTTPRoute", "other", "/Service", "cart", "shop", false],
    ["Gateway", "edge", "/Secret", "any-cert", "shop", true],
    ["Gateway", "edge", "/Secret", "any-cert", "elsewhere", false],
  ];
  for (const [kind, from, to, name, ns, want] of table) {
    assert.equal(
      refs.allowed({ fromKind: kind, fromNamespace: from, to, name, toNamespace: ns }),
      want,
      `${kind} ${from} -> ${to} ${ns}/${name}`,
    );
  }
});

Deno.test("resolveBackend: Services, Hostnames, grants, and Istio's errors", () => {
  const route = { kind: "HTTPRoute", namespace: "web", enforceGrant: true };
  const table: [
    Parameters<typeof resolveBackend>[0],
    Partial<ReturnType<typeof resolveBackend>>,
    string?,
  ][] = [
    [{ name: "a", port: 80 }, { host: "a.web.svc.cluster.local", port: 80 }],
    [{ name: "cart", namespace: "shop", port: 8080 }, {
      host: "cart.shop.svc.cluster.local",
      port: 8080,
    }],
    [{ name: "orders", namespace: "shop", port: 80 }, { host: "" }, "RefNotPermitted"],
    [
      { name: "missing", port: 80 },
      { host: "missing.web.svc.cluster.local", port: 80 },
      "BackendNotFound",
    ],
    [{ name: "a.web.svc.cluster.local", port: 80 }, {}, "InvalidDestination"],
    [{ name: "a" }, {}, "InvalidDestination"],
    [{ group: "networking.istio.io", kind: "Hostname", name: "api.example.com", port: 443 }, {
      host: "api.example.com",
      port: 443,
    }],
    [
      {
        group: "networking.istio.io",
        kind: "Hostname",
        name: "api.example.com",
        namespace: "x",
        port: 443,
      },
      {},
      "RefNotPermitted", // the grant is checked first, as in Istio
    ],
    [
      {
        group: "networking.istio.io",
        kind: "Hostname",
        name: "api.example.com",
        namespace: "web",
        port: 443,
      },
      {},
      "InvalidDestination",
    ],
    [{ group: "example.com", kind: "Bucket", name: "b" }, { host: "" }, "InvalidKind"],
  ];
  for (const [ref, want, reason] of table) {
    const got = resolveBackend(ref, route, refs);
    assert.equal(got.error?.reason, reason, JSON.stringify(ref));
    for (const [k, v] of Object.entries(want)) {
      assert.equal((got as unknown as Record<string, unknown>)[k], v, JSON.stringify(ref));
    }
  }
  // Mesh routes don't need a grant (Istio checks them on Gateways only).
  assert.equal(
    resolveBackend({ name: "orders", namespace: "shop", port: 80 }, {
      ...route,
      enforceGrant: false,
    }, refs).error?.reason,
    "BackendNotFound",
  );
});

Deno.test("hostname isolation: a host goes to the most specific listener of its port", () => {
  const parent = (hostname: string, banned: string[]): RouteParentRef => ({
    internalName: "x",
    parentKind: "Gateway",
    parentNamespace: "ns",
    parentName: "gw",
    original: { name: "gw" },
    hostname,
    banned: new Set(banned),
    sectionName: "l",
  });
  const table: [string, string[], string, boolean][] = [
    ["*.example.com", ["abc.example.com"], "abc.example.com", false],
    ["*.example.com", ["abc.example.com"], "x.example.com", true],
    ["*.example.com", ["*.foo.example.com"], "a.foo.example.com", false],
    ["*.foo.example.com", ["*.example.com"], "a.foo.example.com", true],
    ["", ["*.example.com"], "a.example.com", false],
    ["", ["*.example.com"], "a.other.com", true],
    ["abc.example.com", ["*.example.com"], "abc.example.com", true],
  ];
  for (const [ours, banned, host, want] of table) {
    assert.equal(
      hostnameAllowedByIsolation(parent(ours, banned), host),
      want,
      `${ours} ${banned} ${host}`,
    );
  }
});
