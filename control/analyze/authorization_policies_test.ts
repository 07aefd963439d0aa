import assert from "node:assert/strict";
import { authorizationPolicyAnalyzer, namespaceMatches } from "./authorization_policies.ts";
import { lineOf, linesOf, run } from "./testutil.ts";

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
