import assert from "node:assert/strict";
import { gatewayWorkloadAnalyzer } from "./gateway_workloads.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [gatewayWorkloadAnalyzer] };

const gateway = (selector: string, ports = [80], ns = "default") =>
  `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: ${ns}}
spec:
${selector}
  servers:
${
    ports.map((p) => `  - port: {number: ${p}, name: http-${p}, protocol: HTTP}\n    hosts: ["*"]`)
      .join("\n")
  }
---
`;

const deployment = (labels: string, ns = "edge") =>
  `apiVersion: apps/v1
kind: Deployment
metadata: {name: edge-gateway, namespace: ${ns}}
spec:
  template:
    metadata:
      labels: ${labels}
---
`;

Deno.test("gateway workloads: mesh's default ingress gateway satisfies istio=ingressgateway", () => {
  const yaml = gateway("  selector:\n    istio: ingressgateway");
  assert.deepEqual(linesOf(run(yaml, only)), []);
  // Without it (as with a cluster that has no ingress gateway), the selector matches nothing.
  assert.deepEqual(linesOf(run(yaml, { ...only, defaultIngressGateway: false })), [
    `Error [IST0101] (Gateway default/gw t.yaml:${
      lineOf(yaml, "istio: ingressgateway")
    }) Referenced selector not found: "istio=ingressgateway"`,
  ]);
});

Deno.test("gateway workloads: a selector that matches no workload is IST0101", () => {
  const yaml = gateway("  selector:\n    app: edge\n    tier: front");
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Error [IST0101] (Gateway default/gw t.yaml:${
      lineOf(yaml, "app: edge")
    }) Referenced selector not found: "app=edge,tier=front"`,
  ]);
  // A pod template in any namespace matches.
  const withDeployment = yaml + deployment("{app: edge, tier: front, version: v1}");
  assert.deepEqual(linesOf(run(withDeployment, only)), []);
  // Labels must all match.
  assert.equal(linesOf(run(yaml + deployment("{app: edge}"), only)).length, 1);
});

Deno.test("gateway workloads: an empty selector needs some workload", () => {
  const yaml = gateway("  selector: {}");
  assert.deepEqual(linesOf(run(yaml, only)), []);
  assert.deepEqual(linesOf(run(yaml, { ...only, defaultIngressGateway: false })), [
    `Error [IST0101] (Gateway default/gw t.yaml:${lineOf(yaml, "selector: {}")}) ` +
    'Referenced selector not found: ""',
  ]);
});

Deno.test("gateway workloads: ports must be (target) ports of the Services in front (IST0162)", () => {
  const service = `apiVersion: v1
kind: Service
metadata: {name: edge-gateway, namespace: edge}
spec:
  selector: {app: edge}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443}
  - {name: dns, port: 53, protocol: UDP}
---
`;
  const yaml = gateway("  selector:\n    app: edge", [8080, 443, 80, 53]) +
    deployment("{app: edge}") + service;
  const msg = (p: number) =>
    `Warning [IST0162] (Gateway default/gw t.yaml:${
      lineOf(yaml, "app: edge")
    }) The gateway is listening on a ` +
    `target port (port ${p}) that is not defined in the Service associated with its workload ` +
    "instances (Pod selector app=edge). If you need to access the gateway port through the " +
    "gateway Service, it will not be available.";
  // 80 is the Service port that forwards to 8080: Istio accepts either (regression).
  assert.deepEqual(linesOf(run(yaml, only)), [msg(53)]);
});

Deno.test("gateway workloads: no Service in front means no port check (mesh listens itself)", () => {
  const yaml = gateway("  selector:\n    app: edge", [8080, 9999]) + deployment("{app: edge}");
  assert.deepEqual(linesOf(run(yaml, only)), []);
  // A Service in another namespace than the workloads doesn't select them.
  const elsewhere = yaml + `apiVersion: v1
kind: Service
metadata: {name: edge-gateway, namespace: other}
spec:
  selector: {app: edge}
  ports: [{port: 80}]
`;
  assert.deepEqual(linesOf(run(elsewhere, only)), []);
});

const gw = (name: string, selector: string, ports: number[]) =>
  `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}}
