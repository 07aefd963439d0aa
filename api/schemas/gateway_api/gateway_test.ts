/**
 * Gateway API Gateway validation as the apiserver decides it (the CRD's schema and CEL rules;
 * Istio adds no webhook checks for it), and GatewayClass and ReferenceGrant schemas.
 */
import { tableTest } from "../case_table.ts";

const GATEWAY = { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway" };

const L = (extra = "") => `
gatewayClassName: istio
listeners:
- name: http
  port: 80
  protocol: HTTP${extra}`;

tableTest("Gateway API Gateway: schema and CEL rules", GATEWAY, [
  { name: "one HTTP listener", yaml: L(), want: "valid" },
  {
    name: "no listeners",
    yaml: "gatewayClassName: istio\nlisteners: []",
    want: "error",
    message: "at least one listener",
  },
  {
    name: "no gatewayClassName",
    yaml: "listeners: [{name: a, port: 80, protocol: HTTP}]",
    want: "error",
    message: "gatewayClassName",
  },
  {
    name: "port 0",
    yaml: "gatewayClassName: istio\nlisteners: [{name: a, port: 0, protocol: HTTP}]",
    want: "error",
    message: "1 to 65535",
  },
  {
    name: "uppercase listener name",
    yaml: "gatewayClassName: istio\nlisteners: [{name: Web, port: 80, protocol: HTTP}]",
    want: "error",
    message: "invalid name",
  },
  { name: "wildcard hostname", yaml: L('\n  hostname: "*.example.com"'), want: "valid" },
  {
    name: "hostname with a wildcard inside",
    yaml: L('\n  hostname: "a.*.example.com"'),
    want: "error",
    message: "invalid hostname",
  },
  {
    name: "IP hostname is refused by the pattern? no: digits are a DNS name",
    yaml: L('\n  hostname: "1.2.3.4"'),
    want: "valid",
  },
  {
    name: "uppercase hostname",
    yaml: L("\n  hostname: Example.com"),
    want: "error",
    message: "invalid hostname",
  },
  {
    name: "tls on HTTP",
    yaml: L("\n  tls: {mode: Terminate, certificateRefs: [{name: c}]}"),
    want: "error",
    message: "tls must not be specified for protocols",
  },
  {
    name: "HTTPS with Passthrough",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 443, protocol: HTTPS, tls: {mode: Passthrough}}]",
    want: "error",
    message: "tls mode must be Terminate for protocol HTTPS",
  },
  {
    name: "HTTPS without tls (placeholder listener)",
    yaml: "gatewayClassName: istio\nlisteners: [{name: a, port: 443, protocol: HTTPS}]",
    want: "valid",
  },
  {
    name: "TLS without mode",
    yaml: "gatewayClassName: istio\nlisteners: [{name: a, port: 443, protocol: TLS}]",
    want: "error",
    message: "tls mode must be set for protocol TLS",
  },
  {
    name: "TLS passthrough",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 443, protocol: TLS, tls: {mode: Passthrough}}]",
    want: "valid",
  },
  {
    name: "Terminate without certificateRefs or options",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 443, protocol: HTTPS, tls: {mode: Terminate}}]",
    want: "error",
    message: "certificateRefs or options must be specified",
  },
  {
    name: "Terminate with Istio's terminate-mode option only",
    yaml: `gatewayClassName: istio
listeners:
- name: a
  port: 443
  protocol: HTTPS
  tls: {options: {gateway.istio.io/tls-terminate-mode: ISTIO_MUTUAL}}`,
    want: "valid",
  },
  {
    name: "hostname on TCP",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 9000, protocol: TCP, hostname: a.example.com}]",
    want: "error",
    message: "hostname must not be specified for protocols ['TCP', 'UDP']",
  },
  {
    name: "duplicate listener names",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 80, protocol: HTTP}, {name: a, port: 81, protocol: HTTP}]",
    want: "error",
    message: "Listener name must be unique",
  },
  {
    name: "same port, protocol and hostname twice",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: HTTP}]",
    want: "error",
    message: "Combination of port, protocol and hostname must be unique",
  },
  {
    name: "same port and protocol, other hostnames",
    yaml: `gatewayClassName: istio
listeners:
- {name: a, port: 80, protocol: HTTP, hostname: a.example.com}
- {name: b, port: 80, protocol: HTTP, hostname: b.example.com}`,
    want: "valid",
  },
  {
    name: "lowercase protocol passes the pattern (Istio refuses it in status)",
    yaml: "gatewayClassName: istio\nlisteners: [{name: a, port: 80, protocol: http}]",
    want: "valid",
  },
  {
    name: "protocol with a space",
    yaml: "gatewayClassName: istio\nlisteners: [{name: a, port: 80, protocol: 'HT TP'}]",
    want: "error",
    message: "invalid protocol",
  },
  {
    name: "allowedRoutes from Selector",
    yaml: L(
      "\n  allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}}}}",
    ),
    want: "valid",
  },
  {
    name: "allowedRoutes from Nowhere",
    yaml: L("\n  allowedRoutes: {namespaces: {from: Nowhere}}"),
    want: "error",
    message: "must be one of All, Selector, Same",
  },
  {
    name: "allowedRoutes kinds",
    yaml: L(
      "\n  allowedRoutes: {kinds: [{kind: HTTPRoute}, {group: gateway.networking.k8s.io, kind: GRPCRoute}]}",
    ),
    want: "valid",
  },
  {
    name: "allowedRoutes kind with a dot",
    yaml: L("\n  allowedRoutes: {kinds: [{kind: HTTP.Route}]}"),
    want: "error",
    message: "invalid kind",
  },
  {
    name: "certificateRef to another namespace",
    yaml:
      "gatewayClassName: istio\nlisteners: [{name: a, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: c, namespace: certs}]}}]",
    want: "valid",
  },
  {
    name: "a Hostname address (mesh warns: not used)",
    yaml: `${L()}\naddresses: [{type: Hostname, value: istio-ingressgateway}]`,
    want: "valid",
  },
  {
    name: "a Hostname address with an underscore",
    yaml: `${L()}\naddresses: [{type: Hostname, value: a_b}]`,
    want: "error",
    message: "Hostname value must be empty or contain only valid characters",
  },
  {
    name: "the same IP address twice",
    yaml: `${L()}\naddresses: [{value: 1.2.3.4}, {type: IPAddress, value: 1.2.3.4}]`,
    want: "error",
    message: "IPAddress values must be unique",
  },
  {
    name: "an unknown field",
    yaml: `${L()}\nlisteneers: []`,
    want: "error",
    message: "unknown field",
  },
  {
    name: "infrastructure labels",
    yaml: `${L()}\ninfrastructure: {labels: {team: a}}`,
    want: "valid",
  },
  {
    name: "infrastructure label with a bad key",
    yaml: `${L()}\ninfrastructure: {labels: {"-bad": a}}`,
    want: "error",
    message: "invalid label key",
  },
  {
    name: "frontend perPort twice",
    yaml: `${L()}
tls:
  frontend:
    default: {}
    perPort:
    - {port: 443, tls: {}}
    - {port: 443, tls: {}}`,
    want: "error",
    message: "Port for TLS configuration must be unique",
  },
  {
    name: "a lowercase hint for class",
    yaml: "gatewayClassName: ''\nlisteners: [{name: a, port: 80, protocol: HTTP}]",
    want: "error",
    message: "name may not be empty",
  },
]);

