/**
 * CONNECT on the sidecar's outbound listener: apps with `HTTPS_PROXY` pointing at their
 * sidecar reach HTTPS services outside the mesh (curl, a real client, against a `Deno.serve`
 * HTTPS server with a certificate made here with openssl), as the mesh's outbound traffic
 * policy and ServiceEntries allow; a CONNECT to a mesh service goes over mesh mTLS to its
 * sidecar, whose AuthorizationPolicies apply.
 */
import assert from "node:assert/strict";
import { curl, eventually, TestMesh } from "./helpers.ts";
import { selfSignedCert } from "./self_signed.ts";

/** A self-signed certificate for secure.example.com and 127.0.0.1, made with openssl. */
async function selfSigned(dir: string): Promise<{ cert: string; key: string; caPath: string }> {
  const c = await selfSignedCert(dir, {
    cn: "secure.example.com",
    san: "DNS:secure.example.com,IP:127.0.0.1",
    name: "server",
  });
  return { cert: c.cert, key: c.key, caPath: c.certPath };
}

/** Sends a CONNECT to `port`; resolves with the connection and the answer (head and body). */
async function rawConnect(
  port: number,
  target: string,
): Promise<{ conn: Deno.Conn; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
  );
  let text = "";
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 100; i++) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const cl = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
    if (!cl || text.length >= end + 4 + Number(cl[1])) break;
  }
  return { conn, text };
}

const ENTRY = (port: number) =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure}
spec:
  hosts: [secure.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.1}]
`;

const MESH = (mode: string) =>
  `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  accessLogFile: /dev/stdout
  outboundTrafficPolicy: {mode: ${mode}}
`;

const TCP_ECHO = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  workloadSelector: {labels: {app: tcp-echo}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: tcp-echo-deny-c}
spec:
  selector: {matchLabels: {app: tcp-echo}}
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/c]}}]}]
`;

