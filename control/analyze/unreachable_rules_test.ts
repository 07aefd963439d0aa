import assert from "node:assert/strict";
import type { HTTPRoute } from "../../api/resources.ts";
import { unreachableRules, unreachableRulesAnalyzer } from "./unreachable_rules.ts";
import { istioCases, lineOf, linesOf, run, sample, sampleTest } from "./testutil.ts";
import { analyze } from "./mod.ts";

const only = { analyzers: [unreachableRulesAnalyzer] };
const to = { route: [{ destination: { host: "r" } }] };

Deno.test("unreachable rules: rules after a catch-all, and a second catch-all", () => {
  const routes: HTTPRoute[] = [
    { ...to },
    { ...to, match: [{ uri: { prefix: "/a" } }] },
    { ...to, name: "last" },
  ];
  assert.deepEqual(unreachableRules(routes), [
    {
      kind: "unreachable",
      rule: 1,
      ruleName: "#1",
      reason: "route without matches defined before",
    },
    {
      kind: "unreachable",
      rule: 2,
      ruleName: '"last"',
      reason: "only the last rule can have no matches",
    },
  ]);
});

Deno.test("unreachable rules: duplicate matches (names ignored, key order ignored)", () => {
  const routes: HTTPRoute[] = [
    { ...to, match: [{ uri: { exact: "/a" }, method: { exact: "GET" } }] },
    {
      ...to,
      match: [
        { name: "again", method: { exact: "GET" }, uri: { exact: "/a" } },
        { uri: { exact: "/b" } },
      ],
    },
    { ...to, match: [{ uri: { exact: "/b" } }] },
  ];
  assert.deepEqual(unreachableRules(routes), [
    { kind: "ineffective", rule: 1, match: 0, ruleName: "#1", matchName: '"again"', dup: "#0" },
    { kind: "ineffective", rule: 2, match: 0, ruleName: "#2", matchName: "#0", dup: "#1" },
    { kind: "unreachable", rule: 2, ruleName: "#2", reason: "all matches used by prior rules" },
  ]);
});

Deno.test("unreachable rules: a longer prefix after a shorter one with the same conditions", () => {
  const routes: HTTPRoute[] = [
    { ...to, match: [{ uri: { prefix: "/api" } }] },
    { ...to, match: [{ uri: { prefix: "/api/v1" } }] },
    // Different conditions: not covered.
    { ...to, match: [{ uri: { prefix: "/api/v2" }, headers: { x: { exact: "1" } } }] },
    { ...to, match: [{ uri: { prefix: "/api/v3" }, port: 8080 }] },
  ];
  assert.deepEqual(unreachableRules(routes), [
    {
      kind: "ineffective",
      rule: 1,
      match: 0,
      ruleName: "#1",
      matchName: "#0 of prefix /api/v1",
      dup: "#0 of prefix /api on #0",
    },
  ]);
  // The shorter prefix after the longer one is fine.
  assert.deepEqual(unreachableRules([routes[1], routes[0]]), []);
});

Deno.test("unreachable rules: messages point at the rule and at the match", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews}
  - name: jason-again
    match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews}
  - route:
    - destination: {host: reviews}
  - route:
    - destination: {host: reviews}
`;
  const messages = run(yaml, only);
  assert.deepEqual(linesOf(messages), [
    `Warning [IST0130] (VirtualService default/reviews t.yaml:${
      lineOf(yaml, "- name: jason-again")
    }) VirtualService rule "jason-again" not used (all matches used by prior rules).`,
    `Warning [IST0130] (VirtualService default/reviews t.yaml:${
      lineOf(yaml, "- route:", 2)
    }) VirtualService rule #3 not used (only the last rule can have no matches).`,
    `Info [IST0131] (VirtualService default/reviews t.yaml:${
      lineOf(yaml, "- headers:", 2)
    }) VirtualService rule "jason-again" match #0 is not used (duplicate/overlapping match in rule #0).`,
  ]);
});

