/**
 * `istio.io/dry-run` AuthorizationPolicies, from YAML through the control plane's translation
 * to the proxy's decision: a dry-run policy never allows or denies, and what it would have
 * decided comes with the decision (as Istio's shadow rules). Also: empty lists read as unset,
 * as Istio's protobuf decoding reads them.
 */
import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { type AuthzRequest, compileAuthz } from "../proxy/authz.ts";
import { authzFor } from "./authz.ts";
import { buildSnapshot } from "./snapshot.ts";

const NODE: NodeInfo = {
  id: "sidecar~127.0.0.1~httpbin.default",
  mode: "sidecar",
  namespace: "default",
  serviceAccount: "httpbin",
  labels: { app: "httpbin" },
  address: "127.0.0.1",
};

/** The proxy's policies for {@linkcode NODE} from YAML. */
function policies(yaml: string) {
  const { resources, diagnostics } = parseResources(yaml, "policy.yaml");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  const mesh = { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" as const };
  return authzFor(buildSnapshot({ revision: 1, resources, workloads: [], mesh, roots: "" }), NODE);
}

function policy(name: string, annotation: string | undefined, spec: string): string {
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: default
${annotation === undefined ? "" : `  annotations: {istio.io/dry-run: "${annotation}"}\n`}spec:
${spec}
---`;
}

function get(path: string, principal = "cluster.local/ns/default/sa/sleep"): AuthzRequest {
  return {
    principal,
    sourceIp: "10.0.0.2",
    host: "httpbin",
    port: 8080,
    method: "GET",
    path,
    header: () => undefined,
  };
}

const DENY_ADMIN = `  action: DENY
  rules: [{to: [{operation: {paths: [/admin], ports: ["8080"]}}]}]`;

Deno.test("dry-run: a DENY policy marked dry-run doesn't deny; its would-be denial is reported", () => {
  const ps = policies(policy("deny-admin", "true", DENY_ADMIN));
  assert.equal(ps.length, 1);
  assert.equal(ps[0].dryRun, true);
  const decide = compileAuthz(ps);
  assert.deepEqual(decide(get("/admin")), {
    allowed: true,
    dryRun: [{ action: "DENY", allowed: false, policy: "default/deny-admin" }],
  });
  assert.deepEqual(decide(get("/public")), {
    allowed: true,
    dryRun: [{ action: "DENY", allowed: true }],
  });
});

Deno.test("dry-run: false, 0 or no annotation enforce the policy", () => {
  for (const annotation of ["false", "0", undefined]) {
    const ps = policies(policy("deny-admin", annotation, DENY_ADMIN));
    assert.equal(ps[0].dryRun, undefined);
    assert.deepEqual(compileAuthz(ps)(get("/admin")), {
      allowed: false,
      policy: "default/deny-admin",
    });
  }
});

Deno.test("dry-run: an ALLOW policy marked dry-run neither allows nor turns on allow-by-default", () => {
  // Alone, a dry-run ALLOW policy leaves the workload open (no enforced ALLOW policy).
  const alone = compileAuthz(
    policies(policy("only-sleep", "T", "  rules: [{from: [{source: {namespaces: [sleep]}}]}]")),
  );
  assert.deepEqual(alone(get("/", "cluster.local/ns/other/sa/x")), {
    allowed: true,
    dryRun: [{ action: "ALLOW", allowed: false }],
  });
  // Beside an enforced ALLOW policy, it doesn't let anything more in.
  const both = compileAuthz(policies(
    policy("only-sleep", undefined, "  rules: [{from: [{source: {namespaces: [sleep]}}]}]") +
      policy("everyone", "true", "  rules: [{}]"),
  ));
  assert.deepEqual(both(get("/", "cluster.local/ns/other/sa/x")), {
    allowed: false,
    dryRun: [{ action: "ALLOW", allowed: true, policy: "default/everyone" }],
  });
  assert.equal(both(get("/", "cluster.local/ns/sleep/sa/x")).allowed, true);
});

Deno.test("empty lists are unset: from: [] matches any source, principals: [] adds nothing", () => {
  const [p] = policies(policy(
    "lists",
    undefined,
    `  rules:
  - from: []
    to: [{operation: {paths: [/a], methods: []}}]
  - from: [{source: {principals: [], namespaces: [sleep]}}]
    when: [{key: source.namespace, values: [], notValues: [other]}]`,
  ));
  assert.deepEqual(p.rules, [
    { to: [{ paths: ["/a"] }] },
    {
      from: [{ namespaces: ["sleep"] }],
      when: [{ key: "source.namespace", notValues: ["other"] }],
    },
  ]);
  const decide = compileAuthz([p]);
  assert.equal(decide(get("/a", "cluster.local/ns/anyone/sa/x")).allowed, true);
  assert.equal(decide(get("/b", "cluster.local/ns/sleep/sa/x")).allowed, true);
  assert.equal(decide(get("/b", "cluster.local/ns/anyone/sa/x")).allowed, false);
});
