/**
 * WasmPlugin validation as Istio decides it (ValidateWasmPlugin, the CRD's schema and its
 * x-kubernetes-validations); mesh adds one "not supported by mesh" note per document.
 */
import assert from "node:assert/strict";
import { parseResources } from "../resources.ts";
import { type Case, tableTest } from "./case_table.ts";
import { parseGoUrl } from "./go_url.ts";
import { wasmUrlProblem } from "./wasm_plugin.ts";

const HEADER = { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin" };
const SHA = "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b";
const GATEWAY_REF = "{group: gateway.networking.k8s.io, kind: Gateway, name: foo}";

const CASES: Case[] = [
  // --- Istio's ValidateWasmPlugin table
  { name: "no url", yaml: "phase: AUTHN", want: "error", message: "url" },
  { name: "ftp url", yaml: "url: ftp://test.com/test", want: "error", message: "not supported" },
  { name: "http url", yaml: "url: http://test.com/test", want: "valid" },
  { name: "http url with a sha", yaml: `url: http://test.com/test\nsha256: ${SHA}`, want: "valid" },
  {
    name: "short sha",
    yaml: "url: http://test.com/test\nsha256: 01ba47",
    want: "error",
    message: "64 characters long",
  },
  {
    name: "sha that isn't hex",
    yaml: "url: http://test.com/test\nsha256: test",
    want: "error",
    message: "64 characters long",
  },
  {
    name: "sha with an upper-case digit",
    yaml: `url: http://test.com/test\nsha256: ${SHA.replace("b", "B")}`,
    want: "error",
    message: "[a-f0-9]{64}",
  },
  { name: "oci url", yaml: "url: oci://test.com/test", want: "valid" },
  { name: "oci reference without a scheme", yaml: "url: test.com/test", want: "valid" },
  {
    name: "env variable without a name",
    yaml: "url: test.com/test\nvmConfig: {env: [{name: '', valueFrom: HOST}]}",
    want: "error",
    message: "may not be empty",
  },
  {
    name: "duplicate env variables",
    yaml:
      "url: test.com/test\nvmConfig: {env: [{name: ENV1, value: VAL1}, {name: ENV1, value: VAL1}]}",
    want: "error",
    message: "duplicate environment variable",
  },
  {
    name: "targetRef to a Gateway",
    yaml: `url: http://test.com/test\ntargetRef: ${GATEWAY_REF}`,
    want: "valid",
  },
  {
    name: "targetRef to a Service",
    yaml: "url: http://test.com/test\ntargetRef: {group: '', kind: Service, name: foo}",
    want: "valid",
  },
  {
    name: "targetRef with a namespace",
    yaml: "url: http://test.com/test\n" +
      "targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: foo, namespace: bar}",
    want: "error",
    message: "cross-namespace",
  },
  {
    name: "targetRef without a name",
    yaml:
      "url: http://test.com/test\ntargetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: ''}",
    want: "error",
    message: "name may not be empty",
  },
  {
    name: "targetRef with a wrong group",
    yaml: "url: http://test.com/test\ntargetRef: {group: wrong-group, kind: Gateway, name: foo}",
    want: "error",
    message: "a policy can target",
  },
  {
    name: "targetRef with a wrong kind",
    yaml: "url: http://test.com/test\n" +
      "targetRef: {group: gateway.networking.k8s.io, kind: wrong-kind, name: foo}",
    want: "error",
    message: "a policy can target",
  },
  {
    name: "targetRef and selector together",
    yaml:
      `url: http://test.com/test\ntargetRef: ${GATEWAY_REF}\nselector: {matchLabels: {app: httpbin}}`,
    want: "error",
    message: "can't both be set",
  },
  // --- testdata/crds/wasm-valid.yaml
  {
    name: "CRD sample: full",
    yaml: `
selector:
  matchLabels:
    istio: ingressgateway
url: file:///opt/filters/openid.wasm
sha256: 1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210
phase: AUTHN
pluginConfig:
  openid_server: authn
  openid_realm: ingress`,
    want: "valid",
  },
  { name: "CRD sample: no sha256", yaml: `url: "http://test"`, want: "valid" },
  { name: "CRD sample: url without a scheme", yaml: `url: "test"`, want: "valid" },
  {
    name: "CRD sample: env from the host and inline",
    yaml: `
url: "http://test"
vmConfig:
  env:
    - name: "test"
      valueFrom: HOST
    - name: "test2"
      valueFrom: INLINE
      value: "test"
    - name: "test3"
      value: "test"`,
    want: "valid",
  },
  // --- testdata/crds/wasm-invalid.yaml
  {
    name: "CRD sample: port without a number",
    yaml: "url: http://test\nmatch: [{ports: [{}]}]",
    want: "error",
  },
  {
    name: "CRD sample: empty url",
    yaml: `url: ""`,
    want: "error",
    message: "url may not be empty",
  },
  {
    name: "CRD sample: url that doesn't parse",
    yaml: `url: "#%blah$#@"`,
    want: "error",
    message: "invalid url",
  },
  {
    name: "CRD sample: fake scheme",
    yaml: `url: "fake://example.com"`,
    want: "error",
    message: "not supported",
  },
  {
    name: "CRD sample: sha256 foo",
    yaml: `url: "http://test"\nsha256: foo`,
    want: "error",
    message: "sha256",
  },
  {
    name: "CRD sample: empty imagePullSecret",
    yaml: `url: "http://test"\nimagePullSecret: ""`,
    want: "error",
    message: "may not be empty",
  },
  {
    name: "CRD sample: empty pluginName",
    yaml: `url: "http://test"\npluginName: ""`,
    want: "error",
    message: "may not be empty",
  },
  {
    name: "CRD sample: duplicate env names",
    yaml: `url: "http://test"\nvmConfig: {env: [{name: a}, {name: a}]}`,
    want: "error",
    message: "duplicate",
  },
  {
    name: "CRD sample: env name empty",
    yaml: `url: "http://test"\nvmConfig: {env: [{name: ""}]}`,
    want: "error",
    message: "may not be empty",
  },
  {
    name: "CRD sample: HOST env with a value",
    yaml: `url: "http://test"\nvmConfig: {env: [{name: test, valueFrom: HOST, value: value}]}`,
    want: "error",
    message: "only be set when valueFrom is INLINE",
  },
  {
    name: "CRD sample: null spec",
    yaml:
      "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: nil}\nspec:",
    want: "error",
  },
  { name: "CRD sample: null url", yaml: "url:", want: "error" },
  {
    name: "CRD sample: wildcard label value",
    yaml: `url: "http://test"\nselector: {matchLabels: {istio: "bar*"}}`,
    want: "error",
    message: "wildcards",
  },
  {
    name: "CRD sample: wildcard label key",
    yaml: `url: "http://test"\nselector: {matchLabels: {"istio*": "bar"}}`,
    want: "error",
    message: "wildcards",
  },
  // --- further rules
  {
    name: "HOST env with an empty value (the CRD refuses any value)",
    yaml: `url: "http://test"\nvmConfig: {env: [{name: test, valueFrom: HOST, value: ""}]}`,
    want: "error",
    message: "only be set when valueFrom is INLINE",
  },
  {
    name: "port 0",
    yaml: "url: http://test\nmatch: [{ports: [{number: 0}]}]",
    want: "error",
    message: "out of range",
  },
  {
    name: "port 65536",
    yaml: "url: http://test\nmatch: [{ports: [{number: 65536}]}]",
    want: "error",
  },
  {
    name: "the same port twice in a match",
    yaml: "url: http://test\nmatch: [{mode: SERVER, ports: [{number: 80}, {number: 80}]}]",
    want: "error",
    message: "duplicate port",
  },
  {
    name: "every field",
    yaml: `
url: oci://ghcr.io/acme/filter:1.0
imagePullPolicy: Always
imagePullSecret: pull-secret
verificationKey: key
pluginName: acme
priority: 10
failStrategy: FAIL_OPEN
type: HTTP
phase: STATS
match: [{mode: CLIENT, ports: [{number: 8080}]}]
targetRefs: [{kind: Service, name: reviews}]`,
    want: "valid",
  },
  { name: "phase that doesn't exist", yaml: "url: http://test\nphase: LOGGING", want: "error" },
  {
    name: "pluginName of 257 characters",
    yaml: `url: http://test\npluginName: ${"a".repeat(257)}`,
    want: "error",
  },
  {
    name: "imagePullSecret of 254 characters",
    yaml: `url: http://test\nimagePullSecret: ${"a".repeat(254)}`,
    want: "error",
  },
  { name: "url with a port", yaml: "url: https://example.com:8443/filter.wasm", want: "valid" },
  {
    name: "host:port without a scheme (Go reads localhost as a scheme)",
    yaml: "url: localhost:5000/filter",
    want: "error",
  },
  {
    name: "selector without labels",
    yaml: "url: http://test\nselector: {}",
    want: "warning",
    message: "without labels",
  },
  { name: "unknown field", yaml: "url: http://test\nimage: x", want: "error" },
];

tableTest("WasmPlugin: Istio's validation, case by case", HEADER, CASES);

Deno.test("WasmPlugin: one 'not supported by mesh' warning per document, never read", () => {
  const text = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: a, namespace: x}
spec: {url: "http://test"}
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: b, namespace: x}
spec: {url: "ftp://test"}
`;
  const { resources, diagnostics, skipped } = parseResources(text, "w.yaml");
  assert.equal(resources.length, 0);
  assert.equal(skipped.length, 2);
  const notes = diagnostics.filter((d) => /not supported by mesh/.test(d.message));
  assert.deepEqual(notes.map((d) => d.name), ["a", "b"]);
  assert.deepEqual(
    diagnostics.filter((d) => d.severity === "error").map((d) => `${d.name} ${d.path}`),
    ["b spec.url"],
  );
});

Deno.test("wasmUrlProblem and parseGoUrl: Go's net/url rules", () => {
  for (const ok of ["http://a/b", "a", "oci://r.io/x:1", "file:///x.wasm", "https://[::1]:80/x"]) {
    assert.equal(wasmUrlProblem(ok), undefined, ok);
  }
  assert.deepEqual(parseGoUrl("mailto:x", true), { scheme: "mailto" });
  assert.ok("error" in parseGoUrl("relative/path", true));
  assert.ok("error" in parseGoUrl("http://host:port/", true));
  assert.ok("error" in parseGoUrl("/a%zz", true));
  assert.deepEqual(parseGoUrl("/a#b", false), { scheme: "" });
  assert.ok("error" in parseGoUrl("http://a b/", true));
});
