import assert from "node:assert/strict";
import { isClaimHeader, jwtClaimRouteAnalyzer } from "./jwt_claim_routes.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: foo}
spec:
  hosts: ["foo.com"]
  gateways: [foo-gateway]
  http:
  - match:
    - uri: {prefix: /}
      headers:
        "@request.auth.claims.foo": {exact: foo}
    route:
    - destination: {host: istiod.istio-system.svc.cluster.local, port: {number: 15010}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: foo-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["foo.com"]
---
`;

Deno.test("JWT claim routes: claim header names, as Istio parses them", () => {
  assert.ok(isClaimHeader("@request.auth.claims.groups"));
  assert.ok(isClaimHeader("@request.auth.claims[nested][key]"));
  assert.ok(isClaimHeader("@Request.Auth.Claims.x"));
  assert.ok(!isClaimHeader("@request.auth.claims."));
  assert.ok(!isClaimHeader("@request.auth.claims[]"));
  assert.ok(!isClaimHeader("x-claims"));
});

Deno.test("JWT claim routes: a RequestAuthentication for the gateway's workload silences it", () => {
  const only = { analyzers: [jwtClaimRouteAnalyzer] };
  assert.deepEqual(linesOf(run(vs, only), "IST0149"), [
    "Error [IST0149] (VirtualService default/foo t.yaml:1) The virtual service uses the JWT " +
    "claim based routing (key: @request.auth.claims.foo) but found no request authentication " +
    "for the gateway (default/foo-gateway) pod (istio-ingressgateway). The request " +
    "authentication must first be applied for the gateway pods to validate the JWT token and " +
    "make the claims available for routing.",
  ]);
  const ra = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules: [{issuer: "https://example.com", jwksUri: "https://example.com/jwks"}]
`;
  assert.deepEqual(linesOf(run(vs + ra, only), "IST0149"), []);
});

// Istio's testdata/virtualservice_jwtclaimroute.yaml.
istioCases(jwtClaimRouteAnalyzer, [{
  name: "virtualServiceJWTClaimRoute",
  yaml: vs,
  expected: ["IST0149 VirtualService default/foo"],
}]);
