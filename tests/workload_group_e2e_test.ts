/**
 * WorkloadGroup auto-registration end to end (issue 13): a sidecar started with
 * `--workload-group=reviews` (and no labels of its own) registers a workload made from the
 * group's template (labels `app=reviews,version=v1`), so the ServiceEntry selecting
 * `app=reviews` and the DestinationRule's `v1` subset reach it; the group's HTTP probe, run by
 * the sidecar against its app, takes it out of load balancing while it fails and back when it
 * passes; and once the sidecar is gone the workload stays for the grace period
 * (`--workload-entry-grace`) and is then removed.
 */
import assert from "node:assert/strict";
import { configDump, curl, eventually, TestMesh } from "./helpers.ts";

const CONFIG = {
  "reviews.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.default.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local, subset: v1}}]}]
`,
};

const group = (appPort: number) =>
  `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: reviews}
spec:
  metadata: {labels: {app: reviews}}
  template: {serviceAccount: reviews, labels: {version: v1}}
  probe: {periodSeconds: 1, failureThreshold: 1, httpGet: {path: /healthz, port: ${appPort}}}
`;

Deno.test("WorkloadGroup: registration from the template, probe-driven health, removal after the grace", async () => {
  let healthy = true;
  const app = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/healthz") {
      return new Response(healthy ? "ok" : "sick", { status: healthy ? 200 : 503 });
    }
    return new Response("reviews v1");
  });
  const m = await TestMesh.start(
    { ...CONFIG, "group.yaml": group(app.addr.port) },
    ["--workload-entry-grace=1s"],
  );
  try {
    const reviews = await m.sidecar({
      name: "reviews",
      serviceAccount: "reviews",
      labels: "",
      appPort: app.addr.port,
      extra: ["--workload-group=reviews"],
    });
    const client = await m.sidecar({
      name: "client",
      serviceAccount: "client",
      labels: "app=client",
    });
    const ask = () =>
      curl([
        "-H",
        "Host: reviews.default.svc.cluster.local:9080",
        `http://127.0.0.1:${client.outbound}/`,
      ]);
    const endpoints = async () => {
      const d = await configDump(client.admin);
      return d.config.clusters["outbound|9080|v1|reviews.default.svc.cluster.local"]?.endpoints ??
        [];
    };

    // Registered with the template's labels (the subset v1 has it), once its probe passed.
    await eventually(async () => (await ask()).body === "reviews v1", 20_000, "reviews via v1");
    assert.equal((await endpoints()).length, 1);

    // The probe fails: out of load balancing.
    healthy = false;
    await eventually(async () => (await endpoints()).length === 0, 20_000, "unready removed");
    assert.notEqual((await ask()).status, 200);

    // It passes again: back.
    healthy = true;
    await eventually(async () => (await ask()).body === "reviews v1", 20_000, "ready again");

    // The sidecar goes: its workload is removed once the grace is over.
    await reviews.proc.stop();
    await eventually(async () => (await endpoints()).length === 0, 20_000, "removed after grace");
    assert.match(m.control.output, /dropped workloads whose proxies did not come back in time/);
  } finally {
    await m.close();
    await app.shutdown();
  }
});
