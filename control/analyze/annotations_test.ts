import assert from "node:assert/strict";
import { annotationAnalyzer } from "./annotations.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const only = { analyzers: [annotationAnalyzer] };

const pod = (name: string, annotations: string, labels = "{}") =>
  `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: ${labels}
  annotations: ${annotations}
spec:
  containers: [{name: app}]
---
`;

Deno.test("annotations: unknown, misplaced, deprecated, and invalid values (Go's error text)", () => {
  const yaml = pod(
    "p",
    '{sidecar.istio.io/bogus: x, networking.istio.io/exportTo: ".", ' +
      'traffic.sidecar.istio.io/excludeInboundPorts: "80,x", ' +
      "prometheus.istio.io/merge-metrics: maybe, sidecar.istio.io/proxyCPU: 100mm}",
  );
  assert.deepEqual(linesOf(run(yaml, only)).map((l) => l.replace(/ \(.*?\)/, "")), [
    "Warning [IST0107] Misplaced annotation: networking.istio.io/exportTo can only be applied " +
    "to Service",
    "Warning [IST0108] Unknown annotation: sidecar.istio.io/bogus",
    "Warning [IST0125] Invalid annotation prometheus.istio.io/merge-metrics: " +
    'strconv.ParseBool: parsing "maybe": invalid syntax',
    "Warning [IST0125] Invalid annotation sidecar.istio.io/proxyCPU: unable to parse " +
    "quantity's suffix",
    "Warning [IST0125] Invalid annotation traffic.sidecar.istio.io/excludeInboundPorts: " +
    "excludeInboundPorts invalid: failed parsing port 'x': failed parsing port 'x': " +
    'strconv.ParseUint: parsing "x": invalid syntax',
  ]);
});

Deno.test("annotations: the deprecated inject annotation is quiet next to the label", () => {
  const ann = '{sidecar.istio.io/inject: "true"}';
  assert.deepEqual(linesOf(run(pod("p", ann), only)).map((l) => l.replace(/ \(.*?\)/, "")), [
    'Info [IST0135] Annotation "sidecar.istio.io/inject" has been deprecated in favor of the ' +
    '"sidecar.istio.io/inject" label and may not work in future Istio versions.',
  ]);
  assert.deepEqual(linesOf(run(pod("p", ann, '{sidecar.istio.io/inject: "true"}'), only)), []);
  // Set by Istio itself, and CIDR lists done right: nothing.
  const fine = pod(
    "q",
    '{istio.io/rev: x, sidecar.istio.io/status: "{}", ' +
      'traffic.sidecar.istio.io/includeOutboundIPRanges: "10.0.0.0/8,fd00::/8"}',
  );
  assert.deepEqual(linesOf(run(fine, only)), []);
});

// Istio's testdata/misannotated.yaml ("misannoted").
istioCases(annotationAnalyzer, [{
  name: "misannoted",
  yaml: `apiVersion: v1
kind: Service
metadata:
  name: httpbin
  labels: {app: httpbin}
  annotations: {networking.istio.io/exportThree: bar, networking.istio.io/exportTo: baz}
spec:
  ports: [{name: http, port: 8000, targetPort: 80}]
  selector: {app: httpbin}
---
` + pod(
    "invalid-annotations",
    "{readiness.status.sidecar.istio.io/initialDelaySeconds: bar, " +
      'readiness.status.sidecar.istio.io/periodSeconds: "10"}',
  ) + `apiVersion: v1
kind: Service
metadata:
  name: details
  labels: {app: details}
  annotations: {kubernetes.io/psp: my-privileged-psp}
spec:
  ports: [{name: http, port: 80, targetPort: 9080}]
  selector: {app: details}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: gateway
  annotations: {istio.io/ingress.class: "istio"}
spec:
  rules: [{http: {paths: [{path: /productpage, backend: {serviceName: productpage, servicePort: 8080}}]}}]
---
` + pod(
    "grafana-test",
    '{proxy.istio.io/config: "{}", helm.sh/hook: test-success, kubernetes.io/ingress.class: ' +
      '"istio", gateway.istio.io/controller-version: "5"}',
    "{app: grafana-test, istio: grafana}",
  ) + ["annotation-set-by-default", "anno-not-set-by-default"].map((name) =>
    pod(
      name,
      "{sidecar.istio.io/interceptionMode: REDIRECT, traffic.sidecar.istio.io/excludeInboundPorts: " +
        "\"15020\", traffic.sidecar.istio.io/includeInboundPorts: '*', " +
        "traffic.sidecar.istio.io/includeOutboundIPRanges: '*', " +
        'gateway.istio.io/controller-version: "5"}',
      `{app: ${name}}`,
    )
  ).join("") + `apiVersion: apps/v1
kind: Deployment
metadata:
  name: fortio-deploy
  annotations: {sidecar.istio.io/statsInclusionPrefixes: cluster.outbound}
spec:
  replicas: 1
  selector: {matchLabels: {app: fortio}}
  template:
    metadata:
      annotations:
      labels: {app: fortio}
    spec:
      containers: [{name: fortio}]
---
apiVersion: v1
kind: Namespace
metadata:
  name: staging
  annotations: {kubernetes.io/ingress.class: "foo"}
spec: {}
---
` + pod("ignore-istio-annotations", "{istio.io/rev: rev, ambient.istio.io/redirection: enabled}"),
  expected: [
    "IST0108 Service default/httpbin",
    "IST0125 Pod default/invalid-annotations",
    "IST0107 Pod default/grafana-test",
    "IST0107 Deployment default/fortio-deploy",
    "IST0107 Namespace staging",
    "IST0135 Deployment default/fortio-deploy",
  ],
}]);
