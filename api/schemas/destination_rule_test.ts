/**
 * DestinationRule validation, rule by rule as Istio decides it: ValidateDestinationRule in
 * pkg/config/validation (host through agent.ValidateWildcardDomain, subsets, exportTo with the
 * workloadSelector rules, validateWorkloadSelector) and the CRD's schema (required fields,
 * selector limits). Every case of Istio's TestValidateDestinationRule table and the
 * DestinationRule side of Test_validateExportTo is here (in our own YAML), plus one case per
 * rule they miss. The traffic policy parts are in traffic_policy_test.ts.
 */
import assert from "node:assert/strict";
import { formatDiagnostic } from "../diagnostic.ts";
import { parseResources } from "../resources.ts";
import { istioTreeSamples, TREE_MISSING } from "../../tests/samples.ts";
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule" };

const SUBSETS = "subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]";
const POLICY = "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {maxConnections: 7}, " +
  "http: {http2MaxRequests: 11}}, outlierDetection: {minHealthPercent: 20}}";
const BAD_POLICY = "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {}, " +
  "outlierDetection: {minHealthPercent: 20}}";
/** A rule for `reviews` with this client TLS (flow YAML). */
const tls = (settings: string) => `host: reviews\ntrafficPolicy: {tls: ${settings}}`;
const SAN = "subjectAltNames: [reviews.default.svc]";
const FILES = "caCertificates: test, privateKey: key, clientCertificate: cert";

