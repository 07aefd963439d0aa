/**
 * Trust domains and their aliases (MeshConfig `trustDomainAliases`): parsed without a warning,
 * carried into the generated ProxyConfig, and enforced by a proxy's peer checks (inbound: the
 * peer's SPIFFE ID must be in the mesh's trust domain or an alias; outbound: the expected
 * identity, or the same path under an alias, as Istio expands a cluster's SANs).
 */
import assert from "node:assert/strict";
import type { PeerCertificate } from "node:tls";
import { parseResources } from "../api/resources.ts";
import { buildSnapshot, meshSettingsFrom } from "../control/snapshot.ts";
import { generateProxyConfig } from "../control/generate.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { checkPeerIdentity } from "./inbound.ts";
import { acceptedIdentities, identityChecker } from "./forward.ts";

const MESH_CONFIG = `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  trustDomain: cluster.local
  trustDomainAliases: [old.example.org, cluster.local]
`;

const NODE: NodeInfo = {
  id: "sidecar~127.0.0.1~b.default",
  mode: "sidecar",
  namespace: "default",
  serviceAccount: "b",
  labels: { app: "b" },
  address: "127.0.0.1",
};

Deno.test("MeshConfig trustDomainAliases: no warning, and into every proxy's config", () => {
  const { resources, diagnostics } = parseResources(MESH_CONFIG, "mesh.yaml");
  assert.deepEqual(diagnostics, []);
  const defaults = { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" as const };
  const mesh = meshSettingsFrom(defaults, resources);
  assert.deepEqual(mesh.trustDomainAliases, ["old.example.org", "cluster.local"]);
  const snapshot = buildSnapshot({ revision: 1, resources, workloads: [], mesh, roots: "" });
  const cfg = generateProxyConfig(snapshot, NODE);
  assert.equal(cfg.trustDomain, "cluster.local");
  assert.deepEqual(cfg.trustDomainAliases, ["old.example.org", "cluster.local"]);
  // Without aliases the field is absent (configs stay as they were).
  const plain = generateProxyConfig(
    buildSnapshot({ revision: 1, resources: [], workloads: [], mesh: defaults, roots: "" }),
    NODE,
  );
  assert.equal("trustDomainAliases" in plain, false);
});

Deno.test("checkPeerIdentity: only a single SPIFFE ID in the mesh's trust domain or an alias", () => {
  const tds = ["cluster.local", "old.example.org"];
  assert.deepEqual(checkPeerIdentity("URI:spiffe://cluster.local/ns/default/sa/a", tds), {
    id: "spiffe://cluster.local/ns/default/sa/a",
  });
  assert.deepEqual(checkPeerIdentity("URI:spiffe://old.example.org/ns/default/sa/a", tds), {
    id: "spiffe://old.example.org/ns/default/sa/a",
  });
  const refused = (san: string | undefined, domains = tds) => {
    const r = checkPeerIdentity(san, domains);
    assert.ok("refused" in r, `${san} should be refused`);
    return r.refused;
  };
  assert.match(
    refused("URI:spiffe://evil.example/ns/default/sa/a"),
    /spiffe:\/\/evil\.example\/ns\/default\/sa\/a is in trust domain evil\.example, not the mesh's \(cluster\.local, old\.example\.org\); add it to MeshConfig trustDomainAliases/,
  );
  // Without the alias configured, the old trust domain is foreign too.
  assert.match(
    refused("URI:spiffe://old.example.org/ns/default/sa/a", ["cluster.local"]),
    /trust domain old\.example\.org/,
  );
  assert.match(refused(undefined), /no SPIFFE ID \(no URI SAN\)/);
  assert.match(refused("DNS:a.example.com, IP Address:127.0.0.1"), /no SPIFFE ID/);
  assert.match(refused("URI:https://cluster.local/ns/default/sa/a"), /is not a SPIFFE ID/);
  assert.match(refused("URI:spiffe://cluster.local"), /is not a SPIFFE ID/);
  assert.match(
    refused("URI:spiffe://cluster.local/ns/default/sa/a, URI:spiffe://evil.example/x"),
    /2 URI SANs.*exactly one/,
  );
  // A trust domain that merely starts like ours is not ours.
  assert.match(refused("URI:spiffe://cluster.local.evil/ns/default/sa/a"), /cluster\.local\.evil/);
});

Deno.test("identityChecker: the expected SPIFFE ID, or the same path under a trust domain alias", () => {
  const cert = (san: string) => ({ subjectaltname: san }) as PeerCertificate;
  const expected = "spiffe://cluster.local/ns/default/sa/b";
  const aliases = ["old.example.org"];
  const check = identityChecker(expected, () => aliases);
  assert.equal(check("b", cert(`URI:${expected}`)), undefined);
  assert.equal(check("b", cert("URI:spiffe://old.example.org/ns/default/sa/b")), undefined);
  // Another workload under the alias, or the same one in a domain that is no alias: refused.
  const other = check("b", cert("URI:spiffe://old.example.org/ns/default/sa/c"));
  assert.match(String(other), /not the expected spiffe:\/\/cluster\.local\/ns\/default\/sa\/b/);
  assert.match(
    String(other),
    /or spiffe:\/\/old\.example\.org\/ns\/default\/sa\/b, by trust domain alias/,
  );
  assert.ok(check("b", cert("URI:spiffe://evil.example/ns/default/sa/b")) instanceof Error);
  // Without aliases only the exact id passes.
  const strict = identityChecker(expected);
  assert.ok(strict("b", cert("URI:spiffe://old.example.org/ns/default/sa/b")) instanceof Error);
  assert.match(String(strict("b", cert(""))), /peer identity \(none\)/);
  // Aliases are read per handshake: a config change applies to the next connection.
  let now: string[] = [];
  const live = identityChecker(expected, () => now);
  assert.ok(live("b", cert("URI:spiffe://old.example.org/ns/default/sa/b")) instanceof Error);
  now = ["old.example.org"];
  assert.equal(live("b", cert("URI:spiffe://old.example.org/ns/default/sa/b")), undefined);
  assert.deepEqual(acceptedIdentities(expected, ["cluster.local", "a.b"]), [
    expected,
    "spiffe://a.b/ns/default/sa/b",
  ]);
  assert.deepEqual(acceptedIdentities("not-spiffe", ["a.b"]), ["not-spiffe"]);
});