spec:
  selector: ${selector}
${
    ports.length
      ? "  servers:\n" +
        ports.map((p) => `  - port: {number: ${p}, name: http2, protocol: HTTP}\n    hosts: ["*"]`)
          .join("\n")
      : ""
  }
---
`;
const pod = (name: string, labels: string) =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: ${labels}}
spec:
  containers: [{name: istio-proxy}]
---
`;
const svc = (name: string, selector: string, port: string) =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  ports: [${port}]
  selector: ${selector}
---
`;
const privateGw = "{myapp: private-ingressgateway}";

// Istio's testdata/gateway-*.yaml for gateway.IngressGatewayPortAnalyzer.
istioCases(gatewayWorkloadAnalyzer, [
  {
    name: "gatewayNoWorkload",
    yaml: gw("httpbin-gateway", "{istio: ingresstypo}", []),
    expected: ["IST0101 Gateway default/httpbin-gateway"],
  },
  {
    // Deliberate difference: istioctl expects IST0162 for port 8004 against the Service of its
    // own default ingress gateway (80, 443, 31400, 15443); mesh's default gateway has no Service
    // and listens on the server ports itself.
    name: "gatewayBadPort (differs by design)",
    yaml: gw("httpbin-gateway", "{istio: ingressgateway}", [80, 8004]),
    expected: [],
  },
  {
    name: "gatewayCorrectPort",
    yaml: gw("httpbin-gateway", "{istio: ingressgateway}", [80]),
    expected: [],
  },
  {
    name: "gatewayCustomIngressGateway",
    yaml: gw("httpbin-gateway", privateGw, [8003]) + pod("my-ingressgateway-1234", privateGw) +
      svc(
        "my-ingressgateway",
        privateGw,
        "{name: http2, nodePort: 31380, port: 80, protocol: TCP, targetPort: 8003}",
      ),
    expected: [],
  },
  {
    name: "gatewayCustomIngressGatewayBadPort",
    yaml: gw("httpbin-gateway", privateGw, [8004]) + pod("my-ingressgateway-1234", privateGw) +
      svc(
        "my-ingressgateway",
        privateGw,
        "{name: http2, nodePort: 31380, port: 80, protocol: TCP, targetPort: 8003}",
      ),
    expected: ["IST0162 Gateway default/httpbin-gateway"],
  },
  {
    name: "gatewayCustomIngressGatewayBadPortWithoutTarget",
    yaml: gw("httpbin-gateway", privateGw, [8004]) + pod("my-ingressgateway-1234", privateGw) +
      svc(
        "my-ingressgateway",
        privateGw,
        "{name: http2, nodePort: 31380, port: 80, protocol: TCP}",
      ),
    expected: ["IST0162 Gateway default/httpbin-gateway"],
  },
  {
    name: "gatewayCustomIngressGatewayTranslation",
    yaml: gw("httpbin-gateway", privateGw, [80]) + pod("my-ingressgateway-1234", privateGw) +
      svc(
        "my-ingressgateway",
        privateGw,
        "{name: http2, nodePort: 31380, port: 80, protocol: TCP, targetPort: 8003}",
      ),
    expected: [],
  },
  {
    name: "gatewayServiceMatchPod",
    yaml: gw("httpbin8001-gateway", "{myapp: ingressgateway-8001}", [8001]) +
      gw("httpbin8002-gateway", "{myapp: ingressgateway-8001}", [8002]) +
      pod("my-ingressgateway-8001", "{myapp: ingressgateway-8001}") +
      pod("my-ingressgateway-8002", "{myapp: ingressgateway-8002}") +
      svc(
        "my-8002",
        "{myapp: ingressgateway-8002}",
        "{name: http2, nodePort: 31380, port: 8002, protocol: TCP, targetPort: 80}",
      ) +
      svc("my-8001", "{myapp: ingressgateway-8001}", "{name: http2, port: 8001, protocol: TCP}"),
    expected: ["IST0162 Gateway default/httpbin8002-gateway"],
  },
]);
