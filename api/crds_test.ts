/**
 * The CRDs of `mesh install crds` (crds.ts): Istio's names and versions for every kind, a
 * structural schema everywhere, and schemas that accept what mesh accepts (Istio's Bookinfo
 * samples, mesh's example config, valid policies) and refuse wrong types.
 */
import assert from "node:assert/strict";
import { allCrds, type Crd, crdFor, crdKindNames, crdsYaml } from "./crds.ts";
import { type CrdSchema, schemaValueProblems, structuralProblems } from "./crd_schema.ts";
import { KIND_INFO, KINDS, UNREAD_KINDS } from "./kinds.ts";
import { parseResources } from "./resources.ts";
import { parseYamlDocuments } from "../util/yaml.ts";
import { NETWORKING, SAMPLES_MISSING, samplesAvailable } from "../tests/samples.ts";

const ROOT = new URL("../", import.meta.url).pathname;
// Istio's samples where the test suite finds them ($MESH_ISTIO_SAMPLES or ../shared).
const SAMPLES = NETWORKING;
const samplesThere = samplesAvailable;

/** Istio's names, short names and versions (crd-all.gen.yaml), storage version aside. */
const ISTIO: Record<string, [group: string, plural: string, shortNames: string[]]> = {
  VirtualService: ["networking.istio.io", "virtualservices", ["vs"]],
  DestinationRule: ["networking.istio.io", "destinationrules", ["dr"]],
  Gateway: ["networking.istio.io", "gateways", ["gw"]],
  ServiceEntry: ["networking.istio.io", "serviceentries", ["se"]],
  WorkloadEntry: ["networking.istio.io", "workloadentries", ["we"]],
  Sidecar: ["networking.istio.io", "sidecars", []],
  WorkloadGroup: ["networking.istio.io", "workloadgroups", ["wg"]],
  EnvoyFilter: ["networking.istio.io", "envoyfilters", []],
  ProxyConfig: ["networking.istio.io", "proxyconfigs", []],
  PeerAuthentication: ["security.istio.io", "peerauthentications", ["pa"]],
  AuthorizationPolicy: ["security.istio.io", "authorizationpolicies", ["ap"]],
  RequestAuthentication: ["security.istio.io", "requestauthentications", ["ra"]],
  Telemetry: ["telemetry.istio.io", "telemetries", ["telemetry"]],
  WasmPlugin: ["extensions.istio.io", "wasmplugins", []],
};

function schemaOf(kind: string): CrdSchema {
  return crdFor(kind).spec.versions[0].schema.openAPIV3Schema;
}

function versionsOf(kind: string): readonly string[] {
  const read = KINDS.map((k) => KIND_INFO[k]).find((k) => k.kind === kind && k.group in GROUPS);
  return read?.versions ?? UNREAD_KINDS.find((k) => k.kind === kind)?.versions ?? [];
}
const GROUPS: Record<string, true> = {
  "networking.istio.io": true,
  "security.istio.io": true,
  "telemetry.istio.io": true,
};

Deno.test("one CRD per Istio kind, with Istio's names, the registry's versions, v1 stored", () => {
  assert.deepEqual(crdKindNames().toSorted(), Object.keys(ISTIO).toSorted());
  const crds = allCrds();
  assert.equal(crds.length, Object.keys(ISTIO).length);
  for (const crd of crds) {
    const kind = crd.spec.names.kind;
    const [group, plural, shortNames] = ISTIO[kind];
    assert.equal(crd.apiVersion, "apiextensions.k8s.io/v1");
    assert.equal(crd.kind, "CustomResourceDefinition");
    assert.equal(crd.metadata.name, `${plural}.${group}`);
    assert.equal(crd.spec.group, group);
    assert.equal(crd.spec.scope, "Namespaced");
    assert.deepEqual(crd.spec.names.plural, plural);
    assert.deepEqual(crd.spec.names.singular, kind.toLowerCase());
    assert.deepEqual(crd.spec.names.listKind, `${kind}List`);
    assert.deepEqual(crd.spec.names.shortNames ?? [], shortNames);
    assert.ok(crd.spec.names.categories.includes("istio-io"));
    const versions = versionsOf(kind);
    assert.deepEqual(crd.spec.versions.map((v) => v.name), [...versions], kind);
    const stored = crd.spec.versions.filter((v) => v.storage);
    assert.equal(stored.length, 1, `${kind}: exactly one storage version`);
    // v1 where the kind has it; EnvoyFilter, ProxyConfig and WasmPlugin have one version.
    assert.equal(stored[0].name, versions.includes("v1") ? "v1" : versions[0], kind);
    for (const v of crd.spec.versions) {
      assert.equal(v.served, true);
      assert.deepEqual(v.subresources, { status: {} });
      const root = v.schema.openAPIV3Schema as {
        type: string;
        properties: Record<string, CrdSchema>;
        required?: string[];
      };
      assert.equal(root.type, "object");
      assert.deepEqual(root.properties.status, {
        type: "object",
        "x-kubernetes-preserve-unknown-fields": true,
      });
      assert.equal(root.properties.spec.type, "object", kind);
    }
  }
  // The Gateway API's kinds and mesh's MeshConfig have no CRD here.
  assert.throws(() => crdFor("HTTPRoute"), /no CRD for kind "HTTPRoute"/);
  assert.throws(() => crdFor("MeshConfig"), /no CRD for kind "MeshConfig"/);
});

