/**
 * gRPC through a mesh pair over mTLS, against peers nobody here wrote: the Go gRPC interop
 * client → sidecar A's outbound listener (h2c) → HTTP/2 over mesh mTLS → sidecar B's inbound
 * listener (ALPN h2) → h2c → the Go interop server, for the 12 interop cases. Then the gRPC
 * policies on the same pair: Istio's metrics with `grpc_response_status`, a VirtualService
 * fault `abort.grpcStatus`, and an AuthorizationPolicy denial answered as a gRPC status.
 *
 * The client dials the service by name (`grpc-echo.mesh.test`, its authority) through a hosts
 * file of its own in a mount namespace (`unshare --mount`, root): skipped with one line where
 * that, Go or the interop peers are missing.
 */
import assert from "node:assert/strict";
import {
  canUseHostsFile,
  GRPC_INTEROP_CASES,
  GRPC_LOG_ENV,
  grpcInterop,
  grpcInteropServerArgs,
  grpcInteropServerPort,
  hostsFileWith,
  runGrpcInteropClient,
} from "./peers.ts";
import { eventually, Proc } from "./helpers.ts";
import { TestMesh } from "./helpers.ts";

const HOST = "grpc-echo.mesh.test";

const peer = await grpcInterop();
const hostsOk = await canUseHostsFile();
const skip = peer.client === undefined
  ? `gRPC interop peers unavailable: ${peer.skip}`
  : !hostsOk
  ? "unshare --mount is not permitted here (needs root)"
  : undefined;
if (skip) console.log(`grpc_mesh_test: skipped, ${skip}`);

const serviceYaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc-echo}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  # Port 80: the bare host is among its domains, so a client dialling the outbound listener
  # by the service name (authority name:<listener port>) is routed by the name.
  ports: [{number: 80, name: grpc, protocol: GRPC}]
  workloadSelector: {labels: {app: grpc-server}}
`;

async function metrics(admin: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${admin}/stats/prometheus`);
  return await r.text();
}

Deno.test({
  name: "gRPC through a mesh pair over mTLS: the 12 interop cases, metrics, abort.grpcStatus, RBAC",
  ignore: skip !== undefined,
  async fn() {
    const server = new Proc("grpc-interop-server", peer.server!, grpcInteropServerArgs(), {
      ...GRPC_LOG_ENV,
    });
    const m = await TestMesh.start({ "svc.yaml": serviceYaml });
    try {
      const listening = await server.waitFor(/interop server listening on \S*:\d+/);
      const appPort = grpcInteropServerPort(listening[0])!;
      const b = await m.sidecar({
        name: "b",
        serviceAccount: "grpc-server",
        labels: "app=grpc-server",
        appPort,
      });
      const a = await m.sidecar({ name: "a", serviceAccount: "grpc-client", labels: "app=client" });
      const hostsFile = await hostsFileWith(m.dir, "127.0.0.1", [HOST]);
      const run = (testCase: string) =>
        runGrpcInteropClient({
          serverHost: HOST,
          serverPort: a.outbound,
          testCase,
          bin: peer.client,
          hostsFile,
          timeoutMs: 30_000,
        });
      // B's endpoint reaches A's config with its first push or a later one.
      let last = "";
      await eventually(
        async () => {
          const r = await run("empty_unary");
          last = r.output;
          return r.passed;
        },
        20_000,
        "the first RPC",
      ).catch((err) => {
        throw new Error(
          `${err.message}; the client said:\n${last.slice(-2000)}\nA:\n${
            a.proc.output.slice(-3000)
          }\nB:\n${b.proc.output.slice(-3000)}`,
        );
      });
      const failed: string[] = [];
      for (const testCase of GRPC_INTEROP_CASES) {
        const r = await run(testCase);
        if (!r.passed) failed.push(`${testCase}: ${r.detail}`);
      }
      console.log(
        `grpc interop through the mesh: ${GRPC_INTEROP_CASES.length - failed.length}/` +
          `${GRPC_INTEROP_CASES.length} passed`,
      );
      assert.deepStrictEqual(
        failed,
        [],
        `A:\n${a.proc.output.slice(-3000)}\nB:\n${b.proc.output.slice(-3000)}`,
      );

      // Istio's metrics: gRPC requests, by grpc_response_status, on both sides, over mTLS.
      const src = await metrics(a.admin);
      assert.match(
        src,
        /istio_requests_total\{reporter="source",[^}]*request_protocol="grpc",response_code="200",grpc_response_status="0",connection_security_policy="mutual_tls"\} \d+/,
      );
      // status_code_and_message ends with status 2 (UNKNOWN), from the server's trailers.
      assert.match(src, /request_protocol="grpc",response_code="200",grpc_response_status="2"/);
      const dst = await metrics(b.admin);
      assert.match(
        dst,
        /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/grpc-client"[^}]*request_protocol="grpc",response_code="200",grpc_response_status="0"/,
      );

      // A fault abort with a gRPC status: the client sees that status, sidecar A counts it.
      await Deno.writeTextFile(
        `${m.configDir}/vs.yaml`,
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc-echo}
spec:
  hosts: [${HOST}]
  http:
  - match: [{uri: {exact: /grpc.testing.TestService/EmptyCall}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
    route: [{destination: {host: ${HOST}}}]
  - route: [{destination: {host: ${HOST}}}]
`,
      );
      const aborted = await eventually(
        async () => {
          const r = await run("empty_unary");
          return !r.passed && /code = ResourceExhausted/.test(r.output) && r;
        },
        20_000,
        "the gRPC abort",
      );
      assert.match(aborted.output, /fault filter abort/);
      // Other methods still go through.
      assert.ok((await run("large_unary")).passed);
      assert.match(
        await metrics(a.admin),
        /request_protocol="grpc",response_code="200",grpc_response_status="8"/,
      );

      // An AuthorizationPolicy denial at B: PERMISSION_DENIED, as Envoy answers gRPC.
      await Deno.remove(`${m.configDir}/vs.yaml`);
      await Deno.writeTextFile(
        `${m.configDir}/authz.yaml`,
        `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-unary}
spec:
  selector: {matchLabels: {app: grpc-server}}
  action: DENY
  rules: [{to: [{operation: {paths: [/grpc.testing.TestService/UnaryCall]}}]}]
`,
      );
      const denied = await eventually(
        async () => {
          const r = await run("large_unary");
          last = r.output;
          return !r.passed && /code = PermissionDenied/.test(r.output) && r;
        },
        20_000,
        "the RBAC denial",
      ).catch((err) => {
        throw new Error(
          `${err.message}; the client said:\n${last.slice(-1500)}\nB:\n${
            b.proc.output.slice(-3000)
          }`,
        );
      });
      assert.match(denied.output, /RBAC: access denied/);
      assert.ok((await run("empty_unary")).passed, "EmptyCall isn't denied");
    } finally {
      await m.close();
      await server.stop();
    }
  },
});
