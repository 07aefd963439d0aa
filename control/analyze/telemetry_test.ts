import assert from "node:assert/strict";
import {
  telemetryDefaultSelectorAnalyzer,
  telemetryLightstepAnalyzer,
  telemetryProviderAnalyzer,
  telemetrySelectorAnalyzer,
} from "./telemetry.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const telemetry = (name: string, ns: string, spec: string) =>
  `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
---
`;
const meshConfig = (spec: string) =>
  `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: istio, namespace: istio-system}
spec:
${spec}
---
`;
const pod = (name: string, ns: string, labels: string) =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: ${labels}}
---
`;

Deno.test("telemetry: a default access-log provider in the MeshConfig makes empty ones fine", () => {
  const t = telemetry("logs", "istio-system", '  accessLogging:\n  - filter: {expression: "true"}');
  const only = { analyzers: [telemetryProviderAnalyzer] };
  assert.deepEqual(linesOf(run(t, only), "IST0157"), [
    "Warning [IST0157] (Telemetry istio-system/logs t.yaml:1) The Telemetry logs in namespace " +
    '"istio-system" with empty providers will be ignored.',
  ]);
  const withDefault = meshConfig(
    "  extensionProviders:\n  - {name: envoy, envoyFileAccessLog: {path: /dev/stdout}}\n" +
      "  defaultProviders: {accessLogging: [envoy]}",
  );
  assert.deepEqual(linesOf(run(withDefault + t, only), "IST0157"), []);
});

const selected = (name: string, labels: string, ns = "default") =>
  telemetry(name, ns, `  selector:\n    matchLabels: ${labels}`);

// Istio's testdata/telemetry-*.yaml; the MeshConfig file of "Telemetry Lightstep" becomes mesh's
// own MeshConfig resource.
istioCases(telemetryProviderAnalyzer, [
  {
    name: "Analyze invalid telemetry (telemetry-invalid-provider)",
    yaml: telemetry(
      "mesh-default",
      "istio-system",
      '  accessLogging:\n  - providers: [{name: envoy}]\n  - filter: {expression: "response.code >= 400"}',
    ),
    expected: ["IST0157 Telemetry istio-system/mesh-default"],
  },
  {
    name: "Analyze invalid telemetry (telemetry-disable-provider)",
    yaml: telemetry(
      "mesh-default",
      "istio-system",
      "  accessLogging:\n  - providers: [{name: envoy}]",
    ) +
      telemetry("mesh-default", "foo", "  accessLogging:\n  - disabled: true"),
    expected: [],
  },
]);
istioCases(telemetrySelectorAnalyzer, [{
  name: "telemetrySelector",
  yaml: pod("productpage", "default", "{app: productpage}") +
    pod("productpage-other", "other", "{app: productpage}") +
    pod("reviews", "default", "{app: reviews}") +
    pod("ratings", "default", "{app: ratings-app, myapp: ratings-myapp}") +
    selected("maps-correctly-no-conflicts", "{app: productpage}") +
    selected("maps-to-nonexistent", "{app: bogus}") +
    selected("maps-to-different-ns", "{app: reviews}", "other") +
    selected("dupe-1", "{app: reviews}") + selected("dupe-2", "{app: reviews}") +
    selected("overlap-1", "{app: ratings-app}") + selected("overlap-2", "{myapp: ratings-myapp}"),
  expected: [
    "IST0101 Telemetry default/maps-to-nonexistent",
    "IST0101 Telemetry other/maps-to-different-ns",
    "IST0159 Telemetry default/dupe-1",
    "IST0159 Telemetry default/dupe-2",
    "IST0159 Telemetry default/overlap-1",
    "IST0159 Telemetry default/overlap-2",
  ],
}]);
const tracing = "  metrics:\n  - providers: [{name: prometheus}]\n" +
  "    overrides: [{match: {metric: ALL_METRICS}, disabled: false}]";
istioCases(telemetryDefaultSelectorAnalyzer, [{
  name: "telemetryDefaultSelector",
  yaml: telemetry("no-selector", "ns1", tracing) +
    telemetry("has-selector", "ns1", `  selector:\n    matchLabels: {app: foo}\n${tracing}`) +
    telemetry("has-conflict-1", "ns2", tracing) + telemetry("has-conflict-2", "ns2", tracing),
  expected: [
    "IST0160 Telemetry ns2/has-conflict-2",
    "IST0160 Telemetry ns2/has-conflict-1",
  ],
}]);
istioCases(telemetryLightstepAnalyzer, [{
  name: "Telemetry Lightstep",
  yaml:
    telemetry("mesh-default", "istio-system", "  tracing:\n  - providers: [{name: lightstep}]") +
    meshConfig(
      "  extensionProviders:\n  - name: lightstep\n    lightstep:\n" +
        '      service: lightstep.monitoring.svc.cluster.local\n      port: 443\n      accessToken: "fake-token"',
    ),
  expected: ["IST0002 Telemetry istio-system/mesh-default"],
}]);
