import assert from "node:assert/strict";
import { authorizationPolicyAnalyzer, namespaceMatches } from "./authorization_policies.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [authorizationPolicyAnalyzer] };

const policy = (from: string) =>
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow
  namespace: shop
spec:
  action: ALLOW
  rules:
  - from:
${from}
---
`;

Deno.test("authorization policies: unknown source namespaces are IST0101", () => {
  const yaml = policy(`    - source:
        namespaces:
        - shop
        - ghost
    - source:
        notNamespaces:
        - phantom`);
  assert.deepEqual(linesOf(run(yaml, only), "IST0101"), [
    `Error [IST0101] (AuthorizationPolicy shop/allow t.yaml:${
      lineOf(yaml, "- ghost")
    }) Referenced namespace not found: "ghost"`,
    `Error [IST0101] (AuthorizationPolicy shop/allow t.yaml:${
      lineOf(yaml, "- phantom")
    }) Referenced namespace not found: "phantom"`,
  ]);
});

Deno.test("authorization policies: namespaces exist by Namespace objects or objects in them", () => {
  const from = `    - source:
        namespaces: [frontend, payments, default, istio-system]`;
  const objects = `apiVersion: v1
kind: Namespace
metadata: {name: frontend}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: payments}
---
`;
  assert.deepEqual(linesOf(run(objects + policy(from), only), "IST0101"), []);
  assert.equal(linesOf(run(policy(from), only), "IST0101").length, 2);
});

Deno.test("authorization policies: wildcard namespace patterns", () => {
  assert.ok(namespaceMatches("team-a", "*"));
  assert.ok(namespaceMatches("team-a", "team-*"));
  assert.ok(namespaceMatches("prod-shop", "*-shop"));
  assert.ok(!namespaceMatches("dev", "team-*"));
  const yaml = policy(`    - source:
        namespaces: ["sh*", "*op", "team-*"]`);
  assert.deepEqual(linesOf(run(yaml, only), "IST0101").map((l) => l.replace(/:\d+\)/, ")")), [
    'Error [IST0101] (AuthorizationPolicy shop/allow t.yaml) Referenced namespace not found: "team-*"',
  ]);
});

Deno.test("authorization policies: policies without namespaces say nothing", () => {
  const yaml = policy(`    - source:
        principals: [cluster.local/ns/shop/sa/web]`);
  assert.deepEqual(linesOf(run(yaml, only), "IST0101"), []);
});

const ap = (name: string, ns: string, spec: string) =>
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
---
`;
const namespace = (name: string) =>
  `apiVersion: v1
kind: Namespace
metadata: {name: ${name}, labels: {istio-injection: "enabled"}}
spec: {}
---
`;
const rules = (source = '{namespaces: ["httpbin"]}') =>
  `  rules:
  - from:
    - source: {principals: ["cluster.local/ns/default/sa/sleep"]}
    - source: ${source}
    to:
    - operation: {methods: ["GET"], paths: ["/info*"]}
    - operation: {methods: ["POST"], paths: ["/data"]}
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]`;
const selector = (labels: string) => `  selector:\n    matchLabels: ${labels}\n`;
const patterns = '["prod-*", "*-test", "*-bogus", "bogus-*", "*", "httpbin"]';

// Istio's testdata/authorizationpolicies.yaml.
istioCases(authorizationPolicyAnalyzer, [{
  name: "authorizationpolicies",
  yaml: namespace("httpbin") +
    `apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: httpbin, labels: {app: httpbin}}
spec:
  ports: [{name: http, port: 8000, targetPort: 80}]
  selector: {app: httpbin}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: httpbin}
spec:
  replicas: 1
  selector: {matchLabels: {app: httpbin, version: v1}}
  template:
    metadata: {labels: {app: httpbin, version: v1}}
    spec:
      containers: [{image: "docker.io/mccutchen/go-httpbin:v2.15.0", name: httpbin}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: istio, namespace: httpbin}
spec:
  hosts: [subsystem.istio.io, "*.kiali.io"]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
` +
    ap("httpbin", "httpbin", selector("{app: httpbin, version: v1}") + rules()) +
    ap("meshwide-httpbin", "istio-system", "  {}") +
    ap("meshwide-httpbin-v1", "istio-system", selector("{version: bogus-version}")) +
    ap("httpbin-empty-namespace-wide", "httpbin-empty", rules()) +
    ap("httpbin-namespace-wide", "httpbin", rules()) +
    ap("httpbin-nopods", "httpbin", selector("{app: bogus-label, version: v1}") + rules()) +
    namespace("prod-httpbin") + namespace("httpbin-test") +
    ap(
      "httpbin-bogus-not-ns",
      "httpbin",
      selector("{app: httpbin, version: v1}") + rules(`{notNamespaces: ${patterns}}`),
    ) +
    ap(
      "httpbin-bogus-ns",
      "httpbin",
      selector("{app: httpbin, version: v1}") + rules(`{namespaces: ${patterns}}`),
    ) +
    `apiVersion: v1
kind: Pod
metadata: {labels: {app: httpbin, version: v1}, name: httpbin-55bf89f8c9-wzfrh, namespace: httpbin}
spec:
  containers: [{image: "gcr.io/google-samples/microservices-demo/adservice:v0.1.1", name: server}]
---
` +
    ap("no-workload", "test-ambient", selector("{app: httpbin, version: v1}") + rules()) +
    ap("valid-policy", "test-ambient", selector("{app: sleep, version: v1}") + rules()) +
    `apiVersion: v1
kind: Pod
metadata:
  labels: {app: sleep, version: v1}
  annotations: {ambient.istio.io/redirection: enabled}
  name: sleep-55bf89f8c9-wzfrh
  namespace: test-ambient
spec:
  containers: [{image: "gcr.io/google-samples/microservices-demo/adservice:v0.1.1", name: server}]
`,
  expected: [
    "IST0127 AuthorizationPolicy istio-system/meshwide-httpbin-v1",
    "IST0127 AuthorizationPolicy httpbin-empty/httpbin-empty-namespace-wide",
    "IST0127 AuthorizationPolicy httpbin/httpbin-nopods",
    "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-ns",
    "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-ns",
    "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-not-ns",
    "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-not-ns",
    "IST0127 AuthorizationPolicy test-ambient/no-workload",
  ],
}]);
