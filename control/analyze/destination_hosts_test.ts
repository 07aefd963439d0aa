import assert from "node:assert/strict";
import { destinationHostAnalyzer } from "./destination_hosts.ts";
import { istioCases, kubeService, lineOf, linesOf, run } from "./testutil.ts";

const only = { analyzers: [destinationHostAnalyzer] };

const vs = (spec: string, ns = "default") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: ${ns}
spec:
${spec}
---
`;

Deno.test("destination hosts: a Service or ServiceEntry host is found; others are IST0101", () => {
  const yaml = kubeService("reviews", [9080]) + `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com, "*.cdn.example.com"]
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
` + vs(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 50
    - destination:
        host: reviews2
      weight: 50
  - route:
    - destination: {host: api.example.com}
  - route:
    - destination: {host: img.cdn.example.com}
  - route:
    - destination: {host: reviews.default.svc.cluster.local}`);
  const messages = run(yaml, only);
  assert.deepEqual(linesOf(messages, "IST0101"), [
    'Error [IST0101] (VirtualService default/reviews t.yaml:32) Referenced host not found: "reviews2"',
  ]);
});

Deno.test("destination hosts: short names resolve in the VirtualService's namespace", () => {
  const yaml = kubeService("ratings", [9080], "shop") + vs(
    `  hosts: [reviews]
  http:
  - route:
    - destination: {host: ratings}`,
    "default",
  );
  assert.deepEqual(linesOf(run(yaml, only)), [
    'Error [IST0101] (VirtualService default/reviews t.yaml:22) Referenced host not found: "ratings"',
  ]);
  const fixed = yaml.replace("{host: ratings}", "{host: ratings.shop.svc.cluster.local}");
  assert.deepEqual(linesOf(run(fixed, only)), []);
});

Deno.test("destination hosts: mirrors and tcp/tls routes are checked too", () => {
  const yaml = kubeService("reviews", [9080]) + vs(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    mirror:
      host: shadow
    mirrors:
    - destination: {host: shadow2}
  tcp:
  - route:
    - destination: {host: db}`);
  const messages = run(yaml, only);
  assert.deepEqual(linesOf(messages, "IST0101").sort(), [
    'Error [IST0101] (VirtualService default/reviews t.yaml:24) Referenced mirror host not found: "shadow"',
    'Error [IST0101] (VirtualService default/reviews t.yaml:26) Referenced mirror host not found: "shadow2"',
    'Error [IST0101] (VirtualService default/reviews t.yaml:29) Referenced host not found: "db"',
  ]);
});

Deno.test("destination hosts: a multi-port host needs a port (IST0112); the port must exist", () => {
  const yaml = kubeService("reviews", [9080, 9090]) + vs(`  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route:
    - destination: {host: reviews}
  - match: [{uri: {prefix: /grpc}}]
    route:
    - destination: {host: reviews, port: {number: 9090}}
  - route:
    - destination: {host: reviews, port: {number: 9999}}`);
  assert.deepEqual(linesOf(run(yaml, only)), [
    'Error [IST0101] (VirtualService default/reviews t.yaml:30) Referenced host:port not found: "reviews:9999"',
    "Error [IST0112] (VirtualService default/reviews t.yaml:25) This VirtualService routes to a " +
    'service "reviews" that exposes multiple ports [9080 9090]. Specifying a port in the ' +
    "destination is required to disambiguate.",
  ]);
  // One port: no port needed.
  assert.deepEqual(
    linesOf(run(
      kubeService("reviews", [9080]) + vs(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}`),
      only,
    )),
    [],
  );
});

