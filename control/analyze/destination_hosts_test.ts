import assert from "node:assert/strict";
import { destinationHostAnalyzer } from "./destination_hosts.ts";
import { kubeService, linesOf, run } from "./testutil.ts";

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
