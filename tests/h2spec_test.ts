/**
 * h2spec (summerwind/h2spec, a conformance tester nobody here wrote) against a real mesh
 * process's listeners, which serve HTTP/2 with mesh's own codec: a sidecar's outbound listener
 * (h2c with prior knowledge), a sidecar's inbound listener (h2c, which a PERMISSIVE workload
 * takes in plaintext besides mesh mTLS; h2spec has no client certificate for the mTLS side,
 * whose HTTP/2 is the same code after the handshake) and a gateway's HTTPS listener (TLS,
 * ALPN h2). Every
 * case must pass or be listed in {@linkcode EXCEPTIONS} (the README's HTTP/2 section repeats
 * the list). Skipped with one line when h2spec can't be built (no Go, no network).
 */
import assert from "node:assert/strict";
import { canUseHostsFile, h2spec, type H2specResult, hostsFileWith, runH2spec } from "./peers.ts";
import {
  echoServer,
  edgeRouteYaml,
  freePort,
  serviceEntryYaml,
  TestMesh,
  testPki,
  waitForEndpoints,
} from "./helpers.ts";

/** h2spec cases allowed to fail, per listener, by id, with why. */
export const EXCEPTIONS: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  [
    "outbound",
    new Map<string, string>([[
      "http2/3.5/2",
      "the port serves HTTP/1.1 and h2c: bytes that aren't the preface are HTTP/1.1, answered " +
      "400 and closed (an HTTP/1.1 answer, not a bare close); over TLS (ALPN h2) it passes",
    ]]),
  ],
  [
    "inbound",
    new Map<string, string>([[
      "http2/3.5/2",
      "as for outbound: the plaintext side serves HTTP/1.1 and h2c on one port",
    ]]),
  ],
  ["gateway", new Map<string, string>([])],
]);

const PEER = await h2spec();
const HOSTS_OK = await canUseHostsFile();
const ECHO_NAME = "h2spec-echo.mesh.test";
const SKIP = PEER.path === undefined;
if (SKIP) console.log(`skip h2spec_test: ${PEER.skip}`);

/** Runs h2spec; returns the run and its failures that aren't exceptions. */
async function conform(
  name: string,
  port: number,
  tls: boolean,
  via?: { host: string; hostsFile: string },
): Promise<{ r: H2specResult; unexpected: string[] }> {
  const r = await runH2spec({
    host: via?.host ?? "127.0.0.1",
    ...(via ? { hostsFile: via.hostsFile } : {}),
    port,
    tls,
    insecure: tls,
    timeoutS: 2,
    runTimeoutS: 240,
    bin: PEER.path,
  });
  const failed = r.cases.filter((c) => c.status === "failed");
  console.log(
    `h2spec vs mesh ${name} (${tls ? "TLS" : "h2c"}): ${r.passed}/${r.total} passed, ` +
      `${r.failed} failed, ${r.skipped} skipped` +
      failed.map((c) =>
        `\n  ${c.id}${EXCEPTIONS.get(name)?.has(c.id) ? " (exception)" : ""}: ${c.message}`
      )
        .join(""),
  );
  assert(r.total >= 140, `${name}: h2spec ran only ${r.total} cases`);
  const unexpected = failed.filter((c) => !EXCEPTIONS.get(name)?.has(c.id))
    .map((c) => `${name} ${c.id}: ${c.message}`);
  return { r, unexpected };
}

Deno.test({
  name:
    "h2spec: a sidecar's outbound and inbound listeners (h2c) and a gateway's HTTPS listener (ALPN h2)",
  ignore: SKIP,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const app = echoServer("echo");
    const dir = await Deno.makeTempDir({ prefix: "mesh-h2spec-pki-" });
    await testPki(dir);
    const gwPort = freePort();
    const m = await TestMesh.start({
      "echo.yaml": serviceEntryYaml("echo", 8080),
      // The echo app by a name on port 80 (the bare host is a route domain).
      "named.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo-named}
spec:
  hosts: [${ECHO_NAME}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: echo}}
`,
      "gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: ${gwPort}, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, serverCertificate: ${dir}/server.pem, privateKey: ${dir}/server.key}
---
${edgeRouteYaml(app.port)}`,
      "permissive.yaml": `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: echo, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  mtls: {mode: PERMISSIVE}
`,
    });
    try {
      const [a, gw, b] = await Promise.all([
        m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
        m.gateway(),
        m.sidecar({ name: "b", serviceAccount: "echo", labels: "app=echo", appPort: app.port }),
      ]);
      await waitForEndpoints(a.admin, "outbound|8080||echo.default.svc.cluster.local");
      await gw.proc.waitFor(
        new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort} protocol=HTTPS`),
      );
      // The outbound listener's requests go through the pair to the echo app, which reads each
      // body before answering: by a service name (a hosts file of h2spec's own) where that
      // works, else to 127.0.0.1, which the sidecar refuses at once (a loop), sometimes before
      // h2spec's next frame arrives: then, the answer complete, the stream may be reset (NO_ERROR)
      // and the frame h2spec expects an error for is ignored, as RFC 9113 allows.
      const via = HOSTS_OK
        ? { host: ECHO_NAME, hostsFile: await hostsFileWith(dir, "127.0.0.1", [ECHO_NAME]) }
        : undefined;
      const out = await conform("outbound", a.outbound, false, via);
      const inbound = await conform("inbound", b.inbound, false);
      const gateway = await conform("gateway", gwPort, true);
      // The listeners went on serving after everything h2spec threw at them.
      for (const p of [a, gw, b]) {
        const r = await fetch(`http://127.0.0.1:${p.admin}/ready`);
        await r.body?.cancel();
        assert.equal(r.status, 200, "proxy still ready");
      }
      console.log(
        `h2spec: outbound ${out.r.summary}; inbound ${inbound.r.summary}; ` +
          `gateway ${gateway.r.summary}`,
      );
      assert.deepEqual(
        [...out.unexpected, ...inbound.unexpected, ...gateway.unexpected],
        [],
        "failures not in EXCEPTIONS",
      );
    } finally {
      await m.close();
      await app.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
