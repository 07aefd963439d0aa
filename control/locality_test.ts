/**
 * Locality through the control plane: WorkloadEntry and ServiceEntry endpoint `locality`, a
 * proxy's `--locality` (its hello's NodeInfo, kept for its auto-registered workload) and a
 * WorkloadGroup template's reach the pushed endpoints; `localityLbSetting` is resolved per
 * cluster as istiod does (DestinationRule, subset and port level, MeshConfig, `enabled`, only
 * with outlier detection for failover); the proxy's runtime orders the pushed endpoints by its
 * own locality.
 */
import assert from "node:assert/strict";
import { parseResources, type Resource } from "../api/resources.ts";
import { formatDiagnostic } from "../api/diagnostic.ts";
import type { Cluster, NodeInfo } from "../api/proxy_config.ts";
import { Runtime } from "../proxy/runtime.ts";
import { buildSnapshot, meshSettingsFrom, type RegisteredWorkload } from "./snapshot.ts";
import { generateProxyConfig } from "./generate.ts";
import { PushHub } from "./push.ts";

const HOST = "hello.default.svc.cluster.local";
const CLUSTER = `outbound|5000||${HOST}`;

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: hello, namespace: default}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5000, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: hello}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: hello-vm-1, namespace: default}
spec:
  address: 10.0.0.1
  labels: {app: hello, version: v1}
  locality: region1/zone1
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: hello-vm-2, namespace: default}
spec:
  address: 10.0.0.2
  labels: {app: hello, version: v2}
  locality: region1/zone2/rack7
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints:
  - {address: 192.0.2.1, locality: us-east1/us-east1-b}
  - {address: 192.0.2.2}
`;

const OUTLIER = "outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 1s}";

function parse(text: string): { resources: Resource[]; warnings: string[] } {
  const { resources, diagnostics } = parseResources(text, "locality.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  return {
    resources,
    warnings: diagnostics.filter((d) => d.severity === "warning").map(formatDiagnostic),
  };
}

const client: NodeInfo = {
  id: "sidecar~127.0.0.9~client.default",
  mode: "sidecar",
  namespace: "default",
  serviceAccount: "client",
  labels: { app: "client" },
  address: "127.0.0.9",
  inboundPort: 15006,
  locality: "region1/zone1",
};

/** The registered workload of a proxy that said hello with `--locality`. */
function registered(locality: string | undefined): RegisteredWorkload[] {
  const hub = new PushHub(() => {});
  hub.connect({
    node: {
      id: "sidecar~127.0.0.5~hello-k8s.default",
      mode: "sidecar",
      namespace: "default",
      serviceAccount: "hello",
      labels: { app: "hello", version: "v3" },
      address: "127.0.0.5",
      inboundPort: 15006,
      ...(locality ? { locality } : {}),
    },
    identity: { namespace: "default", serviceAccount: "hello" },
    write: () => true,
  });
  const workloads = hub.workloads();
  hub.close();
  return workloads;
}

function clustersOf(
  extra: string,
  o: { workloads?: RegisteredWorkload[]; mesh?: string } = {},
): Record<string, Cluster> {
  const { resources } = parse(SERVICE + (extra ? `---\n${extra}` : ""));
  const meshResources = o.mesh ? parse(o.mesh).resources : [];
  const snapshot = buildSnapshot({
    revision: 1,
    resources,
    workloads: o.workloads ?? registered("region2/zone3"),
    mesh: meshSettingsFrom(
      { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
      meshResources,
    ),
    roots: "",
  });
  return generateProxyConfig(snapshot, client).clusters;
}

const dr = (trafficPolicy: string, subsets = "") =>
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hello, namespace: default}
spec:
  host: ${HOST}
  trafficPolicy: ${trafficPolicy}
${subsets}`;