Deno.test("CONNECT under REGISTRY_ONLY: a ServiceEntry allows it, anything else is 403; mesh services go over mTLS and are authorized", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-connect-" });
  const pki = await selfSigned(dir);
  const https = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: pki.cert, key: pki.key, onListen() {} },
    (req) => new Response(`secure hello ${new URL(req.url).pathname}`),
  );
  const port = https.addr.port;
  // A TCP echo app behind a sidecar.
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of echo) c.readable.pipeTo(c.writable).catch(() => {});
  })().catch(() => {});
  const m = await TestMesh.start({
    "mesh.yaml": MESH("REGISTRY_ONLY"),
    "se.yaml": ENTRY(port),
    "tcp.yaml": TCP_ECHO,
  });
  try {
    const [a, , c] = await Promise.all([
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
      m.sidecar({
        name: "tcp-echo",
        serviceAccount: "tcp-echo",
        labels: "app=tcp-echo",
        appPort: (echo.addr as Deno.NetAddr).port,
      }),
      m.sidecar({ name: "c", serviceAccount: "c", labels: "app=c" }),
    ]);
    const proxy = ["--proxy", `http://127.0.0.1:${a.outbound}`, "--cacert", pki.caPath];

    // curl through the sidecar as its HTTPS proxy; TLS is curl's and the server's, end to end.
    const ok = await eventually(
      async () => {
        const r = await curl([...proxy, `https://secure.example.com:${port}/through`]);
        return r.status === 200 && r;
      },
      10_000,
      "CONNECT to the ServiceEntry host",
    );
    assert.equal(ok.body, "secure hello /through");

    // Not in the registry, under REGISTRY_ONLY: refused, and curl says so.
    const refused = await curl([...proxy, `https://127.0.0.1:${port}/`]);
    assert.notEqual(refused.status, 200);
    assert.match(refused.stderr, /403/);
    const raw = await rawConnect(a.outbound, `127.0.0.1:${port}`);
    raw.conn.close();
    assert.match(raw.text, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(raw.text, /REGISTRY_ONLY/);

    // A mesh service: tunnelled over mTLS to its sidecar, bytes both ways.
    const tunnel = await eventually(
      async () => {
        const t = await rawConnect(a.outbound, "tcp-echo:9000");
        if (t.text.startsWith("HTTP/1.1 200")) return t;
        t.conn.close();
        return undefined;
      },
      10_000,
      "CONNECT to the mesh service",
    );
    await tunnel.conn.write(new TextEncoder().encode("ping over the mesh"));
    const buf = new Uint8Array(64);
    const n = await tunnel.conn.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "ping over the mesh");
    tunnel.conn.close();

    // The destination's AuthorizationPolicy denies c: 403, no tunnel.
    const denied = await eventually(
      async () => {
        const t = await rawConnect(c.outbound, "tcp-echo:9000");
        t.conn.close();
        return !t.text.startsWith("HTTP/1.1 200") && t;
      },
      10_000,
      "c's tunnel refused",
    );
    assert.match(denied.text, /^HTTP\/1\.1 403 Forbidden\r\n/);

    // Counted as TCP (reporter source) and logged once per tunnel.
    const stats = await eventually(
      async () => {
        const s = await (await fetch(`http://127.0.0.1:${a.admin}/stats/prometheus`)).text();
        const closed = s.split("\n").some((l) =>
          l.startsWith("istio_tcp_connections_closed_total{") && l.includes("tcp-echo.default")
        );
        return closed && s;
      },
      10_000,
      "the tunnels' TCP metrics",
    );
    const opened = (host: string) =>
      stats.split("\n").filter((l) =>
        l.startsWith("istio_tcp_connections_opened_total{") && l.includes(`"${host}`) &&
        l.includes(`reporter="source"`)
      );
    assert.equal(opened("secure.example.com").length, 1, stats);
    assert.match(opened("secure.example.com")[0], / 1$/);
    assert.match(opened("tcp-echo.default.svc.cluster.local")[0], / 1$/);
    assert.match(stats, /istio_tcp_sent_bytes_total\{[^}]*secure\.example\.com[^}]*\} [1-9]/);
    await a.proc.waitFor(
      new RegExp(
        `"CONNECT - HTTP/1\\.1" 200 .*"secure\\.example\\.com:${port}" "127\\.0\\.0\\.1:${port}" outbound\\|${port}\\|\\|secure\\.example\\.com`,
      ),
    );
    await a.proc.waitFor(new RegExp(`"CONNECT - HTTP/1\\.1" 403 NR .*"127\\.0\\.0\\.1:${port}"`));
  } finally {
    await m.close();
    echo.close();
    await https.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("CONNECT under ALLOW_ANY: a host outside the registry goes straight to its address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-connect-" });
  const pki = await selfSigned(dir);
  const https = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: pki.cert, key: pki.key, onListen() {} },
    () => new Response("passthrough hello"),
  );
  const m = await TestMesh.start({ "mesh.yaml": MESH("ALLOW_ANY") });
  try {
    const a = await m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" });
    const r = await eventually(
      async () => {
        const r = await curl([
          "--proxy",
          `http://127.0.0.1:${a.outbound}`,
          "--cacert",
          pki.caPath,
          `https://127.0.0.1:${https.addr.port}/`,
        ]);
        return r.status === 200 && r;
      },
      10_000,
      "the passthrough tunnel",
    );
    assert.equal(r.body, "passthrough hello");
    const stats = await eventually(
      async () => {
        const s = await (await fetch(`http://127.0.0.1:${a.admin}/stats/prometheus`)).text();
        return /istio_tcp_connections_closed_total\{[^}]*PassthroughCluster/.test(s) && s;
      },
      10_000,
      "PassthroughCluster TCP metrics",
    );
    assert.match(stats, /istio_tcp_connections_opened_total\{[^}]*PassthroughCluster[^}]*\} 1/);
    // A tunnel to the proxy's own listener would loop.
    const loop = await rawConnect(a.outbound, `127.0.0.1:${a.outbound}`);
    loop.conn.close();
    assert.match(loop.text, /^HTTP\/1\.1 508 /);
  } finally {
    await m.close();
    await https.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
