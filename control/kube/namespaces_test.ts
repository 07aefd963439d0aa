import assert from "node:assert/strict";
import { meshConfigOf, selectedNamespaces, selectorMatches } from "./namespaces.ts";

Deno.test("namespaces: label selectors as Kubernetes matches them", () => {
  const labels = { env: "prod", team: "a" };
  assert.ok(selectorMatches({}, labels));
  assert.ok(selectorMatches({ matchLabels: { env: "prod" } }, labels));
  assert.ok(!selectorMatches({ matchLabels: { env: "dev" } }, labels));
  const expr = (operator: string, values?: string[], key = "team") => ({
    matchExpressions: [{ key, operator, ...(values ? { values } : {}) }],
  });
  assert.ok(selectorMatches(expr("In", ["a", "b"]), labels));
  assert.ok(!selectorMatches(expr("In", ["b"]), labels));
  assert.ok(selectorMatches(expr("NotIn", ["b"]), labels));
  assert.ok(selectorMatches(expr("NotIn", ["b"], "missing"), labels));
  assert.ok(selectorMatches(expr("Exists"), labels));
  assert.ok(selectorMatches(expr("DoesNotExist", undefined, "missing"), labels));
  assert.ok(!selectorMatches(expr("Bogus"), labels));
  // matchLabels and matchExpressions together: both must hold.
  assert.ok(!selectorMatches({ matchLabels: { env: "prod" }, ...expr("In", ["z"]) }, labels));
});

Deno.test("namespaces: discoverySelectors pick namespaces (OR), the root namespace always counts", () => {
  const ns = (name: string, labels: Record<string, string> = {}) => ({
    metadata: { name, labels },
  });
  const all = [ns("a", { mesh: "on" }), ns("b"), ns("c", { team: "x" }), ns("istio-system")];
  assert.equal(selectedNamespaces(undefined, all, ["istio-system"]), undefined);
  assert.equal(selectedNamespaces([], all, ["istio-system"]), undefined);
  const picked = selectedNamespaces(
    [{ matchLabels: { mesh: "on" } }, { matchExpressions: [{ key: "team", operator: "Exists" }] }],
    all,
    ["istio-system"],
  );
  assert.deepEqual([...picked!].sort(), ["a", "c", "istio-system"]);
});

Deno.test("namespaces: the mesh ConfigMap's data.mesh is a MeshConfig; bad YAML names the ConfigMap", () => {
  const cm = (mesh?: string) => ({
    metadata: { name: "istio", namespace: "istio-system" },
    ...(mesh !== undefined ? { data: { mesh } } : {}),
  });
  assert.equal(meshConfigOf(cm()), undefined);
  const ok = meshConfigOf(
    cm("accessLogFile: /dev/stdout\ndiscoverySelectors:\n- matchLabels: {mesh: on}\n"),
  );
  assert.ok(ok && !("error" in ok));
  assert.equal(ok.kind, "MeshConfig");
  assert.deepEqual((ok.spec as { accessLogFile: string }).accessLogFile, "/dev/stdout");
  const bad = meshConfigOf(cm("a: [")) as { error: string };
  assert.match(bad.error, /ConfigMap istio-system\/istio data\.mesh: not valid YAML/);
  const list = meshConfigOf(cm("- a\n- b\n")) as { error: string };
  assert.match(list.error, /not a mapping of MeshConfig fields/);
});
