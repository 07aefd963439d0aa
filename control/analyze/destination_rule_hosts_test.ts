import assert from "node:assert/strict";
import { destinationRuleHostAnalyzer } from "./destination_rule_hosts.ts";
import { kubeService, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [destinationRuleHostAnalyzer] };

const dr = (host: string, ns = "default") =>
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: rule, namespace: ${ns}}
spec:
  host: "${host}"
---
`;

Deno.test("destination rule hosts: a rule for an unknown host is IST0174", () => {
  const yaml = dr("reviews");
  assert.deepEqual(linesOf(run(yaml, only), "IST0174"), [
    `Warning [IST0174] (DestinationRule default/rule t.yaml:${
      lineOf(yaml, "host:")
    }) The host reviews defined in the DestinationRule does not match any services in the mesh.`,
  ]);
  assert.deepEqual(linesOf(run(kubeService("reviews", [9080]) + yaml, only), "IST0174"), []);
});

Deno.test("destination rule hosts: short names are in the rule's namespace", () => {
  const svc = kubeService("reviews", [9080], "shop");
  assert.equal(linesOf(run(svc + dr("reviews", "default"), only), "IST0174").length, 1);
  assert.deepEqual(linesOf(run(svc + dr("reviews", "shop"), only), "IST0174"), []);
  assert.deepEqual(linesOf(run(svc + dr("reviews.shop.svc.cluster.local"), only), "IST0174"), []);
});

Deno.test("destination rule hosts: ServiceEntry hosts, and wildcards that cover a host", () => {
  const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [www.googleapis.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
`;
  assert.deepEqual(linesOf(run(se + dr("www.googleapis.com"), only), "IST0174"), []);
  assert.deepEqual(linesOf(run(se + dr("*.googleapis.com"), only), "IST0174"), []);
  assert.deepEqual(
    linesOf(run(kubeService("a", [1]) + dr("*.default.svc.cluster.local"), only), "IST0174"),
    [],
  );
  assert.equal(linesOf(run(se + dr("*.example.com"), only), "IST0174").length, 1);
});
