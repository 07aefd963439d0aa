import assert from "node:assert/strict";
import { parseYamlDocuments } from "../../util/yaml.ts";
import { readKubeObjects, type ReadResult, selectorMatches, selectorString } from "./k8s.ts";

function read(yaml: string, defaultNamespace = "default"): ReadResult {
  const out: ReadResult = { objects: [], issues: [] };
  for (const doc of parseYamlDocuments(yaml)) {
    const r = readKubeObjects(doc.value, {
      file: "k.yaml",
      defaultNamespace,
      positionOf: doc.positionOf,
    });
    out.objects.push(...r.objects);
    out.issues.push(...r.issues);
  }
  return out;
}

Deno.test("k8s: Service ports with Kubernetes defaults, selector, annotations, namespace", () => {
  const { objects, issues } = read(
    `apiVersion: v1
kind: Service
metadata:
  name: reviews
  annotations:
    networking.istio.io/exportTo: "."
spec:
  selector:
    app: reviews
  ports:
  - port: 9080
    name: http
  - port: 9443
    protocol: udp
    targetPort: https
`,
    "shop",
  );
  assert.deepEqual(issues, []);
  assert.equal(objects.length, 1);
  const svc = objects[0];
  assert.equal(svc.type, "Service");
  if (svc.type !== "Service") return;
  assert.equal(svc.namespace, "shop");
  assert.deepEqual(svc.selector, { app: "reviews" });
  assert.deepEqual(svc.ports, [
    { port: 9080, name: "http", protocol: "TCP" },
    { port: 9443, protocol: "UDP", targetPort: "https" },
  ]);
  assert.equal(svc.annotations["networking.istio.io/exportTo"], ".");
  assert.equal(svc.origin.line, 1);
  assert.equal(svc.origin.lineOf(["spec", "ports", 1, "protocol"]), 14);
});

Deno.test("k8s: workloads from Pods and pod templates of controllers", () => {
  const { objects, issues } = read(`apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: shop, labels: {not: template}}
spec:
  template:
    metadata:
      labels: {app: reviews, version: v1}
    spec:
      serviceAccountName: bookinfo-reviews
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        metadata:
          labels: {app: nightly}
---
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: pod}}
spec:
  serviceAccount: legacy
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec: {}
`);
  assert.deepEqual(issues, []);
  const workloads = objects.map((o) =>
    o.type === "Workload" ? [o.origin.kind, o.namespace, o.name, o.labels, o.serviceAccount] : []
  );
  assert.deepEqual(workloads, [
    ["Deployment", "shop", "reviews-v1", { app: "reviews", version: "v1" }, "bookinfo-reviews"],
    ["CronJob", "default", "nightly", { app: "nightly" }, undefined],
    ["Pod", "default", "p", { app: "pod" }, "legacy"],
    ["StatefulSet", "default", "db", {}, undefined],
  ]);
});

Deno.test("k8s: Namespace is cluster-scoped; ServiceAccount; List items; other kinds skipped", () => {
  const { objects, issues } = read(`apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop, labels: {istio-injection: enabled}}
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: bookinfo-reviews, namespace: shop}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cm}
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: vs}
- apiVersion: example.com/v1
  kind: Service
  metadata: {name: not-core}
`);
  assert.deepEqual(issues, []);
  assert.deepEqual(objects.map((o) => [o.type, o.origin.namespace, o.origin.name, o.origin.line]), [
    ["Namespace", undefined, "shop", 4],
    ["ServiceAccount", "shop", "bookinfo-reviews", 7],
  ]);
});

Deno.test("k8s: malformed fields the analysis needs are issues at their line", () => {
  const { objects, issues } = read(`apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports:
  - port: "9080"
  - port: 70000
  selector:
    version: 1
---
apiVersion: apps/v1
kind: Deployment
metadata: {namespace: x}
spec: {}
`);
  assert.deepEqual(objects, []);
  assert.deepEqual(issues.map((i) => [i.line, i.kind, i.name, i.path, i.message]), [
    [7, "Service", "reviews", "spec.ports[0].port", 'expected a number, got the string "9080"'],
    [
      8,
      "Service",
      "reviews",
      "spec.ports[1].port",
      "must be an integer from 1 to 65535; got 70000",
    ],
    [10, "Service", "reviews", "spec.selector.version", "expected a string, got number 1"],
    [14, "Deployment", undefined, "metadata.name", 'missing required field "name"'],
  ]);
});

Deno.test("k8s: containers, security contexts, annotations, Secrets and Nodes", () => {
  const { objects, issues } = read(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {istio: x}, annotations: {a: b}}
spec:
  template:
    metadata:
      labels: {app: web}
      annotations: {sidecar.istio.io/inject: "true"}
    spec:
      securityContext: {runAsUser: 1337}
      containers:
      - name: app
        image: web:1
        securityContext: {runAsUser: 1000}
      initContainers:
      - name: istio-init
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: QUJD}
stringData: {tls.key: key}
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {topology.kubernetes.io/region: r1}}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  type: ExternalName
  ports: [{port: 80, appProtocol: http}]
status:
  conditions: [{type: istio.io/WaypointBound, status: "False", reason: R}, {status: x}]
`);
  assert.deepEqual(issues, []);
  const [web, secret, node, svc] = objects;
  assert.ok(web.type === "Workload" && secret.type === "Secret" && node.type === "Node");
  assert.ok(svc.type === "Service");
  assert.deepEqual(web.meta, { labels: { istio: "x" }, annotations: { a: "b" } });
  assert.deepEqual(web.podAnnotations, { "sidecar.istio.io/inject": "true" });
  assert.deepEqual(web.containers, [{ name: "app", image: "web:1", runAsUser: 1000 }]);
  assert.deepEqual(web.initContainerNames, ["istio-init"]);
  assert.equal(web.runAsUser, 1337);
  assert.deepEqual(
    [secret.origin.namespace, secret.secretType, secret.data],
    ["istio-system", "kubernetes.io/tls", { "tls.crt": "QUJD", "tls.key": "a2V5" }],
  );
  assert.deepEqual([node.origin.namespace, node.labels], [undefined, {
    "topology.kubernetes.io/region": "r1",
  }]);
  assert.equal(svc.serviceType, "ExternalName");
  assert.deepEqual(svc.ports, [{ port: 80, protocol: "TCP", appProtocol: "http" }]);
  assert.deepEqual(svc.conditions, [
    { type: "istio.io/WaypointBound", status: "False", reason: "R", message: "" },
  ]);
});

Deno.test("k8s: selectors as Kubernetes matches and prints them", () => {
  assert.equal(
    selectorString({ istio: "ingressgateway", app: "gw" }),
    "app=gw,istio=ingressgateway",
  );
  assert.equal(selectorString({}), "");
  assert.ok(selectorMatches({}, { any: "thing" }));
  assert.ok(selectorMatches({ a: "1" }, { a: "1", b: "2" }));
  assert.ok(!selectorMatches({ a: "1", c: "3" }, { a: "1", b: "2" }));
});
