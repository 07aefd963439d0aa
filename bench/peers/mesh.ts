/**
 * The mesh pair: the real CLI, as the tests start it. A control plane with a
 * temporary config dir holding the ServiceEntries, proxy B (service account
 * `bench-app`) in front of the app, proxy A (`bench-client`, no app), and,
 * when there is a gRPC backend, a second server-side proxy in front of it
 * (a sidecar fronts one app port; its service port is GRPC, so HTTP/2 end to
 * end). The app is also the service `bench-app-h2`, whose DestinationRule
 * upgrades the proxy-to-proxy hop to HTTP/2. Metrics are on, as always in mesh: both
 * proxies record Istio's request metrics for every request.
 * @module
 */
import { configDump, eventually, freePort, TestMesh } from "../../tests/helpers.ts";
import type { Backends, Pair } from "./types.ts";

/** The Host the client sends to proxy A's outbound listener. */
export const MESH_HOST = "bench-app:8080";
/** The gRPC authority the client sends to proxy A. */
export const MESH_GRPC_HOST = "bench-grpc:8079";
/**
 * The Host for the same app behind a second service, whose DestinationRule sets
 * `h2UpgradePolicy: UPGRADE`: HTTP/2 between the proxies, HTTP/1.1 to the app.
 */
export const MESH_H2_UPGRADE_HOST = "bench-app-h2:8080";
/** The Host of the WebSocket echo service. */
export const MESH_WS_HOST = "bench-ws:8082";

const CLUSTER = "outbound|8080||bench-app.default.svc.cluster.local";
const GRPC_CLUSTER = "outbound|8079||bench-grpc.default.svc.cluster.local";
const H2_UPGRADE_CLUSTER = "outbound|8080||bench-app-h2.default.svc.cluster.local";
const WS_CLUSTER = "outbound|8082||bench-ws.default.svc.cluster.local";

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

/** A DestinationRule that upgrades `host`'s HTTP/1.1 traffic to HTTP/2 between the proxies. */
export function h2UpgradeRule(host: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${host.split(".")[0]}}
spec:
  host: ${host}
  trafficPolicy:
    connectionPool:
      http: {h2UpgradePolicy: UPGRADE}
`;
}

/** A ServiceEntry for `name` on `port`, selecting the workloads labelled `app: <app>`. */
export function serviceEntry(name: string, port: number, protocol: string, app = name): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol}}]
  workloadSelector: {labels: {app: ${app}}}
`;
}

/** Starts the control plane and the proxies; resolves once proxy A knows the endpoints. */
export async function startMesh(backends: Backends): Promise<Pair & { admin: number[] }> {
  const files: Record<string, string> = {
    "bench-app.yaml": serviceEntry("bench-app", 8080, "HTTP"),
    // The same app (proxy B's workload) as a second service whose clusters speak HTTP/2.
    "bench-app-h2.yaml": serviceEntry("bench-app-h2", 8080, "HTTP", "bench-app") + "---\n" +
      h2UpgradeRule("bench-app-h2.default.svc.cluster.local"),
  };
  if (backends.grpc) files["bench-grpc.yaml"] = serviceEntry("bench-grpc", 8079, "GRPC");
  if (backends.ws) files["bench-ws.yaml"] = serviceEntry("bench-ws", 8082, "HTTP");
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
    const [b, a, bg, bt, bw] = await Promise.all([
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
      backends.ws
        ? m.sidecar({
          name: "proxy-b-ws",
          serviceAccount: "bench-ws",
          labels: "app=bench-ws",
          appPort: backends.ws,
        })
        : undefined,
    ]);
    await eventually(
      async () => {
        const c = (await configDump(a.admin)).config?.clusters as
          | Record<string, { endpoints: unknown[]; protocol?: string }>
          | undefined;
        return c?.[CLUSTER]?.endpoints.length === 1 &&
          c?.[H2_UPGRADE_CLUSTER]?.endpoints.length === 1 &&
          c?.[H2_UPGRADE_CLUSTER]?.protocol === "HTTP2" &&
          (!bg || (c?.[GRPC_CLUSTER]?.endpoints.length === 1 &&
            c?.[GRPC_CLUSTER]?.protocol === "HTTP2")) &&
          (!bt || c?.[tcpCluster]?.endpoints.length === 1) &&
          (!bw || c?.[WS_CLUSTER]?.endpoints.length === 1);
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
      h2Upgrade: { target: `http://${outbound}/`, headers: [`Host: ${MESH_H2_UPGRADE_HOST}`] },
      grpc: bg
        ? {
          target: outbound,
          headers: [`Host: ${MESH_GRPC_HOST}`],
          proxies: { "proxy-a": a.proc.child.pid, "proxy-b": bg.proc.child.pid },
        }
        : { unsupported: "no gRPC backend (fortio unavailable)" },
      tcp: bt
        ? {
          target: `tcp://127.0.0.1:${tcpPort}`,
          headers: [],
          proxies: { "proxy-a": a.proc.child.pid, "proxy-b": bt.proc.child.pid },
        }
        : { unsupported: "no TCP backend (fortio unavailable)" },
      ws: bw
        ? {
          target: `ws://${outbound}/echo`,
          headers: [`Host: ${MESH_WS_HOST}`],
          proxies: { "proxy-a": a.proc.child.pid, "proxy-b": bw.proc.child.pid },
        }
        : { unsupported: "no WebSocket backend (tests/peers/wsclient unavailable)" },
      settings: {
        processes: "one deno process per proxy",
        tls: "mesh mTLS (SPIFFE certificates from the control plane's CA)",
        hop: "pooled kept-alive HTTP/1.1 over mTLS between the proxies; HTTP/2 over mTLS " +
          "(ALPN h2) for bench-grpc (port protocol GRPC) and bench-app-h2 (DestinationRule " +
          "h2UpgradePolicy UPGRADE)",
        grpc: "bench-grpc's ServiceEntry port is protocol GRPC: HTTP/2 between the proxies, " +
          "h2c from proxy B to fortio's gRPC server",
        metrics: "on (istio_requests_total, istio_request_duration_milliseconds)",
        h2: "the outbound listener is Deno.serve; h2c with prior knowledge is tried",
        tcp: "a Sidecar egress listener on proxy A (127.0.0.1, captureMode NONE) tunnels " +
          "each connection over mTLS (HTTP CONNECT) to proxy B, which connects to the echo server",
        ws: "bench-ws (port protocol HTTP, WebSocket upgrade) fronted by its own server-side " +
          "proxy, in front of tests/peers/wsclient's echo server",
      },
      output: () => m.procs.map((x) => `--- ${x.name} ---\n${x.output.slice(-4000)}`).join("\n"),
      close: () => m.close(),
    };
  } catch (err) {
    await m.close();
    throw err;
  }
}
