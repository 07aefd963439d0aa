import { k8sGatewaySelectorAnalyzer } from "./k8s_gateway_selectors.ts";
import { istioCases } from "./testutil.ts";

const policy = (apiVersion: string, kind: string, name: string, extra = "") =>
  `apiVersion: ${apiVersion}
kind: ${kind}
metadata: {namespace: default, name: ${name}}
spec:
  selector:
    matchLabels: {gateway.networking.k8s.io/gateway-name: bookinfo-gateway}
${extra}---
`;

// Istio's testdata/k8sgateway-selector.yaml ("KubernetesGatewaySelector").
istioCases(k8sGatewaySelectorAnalyzer, [{
  name: "KubernetesGatewaySelector",
  yaml: `apiVersion: v1
kind: Pod
metadata:
  labels: {gateway.networking.k8s.io/gateway-name: bookinfo-gateway}
  name: bookinfo-gateway-istio-6ff4cf9645-xbqmc
  namespace: default
spec:
  containers: [{image: "proxyv2:1.3.1", name: istio-proxy}]
---
` + policy("security.istio.io/v1", "RequestAuthentication", "ra-ineffective") +
    policy("security.istio.io/v1", "AuthorizationPolicy", "ap-ineffective") +
    policy(
      "extensions.istio.io/v1alpha1",
      "WasmPlugin",
      "wasmplugin-ineffective",
      "  url: google.com\n",
    ) +
    policy("telemetry.istio.io/v1", "Telemetry", "telemetry-ineffective") +
    policy(
      "telemetry.istio.io/v1",
      "Telemetry",
      "telemetry-effective",
      "  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: bookinfo-gateway}\n",
    ),
  expected: [
    "IST0166 RequestAuthentication default/ra-ineffective",
    "IST0166 AuthorizationPolicy default/ap-ineffective",
    "IST0166 WasmPlugin default/wasmplugin-ineffective",
    "IST0166 Telemetry default/telemetry-ineffective",
  ],
}]);
