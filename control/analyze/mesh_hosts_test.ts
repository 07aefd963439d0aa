import assert from "node:assert/strict";
import { meshHostsAnalyzer } from "./mesh_hosts.ts";
import { lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [meshHostsAnalyzer] };

const vs = (name: string, ns: string, hosts: string[], extra = "") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts: ${JSON.stringify(hosts)}
${extra}  http:
  - route:
    - destination: {host: productpage}
---
`;

Deno.test("mesh hosts: two mesh VirtualServices with one host are IST0109 on both", () => {
  // Istio's example: short and full names of the same service conflict.
  const yaml = vs("productpage", "team-1", ["productpage.default.svc.cluster.local"]) +
    vs("custom", "default", ["productpage"]);
  const text = (line: number, who: string) =>
    `Error [IST0109] (VirtualService ${who} t.yaml:${line}) The VirtualServices ` +
    "team-1/productpage,default/custom associated with mesh gateway define the same host " +
    "productpage.default.svc.cluster.local which can lead to undefined behavior. This can be " +
    "fixed by merging the conflicting VirtualServices into a single resource.";
  assert.deepEqual(linesOf(run(yaml, only), "IST0109"), [
    text(lineOf(yaml, "name: custom"), "default/custom"),
    text(lineOf(yaml, "name: productpage"), "team-1/productpage"),
  ]);
});

Deno.test("mesh hosts: gateway-only VirtualServices don't conflict; mesh among gateways does", () => {
  const gwOnly = vs("a", "default", ["web"], "  gateways: [public]\n") +
    vs("b", "default", ["web"]);
  assert.deepEqual(linesOf(run(gwOnly, only), "IST0109"), []);
  const withMesh = vs("a", "default", ["web"], "  gateways: [public, mesh]\n") +
    vs("b", "default", ["web"]);
  assert.equal(linesOf(run(withMesh, only), "IST0109").length, 2);
});

Deno.test("mesh hosts: exportTo scopes the hosts", () => {
  const local = (name: string, ns: string) =>
    vs(name, ns, ["productpage.default.svc.cluster.local"], '  exportTo: ["."]\n');
  assert.deepEqual(linesOf(run(local("a", "team-1") + local("b", "team-2"), only), "IST0109"), []);
  assert.equal(
    linesOf(run(local("a", "team-1") + local("b", "team-1"), only), "IST0109").length,
    2,
  );
  // Different hosts never conflict.
  assert.deepEqual(
    linesOf(run(vs("a", "default", ["a"]) + vs("b", "default", ["b"]), only), "IST0109"),
    [],
  );
});