Deno.test("destination hosts: a ServiceEntry exported to another namespace is not visible", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: egress}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports: [{number: 80, name: http}]
---
` + vs(`  hosts: [api.example.com]
  http:
  - route:
    - destination: {host: api.example.com}`);
  assert.deepEqual(linesOf(run(yaml, only), "IST0101"), [
    'Error [IST0101] (VirtualService default/reviews t.yaml:18) Referenced host not found: "api.example.com"',
  ]);
});

Deno.test("destination hosts: the VirtualService's own exportTo decides where hosts are looked up", () => {
  // A Service exported only to its namespace and `team`; a VirtualService in its namespace.
  const svc = `apiVersion: v1
kind: Service
metadata:
  name: hello
  namespace: hello
  annotations: {networking.istio.io/exportTo: "team,."}
spec:
  ports: [{port: 80, name: http}]
---
`;
  const route = (exportTo: string) =>
    vs(
      `  hosts: [hello]
  exportTo: ${exportTo}
  http:
  - route:
    - destination: {host: hello.hello.svc.cluster.local}`,
      "hello",
    );
  assert.deepEqual(linesOf(run(svc + route('["."]'), only)), []);
  assert.deepEqual(linesOf(run(svc + route("[team]"), only)), []);
  // Regression: exported to a namespace that can't see the host, the host isn't found.
  assert.deepEqual(linesOf(run(svc + route("[bogus]"), only)), [
    "Error [IST0101] (VirtualService hello/reviews t.yaml:20) Referenced host not found: " +
    '"hello.hello.svc.cluster.local"',
  ]);
});

Deno.test("destination hosts: gateway routes without subset to a subset-split host (IST0140)", () => {
  const yaml = kubeService("ratings", [80]) + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: [ratings.example.com]
  gateways: [istio-system/public]
  http:
  - route:
    - destination: {host: ratings}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings, subset: v1}
`;
  assert.deepEqual(linesOf(run(yaml, only), "IST0140"), [
    `Warning [IST0140] (VirtualService default/edge t.yaml:${
      lineOf(yaml, "{host: ratings}")
    }) Subset in virtual service ` +
    "default/ratings has no effect on ingress gateway default/edge requests",
  ]);
});

const service = (name: string, ns: string, ports: string, annotations = "") =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}${annotations}}
spec:
  ports: ${ports}
