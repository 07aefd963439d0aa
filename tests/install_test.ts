/**
 * `mesh install crds` as users run it: a process whose stdout is the CRDs as one YAML stream,
 * `--kinds` to pick some, and one-line usage errors for what it doesn't know.
 */
import assert from "node:assert/strict";
import { meshRun } from "./helpers.ts";
import { parseYamlDocuments } from "../util/yaml.ts";
import { structuralProblems } from "../api/crd_schema.ts";

interface CrdDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; shortNames?: string[] };
    versions: { name: string; storage: boolean; schema: { openAPIV3Schema: never } }[];
  };
}

Deno.test("mesh install crds prints every CRD as one multi-document YAML stream", async () => {
  const r = await meshRun(["install", "crds"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const docs = parseYamlDocuments(r.stdout);
  assert.ok(docs.every((d) => !d.error), JSON.stringify(docs.find((d) => d.error)?.error));
  const crds = docs.map((d) => d.value as CrdDoc);
  assert.deepEqual(crds.map((c) => c.metadata.name), [
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "gateways.networking.istio.io",
    "serviceentries.networking.istio.io",
    "workloadentries.networking.istio.io",
    "sidecars.networking.istio.io",
    "workloadgroups.networking.istio.io",
    "peerauthentications.security.istio.io",
    "authorizationpolicies.security.istio.io",
    "requestauthentications.security.istio.io",
    "telemetries.telemetry.istio.io",
    "envoyfilters.networking.istio.io",
    "proxyconfigs.networking.istio.io",
    "wasmplugins.extensions.istio.io",
  ]);
  for (const c of crds) {
    assert.equal(c.apiVersion, "apiextensions.k8s.io/v1");
    assert.equal(c.kind, "CustomResourceDefinition");
    assert.equal(c.spec.versions.filter((v) => v.storage).length, 1, c.metadata.name);
    for (const v of c.spec.versions) {
      assert.deepEqual(structuralProblems(v.schema.openAPIV3Schema), [], c.metadata.name);
    }
  }
  const vs = crds[0];
  assert.deepEqual(vs.spec.names.shortNames, ["vs"]);
  assert.deepEqual(vs.spec.versions.map((v) => [v.name, v.storage]), [
    ["v1", true],
    ["v1beta1", false],
    ["v1alpha3", false],
  ]);
});

Deno.test("mesh install crds --kinds picks kinds", async () => {
  const r = await meshRun(["install", "crds", "--kinds=AuthorizationPolicy,Gateway"]);
  assert.equal(r.code, 0, r.stderr);
  const names = parseYamlDocuments(r.stdout).map((d) => (d.value as CrdDoc).spec.names.kind);
  assert.deepEqual(names, ["AuthorizationPolicy", "Gateway"]);
  const help = await meshRun(["help", "install"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--kinds/);
});

Deno.test("mesh install: usage errors name the fix", async () => {
  const cases: [string[], RegExp][] = [
    [["install", "webhooks"], /unknown command "install webhooks"; mesh install has: crds/],
    [["install", "crds", "extra"], /takes no arguments, got "extra"; choose kinds with --kinds=/],
    [["install", "crds", "--kinds=HTTPRoute"], /--kinds: no CRD for HTTPRoute; choose from /],
    [["install", "crds", "--bogus"], /unknown flag --bogus/],
  ];
  for (const [args, re] of cases) {
    const r = await meshRun(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(r.stdout, "");
  }
});
