import assert from "node:assert/strict";
import type { HTTPRoute } from "../../api/resources.ts";
import { unreachableRules, unreachableRulesAnalyzer } from "./unreachable_rules.ts";
import { lineOf, linesOf, run, sample, sampleTest } from "./testutil.ts";
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
