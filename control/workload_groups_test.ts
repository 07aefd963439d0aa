import assert from "node:assert/strict";
import { parseResources, type WorkloadGroup } from "../api/resources.ts";
import type { RegisteredWorkload } from "./snapshot.ts";
import { groupWorkloads, healthProbeOf } from "./workload_groups.ts";
import { PushHub } from "./push.ts";

const groups = parseResources(
  `
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: reviews, namespace: default }
spec:
  metadata: { labels: { app: reviews, team: books } }
  template: { serviceAccount: reviews, labels: { version: v1, team: other } }
  probe: { periodSeconds: 2, httpGet: { path: /healthz, port: 9080 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: plain, namespace: default }
spec:
  template: { labels: { app: plain } }
`,
  "g.yaml",
).resources as WorkloadGroup[];

const workload = (o: Partial<RegisteredWorkload>): RegisteredWorkload => ({
  name: "w",
  namespace: "default",
  serviceAccount: "reviews",
  labels: {},
  address: "10.0.0.5",
  inboundPort: 15006,
  nodeId: "n1",
  ...o,
});

Deno.test("group workloads: template, then group metadata, then the proxy's labels", () => {
  const [w] = groupWorkloads(
    [workload({ group: "reviews", healthy: true, labels: { version: "v2" } })],
    groups,
  );
  assert.deepEqual(w.labels, { version: "v2", team: "books", app: "reviews" });
});

Deno.test("group workloads: unready, wrong service account or no such group: not registered", () => {
  const out = groupWorkloads([
    workload({ nodeId: "unready", group: "reviews" }), // probe, no result yet
    workload({ nodeId: "failing", group: "reviews", healthy: false }),
    workload({ nodeId: "other-sa", group: "reviews", healthy: true, serviceAccount: "x" }),
    workload({ nodeId: "no-group", group: "missing", healthy: true }),
    workload({ nodeId: "no-probe", group: "plain", serviceAccount: "any" }),
    workload({ nodeId: "ungrouped" }),
  ], groups);
  assert.deepEqual(out.map((w) => w.nodeId), ["no-probe", "ungrouped"]);
  assert.deepEqual(out[0].labels, { app: "plain" });
});

Deno.test("a group's probe gets Istio's defaults", () => {
  assert.deepEqual(healthProbeOf(groups[0].spec.probe), {
    initialDelaySeconds: 0,
    timeoutSeconds: 1,
    periodSeconds: 2,
    successThreshold: 1,
    failureThreshold: 3,
    httpGet: { path: "/healthz", port: 9080, scheme: "HTTP" },
  });
  assert.equal(healthProbeOf(undefined), undefined);
});

Deno.test("a group workload outlives its proxy for the grace period; a plain one doesn't", async () => {
  let changes = 0;
  let changed = () => {};
  const hub = new PushHub(() => {
    changes++;
    changed();
  }, { groupGraceMs: 30 });
  const connect = (id: string, group?: string) =>
    hub.connect({
      node: {
        id,
        mode: "sidecar",
        namespace: "default",
        serviceAccount: "reviews",
        labels: {},
        address: "10.0.0.5",
        inboundPort: 15006,
        ...(group ? { workloadGroup: group } : {}),
      },
      identity: { namespace: "default", serviceAccount: "reviews" },
      write: () => true,
      protocol: 2,
    });
  const grouped = connect("g1", "reviews");
  const plain = connect("p1");
  hub.reportHealth(grouped, true);
  assert.deepEqual(hub.workloads().map((w) => [w.nodeId, w.group, w.healthy]), [
    ["g1", "reviews", true],
    ["p1", undefined, undefined],
  ]);
  const before = changes;
  hub.disconnect(plain);
  assert.equal(changes, before + 1, "a plain workload goes at once");
  hub.disconnect(grouped);
  assert.deepEqual(hub.workloads().map((w) => w.nodeId), ["g1"], "kept during the grace");
  assert.equal(changes, before + 1);
  await new Promise<void>((r) => changed = r);
  assert.deepEqual(hub.workloads(), [], "gone after it");
  hub.close();
});
