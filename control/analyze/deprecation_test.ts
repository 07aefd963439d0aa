import { deprecationAnalyzer } from "./deprecation.ts";
import { istioCases } from "./testutil.ts";

// Istio's testdata/deprecation.yaml (an EnvoyFilter and a QuotaSpec ride along, unread).
istioCases(deprecationAnalyzer, [
  {
    name: "deprecation",
    yaml: `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: istio-multicluster-egressgateway, namespace: istio-system}
spec:
  workloadLabels: {istio: egressgateway}
  filters: [{listenerMatch: {portNumber: 15443}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage, namespace: foo}
spec:
  hosts: [productpage]
  http:
  - fault:
      delay: {percent: 50}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: no-selector, namespace: default}
spec:
  ingress:
  - port: {number: 9080}
    defaultEndpoint: unix:///var/run/some.sock
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: {host: example, port: {number: 9080}}
---
apiVersion: config.istio.io/v1alpha2
kind: QuotaSpec
metadata: {name: request-count, namespace: istio-system}
spec:
  rules: [{quotas: [{charge: 1, quota: requestcount}]}]
`,
    expected: [
      "IST0002 VirtualService foo/productpage",
      "IST0002 Sidecar default/no-selector",
    ],
  },
  {
    name: "removed rbac.istio.io CRD (mesh's own case)",
    yaml: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: serviceroles.rbac.istio.io}
spec:
  group: rbac.istio.io
  names: {kind: ServiceRole}
`,
    expected: ["IST0002 CustomResourceDefinition serviceroles.rbac.istio.io"],
  },
]);