Deno.test("ServiceEntry, WorkloadEntry and WorkloadGroup require spec, as Istio's CRDs do", () => {
  for (const kind of crdKindNames()) {
    const required = (schemaOf(kind).required as string[] | undefined) ?? [];
    const want = ["ServiceEntry", "WorkloadEntry", "WorkloadGroup"].includes(kind);
    assert.equal(required.includes("spec"), want, kind);
  }
});

Deno.test("every schema is structural and has no $ref anywhere", () => {
  for (const crd of allCrds()) {
    for (const v of crd.spec.versions) {
      const problems = structuralProblems(v.schema.openAPIV3Schema);
      assert.deepEqual(problems, [], `${crd.metadata.name} ${v.name}`);
    }
    const text = JSON.stringify(crd);
    for (const word of ["$ref", "$defs", "definitions", "$schema", '"default"', '"const"']) {
      assert.ok(!text.includes(word), `${crd.metadata.name} has ${word}`);
    }
  }
});

Deno.test("printer columns are Istio's and point at fields the schema has", () => {
  const names = (kind: string) =>
    crdFor(kind).spec.versions[0].additionalPrinterColumns?.map((c) => `${c.name}=${c.jsonPath}`);
  const age = "Age=.metadata.creationTimestamp";
  assert.deepEqual(names("VirtualService"), [
    "Gateways=.spec.gateways",
    "Hosts=.spec.hosts",
    age,
  ]);
  assert.deepEqual(names("DestinationRule"), ["Host=.spec.host", age]);
  assert.deepEqual(names("Gateway"), [age]);
  assert.deepEqual(names("ServiceEntry"), [
    "Hosts=.spec.hosts",
    "Location=.spec.location",
    "Resolution=.spec.resolution",
    age,
  ]);
  assert.deepEqual(names("AuthorizationPolicy"), ["Action=.spec.action", age]);
  assert.deepEqual(names("PeerAuthentication"), ["Mode=.spec.mtls.mode", age]);
  for (const crd of allCrds()) {
    for (const c of crd.spec.versions[0].additionalPrinterColumns ?? []) {
      if (!c.jsonPath.startsWith(".spec.")) continue;
      let node: CrdSchema | undefined = crd.spec.versions[0].schema.openAPIV3Schema;
      for (const key of ["spec", ...c.jsonPath.slice(".spec.".length).split(".")]) {
        node = (node?.properties as Record<string, CrdSchema> | undefined)?.[key];
      }
      assert.ok(node, `${crd.spec.names.kind}: ${c.jsonPath} is not in the schema`);
    }
  }
});

/** Documents mesh accepts; each must also pass its CRD's schema without pruning a field. */
function assertAccepted(text: string, file: string): number {
  const parsed = parseResources(text, file);
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], `mesh rejects ${file}`);
  let checked = 0;
  for (const doc of parseYamlDocuments(text)) {
    const value = doc.value as { kind?: string; apiVersion?: string; spec?: unknown };
    if (!value?.kind || !crdKindNames().includes(value.kind)) continue;
    const group = value.apiVersion?.split("/")[0];
    if (group !== crdFor(value.kind).spec.group) continue;
    const problems = schemaValueProblems(schemaOf(value.kind), value, { strict: true });
    // metadata, apiVersion and kind are the API server's, not the schema's.
    const own = problems.filter((p) => !/^\.(metadata|apiVersion|kind): unknown field$/.test(p));
    assert.deepEqual(own, [], `${file}: ${value.kind}`);
    checked++;
  }
  return checked;
}

Deno.test({
  name: "Istio's Bookinfo samples pass their CRDs' schemas",
  ignore: !samplesThere,
  fn() {
    let checked = 0;
    for (const e of Deno.readDirSync(SAMPLES)) {
      if (!e.name.endsWith(".yaml")) continue;
      checked += assertAccepted(Deno.readTextFileSync(`${SAMPLES}/${e.name}`), e.name);
    }
    assert.ok(checked >= 20, `checked ${checked}`);
  },
});
if (!samplesThere) console.log(`crds_test: ${SAMPLES_MISSING}`);

