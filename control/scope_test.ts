import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { buildSnapshot } from "./snapshot.ts";
import { ServiceRegistry } from "./registry.ts";
import { serviceScope } from "./scope.ts";

const se = (name: string, ns = "default", exportTo?: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
${exportTo ? `  exportTo: ["${exportTo}"]` : ""}
---`;

const node: NodeInfo = {
  id: "n",
  mode: "sidecar",
  namespace: "default",
  serviceAccount: "a",
  labels: { app: "a" },
  address: "10.0.0.1",
};

function scoped(extra: string): string[] {
  const yaml = se("a") + se("b") + se("c", "other") + se("hidden", "other", ".") + extra;
  const parsed = parseResources(yaml, "t.yaml");
  assert.deepEqual(parsed.diagnostics.filter((d) => d.severity === "error"), []);
  const snapshot = buildSnapshot({
    revision: 1,
    resources: parsed.resources,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  });
  const include = serviceScope(snapshot, node)!;
  return [...new ServiceRegistry(snapshot).services.values()].filter(include).map((s) =>
    s.host.split(".")[0]
  ).sort();
}

Deno.test("without a Sidecar: every service exported to the namespace", () => {
  assert.deepEqual(scoped(""), ["a", "b", "c"]);
});

Deno.test("a Sidecar with a catch-all egress narrows to its hosts (all entries), plus what routes name", () => {
  const sidecar = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress:
  - port: { number: 9000, protocol: TCP, name: tcp }
    hosts: ["other/c.other.svc.cluster.local"]
  - hosts: ["./a.default.svc.cluster.local"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mirror, namespace: default }
spec:
  hosts: [a.default.svc.cluster.local]
  http: [{ route: [{ destination: { host: a } }], mirror: { host: hidden.other.svc.cluster.local } }]
`;
  assert.deepEqual(scoped(sidecar), ["a", "c", "hidden"]);
});

Deno.test("a Sidecar with only port egress listeners leaves the outbound listener every service", () => {
  const sidecar = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress:
  - port: { number: 9000, protocol: TCP, name: tcp }
    hosts: ["./b.default.svc.cluster.local"]
`;
  assert.deepEqual(scoped(sidecar), ["a", "b", "c"]);
});