sampleTest("unreachable rules: Istio's Bookinfo routes", () => {
  const files = [
    "networking/virtual-service-reviews-test-v2.yaml",
    "networking/virtual-service-reviews-jason-v2-v3.yaml",
    "networking/virtual-service-ratings-test-abort.yaml",
    "networking/bookinfo-gateway.yaml",
  ];
  for (const f of files) {
    const { messages } = analyze([sample(f)], only);
    assert.deepEqual(linesOf(messages, "IST0130"), [], f);
    assert.deepEqual(linesOf(messages, "IST0131"), [], f);
  }
  // This sample has two rules without matches (the first injects the fault); Istio's
  // validation flags the second as unreachable too.
  const f = "networking/fault-injection-details-v1.yaml";
  const { messages } = analyze([sample(f)], only);
  assert.deepEqual(linesOf(messages, "IST0130"), [
    `Warning [IST0130] (VirtualService default/details ${f}:18) VirtualService rule #1 not used ` +
    "(only the last rule can have no matches).",
  ]);
});

Deno.test("unreachable rules: tcp and tls routes, and overlaps within one HTTP rule", () => {
  const tcp = [
    { match: [{ port: 31400 }], route: [] },
    { match: [{ port: 31400 }, { port: 31401 }], route: [] },
    { route: [] },
    { route: [] },
  ];
  assert.deepEqual(unreachableRules(tcp, "tcp"), [
    { kind: "ineffective", rule: 1, match: 0, ruleName: "#1", matchName: "#0", dup: "#0" },
    {
      kind: "unreachable",
      rule: 3,
      ruleName: "#3",
      reason: "only the last rule can have no matches",
    },
  ]);
  const tls = [
    { match: [{ port: 2443, sniHosts: ["a.com"] }] },
    { match: [{ sniHosts: ["a.com"], port: 2443 }] },
  ];
  assert.deepEqual(unreachableRules(tls, "tls").map((f) => f.kind), ["ineffective", "unreachable"]);
  // One rule whose second match is covered by its first (Istio compares every pair).
  const http = [{
    name: "one",
    match: [
      { uri: { prefix: "/api/v1/product" } },
      { uri: { prefix: "/api/v1/products" }, method: { exact: "GET" } },
    ],
  }];
  assert.deepEqual(unreachableRules(http), [{
    kind: "ineffective",
    rule: 0,
    match: 1,
    ruleName: '"one"',
    matchName: "#1 of prefix /api/v1/products",
    dup: '#0 of prefix /api/v1/product on "one"',
  }]);
});

const vsOf = (name: string, ns: string | undefined, spec: string) =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}${ns ? `, namespace: ${ns}` : ""}}
spec:
${spec}
---
`;
const dest = (host: string, extra = "") => `    route:\n    - destination: {host: ${host}${extra}}`;
const tcpEcho = (subset: string) => dest("tcp-echo", `, port: {number: 9000}, subset: ${subset}`);
const tcpHead = '  hosts: ["*"]\n  gateways: [tcp-echo-gateway]\n  tcp:\n';
const get = (prefix: string, method = "GET") =>
  `    - uri: {prefix: "${prefix}"}\n      method: {exact: ${method}}`;

// Istio's testdata/virtualservice_dupmatches.yaml and virtualservice_overlappingmatches.yaml
// (case "dupmatches", reported by Istio's VirtualService validation).
istioCases(unreachableRulesAnalyzer, [{
  name: "dupmatches",
  yaml: vsOf(
    "sample-foo-cluster01",
    "foo",
    `  hosts: [sample.foo.svc.cluster.local]
  http:
  - fault: {delay: {fixedDelay: 5s, percentage: {value: 100}}}
${dest("sample.foo.svc.cluster.local")}
  - mirror: {host: sample.bar.svc.cluster.local}
${dest("sample.bar.svc.cluster.local", ", subset: v1")}`,
  ) +
    vsOf(
      "duplicate-match",
      undefined,
      `  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: send /api/v1/products to sample.foo
    match:
    - name: prefix /api/v1/products
      uri: {prefix: /api/v1/products}
${dest("sample.foo.svc.cluster.local")}
  - name: send /api/v1/products to sample.bar
    match:
    - uri: {prefix: /api/v1/products}
${dest("sample.bar.svc.cluster.local", ", subset: v1")}`,
    ) +
    vsOf(
      "almost-duplicate-match",
      undefined,
      `  hosts: [sample.bar.svc.cluster.local]
  http:
  - match:
    - uri: {prefix: /api/v1/products}
${dest("sample.foo.svc.cluster.local")}
  - name: send /api/v1/products and /potato to sample.bar
    match:
    - name: prefix /api/v1/products
      uri: {prefix: /api/v1/products}
    - name: prefix /potato
      uri: {prefix: /potato}
