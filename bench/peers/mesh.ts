/**
 * The mesh pair: the real CLI, as the tests start it. A control plane with a
 * temporary config dir holding the ServiceEntries, proxy B (service account
 * `bench-app`) in front of the app, proxy A (`bench-client`, no app), and,
 * when there is a gRPC backend, a second server-side proxy in front of it
 * (a sidecar fronts one app port). Metrics are on, as always in mesh: both
 * proxies record Istio's request metrics for every request.
 * @module
 */
import { configDump, eventually, freePort, TestMesh } from "../../tests/helpers.ts";
import type { Backends, Pair } from "./types.ts";

/** The Host the client sends to proxy A's outbound listener. */
export const MESH_HOST = "bench-app:8080";
/** The gRPC authority the client sends to proxy A. */
export const MESH_GRPC_HOST = "bench-grpc:8079";

const CLUSTER = "outbound|8080||bench-app.default.svc.cluster.local";
const GRPC_CLUSTER = "outbound|8079||bench-grpc.default.svc.cluster.local";

/** A Sidecar for proxy A with a TCP egress listener (Istio's captureMode NONE) on `port`. */
function tcpSidecar(port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: bench-client}
spec:
  workloadSelector: {labels: {app: bench-client}}
  egress:
  - port: {number: ${port}, protocol: TCP, name: tcp}
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["./bench-tcp.default.svc.cluster.local"]
`;
}

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
  // TCP: proxy A listens on a local port (a Sidecar egress listener) and tunnels to bench-tcp.
  // The service port and proxy A's listener port are the same number, as in Istio.
  const tcpPort = backends.tcp ? freePort() : 0;
  const tcpCluster = `outbound|${tcpPort}||bench-tcp.default.svc.cluster.local`;
  if (backends.tcp) {
    files["bench-tcp.yaml"] = serviceEntry("bench-tcp", tcpPort, "TCP") + "---\n" +
      tcpSidecar(tcpPort);
  }
  const m = await TestMesh.start(files);
  try {
    const [b, a, bg, bt] = await Promise.all([
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
      backends.tcp
        ? m.sidecar({
          name: "proxy-b-tcp",
          serviceAccount: "bench-tcp",
          labels: "app=bench-tcp",
          appPort: backends.tcp,
        })
        : undefined,
    ]);
    await eventually(
      async () => {
        const c = (await configDump(a.admin)).config?.clusters;
        return c?.[CLUSTER]?.endpoints.length === 1 &&
          (!bg || c?.[GRPC_CLUSTER]?.endpoints.length === 1) &&
          (!bt || c?.[tcpCluster]?.endpoints.length === 1);
      },
      20_000,
      "proxy A to learn the bench endpoints",
    );
    const outbound = `127.0.0.1:${a.outbound}`;
    if (bt) {
      await a.proc.waitFor(
        new RegExp(`egress listener open address=127\\.0\\.0\\.1:${tcpPort} protocol=TCP`),
        20_000,
      );
    }
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
      tcp: bt
        ? {
          target: `tcp://127.0.0.1:${tcpPort}`,
          headers: [],
          proxies: { "proxy-a": a.proc.child.pid, "proxy-b": bt.proc.child.pid },
        }
        : { unsupported: "no TCP backend (fortio unavailable)" },
      settings: {
        processes: "one deno process per proxy",
        tls: "mesh mTLS (SPIFFE certificates from the control plane's CA)",
        hop: "pooled kept-alive HTTP/1.1 over mTLS between the proxies",
        metrics: "on (istio_requests_total, istio_request_duration_milliseconds)",
        h2: "the outbound listener is Deno.serve; h2c with prior knowledge is tried",
        tcp: "a Sidecar egress listener on proxy A (127.0.0.1, captureMode NONE) tunnels " +
          "each connection over mTLS (HTTP CONNECT) to proxy B, which connects to the echo server",
      },
      output: () => m.procs.map((x) => `--- ${x.name} ---\n${x.output.slice(-4000)}`).join("\n"),
      close: () => m.close(),
    };
  } catch (err) {
    await m.close();
    throw err;
  }
}
