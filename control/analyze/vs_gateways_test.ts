import assert from "node:assert/strict";
import { vsGatewayAnalyzer } from "./vs_gateways.ts";
import { lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [vsGatewayAnalyzer] };

const gateway = (name: string, ns: string, hosts: string[]) =>
  `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ${JSON.stringify(hosts)}
---
`;

const vs = (hosts: string[], gateways: string[], ns = "default") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: ${ns}}
spec:
  hosts: ${JSON.stringify(hosts)}
  gateways:
${gateways.map((g) => `  - ${g}`).join("\n")}
  http:
  - route:
    - destination: {host: web}
`;

Deno.test("vs gateways: a missing gateway is IST0101; mesh is reserved", () => {
  const yaml = gateway("web-gateway", "default", ["*"]) +
    vs(["web.example.com"], ["mesh", "web-gateway", "web-gateway-bogus"]);
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Error [IST0101] (VirtualService default/web t.yaml:${
      lineOf(yaml, "- web-gateway-bogus")
    }) Referenced gateway not found: "web-gateway-bogus"`,
  ]);
});

Deno.test("vs gateways: name means the VirtualService's namespace; ns/name any namespace", () => {
  const gw = gateway("public", "istio-system", ["*"]);
  const short = gw + vs(["web.example.com"], ["public"]);
  assert.deepEqual(linesOf(run(short, only)).map((l) => l.replace(/:\d+\)/, ")")), [
    'Error [IST0101] (VirtualService default/web t.yaml) Referenced gateway not found: "public"',
  ]);
  assert.deepEqual(linesOf(run(gw + vs(["web.example.com"], ["istio-system/public"]), only)), []);
});

Deno.test("vs gateways: hosts the Gateway doesn't admit are IST0132", () => {
  const yaml = gateway("public", "default", ["*.example.com", "api.example.org"]) +
    vs(["web.example.com", "api.example.org", "other.net"], ["public"]);
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Warning [IST0132] (VirtualService default/web t.yaml:${
      lineOf(yaml, "- public")
    }) one or more host [other.net] defined in VirtualService default/web not found in Gateway default/public.`,
  ]);
  // A "*" server host admits everything; a "*" VirtualService host is admitted by any host.
  assert.deepEqual(
    linesOf(run(gateway("public", "default", ["*"]) + vs(["a.net", "b.org"], ["public"]), only)),
    [],
  );
  assert.deepEqual(
    linesOf(run(gateway("public", "default", ["a.example.com"]) + vs(["*"], ["public"]), only)),
    [],
  );
});

Deno.test("vs gateways: namespace/host server hosts admit only that namespace", () => {
  const gw = gateway("public", "istio-system", ["shop/*", "./internal.example.com"]);
  // shop/* admits any host of VirtualServices in shop...
  assert.deepEqual(
    linesOf(run(gw + vs(["x.example.com"], ["istio-system/public"], "shop"), only)),
    [],
  );
  // ...but not of those in default; "./" admits only the Gateway's own namespace.
  const other = gw + vs(["internal.example.com"], ["istio-system/public"], "default");
  assert.deepEqual(linesOf(run(other, only)).map((l) => l.replace(/:\d+\)/, ")")), [
    "Warning [IST0132] (VirtualService default/web t.yaml) one or more host " +
    "[internal.example.com] defined in VirtualService default/web not found in Gateway " +
    "istio-system/public.",
  ]);
  const own = gw + vs(["internal.example.com"], ["public"], "istio-system");
  assert.deepEqual(linesOf(run(own, only)), []);
});