Deno.test("locality: WorkloadEntry, ServiceEntry endpoint and proxy --locality reach the pushed endpoints", () => {
  const { warnings } = parse(SERVICE);
  assert.deepEqual(warnings.filter((w) => w.includes("locality")), [], "locality is supported");
  const clusters = clustersOf("");
  const byAddress = (name: string) =>
    Object.fromEntries(clusters[name].endpoints.map((e) => [e.address, e.locality]));
  assert.deepEqual(byAddress(CLUSTER), {
    "10.0.0.1": "region1/zone1",
    "10.0.0.2": "region1/zone2/rack7",
    "127.0.0.5": "region2/zone3", // the auto-registered sidecar, from its hello
  });
  assert.deepEqual(byAddress("outbound|5432||db.example.com"), {
    "192.0.2.1": "us-east1/us-east1-b",
    "192.0.2.2": undefined,
  });
  // A proxy without --locality: its endpoint has none.
  const [w] = registered(undefined);
  assert.equal(w.locality, undefined);
  const plain = clustersOf("", { workloads: [w] });
  assert.equal(
    plain[CLUSTER].endpoints.find((e) => e.address === "127.0.0.5")?.locality,
    undefined,
  );
});

Deno.test("locality: a WorkloadGroup's template locality, unless the proxy says its own", () => {
  const group = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: hello-vms, namespace: default}
spec:
  metadata: {labels: {app: hello}}
  template: {serviceAccount: hello, locality: region9/zone9}
`;
  const [w] = registered(undefined);
  const [withOwn] = registered("region2/zone3");
  const inGroup = (x: RegisteredWorkload, nodeId: string): RegisteredWorkload => ({
    ...x,
    group: "hello-vms",
    nodeId,
    name: nodeId,
    address: nodeId,
  });
  const clusters = clustersOf(group, {
    workloads: [inGroup(w, "127.0.0.6"), inGroup(withOwn, "127.0.0.7")],
  });
  const got = Object.fromEntries(clusters[CLUSTER].endpoints.map((e) => [e.address, e.locality]));
  assert.equal(got["127.0.0.6"], "region9/zone9");
  assert.equal(got["127.0.0.7"], "region2/zone3");
});

Deno.test("locality: failover applies only with outlier detection, as Istio", () => {
  // Istio's default mesh setting (enabled) gives every cluster with outlier detection failover.
  assert.deepEqual(clustersOf(dr(`{${OUTLIER}}`))[CLUSTER].locality, {});
  // Without outlier detection, no locality at all: the proxy balances over every endpoint.
  const without = clustersOf(
    dr("{loadBalancer: {localityLbSetting: {failover: [{from: region1, to: region2}]}}}"),
  );
  assert.equal(without[CLUSTER].locality, undefined);
  assert.equal(clustersOf("")[CLUSTER].locality, undefined);
  // With it, the rule's failover.
  const withOutlier = clustersOf(dr(
    `{loadBalancer: {localityLbSetting: {failover: [{from: region1, to: region2}]}}, ${OUTLIER}}`,
  ));
  assert.deepEqual(withOutlier[CLUSTER].locality, {
    failover: [{ from: "region1", to: "region2" }],
  });
  const priority = clustersOf(dr(
    `{loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/network]}}, ${OUTLIER}}`,
  ));
  assert.deepEqual(priority[CLUSTER].locality, { failoverPriority: ["topology.istio.io/network"] });
  // `enabled: false` turns it off.
  const off = clustersOf(dr(`{loadBalancer: {localityLbSetting: {enabled: false}}, ${OUTLIER}}`));
  assert.equal(off[CLUSTER].locality, undefined);
});

Deno.test("locality: distribute applies with or without outlier detection", () => {
  const distribute =
    "{from: 'region1/zone1/*', to: {'region1/zone1/*': 80, 'region1/zone2/*': 20}}";
  const { warnings } = parse(
    dr(`{loadBalancer: {localityLbSetting: {distribute: [${distribute}]}}}`),
  );
  assert.deepEqual(warnings, [], "distribute is supported");
  const c = clustersOf(dr(`{loadBalancer: {localityLbSetting: {distribute: [${distribute}]}}}`));
  assert.deepEqual(c[CLUSTER].locality, {
    distribute: [{ from: "region1/zone1/*", to: { "region1/zone1/*": 80, "region1/zone2/*": 20 } }],
  });
});

Deno.test("locality: subset and port-level settings replace the rule's load balancer, as Istio merges", () => {
  const rule = dr(
    `{loadBalancer: {localityLbSetting: {failover: [{from: region1, to: region2}]}}, ${OUTLIER},
    portLevelSettings: [{port: {number: 5000}, loadBalancer: {simple: RANDOM}, ${OUTLIER}}]}`,
    `  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {localityLbSetting: {enabled: false}}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {localityLbSetting: {failoverPriority: [version]}}
