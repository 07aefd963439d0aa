/**
 * gRPC health checks (grpc.health.v1.Health/Check) through a mesh pair over mTLS, with peers
 * nobody here wrote: fortio's gRPC client (`fortio load -grpc`, which checks health unless told
 * to ping) → sidecar A's outbound listener (h2c) → HTTP/2 over mesh mTLS → sidecar B → h2c →
 * fortio's gRPC server (gRPC-Go's standard health service). SERVING comes back for the
 * server's overall health; an unknown service's NOT_FOUND comes back as the status it is, and
 * both are counted with their `grpc_response_status`.
 *
 * fortio is the bench's (cached outside the repository, built from the Go module proxy when
 * missing); without Go it is skipped with one line.
 */
import assert from "node:assert/strict";
import { findOrBuildFortio, fortioServerArgs, fortioServerPorts } from "../bench/tools/fortio.ts";
import { configDump, eventually, Proc, TestMesh } from "./helpers.ts";

const fortio = await findOrBuildFortio(() => {});
const skip = "error" in fortio ? `fortio unavailable: ${fortio.error.split("\n")[0]}` : undefined;
if (skip) console.log(`grpc_health_test: skipped, ${skip}`);

const CLUSTER = "outbound|8079||grpc-health.default.svc.cluster.local";
const CONFIG = {
  "grpc-health.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc-health}
spec:
  hosts: [grpc-health.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8079, name: grpc, protocol: GRPC}]
  workloadSelector: {labels: {app: grpc-health}}
`,
};

/** Runs `fortio load -grpc` health checks through `outbound`; returns its output. */
async function check(bin: string, outbound: number, extra: string[] = []): Promise<string> {
  const out = await new Deno.Command(bin, {
    args: [
      "load",
      "-grpc",
      ...extra,
      "-n",
      "20",
      "-c",
      "2",
      "-qps",
      "0",
      "-timeout",
      "10s",
      "-H",
      "Host: grpc-health:8079",
      `127.0.0.1:${outbound}`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

/** The source-reported request count for `grpc-health` with `grpc_response_status="<s>"`. */
function counted(stats: string, status: string): number {
  let n = 0;
  for (const line of stats.split("\n")) {
    if (!line.startsWith("istio_requests_total{") || !line.includes(`reporter="source"`)) continue;
    if (!line.includes(`grpc_response_status="${status}"`)) continue;
    if (!line.includes(`destination_service="grpc-health.default.svc.cluster.local"`)) continue;
    n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

Deno.test({
  name:
    "gRPC health checks pass through a mesh pair: SERVING, and NOT_FOUND for an unknown service",
  ignore: skip !== undefined,
  async fn() {
    const bin = (fortio as { path: string }).path;
    const server = new Proc("fortio-server", bin, fortioServerArgs());
    const m = await TestMesh.start(CONFIG);
    try {
      await server.waitFor(/grpc 'ping' server listening on tcp 127\.0\.0\.1:\d+/);
      const port = fortioServerPorts(server.output).grpc!;
      const [, a] = await Promise.all([
        m.sidecar({
          name: "grpc-health",
          serviceAccount: "grpc-health",
          labels: "app=grpc-health",
          appPort: port,
        }),
        m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
      ]);
      await eventually(
        async () => {
          const c = (await configDump(a.admin)).config?.clusters as
            | Record<string, { endpoints: unknown[]; protocol?: string }>
            | undefined;
          return c?.[CLUSTER]?.endpoints.length === 1 && c[CLUSTER].protocol === "HTTP2";
        },
        20_000,
        "sidecar A to learn the gRPC endpoint",
      );
      const ok = await check(bin, a.outbound);
      assert.match(ok, /Health SERVING : 20\b/, ok);
      const missing = await check(bin, a.outbound, ["-healthservice", "no.such.Service"]);
      assert.match(missing, /code = NotFound desc = unknown service/, missing);
      assert.doesNotMatch(missing, /SERVING :/, missing);
      const stats = await (await fetch(`http://127.0.0.1:${a.admin}/stats/prometheus`)).text();
      assert.equal(counted(stats, "0"), 20, stats);
      assert.equal(counted(stats, "5"), 20, stats); // NOT_FOUND
    } finally {
      await m.close();
      await server.stop();
    }
  },
});