tableTest("Gateway API GatewayClass", {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "GatewayClass",
}, [
  {
    name: "Istio's controller",
    yaml: "controllerName: istio.io/gateway-controller",
    want: "valid",
  },
  {
    name: "no domain",
    yaml: "controllerName: gateway-controller",
    want: "error",
    message: "invalid controllerName",
  },
  {
    name: "description too long",
    yaml: `controllerName: a.io/b\ndescription: "${"x".repeat(65)}"`,
    want: "error",
    message: "64 characters",
  },
  {
    name: "missing controllerName",
    yaml: "description: x",
    want: "error",
    message: "controllerName",
  },
]);

tableTest("Gateway API ReferenceGrant", {
  apiVersion: "gateway.networking.k8s.io/v1beta1",
  kind: "ReferenceGrant",
}, [
  {
    name: "routes to Services",
    yaml:
      "from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]\nto: [{group: '', kind: Service}]",
    want: "valid",
  },
  {
    name: "one named Secret",
    yaml:
      "from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: edge}]\nto: [{group: '', kind: Secret, name: cert}]",
    want: "valid",
  },
  {
    name: "empty from",
    yaml: "from: []\nto: [{group: '', kind: Service}]",
    want: "error",
    message: "from needs at least one entry",
  },
  {
    name: "from without namespace",
    yaml:
      "from: [{group: gateway.networking.k8s.io, kind: HTTPRoute}]\nto: [{group: '', kind: Service}]",
    want: "error",
    message: "namespace",
  },
  {
    name: "to without group",
    yaml:
      "from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]\nto: [{kind: Service}]",
    want: "error",
    message: "group",
  },
]);
