import assert from "node:assert/strict";
import { meshHostsAnalyzer } from "./mesh_hosts.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [meshHostsAnalyzer] };

/** A VirtualService; `extra` lines go under `spec`. */
const vs = (name: string, ns: string, hosts: string[], extra = "") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts: ${JSON.stringify(hosts)}
${extra}  http:
  - route:
    - destination: {host: productpage}
---
`;
const gw = (gws: string[]) => `  gateways: ${JSON.stringify(gws)}\n`;
const exp = (e: string[]) => `  exportTo: ${JSON.stringify(e)}\n`;

Deno.test("mesh hosts: two mesh VirtualServices with one host are IST0109 on both", () => {
  // Istio's example: short and full names of the same service conflict.
  const yaml = vs("productpage", "team-1", ["productpage.default.svc.cluster.local"]) +
    vs("custom", "default", ["productpage"]);
  const text = (line: number, who: string) =>
    `Error [IST0109] (VirtualService ${who} t.yaml:${line}) The VirtualServices ` +
    "default/custom,team-1/productpage associated with mesh gateway define the same host " +
    "*/productpage.default.svc.cluster.local which can lead to undefined behavior. This can be " +
    "fixed by merging the conflicting VirtualServices into a single resource.";
  assert.deepEqual(linesOf(run(yaml, only), "IST0109"), [
    text(lineOf(yaml, "name: custom"), "default/custom"),
    text(lineOf(yaml, "name: productpage"), "team-1/productpage"),
  ]);
});

Deno.test("mesh hosts: gateway-only VirtualServices don't conflict; mesh among gateways does", () => {
  const gwOnly = vs("a", "default", ["web"], gw(["public"])) + vs("b", "default", ["web"]);
  assert.deepEqual(linesOf(run(gwOnly, only), "IST0109"), []);
  const withMesh = vs("a", "default", ["web"], gw(["public", "mesh"])) +
    vs("b", "default", ["web"]);
  assert.equal(linesOf(run(withMesh, only), "IST0109").length, 2);
});

Deno.test("mesh hosts: exportTo scopes; '*' conflicts with a namespace scope it reaches", () => {
  const local = (name: string, ns: string) =>
    vs(name, ns, ["productpage.default.svc.cluster.local"], exp(["."]));
  assert.deepEqual(linesOf(run(local("a", "team-1") + local("b", "team-2"), only), "IST0109"), []);
  assert.equal(
    linesOf(run(local("a", "team-1") + local("b", "team-1"), only), "IST0109").length,
    2,
  );
  // Regression: exported to '*' and to '.' are the same scope in team-1, not different keys.
  const star = vs("all", "team-2", ["productpage.default.svc.cluster.local"], exp(["*"]));
  const lines = linesOf(run(local("a", "team-1") + star, only), "IST0109");
  assert.equal(lines.length, 2);
  assert.match(lines[0], /team-1\/a,team-2\/all .* host team-1\/productpage\.default\.svc/);
  // Different hosts never conflict.
  assert.deepEqual(
    linesOf(run(vs("a", "default", ["a"]) + vs("b", "default", ["b"]), only), "IST0109"),
    [],
  );
});

Deno.test("mesh hosts: hosts overlap, not only equal ('*.d' covers '*.productpage.d')", () => {
  const yaml = vs("d", "foo", ["*.productpage.d"], exp(["."])) +
    vs("d", "bar", ["*.d"], exp(["*"]));
  assert.equal(linesOf(run(yaml, only), "IST0109").length, 2);
  // Two hosts both exported everywhere conflict only when equal (Istio keys them by host).
  const both = vs("d", "foo", ["*.productpage.d"]) + vs("d", "bar", ["*.d"]);
  assert.deepEqual(linesOf(run(both, only), "IST0109"), []);
});

Deno.test("mesh hosts: an invalid VirtualService (IST0106) still conflicts", () => {
  // A negative route weight makes it invalid, its shape is fine: istioctl keeps analyzing it.
  const bad = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: default}
spec:
  hosts: [web]
  http:
  - route:
    - {destination: {host: web}, weight: 60}
    - {destination: {host: web}, weight: -10}
---
`;
  const messages = run(bad + vs("good", "default", ["web"]), only);
  assert.equal(linesOf(messages, "IST0106").length, 1);
  assert.equal(linesOf(messages, "IST0109").length, 2);
});

// Istio's testdata/virtualservice_conflictingmeshgatewayhosts.yaml and ..._with_exportto.yaml.
istioCases(meshHostsAnalyzer, [
  {
    name: "virtualServiceConflictingMeshGatewayHosts",
    yaml: vs("productpage", "foo", ["productpage"]) +
      vs("bogus-productpage", "foo", ["productpage"]) +
      vs("reviews", "foo", ["reviews"]) +
      vs("reviews", "bar", ["reviews.foo.svc.cluster.local"], gw(["istio-ingressgateway"])) +
      vs("ratings", "foo", ["ratings"], gw(["mesh"])) +
      vs(
        "ratings",
        "bar",
        ["ratings.foo.svc.cluster.local", "google.com"],
        gw(["istio-ingressgateway", "mesh"]),
      ) +
      vs("ratings", "team1", ["ratings"], gw(["mesh"]) + exp(["."])) +
      vs(
        "ratings",
        "team2",
        ["ratings.team1.svc.cluster.local", "google.com"],
        exp(["."]) + gw(["istio-ingressgateway", "mesh"]),
      ) +
      vs("ratings", "team3", ["ratings"], gw(["mesh"]) + exp(["*"])) +
      vs(
        "ratings",
        "team4",
        ["ratings.team3.svc.cluster.local"],
        gw(["istio-ingressgateway", "mesh"]),
      ),
    expected: [
      "IST0109 VirtualService team3/ratings",
      "IST0109 VirtualService team4/ratings",
      "IST0109 VirtualService foo/ratings",
      "IST0109 VirtualService bar/ratings",
      "IST0109 VirtualService foo/productpage",
      "IST0109 VirtualService foo/bogus-productpage",
      "IST0109 VirtualService team2/ratings",
    ],
  },
  {
    name: "virtualServiceConflictingMeshGatewayHostsWithExportTo",
    yaml: vs("productpage", "foo", ["*.productpage"]) +
      vs("productpage", "bar", ["*.productpage"]) +
      vs("productpage-b", "foo", ["*.productpage.b"], exp(["foo"])) +
      vs("productpage-b", "bar", ["*.productpage.b"], exp(["."])) +
      vs("productpage-c", "foo", ["*.productpage.c"], exp(["foo"])) +
      vs("productpage-c", "bar", ["*.productpage.c"], exp(["*"])) +
      vs("productpage-d", "foo", ["*.productpage.d"], exp(["."])) +
      vs("productpage-d", "bar", ["*.d"], exp(["*"])),
    expected: [
      "IST0109 VirtualService foo/productpage",
      "IST0109 VirtualService bar/productpage",
      "IST0109 VirtualService foo/productpage-c",
      "IST0109 VirtualService bar/productpage-c",
      "IST0109 VirtualService foo/productpage-d",
      "IST0109 VirtualService bar/productpage-d",
    ],
  },
]);
