import assert from "node:assert/strict";
import { destinationRuleHostAnalyzer } from "./destination_rule_hosts.ts";
import { istioCases, kubeService, lineOf, linesOf, run } from "./testutil.ts";

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

Deno.test("destination rule hosts: subsets must select some workload (IST0173)", () => {
  const rule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v9, labels: {version: v9}}
---
`;
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1}
spec:
  template:
    metadata: {labels: {app: reviews, version: v1}}
---
`;
  const yaml = kubeService("reviews", [9080]) + rule + deployment;
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Error [IST0173] (DestinationRule default/reviews t.yaml:${
      lineOf(yaml, "name: v9")
    }) The Subset v9 defined in the DestinationRule does not select any pods. Which may lead ` +
    "to 503 UH (NoHealthyUpstream).",
  ]);
});

const drule = (name: string, host: string, subsets: string) =>
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${host}
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
${subsets ? `  subsets:\n${subsets}` : ""}
---
`;
const httpbin = `apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: default}
spec:
  ports: [{name: http, port: 8000}]
  selector: {app: httpbin}
---
`;
const podOnNode = (nodeLabels: string) =>
  `apiVersion: v1
kind: Pod
metadata: {name: httpbin-pod, namespace: default, labels: {app: httpbin, version: v1}}
spec:
  nodeName: test-node
  containers: [{name: httpbin, image: httpbin}]
---
apiVersion: v1
kind: Node
metadata: {name: test-node, labels: ${nodeLabels}}
`;
const HOST = "httpbin.default.svc.cluster.local";

// Istio's testdata/destinationrule-*.yaml for destinationrule.SubsetSelectPodAnalyzer.
istioCases(destinationRuleHostAnalyzer, [
  {
    name: "DestinationRuleWithFakeHost",
    yaml: drule("fake-host", "fake-svc.default.svc.cluster.local", ""),
    expected: ["IST0174 DestinationRule default/fake-host"],
  },
  {
    name: "DestinationRuleSubsetsNotSelectPods",
    yaml: drule("subsets-not-select-pods", HOST, "  - {name: fake, labels: {version: v3}}") +
      httpbin,
    expected: ["IST0173 DestinationRule default/subsets-not-select-pods"],
  },
  {
    name: "DestinationRuleSubsetsWithTopologyLabels",
    yaml: drule(
      "subsets-with-topology-labels",
      HOST,
      `  - {name: region-us-west, labels: {topology.kubernetes.io/region: us-west-1}}
  - {name: zone-us-west-1a, labels: {topology.kubernetes.io/zone: us-west-1a}}
  - {name: app-v1, labels: {version: v1}}
  - {name: mixed-labels, labels: {version: v1, topology.kubernetes.io/region: us-west-1}}`,
    ) + httpbin + podOnNode(
      "{kubernetes.io/hostname: test-node, topology.kubernetes.io/region: us-west-1, " +
        "topology.kubernetes.io/zone: us-west-1a}",
    ),
    expected: [],
  },
  {
    name: "DestinationRuleEmptyTopologyLabels",
    yaml: drule(
      "empty-topology-labels",
      HOST,
      `  - {name: empty-region, labels: {topology.kubernetes.io/region: ""}}
  - {name: app-v1, labels: {version: v1}}`,
    ) + httpbin + podOnNode('{topology.kubernetes.io/region: ""}'),
    expected: ["IST0173 DestinationRule default/empty-topology-labels"],
  },
]);
