import assert from "node:assert/strict";
import { loadInputs } from "./context.ts";
import { linesOf, run, runAll } from "./testutil.ts";

Deno.test("load: validation errors are IST0106 and warnings IST0133, with field lines", () => {
  const messages = run(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 90
    - destination: {host: reviews}
      weight: -5
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {outlierDetectionHttpErrorCodes: [500]}
`);
  assert.deepEqual(linesOf(messages, "IST0106"), [
    "Error [IST0106] (VirtualService default/reviews t.yaml:12) Schema validation error: " +
    "spec.http[0].route[1].weight: weight -5 is negative",
  ]);
  assert.deepEqual(linesOf(messages, "IST0133"), [
    "Warning [IST0133] (DestinationRule default/reviews t.yaml:21) Schema validation warning: " +
    "spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes: not supported by mesh " +
    "yet; ignored",
  ]);
  // The invalid VirtualService is still analyzed, as istioctl does: its host doesn't exist.
  assert.deepEqual(linesOf(messages, "IST0101"), [
    'Error [IST0101] (VirtualService default/reviews t.yaml:9) Referenced host not found: "reviews"',
    'Error [IST0101] (VirtualService default/reviews t.yaml:11) Referenced host not found: "reviews"',
  ]);
});

Deno.test("load: references to a semantically invalid resource resolve; a misshapen one is out", () => {
  const gateway = (extra: string) =>
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
${extra}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web.example.com]
  gateways: [public]
  http:
  - route:
    - destination: {host: web.example.com}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`;
  // Two servers with the same port name: an Istio rule fails, the shape is right.
  const semantic = run(gateway(
    "  - port: {number: 81, name: http, protocol: HTTP}\n    hosts: ['*']\n",
  ));
  assert.equal(linesOf(semantic, "IST0106").length, 1);
  assert.deepEqual(linesOf(semantic, "IST0101"), []);
  // An unknown field: istioctl can't read it either, so the reference doesn't resolve.
  const shape = run(gateway("  bogus: 1\n"));
  assert.equal(linesOf(shape, "IST0106").length, 1);
  assert.deepEqual(linesOf(shape, "IST0101").map((l) => l.replace(/\(.*\)/, "()")), [
    'Error [IST0101] () Referenced gateway not found: "public"',
  ]);
});

Deno.test("load: YAML that doesn't parse is IST0106 with the file position", () => {
  const messages = run("kind: [oops\n", { file: "bad.yaml" });
  assert.equal(messages.length, 1);
  assert.equal(messages[0].code, "IST0106");
  assert.equal(messages[0].resource, undefined);
  assert.equal(messages[0].file, "bad.yaml");
  assert.match(messages[0].message, /^Schema validation error: invalid YAML/);
});

Deno.test("load: malformed Kubernetes objects are IST0106 and left out", () => {
  const messages = run(`apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  ports:
  - port: http
`);
  assert.deepEqual(linesOf(messages), [
    "Error [IST0106] (Service default/reviews t.yaml:6) Schema validation error: " +
    'spec.ports[0].port: expected a number, got the string "http"',
  ]);
});

Deno.test("load: the later of two same-named resources wins; the earlier gets MSH0001", () => {
  const vs = (host: string) =>
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [${host}]
  http:
  - route:
    - destination: {host: ${host}}
`;
  const svc = "apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec: {}\n";
  const messages = runAll([
    { file: "a.yaml", text: vs("gone") + "---\n" + svc },
    { file: "b.yaml", text: vs("reviews") + "---\n" + svc },
  ]);
  assert.deepEqual(linesOf(messages), [
    "Warning [MSH0001] (Service default/reviews a.yaml:10) Duplicate resource: also defined at " +
    "b.yaml:10; the later definition is used and this one is ignored",
    "Warning [MSH0001] (VirtualService default/reviews a.yaml:1) Duplicate resource: also " +
    "defined at b.yaml:1; the later definition is used and this one is ignored",
  ]);
});

Deno.test("load: positions of List items, default namespace, default gateway workload", () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: {name: gw}
  spec:
    selector: {istio: ingressgateway}
    servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
`;
  const ctx = loadInputs([{ file: "l.yaml", text }], { defaultNamespace: "shop" });
  const [gw] = ctx.gateways;
  assert.equal(gw.metadata.namespace, "shop");
  const origin = ctx.originOf(gw);
  assert.equal(origin.line, 4);
  assert.equal(origin.lineOf(["spec", "servers", 0, "port", "number"]), 10);
  assert.deepEqual(
    ctx.workloads.map((w) => [w.namespace, w.name, w.labels, w.synthetic]),
    [["istio-system", "istio-ingressgateway", {
      istio: "ingressgateway",
      app: "istio-ingressgateway",
    }, true]],
  );
  assert.deepEqual([...ctx.knownNamespaces()].sort(), ["istio-system", "shop"]);
  const bare = loadInputs([{ file: "l.yaml", text }], { defaultIngressGateway: false });
  assert.deepEqual(bare.workloads, []);
});

Deno.test("load: WorkloadEntries are workloads with their labels", () => {
  const ctx = loadInputs([{
    file: "we.yaml",
    text: `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm1, namespace: vms, labels: {app: ratings}}
spec:
  address: 10.0.0.1
  labels: {version: v1}
`,
  }], { defaultIngressGateway: false });
  assert.deepEqual(ctx.workloads.map((w) => [w.origin.kind, w.namespace, w.labels]), [
    ["WorkloadEntry", "vms", { app: "ratings", version: "v1" }],
  ]);
});