Deno.test("mesh's own example config and test data pass their CRDs' schemas", () => {
  let checked = 0;
  for (const dir of ["examples/bookinfo/config", "control/testdata"]) {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      if (!e.name.endsWith(".yaml")) continue;
      checked += assertAccepted(Deno.readTextFileSync(`${ROOT}${dir}/${e.name}`), e.name);
    }
  }
  assert.ok(checked >= 10, `checked ${checked}`);
});

const VALID = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}, uri: {prefix: /api}, port: 9080}]
    route: [{destination: {host: reviews, subset: v2, port: {number: 9080}}, weight: 100}]
    timeout: 1.5s
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    fault: {delay: {percentage: {value: 10}, fixedDelay: 5s}}
    headers: {request: {set: {x-version: v2}}}
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v3}, weight: 25}
    mirror: {host: reviews, subset: v3}
    mirrorPercentage: {value: 12.5}
  tcp:
  - match: [{port: 27017}]
    route: [{destination: {host: mongo, port: {number: 5555}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms}
      http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 1}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin, version: v1}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/default/sa/sleep]}
    - source: {namespaces: [dev]}
    to:
    - operation: {methods: [GET], paths: [/info*]}
    - operation: {methods: [POST], paths: [/data]}
    when:
    - {key: "request.auth.claims[iss]", values: ["https://accounts.google.com"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-method-get, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [GET], ports: ["8080"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: my-ext-authz}
  rules: [{to: [{operation: {paths: [/admin/*]}}]}]
`;

Deno.test("valid VirtualServices, DestinationRules and AuthorizationPolicies pass", () => {
  assert.equal(assertAccepted(VALID, "valid.yaml"), 5);
});

Deno.test("wrong types and values fail the schemas", () => {
  const cases: [kind: string, spec: unknown, RegExp][] = [
    [
      "VirtualService",
      { hosts: ["r"], http: [{ route: [{ destination: { host: "r" }, weight: "x" }] }] },
      /\.spec\.http\[0\]\.route\[0\]\.weight: must be of type integer, got string/,
    ],
    ["VirtualService", { hosts: "reviews" }, /\.spec\.hosts: must be of type array/],
    [
      "VirtualService",
      { hosts: ["r"], http: [{ route: [{ weight: 1 }] }] },
      /route\[0\]: destination is required/,
    ],
    [
      "VirtualService",
      {
        hosts: ["r"],
        http: [{ route: [{ destination: { host: "r", port: { number: 70000 } } }] }],
      },
      /port\.number: must be at most 4294967295|port\.number: must be at most 65535/,
    ],
    [
      "DestinationRule",
      { host: "r", trafficPolicy: { connectionPool: { tcp: { maxConnections: "many" } } } },
      /maxConnections: must be of type integer/,
    ],
    [
      "DestinationRule",
      { host: "r", trafficPolicy: { loadBalancer: { simple: "FASTEST" } } },
      /simple: must be one of/,
    ],
    ["DestinationRule", { subsets: [{ name: 1 }] }, /subsets\[0\]\.name: must be of type string/],
    ["AuthorizationPolicy", { action: "PERMIT" }, /\.spec\.action: must be one of/],
    ["AuthorizationPolicy", { rules: "all" }, /\.spec\.rules: must be of type array/],
    [
      "AuthorizationPolicy",
      { rules: [{ when: [{ values: ["a"] }] }] },
      /when\[0\]: key is required/,
    ],
    ["PeerAuthentication", { mtls: { mode: "strict" } }, /mtls\.mode: must be one of/],
  ];
  for (const [kind, spec, re] of cases) {
    const problems = schemaValueProblems(schemaOf(kind), { spec });
    assert.ok(problems.some((p) => re.test(p)), `${kind} ${JSON.stringify(spec)}: ${problems}`);
  }
  // ServiceEntry needs a spec.
  assert.deepEqual(schemaValueProblems(schemaOf("ServiceEntry"), {}), ["<root>: spec is required"]);
});

Deno.test("the YAML stream parses back into the same CRDs", () => {
  const docs = parseYamlDocuments(crdsYaml());
  assert.deepEqual(docs.map((d) => d.error), docs.map(() => undefined));
  assert.deepEqual(docs.map((d) => d.value), JSON.parse(JSON.stringify(allCrds())) as Crd[]);
  const one = parseYamlDocuments(crdsYaml(["PeerAuthentication"]));
  assert.equal(one.length, 1);
  assert.equal((one[0].value as Crd).metadata.name, "peerauthentications.security.istio.io");
});
