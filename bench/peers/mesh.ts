/**
 * The mesh pair: the real CLI, as the tests start it. A control plane with a
 * temporary config dir holding the ServiceEntries, proxy B (service account
 * `bench-app`) in front of the app, proxy A (`bench-client`, no app), and,
 * when there is a gRPC backend, a second server-side proxy in front of it
 * (a sidecar fronts one app port). Metrics are on, as always in mesh: both
 * proxies record Istio's request metrics for every request.
 * @module
 */
import { configDump, eventually, TestMesh } from "../../tests/helpers.ts";
import type { Backends, Pair } from "./types.ts";

/** The Host the client sends to proxy A's outbound listener. */
export const MESH_HOST = "bench-app:8080";
/** The gRPC authority the client sends to proxy A. */
export const MESH_GRPC_HOST = "bench-grpc:8079";

const CLUSTER = "outbound|8080||bench-app.default.svc.cluster.local";
const GRPC_CLUSTER = "outbound|8079||bench-grpc.default.svc.cluster.local";

function serviceEntry(name: string, port: number, protocol: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol}}]
  workloadSelector: {labels: {app: ${name}}}
`;
}

/** Starts the control plane and the proxies; resolves once proxy A knows the endpoints. */
export async function startMesh(backends: Backends): Promise<Pair & { admin: number[] }> {
  const files: Record<string, string> = {
    "bench-app.yaml": serviceEntry("bench-app", 8080, "HTTP"),
  };
  if (backends.grpc) files["bench-grpc.yaml"] = serviceEntry("bench-grpc", 8079, "GRPC");
  const m = await TestMesh.start(files);
  try {
    const [b, a, bg] = await Promise.all([
      m.sidecar({
        name: "proxy-b",
        serviceAccount: "bench-app",
        labels: "app=bench-app",
        appPort: backends.http,
      }),
      m.sidecar({ name: "proxy-a", serviceAccount: "bench-client", labels: "app=bench-client" }),
      backends.grpc
        ? m.sidecar({
          name: "proxy-b-grpc",
          serviceAccount: "bench-grpc",
          labels: "app=bench-grpc",
          appPort: backends.grpc,
        })
        : undefined,
    ]);
    await eventually(
      async () => {
        const c = (await configDump(a.admin)).config?.clusters;
        return c?.[CLUSTER]?.endpoints.length === 1 &&
          (!bg || c?.[GRPC_CLUSTER]?.endpoints.length === 1);
      },
      20_000,
      "proxy A to learn the bench endpoints",
    );
    const outbound = `127.0.0.1:${a.outbound}`;
    const noTcp = "mesh has no TCP proxying yet (the outbound listener speaks HTTP only)";
    return {
      name: "mesh",
      proxies: { "proxy-a": a.proc.child.pid, "proxy-b": b.proc.child.pid },
      admin: [a.admin, b.admin],
      http: { target: `http://${outbound}/`, headers: [`Host: ${MESH_HOST}`] },
      h2: { target: `http://${outbound}/`, headers: [`Host: ${MESH_HOST}`] },
      grpc: bg
        ? {
          target: outbound,
          headers: [`Host: ${MESH_GRPC_HOST}`],
          proxies: { "proxy-a": a.proc.child.pid, "proxy-b": bg.proc.child.pid },
          expectedFailure: "gRPC needs HTTP/2 end to end (trailers); mesh forwards " +
            "proxy to proxy and proxy to app over HTTP/1.1",
        }
        : { unsupported: "no gRPC backend (fortio unavailable)" },
      tcp: { unsupported: noTcp, probe: `tcp://${outbound}` },
      settings: {
        processes: "one deno process per proxy",
        tls: "mesh mTLS (SPIFFE certificates from the control plane's CA)",
        hop: "pooled kept-alive HTTP/1.1 over mTLS between the proxies",
        metrics: "on (istio_requests_total, istio_request_duration_milliseconds)",
        h2: "the outbound listener is Deno.serve; h2c with prior knowledge is tried",
      },
      output: () => m.procs.map((x) => `--- ${x.name} ---\n${x.output.slice(-4000)}`).join("\n"),
      close: () => m.close(),
    };
  } catch (err) {
    await m.close();
    throw err;
  }
}
