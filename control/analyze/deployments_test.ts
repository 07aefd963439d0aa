import assert from "node:assert/strict";
import { applicationUidAnalyzer, deploymentServicesAnalyzer } from "./deployments.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const deployment = (name: string, ns: string, labels: string, extra = "") =>
  `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  template:
    metadata:
      labels: ${labels}
${extra}    spec:
      containers: [{name: app}]
---
`;
const service = (name: string, ns: string, selector: string, ports: string) =>
  `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: ${selector}
  ports: ${ports}
---
`;

Deno.test("deployments: one port, two protocols; one targetPort, two ports; opting out", () => {
  const only = { analyzers: [deploymentServicesAnalyzer] };
  const yaml = deployment("web", "shop", "{app: web}") +
    service("web-tcp", "shop", "{app: web}", "[{port: 80, name: tcp}]") +
    service("web-udp", "shop", "{app: web}", "[{port: 80, name: udp, protocol: UDP}]");
  assert.deepEqual(linesOf(run(yaml, only)).map((l) => l.replace(/ \(.*?\)/, "")), [
    "Warning [IST0116] This deployment web is associated with multiple services using port 80 " +
    "but different protocols: [shop/web-tcp shop/web-udp]",
  ]);
  const ports = deployment("api", "shop", "{app: api}") +
    service("api-a", "shop", "{app: api}", "[{port: 80, targetPort: 8080, name: http}]") +
    service("api-b", "shop", "{app: api}", "[{port: 81, targetPort: 8080, name: http}]");
  assert.deepEqual(linesOf(run(ports, only)).map((l) => l.replace(/ \(.*?\)/, "")), [
    "Warning [IST0137] This deployment api is associated with multiple services " +
    '[shop/api-a shop/api-b] using targetPort "8080" but different ports: [80 81].',
  ]);
  // sidecar.istio.io/inject: "false" takes it out of the mesh, and out of the check.
  const out = deployment("web", "shop", '{app: web, sidecar.istio.io/inject: "false"}') +
    yaml.slice(yaml.indexOf("---\n") + 4);
  assert.deepEqual(linesOf(run(out, only)), []);
});

const pod = (name: string, spec: string) =>
  `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: helloworld}}
spec:
${spec}
---
`;

Deno.test("application UID: the pod or a container as 1337; istio-proxy may", () => {
  const only = { analyzers: [applicationUidAnalyzer] };
  assert.deepEqual(
    linesOf(
      run(
        pod("p", "  containers: [{name: istio-proxy, securityContext: {runAsUser: 1337}}]"),
        only,
      ),
    ),
    [],
  );
  assert.deepEqual(linesOf(run(pod("p", "  securityContext: {runAsUser: 1337}"), only)), [
    "Warning [IST0144] (Pod default/p t.yaml:1) User ID (UID) 1337 is reserved for the sidecar proxy.",
  ]);
});

const multi = (name: string, labels: string, containers: string) =>
  `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: bookinfo, labels: ${labels}}
spec:
  replicas: 1
  selector: {matchLabels: ${labels}}
  template:
    metadata: {labels: ${labels}}
    spec:
      containers: ${containers}
---
`;
const ctr = (name: string, port: number) =>
  `{name: ${name}, image: "docker.io/istio/examples-bookinfo-${name}-v1:1.15.0", ports: [{containerPort: ${port}}]}`;

