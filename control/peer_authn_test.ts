import assert from "node:assert/strict";
import { parseResources, type PeerAuthentication } from "../api/resources.ts";
import { formatDiagnostic } from "../api/diagnostic.ts";
import { DEFAULT_MTLS_MODE, mtlsModeFor } from "./peer_authn.ts";

/** One PeerAuthentication from a few YAML fields. */
function pa(
  ns: string,
  name: string,
  spec: string,
  created?: string,
): PeerAuthentication {
  const text = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: ${ns}
${created ? `  creationTimestamp: "${created}"\n` : ""}spec:
${spec.split("\n").map((l) => `  ${l}`).join("\n")}
`;
  const { resources, diagnostics } = parseResources(text, "pa.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  return resources[0] as PeerAuthentication;
}

const ROOT = "istio-system";
const reviews = { namespace: "default", labels: { app: "reviews", version: "v1" } };

Deno.test("mtlsModeFor: STRICT without any policy (mesh's default)", () => {
  assert.equal(DEFAULT_MTLS_MODE, "STRICT");
  assert.equal(mtlsModeFor([], ROOT, reviews, 9080), "STRICT");
});

Deno.test("mtlsModeFor: workload over namespace over mesh", () => {
  const mesh = pa(ROOT, "default", "mtls: {mode: PERMISSIVE}");
  const ns = pa("default", "default", "mtls: {mode: DISABLE}");
  const own = pa(
    "default",
    "reviews",
    "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}",
  );
  assert.equal(mtlsModeFor([mesh], ROOT, reviews), "PERMISSIVE");
  assert.equal(mtlsModeFor([mesh, ns], ROOT, reviews), "DISABLE");
  assert.equal(mtlsModeFor([mesh, ns, own], ROOT, reviews), "STRICT");
  // Other namespaces only see the mesh-wide policy; other workloads not the selector one.
  assert.equal(
    mtlsModeFor([mesh, ns, own], ROOT, { namespace: "other", labels: {} }),
    "PERMISSIVE",
  );
  assert.equal(
    mtlsModeFor([mesh, ns, own], ROOT, { namespace: "default", labels: { app: "ratings" } }),
    "DISABLE",
  );
});

Deno.test("mtlsModeFor: UNSET inherits; no mtls at all inherits too", () => {
  const mesh = pa(ROOT, "default", "mtls: {mode: PERMISSIVE}");
  const ns = pa("default", "default", "mtls: {mode: UNSET}");
  const own = pa("default", "reviews", "selector: {matchLabels: {app: reviews}}");
  assert.equal(mtlsModeFor([mesh, ns, own], ROOT, reviews), "PERMISSIVE");
  assert.equal(mtlsModeFor([ns], ROOT, reviews), "STRICT");
});

Deno.test("mtlsModeFor: portLevelMtls overrides the workload's mode on that port", () => {
  const own = pa(
    "default",
    "reviews",
    "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}\n" +
      "portLevelMtls: {'9080': {mode: DISABLE}, '9090': {mode: UNSET}}",
  );
  assert.equal(mtlsModeFor([own], ROOT, reviews, 9080), "DISABLE");
  assert.equal(mtlsModeFor([own], ROOT, reviews, 9090), "STRICT");
  assert.equal(mtlsModeFor([own], ROOT, reviews, 8080), "STRICT");
  assert.equal(mtlsModeFor([own], ROOT, reviews), "STRICT");
});

Deno.test("mtlsModeFor: among policies of one level, the oldest wins", () => {
  const older = pa("default", "b", "mtls: {mode: DISABLE}", "2024-01-01T00:00:00Z");
  const newer = pa("default", "a", "mtls: {mode: PERMISSIVE}", "2025-01-01T00:00:00Z");
  assert.equal(mtlsModeFor([newer, older], ROOT, reviews), "DISABLE");
  // Without timestamps: the first by name.
  const x = pa("default", "x", "mtls: {mode: DISABLE}");
  const y = pa("default", "y", "mtls: {mode: PERMISSIVE}");
  assert.equal(mtlsModeFor([y, x], ROOT, reviews), "DISABLE");
});

Deno.test("mtlsModeFor: a policy with a selector in the root namespace is ignored, as in Istio", () => {
  const rootSel = pa(ROOT, "gw", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: DISABLE}");
  assert.equal(mtlsModeFor([rootSel], ROOT, reviews), "STRICT");
  assert.equal(
    mtlsModeFor([rootSel], ROOT, { namespace: ROOT, labels: { app: "reviews" } }),
    "STRICT",
  );
  // The root namespace's own workloads follow the mesh-wide policy.
  const mesh = pa(ROOT, "default", "mtls: {mode: PERMISSIVE}");
  assert.equal(mtlsModeFor([mesh], ROOT, { namespace: ROOT, labels: {} }), "PERMISSIVE");
});