/** A whole rule in namespace `ns5` (Istio's exportTo table) with this exportTo, maybe a selector. */
function exported(exportTo: string, selector = false): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: ns5}
spec:
  host: reviews
  exportTo: ${exportTo}${selector ? "\n  workloadSelector: {matchLabels: {app: a}}" : ""}`;
}

// deno-fmt-ignore
const ISTIO_DESTINATION_RULE: Case[] = [
  // --- TestValidateDestinationRule
  { name: "simple destination rule", yaml: `host: reviews\n${SUBSETS}`, want: "valid" },
  { name: "empty workload selector", yaml: `host: reviews\n${SUBSETS}\nworkloadSelector: {}`, want: "warning", message: "without labels" },
  { name: "missing host", yaml: `host: ""\n${SUBSETS}`, want: "error" },
  { name: "missing subset name", yaml: "host: reviews\nsubsets: [{name: '', labels: {version: v1}}, {name: v2, labels: {version: v2}}]", want: "error" },
  { name: "duplicate subset names", yaml: "host: reviews\nsubsets: [{name: foo, labels: {version: v1}}, {name: foo, labels: {version: v2}}]", want: "error", message: "duplicate subset name" },
  { name: "valid traffic policy, top level", yaml: `host: reviews\ntrafficPolicy: ${POLICY}\n${SUBSETS}`, want: "valid" },
  { name: "invalid traffic policy, top level", yaml: `host: reviews\ntrafficPolicy: ${BAD_POLICY}\n${SUBSETS}`, want: "error", message: "connection pool must have at least one field" },
  { name: "valid traffic policy, subset level", yaml: `host: reviews\nsubsets: [{name: v1, labels: {version: v1}, trafficPolicy: ${POLICY}}, {name: v2, labels: {version: v2}}]`, want: "valid" },
  { name: "invalid traffic policy, subset level", yaml: `host: reviews\nsubsets: [{name: v1, labels: {version: v1}, trafficPolicy: ${BAD_POLICY}}, {name: v2, labels: {version: v2}}]`, want: "error" },
  { name: "valid traffic policy, both levels", yaml: `host: reviews\ntrafficPolicy: ${POLICY}\nsubsets: [{name: v1, labels: {version: v1}, trafficPolicy: ${POLICY}}, {name: v2, labels: {version: v2}}]`, want: "valid" },
  { name: "SIMPLE, CA from caCertificates", yaml: tls(`{mode: SIMPLE, caCertificates: test, ${SAN}}`), want: "valid" },
  { name: "SIMPLE, CA from credentialName", yaml: tls(`{mode: SIMPLE, credentialName: test, ${SAN}}`), want: "valid" },
  { name: "SIMPLE, caCertificates, insecureSkipVerify false", yaml: tls(`{mode: SIMPLE, caCertificates: test, ${SAN}, insecureSkipVerify: false}`), want: "valid" },
  { name: "SIMPLE, credentialName, insecureSkipVerify false", yaml: tls(`{mode: SIMPLE, credentialName: test, ${SAN}, insecureSkipVerify: false}`), want: "valid" },
  { name: "SIMPLE, credentialName, insecureSkipVerify true", yaml: tls("{mode: SIMPLE, credentialName: test, insecureSkipVerify: true}"), want: "error", message: "insecureSkipVerify" },
  { name: "SIMPLE, caCertificates, insecureSkipVerify true", yaml: tls("{mode: SIMPLE, caCertificates: test, insecureSkipVerify: true}"), want: "error", message: "insecureSkipVerify" },
  { name: "SIMPLE, subjectAltNames, insecureSkipVerify true", yaml: tls(`{mode: SIMPLE, ${SAN}, insecureSkipVerify: true}`), want: "error", message: "insecureSkipVerify" },
  { name: "MUTUAL, files", yaml: tls(`{mode: MUTUAL, ${FILES}, ${SAN}}`), want: "valid" },
  { name: "MUTUAL, credentialName", yaml: tls(`{mode: MUTUAL, credentialName: test, ${SAN}}`), want: "valid" },
  { name: "MUTUAL, files, insecureSkipVerify false", yaml: tls(`{mode: MUTUAL, ${FILES}, ${SAN}, insecureSkipVerify: false}`), want: "valid" },
  { name: "MUTUAL, credentialName, insecureSkipVerify false", yaml: tls(`{mode: MUTUAL, credentialName: test, ${SAN}, insecureSkipVerify: false}`), want: "valid" },
  { name: "MUTUAL, files with a CA, insecureSkipVerify true", yaml: tls(`{mode: MUTUAL, ${FILES}, insecureSkipVerify: true}`), want: "error", message: "insecureSkipVerify" },
  { name: "MUTUAL, credentialName, insecureSkipVerify true", yaml: tls("{mode: MUTUAL, credentialName: test, insecureSkipVerify: true}"), want: "valid" },
  { name: "MUTUAL, no CA, insecureSkipVerify true", yaml: tls("{mode: MUTUAL, privateKey: key, clientCertificate: cert, insecureSkipVerify: true}"), want: "valid" },
  { name: "MUTUAL, subjectAltNames, insecureSkipVerify true", yaml: tls(`{mode: MUTUAL, privateKey: key, clientCertificate: cert, ${SAN}, insecureSkipVerify: true}`), want: "error", message: "insecureSkipVerify" },

  // --- Test_validateExportTo (the DestinationRule side; namespace ns5)
  { name: "no exportTo", yaml: exported("[]"), want: "valid" },
  { name: "exportTo *", yaml: exported("['*']"), want: "valid" },
  { name: "exportTo . and ns1", yaml: exported("[., ns1]"), want: "valid" },
  { name: "exportTo several namespaces", yaml: exported("[ns1, ns2, ns5]"), want: "valid" },
  { name: "exportTo ~ (only for ServiceEntries)", yaml: exported("['~', ns1]"), want: "error", message: "exportTo" },
  { name: "exportTo . and *", yaml: exported("[., '*']"), want: "error", message: "can't be combined" },
  { name: "exportTo * and ns1", yaml: exported("['*', ns1]"), want: "error", message: "can't be combined" },
  { name: "exportTo . and its own namespace", yaml: exported("[., ns5]"), want: "error", message: "duplicate exportTo" },
  { name: "exportTo a namespace twice", yaml: exported("[ns1, ns2, ns1]"), want: "error", message: "duplicate exportTo" },
  { name: "exportTo a namespace that isn't a DNS label", yaml: exported("[ns1_]"), want: "error", message: "exportTo" },
  { name: "workloadSelector with exportTo *", yaml: exported("['*']", true), want: "error", message: "workloadSelector" },
  { name: "workloadSelector with exportTo .", yaml: exported("[.]", true), want: "valid" },
  { name: "workloadSelector with exportTo another namespace", yaml: exported("[somens]", true), want: "error", message: "workloadSelector" },
  { name: "workloadSelector with exportTo . and another namespace", yaml: exported("[., somens]", true), want: "error", message: "workloadSelector" },
];

// deno-fmt-ignore
const MORE_DESTINATION_RULE: Case[] = [
  // --- host: agent.ValidateWildcardDomain
  { name: "host *", yaml: "host: '*'", want: "valid" },
  { name: "host *.eu.bookinfo.com", yaml: "host: '*.eu.bookinfo.com'", want: "valid" },
  { name: "host with a *- first label", yaml: "host: '*-foo.baz'", want: "valid" },
  { name: "host *foo (a wildcard label)", yaml: "host: '*foo'", want: "valid" },
  { name: "host in upper case", yaml: "host: Reviews.Default.svc.cluster.local", want: "valid" },
  { name: "host with a trailing dot", yaml: "host: istio.io.", want: "valid" },
  { name: "host with * inside", yaml: "host: 'foo*.com'", want: "error", message: "not a DNS label" },
  { name: "host with * in a later label", yaml: "host: 'a.*.com'", want: "error", message: "not a DNS label" },
  { name: "host that is an IP address", yaml: "host: 10.0.0.1", want: "error", message: "all digits" },
  { name: "host of 256 characters", yaml: `host: ${"a".repeat(61)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.example.com`, want: "error", message: "255" },
  { name: "missing host field", yaml: "subsets: [{name: v1}]", want: "error", message: "host" },
  // --- subsets: validateSubsetName, labels.Instance.Validate
  { name: "subset name in upper case", yaml: "host: reviews\nsubsets: [{name: V1}]", want: "valid" },
  { name: "subset name with an underscore", yaml: "host: reviews\nsubsets: [{name: v_1}]", want: "error", message: "subset name" },
  { name: "subset name of 64 characters", yaml: `host: reviews\nsubsets: [{name: ${"a".repeat(64)}}]`, want: "error", message: "subset name" },
  { name: "subset without a name", yaml: "host: reviews\nsubsets: [{labels: {version: v1}}]", want: "error", message: "name" },
  { name: "subset label key in upper case with a prefix", yaml: "host: reviews\nsubsets: [{name: v1, labels: {Example.COM/App: v1}}]", want: "valid" },
  { name: "subset label with an empty value", yaml: "host: reviews\nsubsets: [{name: v1, labels: {version: ''}}]", want: "valid" },
  { name: "subset label value of 70 characters (no length limit)", yaml: `host: reviews\nsubsets: [{name: v1, labels: {version: ${"v".repeat(70)}}}]`, want: "valid" },
  { name: "subset label value with a space", yaml: "host: reviews\nsubsets: [{name: v1, labels: {version: 'a b'}}]", want: "error", message: "label value" },
  { name: "subset label key with two slashes", yaml: "host: reviews\nsubsets: [{name: v1, labels: {a/b/c: v1}}]", want: "error", message: "label key" },
  { name: "subset label key *", yaml: "host: reviews\nsubsets: [{name: v1, labels: {'*': v1}}]", want: "error", message: "label key" },
  { name: "subset label name of 64 characters", yaml: `host: reviews\nsubsets: [{name: v1, labels: {${"k".repeat(64)}: v1}}]`, want: "error", message: "label key" },
  { name: "subset with an empty traffic policy", yaml: "host: reviews\nsubsets: [{name: v1, trafficPolicy: {}}]", want: "error", message: "at least one field" },
  // --- workloadSelector: validateWorkloadSelector and the CRD
  { name: "workloadSelector with labels", yaml: "host: reviews\nworkloadSelector: {matchLabels: {app: a}}", want: "valid" },
  { name: "workloadSelector label value with a space (not checked)", yaml: "host: reviews\nworkloadSelector: {matchLabels: {app: 'a b'}}", want: "valid" },
  { name: "workloadSelector with a wildcard key", yaml: "host: reviews\nworkloadSelector: {matchLabels: {'app*': a}}", want: "error", message: "wildcard" },
  { name: "workloadSelector with a wildcard value", yaml: "host: reviews\nworkloadSelector: {matchLabels: {app: '*'}}", want: "error", message: "wildcard" },
  { name: "workloadSelector with an empty key", yaml: "host: reviews\nworkloadSelector: {matchLabels: {'': a}}", want: "error", message: "empty" },
  { name: "workloadSelector value of 64 characters (CRD)", yaml: `host: reviews\nworkloadSelector: {matchLabels: {app: ${"a".repeat(64)}}}`, want: "error", message: "63" },
  // --- exportTo: visibility.Instance.Validate (labels.IsDNS1123Label takes upper case)
  { name: "exportTo a namespace in upper case", yaml: "host: reviews\nexportTo: [NS1]", want: "valid" },
];

tableTest("DestinationRule: Istio's cases", HEADER, ISTIO_DESTINATION_RULE);
tableTest("DestinationRule: one case per rule", HEADER, MORE_DESTINATION_RULE);

Deno.test("DestinationRule: what mesh accepts but doesn't enforce is warned about", () => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r}
spec:
  host: reviews
  workloadSelector: {matchLabels: {app: a}}
  trafficPolicy:
    loadBalancer: {backendUtilization: {errorUtilizationPenaltyPercent: 10}}
    tls: {mode: SIMPLE, credentialName: ca, sni: reviews}
    tunnel: {targetHost: proxy.example.com, targetPort: 8080}
`;
  const { diagnostics } = parseResources(text, "dr.yaml");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  assert.deepEqual(diagnostics.map((d) => d.path).sort(), [
    "spec.trafficPolicy.loadBalancer.backendUtilization",
    "spec.trafficPolicy.tls.credentialName",
    "spec.trafficPolicy.tunnel",
    "spec.workloadSelector",
  ]);
  assert.ok(
    diagnostics.every((d) => /not supported by mesh/.test(d.message)),
    diagnostics.map(formatDiagnostic).join("\n"),
  );
});

const tree = await istioTreeSamples();
Deno.test({
  name: "DestinationRule: every one in Istio's samples/ tree is valid",
  ignore: tree === undefined,
  fn: async () => {
    const problems: string[] = [];
    let read = 0;
    for await (const path of yamlFiles(tree!)) {
      const text = await Deno.readTextFile(path);
      if (!/^kind: DestinationRule\s*$/m.test(text) || text.includes("{{")) continue;
      const r = parseResources(text, path.slice(tree!.length + 1));
      read += r.resources.filter((x) => x.kind === "DestinationRule").length;
      for (const bad of r.invalid.filter((x) => x.kind === "DestinationRule")) {
        problems.push(`${bad.source.file}:${bad.source.line}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(read >= 5, `only ${read} DestinationRules read`);
  },
});
if (tree === undefined) console.log(TREE_MISSING);

/** Every YAML file under `dir`. */
async function* yamlFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* yamlFiles(path);
    else if (/\.ya?ml$/.test(e.name)) yield path;
  }
}