// Istio's testdata/deployment-*.yaml, pod-*.yaml.
istioCases(deploymentServicesAnalyzer, [
  {
    name: "serviceMultipleDeployments",
    yaml: `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio-injection: "enabled"}}
---
` + multi("multiple-svc-multiple-prot", "{app: details}", `[${ctr("details", 9080)}]`) +
      service(
        "details-tcp-v1",
        "bookinfo",
        "{app: details}",
        "[{port: 9080, name: tcp, protocol: TCP}]",
      ) +
      service(
        "details-http-v1",
        "bookinfo",
        "{app: details}",
        "[{port: 9080, name: http, protocol: HTTP}]",
      ) +
      multi("conflicting-ports", "{app: conflicting-ports}", `[${ctr("details", 9080)}]`) +
      service(
        "conflicting-ports-1",
        "bookinfo",
        "{app: conflicting-ports}",
        "[{port: 9080, name: tcp, targetPort: 9080, protocol: TCP}]",
      ) +
      service(
        "conflicting-ports-2",
        "bookinfo",
        "{app: conflicting-ports}",
        "[{port: 9090, name: http, targetPort: 9080, protocol: HTTP}]",
      ) +
      multi(
        "reviews-v2",
        "{app: reviews}",
        `[${ctr("reviews", 9080)}, ${ctr("reviews-2", 9090)}]`,
      ) +
      service(
        "reviews-http-9080",
        "bookinfo",
        "{app: reviews}",
        "[{port: 9080, name: http, protocol: HTTP}]",
      ) +
      service(
        "reviews-http-9090",
        "bookinfo",
        "{app: reviews}",
        "[{port: 9090, name: http, protocol: HTTP}]",
      ) +
      multi("no-services", "{app: ratings}", `[${ctr("ratings", 9080)}]`) +
      multi("multiple-without-port", "{app: productpage}", `[${ctr("productpage", 9080)}]`) +
      service(
        "productpage-tcp-v1",
        "bookinfo",
        "{app: productpage}",
        "[{port: 9080, name: tcp, protocol: TCP}]",
      ) +
      service(
        "productpage-http-v1",
        "bookinfo",
        "{app: productpage}",
        "[{port: 9080, name: http, protocol: HTTP}]",
      ) +
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: deployment-out-mesh, namespace: bookinfo, labels: {app: productpage, version: v1}}
spec:
  template:
    metadata:
      annotations: {sidecar.istio.io/inject: "false"}
      labels: {app: productpage, version: v1}
    spec:
      containers: [${ctr("productpage", 9080)}]
`,
    expected: [
      "IST0116 Deployment bookinfo/multiple-svc-multiple-prot",
      "IST0116 Deployment bookinfo/multiple-without-port",
      "IST0137 Deployment bookinfo/conflicting-ports",
    ],
  },
  {
    name: "deploymentMultiServicesInDifferentNamespace",
    yaml: `apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio-injection: "enabled"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo2, labels: {istio-injection: "enabled"}}
---
` + multi("conflicting-ports", "{app: conflicting-ports}", `[${ctr("details", 9080)}]`) +
      service(
        "conflicting-ports-1",
        "bookinfo",
        "{app: conflicting-ports}",
        "[{port: 9080, name: tcp, targetPort: 9080, protocol: TCP}]",
      ) +
      service(
        "conflicting-ports-1",
        "bookinfo2",
        "{app: conflicting-ports}",
        "[{port: 9090, name: http, targetPort: 9080, protocol: HTTP}]",
      ),
    expected: [],
  },
  {
    name: "serviceWithNoSelector",
    yaml: `apiVersion: v1
kind: Service
metadata: {name: svc-no-selector, namespace: default}
spec:
  ports: [{name: https, port: 443, protocol: TCP, targetPort: 6443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: helloworld-v2, namespace: default, labels: {app: helloworld, version: v2}}
spec:
  replicas: 1
  selector: {matchLabels: {app: helloworld, version: v2}}
  template:
    metadata:
      labels: {app: helloworld, version: v2, sidecar.istio.io/inject: "true"}
    spec:
      containers: [{name: helloworld, image: registry.istio.io/release/examples-helloworld-v2}]
`,
    expected: [],
  },
]);
const uidDeployment = (name: string, containerContext: string) =>
  `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, labels: {app: helloworld, version: v1}}
spec:
  replicas: 1
  selector: {matchLabels: {app: helloworld, version: v1}}
  template:
    metadata: {labels: {app: helloworld, version: v1}}
    spec:
      securityContext: {runAsUser: 1337}
      containers:
      - name: helloworld
        image: registry.istio.io/release/examples-helloworld-v1
${containerContext}`;
istioCases(applicationUidAnalyzer, [
  {
    name: "Application Pod SecurityContext with UID 1337",
    yaml: pod(
      "pod-sec-uid",
      "  securityContext: {runAsUser: 1337}\n  containers: [{name: helloworld}]",
    ),
    expected: ["IST0144 Pod default/pod-sec-uid"],
  },
  {
    name: "Application Container SecurityContext with UID 1337",
    yaml: pod(
      "con-sec-uid",
      "  containers: [{name: helloworld, securityContext: {runAsUser: 1337}}]",
    ),
    expected: ["IST0144 Pod default/con-sec-uid"],
  },
  {
    name: "Deployment Pod SecurityContext with UID 1337",
    yaml: uidDeployment("deploy-pod-sec-uid", ""),
    expected: ["IST0144 Deployment default/deploy-pod-sec-uid"],
  },
  {
    name: "Deployment Container SecurityContext with UID 1337",
    yaml: uidDeployment("deploy-con-sec-uid", "        securityContext: {runAsUser: 1337}\n"),
    expected: ["IST0144 Deployment default/deploy-con-sec-uid"],
  },
]);
