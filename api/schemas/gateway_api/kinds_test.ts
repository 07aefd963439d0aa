/**
 * The Gateway API kinds in the registry (group, versions Istio serves, plural, short names, the
 * id KubernetesGateway), and every Gateway API document of Istio's samples/ read without errors.
 */
import assert from "node:assert/strict";
import { formatDiagnostic } from "../../diagnostic.ts";
import { KIND_INFO, kindOf } from "../../kinds.ts";
import { parseResources } from "../../resources.ts";
import { istioTreeSamples, TREE_MISSING } from "../../../tests/samples.ts";

Deno.test("the Gateway API's Gateway is KubernetesGateway; Istio's Gateway keeps its id", () => {
  assert.equal(kindOf("gateway.networking.k8s.io", "Gateway"), "KubernetesGateway");
  assert.equal(kindOf("networking.istio.io", "Gateway"), "Gateway");
  const table = [
    ["KubernetesGateway", "gateways", ["gtw"], ["v1", "v1beta1", "v1alpha2"]],
    ["GatewayClass", "gatewayclasses", ["gc"], ["v1", "v1beta1", "v1alpha2"]],
    ["HTTPRoute", "httproutes", [], ["v1", "v1beta1", "v1alpha2"]],
    ["GRPCRoute", "grpcroutes", [], ["v1", "v1alpha2"]],
    ["TCPRoute", "tcproutes", [], ["v1", "v1alpha2"]],
    ["TLSRoute", "tlsroutes", [], ["v1", "v1alpha3", "v1alpha2"]],
    ["ReferenceGrant", "referencegrants", ["refgrant"], ["v1", "v1beta1", "v1alpha2"]],
  ] as const;
  for (const [id, plural, short, versions] of table) {
    const k = KIND_INFO[id];
    assert.equal(k.group, "gateway.networking.k8s.io", id);
    assert.equal(k.plural, plural, id);
    assert.deepEqual(k.shortNames, short, id);
    assert.deepEqual(k.versions, versions, id);
  }
  assert.equal(KIND_INFO.GatewayClass.scope, "Cluster");
});

Deno.test("a version the CRD doesn't serve is refused", () => {
  const { diagnostics } = parseResources(
    "apiVersion: gateway.networking.k8s.io/v1alpha1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {}\n",
    "r.yaml",
  );
  assert.equal(diagnostics.length, 1);
  assert.match(diagnostics[0].message, /not accepted for HTTPRoute; use one of .*\/v1,/);
});

const tree = await istioTreeSamples();
if (!tree) console.log(TREE_MISSING);

const SAMPLES = [
  "bookinfo/gateway-api/bookinfo-gateway.yaml",
  "bookinfo/gateway-api/route-all-v1.yaml",
  "bookinfo/gateway-api/route-reviews-50-v3.yaml",
  "bookinfo/gateway-api/route-reviews-90-10.yaml",
  "bookinfo/gateway-api/route-reviews-v1.yaml",
  "bookinfo/gateway-api/route-reviews-v3.yaml",
  "ambient-argo/application/details-waypoint.yaml",
  "ambient-argo/application/ingress-gateway.yaml",
  "ambient-argo/application/reviews-waypoint.yaml",
  "ambient-argo/application/route-reviews-90-10.yaml",
  "helloworld/gateway-api/helloworld-gateway.yaml",
  "helloworld/gateway-api/helloworld-route.yaml",
  "httpbin/gateway-api/httpbin-gateway.yaml",
  "tcp-echo/gateway-api/tcp-echo-20-v2.yaml",
  "tcp-echo/gateway-api/tcp-echo-all-v1.yaml",
];

Deno.test({
  name: "every Gateway API document in Istio's samples is read without errors",
  ignore: !tree,
  fn: async () => {
    let read = 0;
    const problems: string[] = [];
    for (const f of SAMPLES) {
      const r = parseResources(await Deno.readTextFile(`${tree}/${f}`), f);
      read += r.resources.filter((x) =>
        KIND_INFO[x.kind].group === "gateway.networking.k8s.io"
      ).length;
      for (const d of r.diagnostics) if (d.severity === "error") problems.push(formatDiagnostic(d));
    }
    assert.deepEqual(problems, []);
    // Every Gateway API document of the samples (7 Gateways, 14 HTTPRoutes, 2 TCPRoutes).
    assert.equal(read, 23);
  },
});
