import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { buildSnapshot, meshSettingsFrom } from "./snapshot.ts";
import { generateProxyConfig } from "./generate.ts";

function meshConfig(normalization: string) {
  return parseResources(
    `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  pathNormalization: {normalization: ${normalization}}
`,
    "mesh.yaml",
  );
}

const node = (mode: NodeInfo["mode"]): NodeInfo => ({
  id: "n",
  mode,
  namespace: mode === "gateway" ? "istio-system" : "default",
  serviceAccount: "sa",
  labels: mode === "gateway" ? { istio: "ingressgateway" } : { app: "a" },
  address: "127.0.0.1",
});

function configFor(normalization: string, mode: NodeInfo["mode"] = "sidecar") {
  const { resources } = meshConfig(normalization);
  const snap = buildSnapshot({
    revision: 1,
    resources,
    workloads: [],
    mesh: meshSettingsFrom(
      { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
      resources,
    ),
    roots: "",
  });
  return generateProxyConfig(snap, node(mode));
}

Deno.test("MeshConfig pathNormalization flows into every proxy's config; BASE and DEFAULT are the default", () => {
  assert.equal(configFor("DECODE_AND_MERGE_SLASHES").pathNormalization, "DECODE_AND_MERGE_SLASHES");
  assert.equal(configFor("MERGE_SLASHES", "gateway").pathNormalization, "MERGE_SLASHES");
  assert.equal(configFor("NONE").pathNormalization, "NONE");
  assert.equal(configFor("BASE").pathNormalization, undefined);
  assert.equal(configFor("DEFAULT").pathNormalization, undefined);
});

Deno.test("MeshConfig pathNormalization: honoured (no warning); an unknown value is an error", () => {
  const ok = meshConfig("MERGE_SLASHES").diagnostics;
  assert.deepEqual(ok.filter((d) => d.path?.includes("pathNormalization")), []);
  const bad = meshConfig("LOWERCASE").diagnostics;
  assert.ok(
    bad.some((d) => d.severity === "error" && JSON.stringify(d).includes("pathNormalization")),
    JSON.stringify(bad),
  );
});
