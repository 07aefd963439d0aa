import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { authzFor, expandPrincipal } from "./authz.ts";
import { buildSnapshot, type MeshSettings } from "./snapshot.ts";

const POLICY = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-sleep, namespace: default }
spec:
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/sleep-allow/sa/sleep, other-td/ns/x/sa/y, "*"]
        notPrincipals: [old-td/ns/bad/sa/bad]
    when:
    - key: source.principal
      values: [new-td/ns/sleep-allow/sa/sleep]
`;

const NODE: NodeInfo = {
  id: "sidecar~127.0.0.1~httpbin.default",
  mode: "sidecar",
  namespace: "default",
  serviceAccount: "httpbin",
  labels: { app: "httpbin" },
  address: "127.0.0.1",
};

function policiesWith(mesh: MeshSettings) {
  const { resources, diagnostics } = parseResources(POLICY, "policy.yaml");
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  return authzFor(
    buildSnapshot({ revision: 1, resources, workloads: [], mesh, roots: "" }),
    NODE,
  );
}

Deno.test("expandPrincipal: the mesh's trust domain, its aliases and cluster.local stand for all of them", () => {
  const domains = ["new-td", "old-td"];
  assert.deepEqual(expandPrincipal("cluster.local/ns/a/sa/b", domains), [
    "new-td/ns/a/sa/b",
    "old-td/ns/a/sa/b",
  ]);
  assert.deepEqual(expandPrincipal("old-td/ns/a/sa/b", domains), [
    "new-td/ns/a/sa/b",
    "old-td/ns/a/sa/b",
  ]);
  assert.deepEqual(expandPrincipal("foreign/ns/a/sa/b", domains), ["foreign/ns/a/sa/b"]);
  assert.deepEqual(expandPrincipal("*", domains), ["*"]);
  assert.deepEqual(expandPrincipal("*/ns/a/sa/b", domains), ["*/ns/a/sa/b"]);
});

Deno.test("authzFor: principals follow trustDomain and trustDomainAliases as in Istio's trust domain migration", () => {
  const [p] = policiesWith({
    trustDomain: "new-td",
    trustDomainAliases: ["old-td"],
    outboundTrafficPolicy: "ALLOW_ANY",
  });
  const src = p.rules[0].from![0];
  assert.deepEqual(src.principals, [
    "new-td/ns/sleep-allow/sa/sleep",
    "old-td/ns/sleep-allow/sa/sleep",
    "other-td/ns/x/sa/y",
    "*",
  ]);
  assert.deepEqual(src.notPrincipals, ["new-td/ns/bad/sa/bad", "old-td/ns/bad/sa/bad"]);
  assert.deepEqual(p.rules[0].when![0].values, [
    "new-td/ns/sleep-allow/sa/sleep",
    "old-td/ns/sleep-allow/sa/sleep",
  ]);
  // The default mesh (cluster.local, no aliases) keeps policies as written.
  const [plain] = policiesWith({
    trustDomain: "cluster.local",
    outboundTrafficPolicy: "ALLOW_ANY",
  });
  assert.deepEqual(plain.rules[0].from![0].principals, [
    "cluster.local/ns/sleep-allow/sa/sleep",
    "other-td/ns/x/sa/y",
    "*",
  ]);
});
