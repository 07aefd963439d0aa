import assert from "node:assert/strict";
import { conflictingGatewayAnalyzer, gatewayCertificateAnalyzer } from "./gateway_conflicts.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

/** A Gateway; each server is `[port, host]`, or `[port, host, credentialName]`. */
const gw = (name: string, selector: string, servers: (number | string)[][], ns = "") =>
  `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}${ns ? `, namespace: ${ns}` : ""}}
spec:
  selector: ${selector}
  servers:
${
    servers.map(([port, host, cn]) =>
      port === 0
        ? `  - hosts: ["${host}"]`
        : `  - port: {number: ${port}, name: p${port}, protocol: ${cn ? "HTTPS" : "HTTP"}}\n` +
          `    hosts: ["${host}"]` +
          (cn ? `\n    tls: {mode: SIMPLE, credentialName: "${cn}"}` : "")
    ).join("\n")
  }
---
`;
const ingress = "{istio: ingressgateway}";

Deno.test("conflicting gateways: the message names the others, selector, port and hosts", () => {
  const yaml = gw("a", ingress, [[80, "foo.bar"]]) + gw("b", ingress, [[80, "foo.bar"]]);
  assert.deepEqual(linesOf(run(yaml, { analyzers: [conflictingGatewayAnalyzer] })), [
    "Error [IST0145] (Gateway default/a t.yaml:1) Conflict with gateways default/b (workload " +
    "selector istio=ingressgateway, port 80, hosts foo.bar).",
    "Error [IST0145] (Gateway default/b t.yaml:10) Conflict with gateways default/a (workload " +
    "selector istio=ingressgateway, port 80, hosts foo.bar).",
  ]);
});

Deno.test("gateway certificates: the same credential on gateways of the same workloads", () => {
  const yaml = gw("a", ingress, [[443, "a.com", "cert"]]) +
    gw("b", ingress, [[443, "b.com", "cert"]]);
  assert.deepEqual(linesOf(run(yaml, { analyzers: [gatewayCertificateAnalyzer] })), [
    "Warning [IST0138] (Gateway default/a t.yaml:3) Duplicate certificate in multiple gateways " +
    "[default/a default/b] may cause 404s if clients re-use HTTP2 connections.",
    "Warning [IST0138] (Gateway default/b t.yaml:13) Duplicate certificate in multiple gateways " +
    "[default/b default/a] may cause 404s if clients re-use HTTP2 connections.",
  ]);
});

const podOf = (name: string, labels: string, ns = "") =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: ${labels}${ns ? `, namespace: ${ns}` : ""}}
spec:
  containers: [{name: istio-proxy}]
---
`;
const sub = "{istio: ingressgateway, app: istio-ingressgateway, cusKey: cusValue}";

// Istio's testdata/conflicting-gateways*.yaml, gateway-different-port.yaml, analyze-list-type.yaml.
istioCases(conflictingGatewayAnalyzer, [
  {
    name: "conflicting gateways detect",
    yaml: gw("beta", ingress, [[80, "foo.bar"]]) + gw("alpha", ingress, [[80, "foo.bar"]]),
    expected: ["IST0145 Gateway default/alpha", "IST0145 Gateway default/beta"],
  },
  {
    name: "gateways with different port are non-conflicting",
    yaml: gw("beta", ingress, [[443, "foo.bar"]]) + gw("alpha", ingress, [[80, "foo.bar"]]),
    expected: [],
  },
  {
    name: "conflicting gateways with multiple port declarations",
    yaml: gw("beta", ingress, [[80, "foo.bar"], [90, "foo.bar"]]) +
      gw("alpha", ingress, [[70, "foo.bar"], [90, "foo.bar"]]),
    expected: ["IST0145 Gateway default/alpha", "IST0145 Gateway default/beta"],
  },
  {
    name: "conflicting gateways detect by sub selector",
    yaml: gw("beta", sub, [[80, "foo.bar"]]) +
      gw("alpha", "{istio: ingressgateway, cusKey: cusValue}", [[80, "foo.bar"]]) +
      podOf("my-ingressgateway-1", sub) + podOf("my-ingressgateway-2", sub),
    expected: ["IST0145 Gateway default/alpha", "IST0145 Gateway default/beta"],
  },
  {
    name: "conflicting gateways detect: no port",
    yaml: gw("beta", ingress, [[0, "foo.bar"]]) + gw("alpha", ingress, [[0, "bar.bar"]]),
    expected: [],
  },
  {
    name: "Analyze conflicting gateway with list type",
    yaml: gw("alpha", ingress, [[80, "foo.bar"]]) + `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: {name: beta-l}
  spec:
    selector: {istio: ingressgateway}
    servers: [{port: {number: 80, name: tcp, protocol: TCP}, hosts: ["foo.bar"]}]
- apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: {name: alpha-l}
  spec:
    selector: {istio: ingressgateway}
    servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["foo.bar"]}]
`,
    expected: [
      "IST0145 Gateway default/alpha",
      "IST0145 Gateway default/alpha-l",
      "IST0145 Gateway default/beta-l",
    ],
  },
]);

const internal = "{istio: ingressgateway, type: internal}";
const certGateways: [string, string, string, number, string, string][] = [
  ["gateway-01-test-01", "istio-system", ingress, 443, "01.test-01.com", "test-01-wildcard-cert"],
  ["gateway-02-test-01", "istio-system", ingress, 443, "02.test-01.com", "test-01-wildcard-cert"],
  ["gateway-01-test-02", "istio-system", ingress, 443, "01.test-02.com", "test-02-wildcard-cert"],
  ["gateway-02-test-02", "istio-system", internal, 443, "02.test-02.com", "test-02-wildcard-cert"],
  ["gateway-01-test-03", "default", ingress, 443, "01.test-03.com", "test-03-wildcard-cert"],
  ["gateway-02-test-03", "istio-system", internal, 443, "02.test-03.com", "test-03-wildcard-cert"],
  [
    "gateway-01-test-04",
    "istio-system",
    ingress,
    443,
    "01.test-04.com",
    "01-test-04-wildcard-cert",
  ],
  [
    "gateway-02-test-04",
    "istio-system",
    ingress,
    443,
    "02.test-04.com",
    "02-test-04-wildcard-cert",
  ],
  [
    "gateway-01-test-05",
    "istio-system",
    ingress,
    443,
    "01.test-05.com",
    "01-test-05-wildcard-cert",
  ],
  [
    "gateway-02-test-05",
    "istio-system",
    internal,
    443,
    "02.test-05.com",
    "02-test-05-wildcard-cert",
  ],
  ["gateway-01-test-06", "default", ingress, 443, "01.test-06.com", "01-test-06-wildcard-cert"],
  [
    "gateway-02-test-06",
    "istio-system",
    ingress,
    443,
    "02.test-06.com",
    "02-test-06-wildcard-cert",
  ],
  ["gateway-03-test-06", "default", ingress, 80, "03.test-06.com", ""],
  ["gateway-04-test-06", "default", ingress, 80, "04.test-06.com", ""],
];

// Istio's testdata/gateway-duplicate-certificate.yaml (its Secrets play no part here).
istioCases(gatewayCertificateAnalyzer, [{
  name: "certificate duplication in Gateway",
  yaml: certGateways.map(([name, ns, selector, port, host, cn]) =>
    gw(name, selector, [cn ? [port, host, cn] : [port, host]], ns)
  ).join("") + podOf("internal-ingressgateway", internal, "istio-system"),
  expected: [
    "IST0138 Gateway istio-system/gateway-01-test-01",
    "IST0138 Gateway istio-system/gateway-02-test-01",
    "IST0138 Gateway istio-system/gateway-01-test-02",
    "IST0138 Gateway default/gateway-01-test-03",
  ],
}]);
