import assert from "node:assert/strict";
import { destinationSubsetAnalyzer } from "./destination_subsets.ts";
import { istioCases, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [destinationSubsetAnalyzer] };

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
---
`;

const vs = (routes: string, ns = "default") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${ns}}
spec:
  hosts: [reviews]
  http:
${routes}
`;

Deno.test("subsets: defined subsets pass; an undefined one is IST0101 host+subset", () => {
  const yaml = DR + vs(`  - match: [{headers: {end-user: {exact: jason}}}]
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v3}`);
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Error [IST0101] (VirtualService default/reviews t.yaml:${
      lineOf(yaml, "subset: v3")
    }) Referenced host+subset in destinationrule not found: "reviews+v3"`,
  ]);
});

Deno.test("subsets: without any DestinationRule every subset is missing; no subset is fine", () => {
  const yaml = vs(`  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews}
      weight: 50`);
  assert.deepEqual(linesOf(run(yaml, only)), [
    `Error [IST0101] (VirtualService default/reviews t.yaml:${
      lineOf(yaml, "subset: v1")
    }) Referenced host+subset in destinationrule not found: "reviews+v1"`,
  ]);
});

Deno.test("subsets: mirrors are reported as mirror+subset", () => {
  const yaml = DR + vs(`  - route:
    - destination: {host: reviews, subset: v1}
    mirror: {host: reviews, subset: shadow}`);
  assert.deepEqual(linesOf(run(yaml, only), "IST0101"), [
    `Error [IST0101] (VirtualService default/reviews t.yaml:${
      lineOf(yaml, "subset: shadow")
    }) Referenced mirror+subset in destinationrule not found: "reviews+shadow"`,
  ]);
});

Deno.test("subsets: the host is matched by full name across namespaces", () => {
  // The rule in "default" is for reviews.default...; a VirtualService in "shop" that writes
  // the short name means reviews.shop..., which has no rule.
  const shop = DR + vs(
    `  - route:
    - destination: {host: reviews, subset: v1}`,
    "shop",
  );
  assert.equal(linesOf(run(shop, only)).length, 1);
  const full = DR + vs(
    `  - route:
    - destination: {host: reviews.default.svc.cluster.local, subset: v1}`,
    "shop",
  );
  assert.deepEqual(linesOf(run(full, only)), []);
});

Deno.test("subsets: the most specific DestinationRule applies, as in the control plane", () => {
  const wildcard = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all}
spec:
  host: "*.default.svc.cluster.local"
  subsets:
  - name: canary
    labels: {track: canary}
---
`;
  // Only the wildcard rule covers ratings: its subsets count.
  const ratings = wildcard + vs(`  - route:
    - destination: {host: ratings, subset: canary}`);
  assert.deepEqual(linesOf(run(ratings, only)), []);
  // reviews has its own rule, which wins; canary is not in it.
  const reviews = wildcard + DR + vs(`  - route:
    - destination: {host: reviews, subset: canary}`);
  assert.deepEqual(linesOf(run(reviews, only)).map((l) => l.replace(/t\.yaml:\d+/, "t.yaml")), [
    "Error [IST0101] (VirtualService default/reviews t.yaml) Referenced host+subset in " +
    'destinationrule not found: "reviews+canary"',
  ]);
});

const route = (name: string, dest: string, mirror = "") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  http:
  - route:
    - destination: ${dest}
${mirror ? `    mirror: ${mirror}\n` : ""}---
`;

// Istio's testdata/virtualservice_destinationrules.yaml (VirtualServices without hosts are
// invalid and analyzed all the same).
istioCases(destinationSubsetAnalyzer, [{
  name: "virtualServiceDestinationRules",
  yaml: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{labels: {version: v1}, name: v1}]
---
` + route("reviews", "{host: reviews, subset: v1}") +
    route("reviews-bogussubset", "{host: reviews, subset: bogus}") +
    route("reviews-fqdn", "{host: reviews.default.svc.cluster.local, subset: v1}") +
    route("reviews-mirror", "{host: reviews, subset: v1}", "{host: reviews, subset: v1}") +
    route(
      "reviews-mirror-bogussubset",
      "{host: reviews, subset: v1}",
      "{host: reviews, subset: bogus}",
    ),
  expected: [
    "IST0101 VirtualService default/reviews-bogussubset",
    "IST0101 VirtualService default/reviews-mirror-bogussubset",
  ],
}]);