---
`;
const se = (name: string, ns: string, hosts: string[], exportTo?: string[]) =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: ${JSON.stringify(hosts)}
${exportTo ? `  exportTo: ${JSON.stringify(exportTo)}\n` : ""}---
`;
/** A VirtualService: `spec` is YAML under `spec:` (two-space indented). */
const v = (name: string, ns: string, spec: string) =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}
---
`;
const to = (dest: string, extra = "") =>
  `  http:\n  - route:\n    - destination: ${dest}\n${extra}`;

// Istio's testdata/virtualservice_destinationhosts.yaml and
// virtualservice_route_rule_no_effects_ingress.yaml (the VirtualServices without hosts are
// invalid, IST0106, and analyzed all the same).
istioCases(destinationHostAnalyzer, [
  {
    name: "virtualServiceDestinationHosts",
    yaml: service("reviews", "default", "[{port: 42, name: tcp-test, protocol: TCP}]") +
      service(
        "reviews-2port",
        "default",
        "[{port: 80, name: http-test, protocol: HTTP}, {port: 443, name: https-test, protocol: HTTPS}]",
      ) +
      se("external-reviews", "default", ["external-reviews.org"]) +
      se("eu-wildcard", "default", ["*.eu.bookinfo.com"]) +
      se("service-entry-ignore", "default-ignore", ["*"], ["."]) +
      se("service-entry-other", "other", ["other.bookinfo.com"], ["."]) +
      se("service-entry-exported", "other", ["abc.bookinfo.com"], ["default"]) +
      v("reviews", "default", to("{host: reviews, subset: v1}")) +
      v(
        "reviews-bogushost",
        "default",
        "  http:\n  - route:\n    - {}\n    - destination: {host: reviews-bogus, subset: v1}",
      ) +
      v("reviews-fqdn", "default", to("{host: reviews.default.svc.cluster.local, subset: v1}")) +
      v("reviews-external", "default", to("{host: external-reviews.org}")) +
      v("reviews-bookinfo-eu", "default", to("{host: reviews.eu.bookinfo.com}")) +
      v("reviews-bookinfo-eu-wildcard", "default", to('{host: "*.eu.bookinfo.com"}')) +
      v("reviews-bookinfo-other", "default", to("{host: other.bookinfo.com}")) +
      v(
        "reviews-mirror",
        "default",
        to("{host: reviews, subset: v1}", "    mirror: {host: reviews, subset: v1}"),
      ) +
      v(
        "reviews-mirror-bogushost",
        "default",
        to("{host: reviews, subset: v1}", "    mirror: {host: reviews-bogus, subset: v1}"),
      ) +
      v("reviews-bogusport", "default", to("{host: reviews, subset: v1, port: {number: 999}}")) +
      v("reviews-2port-missing", "default", to("{host: reviews-2port, subset: v1}")) +
      v(
        "reviews-2port-present",
        "default",
        to("{host: reviews-2port, subset: v1, port: {number: 80}}"),
      ) +
      v(
        "cross-namespace",
        "istio-system",
        "  hosts: [reviews]\n" + to("{host: reviews.default.svc.cluster.local}"),
      ) +
      service(
        "details",
        "default",
        "[{port: 9080, name: http}]",
        ", annotations: {networking.istio.io/exportTo: banana}",
      ) +
      v(
        "cross-namespace-details",
        "istio-system",
        "  hosts: [details]\n" + to("{host: details.default.svc.cluster.local}"),
      ) +
      v(
        "banana-details",
        "banana",
        "  hosts: [details]\n" + to("{host: details.default.svc.cluster.local}"),
      ) +
      service(
        "hello",
        "hello",
        "[{port: 9080, name: http}]",
        ', annotations: {networking.istio.io/exportTo: "hello1,hello2,."}',
      ) +
      ["hello1", "hello2", "hello"].map((ns) =>
        v("hello", ns, "  hosts: [hello]\n" + to("{host: hello.hello.svc.cluster.local}"))
      ).join("") +
      v(
        "hello-export-to-bogus",
        "hello",
        "  hosts: [hello]\n  exportTo: [bogus]\n" + to("{host: hello.hello.svc.cluster.local}"),
      ) +
      v("vs-to-extporto-serviceentry", "default", to("{host: abc.bookinfo.com}")),
    expected: [
      "IST0101 VirtualService default/reviews-bogushost",
      "IST0101 VirtualService default/reviews-bogushost",
      "IST0101 VirtualService default/reviews-bookinfo-other",
      "IST0101 VirtualService default/reviews-mirror-bogushost",
      "IST0101 VirtualService default/reviews-bogusport",
      "IST0112 VirtualService default/reviews-2port-missing",
      "IST0101 VirtualService istio-system/cross-namespace-details",
      "IST0101 VirtualService hello/hello-export-to-bogus",
    ],
  },
  {
    name: "Route Rule no effect on Ingress",
    yaml: [1, 2].map((n) =>
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: testing-gateway-0${n}-test-0${n}, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - hosts: [testing-0${n}.com]
    port: {name: http, number: 80, protocol: HTTP}
---
` +
      v(
        `testing-service-0${n}-test-0${n}`,
        "default",
        `  gateways: [istio-system/testing-gateway-0${n}-test-0${n}]\n  hosts: [testing-0${n}.com]\n` +
          to(n === 1 ? "{host: ratings}" : "{host: ratings, subset: v1}"),
      )
    ).join("") +
      service("ratings", "default", "[{port: 80, name: http-ratings, protocol: HTTP}]") +
      v("ratings-01", "default", "  hosts: [ratings]\n" + to("{host: ratings, subset: v1}")) +
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings
  subsets: [{name: v1, labels: {version: v1}}]
`,
    expected: ["IST0140 VirtualService default/testing-service-01-test-01"],
  },
]);