`,
  );
  const clusters = clustersOf(rule);
  // The port's entry replaces the whole load balancer: the mesh default (failover) applies.
  assert.deepEqual(clusters[CLUSTER].locality, {});
  assert.equal(clusters[`outbound|5000|v1|${HOST}`].locality, undefined);
  assert.deepEqual(clusters[`outbound|5000|v2|${HOST}`].locality, {
    failoverPriority: ["version"],
  });
});

Deno.test("locality: MeshConfig localityLbSetting where a DestinationRule sets none", () => {
  const mesh = (setting: string) =>
    `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  localityLbSetting: ${setting}
`;
  const { warnings } = parse(mesh("{failover: [{from: region1, to: region2}]}"));
  assert.deepEqual(warnings, [], "MeshConfig localityLbSetting is supported");
  const failover = clustersOf(dr(`{${OUTLIER}}`), {
    mesh: mesh("{failover: [{from: region1, to: region2}]}"),
  });
  assert.deepEqual(failover[CLUSTER].locality, { failover: [{ from: "region1", to: "region2" }] });
  const off = clustersOf(dr(`{${OUTLIER}}`), { mesh: mesh("{enabled: false}") });
  assert.equal(off[CLUSTER].locality, undefined);
  // A DestinationRule's setting wins over the mesh's, even the mesh's `enabled: false`.
  const rule = clustersOf(
    dr(`{loadBalancer: {localityLbSetting: {failoverPriority: [app]}}, ${OUTLIER}}`),
    { mesh: mesh("{enabled: false}") },
  );
  assert.deepEqual(rule[CLUSTER].locality, { failoverPriority: ["app"] });
});

Deno.test("locality: the proxy orders the pushed endpoints by its own locality; ignored without outlier detection", () => {
  const local = { locality: "region1/zone1", labels: client.labels };
  const config = (extra: string) => {
    const { resources } = parse(SERVICE + `---\n${extra}`);
    return generateProxyConfig(
      buildSnapshot({
        revision: 1,
        resources,
        workloads: registered("region2/zone3"),
        mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
        roots: "",
      }),
      client,
    );
  };
  const rt = Runtime.compile(config(dr(`{${OUTLIER}}`)), local);
  const levels = rt.balancers.get(CLUSTER)!.levels!;
  assert.deepEqual(levels.map((l) => l.endpoints.map((e) => e.address)), [
    ["10.0.0.1"],
    ["10.0.0.2"],
    ["127.0.0.5"],
  ]);
  for (let i = 0; i < 5; i++) assert.equal(rt.balancers.get(CLUSTER)!.pick()?.address, "10.0.0.1");
  // The same endpoints without outlier detection: one flat level, every endpoint in turn.
  const flat = Runtime.compile(config(dr("{loadBalancer: {simple: ROUND_ROBIN}}")), local);
  const lb = flat.balancers.get(CLUSTER)!;
  assert.equal(lb.levels, undefined);
  const seen = new Set(Array.from({ length: 3 }, () => lb.pick()?.address));
  assert.equal(seen.size, 3);
});
