import assert from "node:assert/strict";
import { parseResources, type Resource } from "../api/resources.ts";
import { serviceEntriesOf } from "./kube/services.ts";
import { ServiceRegistry } from "./registry.ts";
import { buildSnapshot, type RegisteredWorkload } from "./snapshot.ts";
import { validateInputs } from "./store/common.ts";

/** The reviews Service with endpoints at 10.0.0.1 (a meshed pod) and 10.0.0.2 (not meshed). */
function kubeReviews(): Resource[] {
  const inputs = serviceEntriesOf({
    services: [{
      metadata: { name: "reviews", namespace: "default" },
      spec: { selector: { app: "reviews" }, ports: [{ name: "http", port: 9080 }] },
    }],
    slices: [{
      metadata: {
        name: "reviews-1",
        namespace: "default",
        labels: { "kubernetes.io/service-name": "reviews" },
      },
      ports: [{ name: "http", port: 9080 }],
      endpoints: [{ addresses: ["10.0.0.1"] }, { addresses: ["10.0.0.2"] }],
    }],
    pods: [],
    domain: "cluster.local",
  });
  const { resources, diagnostics } = validateInputs(inputs);
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  return resources;
}

const sidecar: RegisteredWorkload = {
  name: "reviews-v1",
  namespace: "default",
  serviceAccount: "bookinfo-reviews",
  labels: { app: "reviews", version: "v1" },
  address: "10.0.0.1",
  inboundPort: 15006,
  nodeId: "sidecar~10.0.0.1~reviews-v1.default",
};

const vm = parseResources(
  `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-vm, namespace: default}
spec: {address: 10.0.0.9, labels: {app: reviews, version: v4}}
`,
  "we.yaml",
).resources;

Deno.test("registry: a Kubernetes Service's endpoints, its meshed pods over mTLS, and the VMs it selects", () => {
  const snap = buildSnapshot({
    revision: 1,
    resources: [...kubeReviews(), ...vm],
    workloads: [sidecar],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  });
  const reg = new ServiceRegistry(snap);
  const host = "reviews.default.svc.cluster.local";
  assert.ok(reg.service(host));
  const byAddress = new Map(reg.instances(host).map((i) => [i.address, i]));
  assert.deepEqual([...byAddress.keys()].sort(), ["10.0.0.1", "10.0.0.2", "10.0.0.9"]);
  // The endpoint at the sidecar's address is that sidecar: its inbound port and identity.
  const pod = byAddress.get("10.0.0.1")!;
  assert.equal(pod.inboundPort, 15006);
  assert.equal(pod.identity, "spiffe://cluster.local/ns/default/sa/bookinfo-reviews");
  assert.equal(pod.labels.version, "v1");
  // A pod without a sidecar is a plain endpoint; the WorkloadEntry joins by the selector.
  assert.equal(byAddress.get("10.0.0.2")!.inboundPort, undefined);
  assert.equal(byAddress.get("10.0.0.9")!.labels.version, "v4");
  // The Service's selector picks the ports a meshed pod's inbound side serves.
  assert.deepEqual(reg.portsSelecting("default", sidecar.labels).map((p) => p.number), [9080]);
  assert.deepEqual(reg.portsSelecting("default", { app: "ratings" }), []);
});
