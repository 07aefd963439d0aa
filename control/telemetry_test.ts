import assert from "node:assert/strict";
import { parseResources, type Resource } from "../api/resources.ts";
import { formatDiagnostic } from "../api/diagnostic.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { buildSnapshot, meshSettingsFrom } from "./snapshot.ts";
import { ServiceRegistry } from "./registry.ts";
import {
  accessLogFor,
  celStringLiteral,
  metricsFor,
  prometheusLabel,
  tracingFor,
} from "./telemetry.ts";

function parse(text: string): Resource[] {
  const { resources, diagnostics } = parseResources(text, "t.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  return resources;
}

const MESH = `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  defaultConfig: {tracing: {sampling: 5}}
  extensionProviders:
  - name: zipkin
    zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411, maxTagLength: 64}
  - name: external
    zipkin: {service: traces.example.com, port: 443, path: /v2/spans}
`;

const ZIPKIN_SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: zipkin, namespace: istio-system}
spec:
  hosts: [zipkin.istio-system.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 9411, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
`;

function snapshotWith(text: string, mesh = MESH) {
  const resources = parse(mesh + "---\n" + ZIPKIN_SE + "---\n" + text);
  return buildSnapshot({
    revision: 1,
    resources,
    workloads: [],
    mesh: meshSettingsFrom(
      { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
      resources,
    ),
    roots: "",
  });
}

function configFor(text: string, node: Partial<NodeInfo> = {}) {
  const snapshot = snapshotWith(text);
  const n: NodeInfo = {
    id: "x",
    mode: "sidecar",
    namespace: "shop",
    serviceAccount: "reviews",
    labels: { app: "reviews" },
    address: "127.0.0.1",
    ...node,
  };
  return tracingFor(snapshot, n, new ServiceRegistry(snapshot));
}

const telemetry = (ns: string, name: string, spec: string) =>
  `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.split("\n").map((l) => `  ${l}`).join("\n")}
---
`;

Deno.test("tracingFor: off without a provider; the mesh provider resolves to its cluster", () => {
  assert.equal(configFor(""), undefined);
  assert.deepEqual(
    configFor(telemetry("istio-system", "mesh", "tracing: [{providers: [{name: zipkin}]}]")),
    {
      collector: { cluster: "outbound|9411||zipkin.istio-system.svc.cluster.local" },
      path: "/api/v2/spans",
      samplingPercent: 5,
      serviceName: "reviews.shop",
      maxTagLength: 64,
    },
  );
});

Deno.test("tracingFor: workload over namespace over mesh, field by field; tags merge", () => {
  const text = telemetry(
    "istio-system",
    "mesh",
    "tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 10, customTags: {a: {literal: {value: x}}}}]",
  ) + telemetry("shop", "ns", "tracing: [{randomSamplingPercentage: 50}]") +
    telemetry(
      "shop",
      "reviews",
      "selector: {matchLabels: {app: reviews}}\ntracing: [{providers: [{name: external}], customTags: {b: {header: {name: X-User}}}}]",
    );
  const t = configFor(text)!;
  assert.deepEqual(t.collector, { address: "traces.example.com", port: 443 });
  assert.equal(t.path, "/v2/spans");
  assert.equal(t.samplingPercent, 50);
  assert.deepEqual(t.customTags, {
    a: { literal: "x" },
    b: { header: "x-user", defaultValue: undefined },
  });
  // Another workload of the namespace: no selector match, so the mesh provider.
  const other = configFor(text, { labels: { app: "ratings" } })!;
  assert.deepEqual(other.collector, {
    cluster: "outbound|9411||zipkin.istio-system.svc.cluster.local",
  });
  assert.equal(other.serviceName, "ratings.shop");
  // Another namespace: only the mesh-wide Telemetry.
  assert.equal(configFor(text, { namespace: "web" })!.samplingPercent, 10);
});

Deno.test("accessLogFor: MeshConfig accessLogFile, Telemetry providers and disabled", () => {
  const mesh =
    MESH.replace("spec:\n", "spec:\n  accessLogFile: /dev/stderr\n  accessLogEncoding: JSON\n") +
    "  - name: file-json\n    envoyFileAccessLog: {path: /tmp/access.log, logFormat: {labels: {code: '%RESPONSE_CODE%'}}}\n";
  const node = { namespace: "shop", labels: { app: "reviews" } };
  assert.deepEqual(accessLogFor(snapshotWith("", mesh), node), {
    path: "/dev/stderr",
    encoding: "JSON",
  });
  const off = telemetry(
    "shop",
    "quiet",
    "selector: {matchLabels: {app: reviews}}\naccessLogging: [{disabled: true}]",
  );
  assert.equal(accessLogFor(snapshotWith(off, mesh), node), undefined);
  assert.ok(accessLogFor(snapshotWith(off, mesh), { ...node, labels: { app: "ratings" } }));
  const file = telemetry(
    "istio-system",
    "mesh",
    "accessLogging: [{providers: [{name: file-json}]}]",
  );
  assert.deepEqual(accessLogFor(snapshotWith(file, mesh), node), {
    path: "/tmp/access.log",
    encoding: "JSON",
  });
  // The built-in envoy provider without accessLogFile: standard output.
  const envoy = telemetry("istio-system", "mesh", "accessLogging: [{providers: [{name: envoy}]}]");
  assert.deepEqual(accessLogFor(snapshotWith(envoy), node), {
    path: "/dev/stdout",
    encoding: "TEXT",
  });
  assert.equal(accessLogFor(snapshotWith(""), node), undefined);
});

Deno.test("metricsFor: overrides of every level in order; only string literals set tags", () => {
  const text = telemetry(
    "istio-system",
    "mesh",
    "metrics:\n- overrides:\n  - match: {metric: REQUEST_COUNT, mode: CLIENT}\n    disabled: true",
  ) + telemetry(
    "shop",
    "reviews",
    "selector: {matchLabels: {app: reviews}}\nmetrics:\n- providers: [{name: prometheus}]\n  overrides:\n  - tagOverrides:\n      request_protocol: {operation: REMOVE}\n      team: {value: \"'blue'\"}\n      host: {value: request.host}",
  );
  const node = { namespace: "shop", labels: { app: "reviews" } };
  assert.deepEqual(metricsFor(snapshotWith(text), node), [
    { metric: "REQUEST_COUNT", mode: "CLIENT", disabled: true },
    {
      metric: "ALL_METRICS",
      mode: "CLIENT_AND_SERVER",
      tags: { request_protocol: { remove: true }, team: { value: "blue" } },
    },
  ]);
  assert.equal(celStringLiteral("'a b'"), "a b");
  assert.equal(celStringLiteral('"x"'), "x");
  assert.equal(celStringLiteral("request.host"), undefined);
});

Deno.test("metricsFor: tag names become Prometheus labels as Envoy writes them (my-tag: my_tag)", () => {
  const text = telemetry(
    "istio-system",
    "mesh",
    "metrics:\n- overrides:\n  - tagOverrides:\n      my-tag: {value: \"'x'\"}",
  );
  assert.deepEqual(metricsFor(snapshotWith(text), { namespace: "shop", labels: {} }), [
    { metric: "ALL_METRICS", mode: "CLIENT_AND_SERVER", tags: { my_tag: { value: "x" } } },
  ]);
  assert.equal(prometheusLabel("a.b-c"), "a_b_c");
  assert.equal(prometheusLabel("1st"), "_1st");
  assert.equal(prometheusLabel(""), undefined);
});
