/**
 * Istio's own Gateway API samples (samples/bookinfo/gateway-api/, unchanged), converted as
 * istiod converts them: the ingress task's Gateway and HTTPRoute, and the traffic-shifting
 * task's weighted routes on the reviews Service. Kubernetes Services are not read from files
 * (docs/compatibility.md), so the test declares Bookinfo's services as ServiceEntries. Skipped
 * with one line when Istio's samples/ tree isn't on this machine (tests/samples.ts).
 */
import assert from "node:assert/strict";
import { parseResources, type Resource, type VirtualService } from "../../api/resources.ts";
import { istioTreeSamples, TREE_MISSING } from "../../tests/samples.ts";
import { convertGatewayApi } from "./convert.ts";

const tree = await istioTreeSamples();
if (!tree) console.log(TREE_MISSING);

const SERVICES = [
  "productpage",
  "productpage-v1",
  "reviews",
  "reviews-v1",
  "reviews-v2",
  "reviews-v3",
  "ratings",
  "ratings-v1",
  "details",
  "details-v1",
];

/** Bookinfo's Services (platform/kube/bookinfo.yaml, bookinfo-versions.yaml) as ServiceEntries. */
function services(): Resource[] {
  const text = SERVICES.map((name) =>
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${name.replace(/-v\d$/, "")}}}
`
  ).join("---\n");
  const { resources, diagnostics } = parseResources(text, "services.yaml");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  return resources;
}

async function sample(name: string): Promise<Resource[]> {
  const file = `bookinfo/gateway-api/${name}`;
  const { resources, diagnostics } = parseResources(
    await Deno.readTextFile(`${tree}/${file}`),
    file,
  );
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), [], file);
  return resources;
}

/** `host weight` of each destination of the VirtualService's first HTTP rule. */
function split(vs: VirtualService | undefined): string[] {
  return (vs?.spec.http?.[0].route ?? []).map((r) =>
    `${r.destination.host}${r.weight === undefined ? "" : ` ${r.weight}`}`
  );
}

Deno.test({
  name: "Istio's Bookinfo Gateway API samples convert as istiod converts them",
  ignore: !tree,
  fn: async (t) => {
    await t.step("ingress: bookinfo-gateway.yaml", async () => {
      const out = convertGatewayApi([...services(), ...await sample("bookinfo-gateway.yaml")]);
      assert.deepEqual(out.diagnostics.filter((d) => /False/.test(d.message)), []);
      assert.equal(out.gateways.length, 1);
      const [gw] = out.gateways;
      assert.deepEqual(gw.spec.selector, {
        "gateway.networking.k8s.io/gateway-name": "bookinfo-gateway",
      });
      assert.equal(gw.spec.servers?.[0].port.number, 80);
      assert.equal(out.virtualServices.length, 1);
      // As istiod does: one rule per match, in the Gateway API's precedence (exact paths
      // first, then prefixes, longest first), a PathPrefix matching by path segment (the path
      // itself, or below it), each routed to productpage.
      const rules = out.virtualServices[0].spec.http ?? [];
      assert.deepEqual(rules.map((r) => r.match?.map((m) => JSON.stringify(m.uri)).join(" ")), [
        '{"exact":"/productpage"}',
        '{"exact":"/logout"}',
        '{"exact":"/login"}',
        '{"exact":"/api/v1/products"} {"prefix":"/api/v1/products/"}',
        '{"exact":"/static"} {"prefix":"/static/"}',
      ]);
      for (const r of rules) {
        assert.deepEqual(r.route?.map((d) => d.destination.host), [
          "productpage.default.svc.cluster.local",
        ]);
      }
      assert.deepEqual(split(out.virtualServices[0]), ["productpage.default.svc.cluster.local"]);
    });

    const cases: [string, string[]][] = [
      ["route-reviews-v1.yaml", ["reviews-v1.default.svc.cluster.local"]],
      ["route-reviews-90-10.yaml", [
        "reviews-v1.default.svc.cluster.local 90",
        "reviews-v2.default.svc.cluster.local 10",
      ]],
      ["route-reviews-50-v3.yaml", [
        "reviews-v1.default.svc.cluster.local 50",
        "reviews-v3.default.svc.cluster.local 50",
      ]],
      ["route-reviews-v3.yaml", ["reviews-v3.default.svc.cluster.local"]],
    ];
    for (const [file, want] of cases) {
      await t.step(`traffic shifting: ${file}`, async () => {
        const out = convertGatewayApi([...services(), ...await sample(file)]);
        assert.deepEqual(out.diagnostics.filter((d) => /False/.test(d.message)), []);
        assert.equal(out.gateways.length, 0, "a Service parent makes no gateway");
        const vs = out.virtualServices.find((v) =>
          v.spec.hosts?.includes("reviews.default.svc.cluster.local")
        );
        assert.ok(vs, out.virtualServices.map((v) => v.spec.hosts).join(" "));
        assert.deepEqual(vs.spec.gateways, ["mesh"]);
        assert.deepEqual(split(vs), want);
      });
    }

    await t.step("route-all-v1.yaml: one mesh route per service", async () => {
      const out = convertGatewayApi([...services(), ...await sample("route-all-v1.yaml")]);
      assert.deepEqual(out.diagnostics.filter((d) => /False/.test(d.message)), []);
      const hosts = out.virtualServices.flatMap((v) => v.spec.hosts ?? []).sort();
      assert.deepEqual(hosts, [
        "details.default.svc.cluster.local",
        "productpage.default.svc.cluster.local",
        "ratings.default.svc.cluster.local",
        "reviews.default.svc.cluster.local",
      ]);
    });
  },
});
