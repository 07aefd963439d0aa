import assert from "node:assert/strict";
import { protocolKnown, servicePortAnalyzer } from "./service_ports.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

Deno.test("service ports: the protocol as Istio reads it from names and appProtocol", () => {
  const known = (name: string | undefined, port = 8080, extra = {}) =>
    protocolKnown({ port, protocol: "TCP", ...(name !== undefined ? { name } : {}), ...extra });
  assert.ok(known("http"));
  assert.ok(known("http-web"));
  assert.ok(known("GRPC-Web-ui"));
  assert.ok(known("tcp"));
  assert.ok(!known("web"));
  assert.ok(!known(undefined));
  assert.ok(known("web", 3306)); // well-known TCP ports
  assert.ok(known("web", 8080, { appProtocol: "kubernetes.io/h2c" }));
  assert.ok(!known("http", 8080, { appProtocol: "hbone" })); // appProtocol wins
  assert.ok(known(undefined, 8080, { protocol: "UDP" }));
});

Deno.test("service ports: IST0118 names the port, its number and targetPort", () => {
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
  - {name: web, port: 80, targetPort: http}
  - {name: http-ok, port: 81}
`;
  assert.deepEqual(linesOf(run(yaml, { analyzers: [servicePortAnalyzer] })), [
    `Info [IST0118] (Service default/web t.yaml:${
      lineOf(yaml, "name: web,")
    }) Port name web (port: 80, targetPort: http) doesn't follow the naming convention of ` +
    "Istio port.",
  ]);
});

const svc = (name: string, ns: string, ports: string, extra = "") =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}${extra}}
spec:
  ports: ${ports}
---
`;
const ext = (name: string, ns: string, port: string) =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  externalName: nginx.example.com
  ports: [${port}]
  type: ExternalName
---
`;

// Istio's testdata/service-*.yaml and *-external-name-service-type.yaml.
istioCases(servicePortAnalyzer, [
  {
    name: "portNameNotFollowConvention",
    yaml: svc(
      "my-service1",
      "my-namespace1",
      "[{protocol: TCP, port: 8080, targetPort: 8080}, {protocol: TCP, port: 8081, targetPort: 8081}]",
    ) +
      svc(
        "my-service2",
        "my-namespace2",
        "[{name: foo, protocol: TCP, port: 8080, targetPort: 8080}]",
      ),
    expected: [
      "IST0118 Service my-namespace1/my-service1",
      "IST0118 Service my-namespace1/my-service1",
      "IST0118 Service my-namespace2/my-service2",
    ],
  },
  {
    name: "namedPort",
    yaml: svc(
      "my-service",
      "my-namespace",
      "[{name: tcp-foo, protocol: TCP, port: 8080, targetPort: 8080}]",
    ) +
      svc(
        "reviews-istio-waypoint",
        "ambient",
        "[{appProtocol: tcp, name: status-port, port: 15021, protocol: TCP, targetPort: 15021}, " +
          "{appProtocol: hbone, name: mesh, port: 15008, protocol: TCP, targetPort: 15008}]",
        ", labels: {gateway.istio.io/managed: istio.io-mesh-controller}",
      ) +
      svc(
        "gateway-istio",
        "istio-ingress",
        "[{appProtocol: tcp, name: status-port, port: 15021, protocol: TCP, targetPort: 15021}, " +
          "{appProtocol: http, name: default, port: 80, protocol: TCP, targetPort: 80}]",
        ", labels: {gateway.istio.io/managed: istio.io-gateway-controller}",
      ),
    expected: [],
  },
  {
    name: "unnamedPortInSystemNamespace",
    yaml: svc(
      "my-service1",
      "kube-system",
      "[{protocol: TCP, port: 8080}, {protocol: TCP, port: 8081}]",
    ) +
      svc(
        "my-service2",
        "istio-system",
        "[{name: foo, protocol: TCP, port: 8080}]",
        ", labels: {istio: xxx}",
      ) +
      svc("my-service3", "kube-public", "[{name: bar, protocol: TCP, port: 8080}]") +
      svc(
        "my-service4",
        "istio-system",
        "[{name: foo, protocol: TCP, port: 8080}]",
        ", labels: {release: istio}",
      ),
    expected: [],
  },
  {
    name: "ExternalNameServiceTypeInvalidPortName",
    yaml: ext("nginx", "nginx-ns", "{name: nginx, port: 443, protocol: TCP, targetPort: 443}") +
      ext("nginx-svc2", "nginx-ns2", "{port: 443, protocol: TCP, targetPort: 443}") +
      ext("nginx-svc3", "nginx-ns3", "{name: tcp, port: 443, protocol: TCP, targetPort: 443}"),
    expected: [
      "IST0150 Service nginx-ns/nginx",
      "IST0150 Service nginx-ns2/nginx-svc2",
      "IST0150 Service nginx-ns3/nginx-svc3",
    ],
  },
  {
    name: "ExternalNameServiceTypeValidPortName",
    yaml: ext(
      "nginx-svc4",
      "nginx-ns4",
      "{name: https, port: 443, protocol: TCP, targetPort: 443}",
    ),
    expected: [],
  },
]);