${dest("sample.bar.svc.cluster.local", ", subset: v1")}`,
    ) +
    vsOf(
      "duplicate-tcp-match",
      undefined,
      `${tcpHead}  - match: [{port: 31400}]\n${tcpEcho("v1")}\n  - match: [{port: 31400}]\n${
        tcpEcho("v2")
      }`,
    ) +
    vsOf(
      "duplicate-empty-tcp",
      undefined,
      `${tcpHead}  -${tcpEcho("v1").slice(3)}\n  -${tcpEcho("v2").slice(3)}`,
    ) +
    vsOf(
      "almost-duplicate-tcp-match",
      undefined,
      `${tcpHead}  - match: [{port: 31400}]\n${
        tcpEcho("v1")
      }\n  - match: [{port: 31400}, {port: 31401}]\n${tcpEcho("v2")}`,
    ) +
    vsOf(
      "tls-routing",
      "none",
      `  hosts: [www1.googleapis.com, api1.facebook.com]
  tls:
  - match: [{port: 2443, sniHosts: [www1.googleapis.com]}]
${dest("www1.googleapis.com")}
  - match: [{port: 2443, sniHosts: [www1.googleapis.com]}]
${dest("api1.facebook.com")}`,
    ) +
    vsOf(
      "tls-routing-almostmatch",
      "none",
      `  hosts: [www1.example.com]
  tls:
  - match: [{port: 2443, sniHosts: [www1.example.com]}]
${dest("www1.googleapis.com")}
  - match: [{port: 2443, sniHosts: [www1.example.com]}, {port: 8443, sniHosts: [www1.example.com]}]
${dest("api1.facebook.com")}`,
    ) +
    vsOf(
      "non-method-get",
      undefined,
      `  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: "send product to sample.foo"
    match:
    - uri: {prefix: "/api/v1/product"}
${get("/api/v1/products")}
${dest("sample.foo.svc.cluster.local")}`,
    ) +
    vsOf(
      "uri-with-prefix-exact",
      undefined,
      `  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: "send product to sample.foo"
    match:
    - uri: {prefix: "/"}
    - uri: {exact: "/"}
      method: {exact: GET}
${dest("sample.foo.svc.cluster.local")}`,
    ) +
    vsOf(
      "overlapping-in-single-match",
      undefined,
      `  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: "send product to sample.foo"
    match:
${get("/api/v1/product")}
${get("/api/v1/products")}
${dest("sample.foo.svc.cluster.local")}`,
    ) +
    vsOf(
      "overlapping-in-two-matches",
      undefined,
      `  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: "send product to sample.foo"
    match:
${get("/api/v1/product")}
${dest("sample.foo.svc.cluster.local")}
  - name: "send products to sample.bar"
    match:
${get("/api/v1/products")}
${dest("sample.bar.svc.cluster.local", ", subset: v1")}`,
    ) +
    vsOf(
      "overlapping-mathes-with-different-methods",
      undefined,
      `  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: "send product to sample.foo"
    match:
${get("/api/v1/prod")}
${dest("sample.foo.svc.cluster.local")}
  - name: "send products to sample.bar"
    match:
${get("/api/v1/product")}
${get("/api/v1/products", "POST")}
${dest("sample.bar.svc.cluster.local", ", subset: v1")}`,
    ),
  expected: [
    "IST0130 VirtualService default/duplicate-match",
    "IST0130 VirtualService foo/sample-foo-cluster01",
    "IST0131 VirtualService default/almost-duplicate-match",
    "IST0131 VirtualService default/duplicate-match",
    "IST0130 VirtualService default/duplicate-tcp-match",
    "IST0130 VirtualService default/duplicate-empty-tcp",
    "IST0131 VirtualService default/almost-duplicate-tcp-match",
    "IST0131 VirtualService default/duplicate-tcp-match",
    "IST0130 VirtualService none/tls-routing",
    "IST0131 VirtualService none/tls-routing-almostmatch",
    "IST0131 VirtualService none/tls-routing",
    "IST0131 VirtualService default/non-method-get",
    "IST0131 VirtualService default/overlapping-in-single-match",
    "IST0131 VirtualService default/overlapping-in-two-matches",
    "IST0131 VirtualService default/overlapping-mathes-with-different-methods",
  ],
}]);
