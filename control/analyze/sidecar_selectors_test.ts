import assert from "node:assert/strict";
import { sidecarSelectorAnalyzer } from "./sidecar_selectors.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const sidecar = (name: string, ns: string, selector?: string) =>
  `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${name}, namespace: ${ns}}
spec:
${selector ? `  workloadSelector:\n    labels: ${selector}\n` : ""}  egress:
  - hosts: ["./*"]
---
`;
const pod = (name: string, ns: string, labels: string, annotations = "") =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: ${labels}${
    annotations ? `, annotations: ${annotations}` : ""
  }}
---
`;

Deno.test("sidecar selectors: pod templates count as workloads; messages as istioctl's", () => {
  const yaml = sidecar("a", "default", "{app: web}") + sidecar("b", "default", "{app: web}") +
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
`;
  assert.deepEqual(
    linesOf(run(yaml, { analyzers: [sidecarSelectorAnalyzer] })).map((l) =>
      l.replace(/ \(.*?\)/, "")
    ),
    [
      'Error [IST0110] The Sidecars [a b] in namespace "default" select the same workload pod ' +
      '"web", which can lead to undefined behavior.',
    ].flatMap((l) => [l, l]),
  ); // one for each Sidecar
});

// Istio's testdata/sidecar-selector.yaml and sidecar-default-selector.yaml.
istioCases(sidecarSelectorAnalyzer, [
  {
    name: "sidecarSelector",
    yaml: pod("productpage", "default", "{app: productpage}") +
      pod("productpage-other", "other", "{app: productpage}") +
      pod("reviews", "default", "{app: reviews}") +
      pod("ratings", "default", "{app: ratings-app, myapp: ratings-myapp}") +
      sidecar("maps-correctly-no-conflicts", "default", "{app: productpage}") +
      sidecar("maps-to-nonexistent", "default", "{app: bogus}") +
      sidecar("maps-to-different-ns", "other", "{app: reviews}") +
      sidecar("dupe-1", "default", "{app: reviews}") +
      sidecar("dupe-2", "default", "{app: reviews}") +
      sidecar("overlap-1", "default", "{app: ratings-app}") +
      sidecar("overlap-2", "default", "{myapp: ratings-myapp}"),
    expected: [
      "IST0101 Sidecar default/maps-to-nonexistent",
      "IST0101 Sidecar other/maps-to-different-ns",
      "IST0110 Sidecar default/dupe-1",
      "IST0110 Sidecar default/dupe-2",
      "IST0110 Sidecar default/overlap-1",
      "IST0110 Sidecar default/overlap-2",
    ],
  },
  {
    name: "sidecarDefaultSelector",
    yaml: sidecar("no-selector", "ns1") + sidecar("has-selector", "ns1", "{app: foo}") +
      sidecar("has-conflict-1", "ns2") + sidecar("has-conflict-2", "ns2") +
      `apiVersion: v1
kind: Namespace
metadata: {name: ns1}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns2}
---
apiVersion: v1
kind: Pod
metadata: {name: random-pod, namespace: ns1, labels: {app: foo}}
spec:
  containers: [{image: proxyv2}]
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-ambient, labels: {istio.io/dataplane-mode: ambient}}
---
` +
      pod(
        "random-pod-ambient",
        "ns-ambient",
        "{app: ambient}",
        "{ambient.istio.io/redirection: enabled}",
      ) +
      `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: namespace-scoped, namespace: ns-ambient}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: pod-scoped, namespace: ns-ambient}
spec:
  workloadSelector:
    labels: {app: ambient}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-not-ambient, labels: {istio.io/dataplane-mode: ambient, istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns-not-ambient-rev, labels: {istio.io/dataplane-mode: ambient, istio.io/rev: canary}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: namespace-not-ambient, namespace: ns-not-ambient}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: namespace-not-ambient, namespace: ns-not-ambient-rev}
`,
    expected: [
      "IST0111 Sidecar ns2/has-conflict-2",
      "IST0111 Sidecar ns2/has-conflict-1",
      "IST0167 Sidecar ns-ambient/namespace-scoped",
      "IST0167 Sidecar ns-ambient/pod-scoped",
    ],
  },
]);
