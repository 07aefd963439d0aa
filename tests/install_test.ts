/**
 * `mesh install crds`, `webhooks` and `rbac` as users run them: a process whose stdout is YAML (the CRDs as one stream),
 * `--kinds` to pick some, and one-line usage errors for what it doesn't know.
 */
import assert from "node:assert/strict";
import { meshRun } from "./helpers.ts";
import { parseYaml, parseYamlDocuments } from "../util/yaml.ts";
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
    [
      ["install", "bogus"],
      /unknown command "install bogus"; mesh install has: crds, webhooks, rbac/,
    ],
    [["install", "crds", "extra"], /takes no arguments, got "extra"/],
    [["install", "webhooks"], /missing --ca-file .*mesh ca root > root\.pem/],
    [["install", "webhooks", "--ca-file=/nope"], /give either --url URL or --service NS\/NAME/],
    [
      ["install", "webhooks", "--ca-file=/nope", "--url=http://x/validate"],
      /--url http:\/\/x\/validate: must be https:\/\/HOST:PORT\/validate/,
    ],
    [
      ["install", "webhooks", "--ca-file=/nope", "--service=istio-system/mesh"],
      /--ca-file \/nope: .*write it with mesh ca root > root\.pem/,
    ],
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

Deno.test("mesh install webhooks and rbac print what the cluster needs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await Deno.writeTextFile(`${dir}/root.pem`, pem);
    const hook = await meshRun([
      "install",
      "webhooks",
      `--ca-file=${dir}/root.pem`,
      "--service=istio-system/mesh-control",
    ]);
    assert.equal(hook.code, 0, hook.stderr);
    const cfg = parseYaml(hook.stdout) as {
      kind: string;
      webhooks: {
        name: string;
        clientConfig: Record<string, unknown>;
        rules: { apiGroups: string[] }[];
      }[];
    };
    assert.equal(cfg.kind, "ValidatingWebhookConfiguration");
    assert.equal(cfg.webhooks[0].name, "validation.mesh.dev");
    assert.equal(atob(cfg.webhooks[0].clientConfig.caBundle as string), pem);
    assert.deepEqual(cfg.webhooks[0].clientConfig.service, {
      namespace: "istio-system",
      name: "mesh-control",
      port: 15012,
      path: "/validate",
    });
    assert.ok(cfg.webhooks[0].rules[0].apiGroups.includes("networking.istio.io"));
    const rbac = await meshRun(["install", "rbac", "--namespace=mesh", "--service-account=cp"]);
    assert.equal(rbac.code, 0, rbac.stderr);
    const docs = rbac.stdout.split(/^---$/m).map((d) => parseYaml(d) as Record<string, unknown>);
    assert.deepEqual(docs.map((d) => d.kind), [
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
    ]);
    assert.deepEqual((docs[3].rules as { resources: string[] }[])[0].resources, ["configmaps"]);
    assert.equal((docs[3].metadata as { namespace: string }).namespace, "mesh");
    const rules = docs[1].rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const vs = rules.find((r) => r.resources.includes("virtualservices"))!;
    assert.deepEqual(vs.verbs, ["get", "list", "watch"], "read-only unless --writable");
    assert.ok(rules.some((r) => r.resources.includes("virtualservices/status")));
    assert.ok(rules.some((r) => r.apiGroups.includes("discovery.k8s.io")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
