/**
 * Fault tests: no request gets past an AuthorizationPolicy by a path or authority trick, on a
 * gateway or on a sidecar's inbound side, and no request makes a proxy loop on itself. Real
 * processes on loopback; requests are written raw over TCP (curl would normalize them).
 */
import assert from "node:assert/strict";
import {
  configDump,
  echoServer,
  edgeRouteYaml,
  eventually,
  freePort,
  serviceEntryYaml,
  TestMesh,
} from "./helpers.ts";

/** Sends one raw HTTP/1.1 request and reads the answer until the server closes. */
async function raw(port: number, head: string): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // Bounded: a server that never closes is cut off (and the test fails on status 0).
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    await conn.write(new TextEncoder().encode(head));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16 * 1024);
    for (let i = 0; i < 1000; i++) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      chunks.reduce((a, c) => new Uint8Array([...a, ...c]), new Uint8Array()),
    );
    const status = Number(text.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 0);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer or the server */ }
  }
}

const get = (target: string, host: string | undefined, extra = "") =>
  `GET ${target} HTTP/1.1\r\n${host === undefined ? "" : `Host: ${host}\r\n`}${extra}` +
  "Connection: close\r\n\r\n";

/**
 * A trick: the request target and Host, and what mesh does with it. `blocked`: 403 or 400.
 * `kept`: Istio's normalization leaves a different path (the app sees it, not `/admin`).
 */
interface Trick {
  target: string;
  host?: string;
  /** Under BASE (Istio's default) and under DECODE_AND_MERGE_SLASHES. */
  base: "blocked" | "kept";
  decode: "blocked" | "kept";
}

const b = "blocked" as const;
const k = "kept" as const;

/** Path tricks against DENY `paths: [/admin*]`. */
const PATH_TRICKS: Trick[] = [
  { target: "/admin", base: b, decode: b },
  { target: "//admin", base: k, decode: b },
  { target: "/ADMIN", base: k, decode: k }, // case: Istio doesn't fold it
  { target: "/%2fadmin", base: k, decode: b },
  { target: "/%2Fadmin", base: k, decode: b },
  { target: "/x/..%2fadmin", base: k, decode: b },
  { target: "/x%5c..%5cadmin", base: k, decode: b },
  { target: "/;/admin", base: k, decode: k }, // `;` is segment text, as in Envoy
  { target: "/%00/admin", base: b, decode: b },
  { target: "/admin%00", base: b, decode: b },
  { target: "/%zz/admin", base: b, decode: b },
  { target: "/x\\..\\admin", base: b, decode: b },
  { target: "/./admin", base: b, decode: b },
  { target: "/admin/../admin", base: b, decode: b },
  { target: "/x/../admin", base: b, decode: b },
  { target: "/x/../../admin", base: b, decode: b },
  { target: "/%2e%2e/admin", base: b, decode: b },
  { target: "/x/%2E%2E/admin", base: b, decode: b },
  { target: "/%61dmin", base: b, decode: b },
  { target: "/%41DMIN", base: k, decode: k },
  { target: "/admin%2f", base: b, decode: b },
  { target: "/admin;x", base: b, decode: b },
  { target: "/admin#frag", base: b, decode: b },
  { target: "/admin?x=1", base: b, decode: b },
  { target: "/x#/../admin", base: k, decode: k },
];

/** Authority tricks against DENY `hosts: [admin.example.com]` (path `/ok`). */
const HOST_TRICKS: Trick[] = [
  { target: "/ok", host: "admin.example.com", base: b, decode: b },
  { target: "/ok", host: "ADMIN.Example.COM", base: b, decode: b },
  { target: "/ok", host: "admin.example.com.", base: b, decode: b },
  { target: "/ok", host: "admin.example.com:8080", base: b, decode: b },
  { target: "/ok", host: "admin.example.com.:80", base: b, decode: b },
  { target: "http://admin.example.com/ok", host: "web", base: b, decode: b },
  { target: "http://ADMIN.example.com./ok", host: "web", base: b, decode: b },
  { target: "http://admin.example.com:80/ok", host: undefined, base: b, decode: b },
  { target: "/ok", host: "u@admin.example.com", base: b, decode: b },
  { target: "http://u@admin.example.com/ok", host: "web", base: b, decode: b },
  { target: "/ok", host: "web/../admin.example.com", base: b, decode: b },
];

const POLICIES = (ns: string, selector: string) =>
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: ${ns}}
spec:
  selector: {matchLabels: {${selector}}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-host, namespace: ${ns}}
spec:
  selector: {matchLabels: {${selector}}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["admin.example.com"]}}]}]
`;

const MESH_CONFIG = (normalization: string) =>
  `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  pathNormalization: {normalization: ${normalization}}
`;

Deno.test("fault: authz bypass table: path and authority tricks on a gateway and a sidecar inbound", async () => {
  const app = echoServer("web");
  const edge = echoServer("edge");
  const gwPort = freePort();
  const m = await TestMesh.start({
    "web.yaml": serviceEntryYaml("web", 8080) + "---\n" + POLICIES("default", "app: web") +
      `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: default}
spec: {selector: {matchLabels: {app: web}}, mtls: {mode: PERMISSIVE}}
`,
    "gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: ${gwPort}, name: http, protocol: HTTP}, hosts: ["*"]}]
---
${edgeRouteYaml(edge.port)}---
` + POLICIES("istio-system", "istio: ingressgateway"),
  });
  try {
    const [web, gw] = await Promise.all([
      m.sidecar({ name: "web", serviceAccount: "web", labels: "app=web", appPort: app.port }),
      m.gateway(),
    ]);
    await gw.proc.waitFor(new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort}`));
    const targets = [
      { name: "gateway", port: gwPort, seen: edge.seen },
      { name: "sidecar inbound", port: web.inbound, seen: app.seen },
    ];
    // The allowed request goes through both ways (the policies aren't simply denying all).
    for (const t of targets) {
      await eventually(async () => (await raw(t.port, get("/ok", "web"))).status === 200, 10_000);
    }
    const run = async (mode: "base" | "decode") => {
      let passed = 0;
      let total = 0;
      for (const t of targets) {
        for (const trick of [...PATH_TRICKS, ...HOST_TRICKS]) {
          total++;
          const before = t.seen.length;
          const host = trick.host === undefined && !trick.target.startsWith("http")
            ? "web"
            : trick.host;
          const res = await raw(t.port, get(trick.target, host));
          const seen = t.seen.slice(before);
          const label = `${mode} ${t.name} ${trick.target} Host=${host}: ${res.status}`;
          const reachedAdmin = seen.some((s) =>
            s.path.startsWith("/admin") || s.host.toLowerCase().startsWith("admin.example.com")
          );
          if (reachedAdmin) passed++;
          assert.ok(!reachedAdmin, `${label}: the app saw ${JSON.stringify(seen)}`);
          if (trick[mode] === "blocked") {
            assert.ok(res.status === 403 || res.status === 400, `${label} ${res.body}`);
          } else {
            assert.equal(res.status, 200, `${label} ${res.body}`);
          }
        }
      }
      console.log(
        `fault: authz bypass table (${mode === "base" ? "BASE" : "DECODE_AND_MERGE_SLASHES"}): ` +
          `${passed}/${total} passed the policy`,
      );
    };
    await run("base");

    // Hop-by-hop and Envoy headers from an untrusted client don't reach the app.
    for (const t of targets) {
      const before = t.seen.length;
      const res = await raw(
        t.port,
        get(
          "/ok",
          "web",
          "X-Foo: 1\r\nX-Envoy-Max-Retries: 9\r\nX-Mesh-Via: x\r\nConnection: x-foo\r\n",
        ),
      );
      assert.equal(res.status, 200, `${t.name}: ${res.body}`);
      const headers = JSON.parse(res.body).headers as Record<string, string>;
      assert.equal(headers["x-foo"], undefined, `${t.name} passed a Connection-named header`);
      assert.equal(headers["x-envoy-max-retries"], undefined, `${t.name} passed x-envoy-*`);
      assert.equal(t.seen.length, before + 1);
    }

    // Mesh-wide DECODE_AND_MERGE_SLASHES: escaped and repeated slashes are blocked too.
    await Deno.writeTextFile(`${m.configDir}/mesh.yaml`, MESH_CONFIG("DECODE_AND_MERGE_SLASHES"));
    for (const admin of [web.admin, gw.admin]) {
      await eventually(
        async () =>
          ((await configDump(admin)).config as { pathNormalization?: string })
            .pathNormalization === "DECODE_AND_MERGE_SLASHES",
        15_000,
        "the pathNormalization push",
      );
    }
    await run("decode");
  } finally {
    await m.close();
    await app.close();
    await edge.close();
  }
});

/** How many file descriptors a process has open (Linux). */
function fds(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

Deno.test("fault: loops: no Host, own listeners and a proxy chain back to itself never loop", async () => {
  const app = echoServer("web");
  const gwPort = freePort();
  const m = await TestMesh.start({
    "web.yaml": serviceEntryYaml("web", 8080),
    "gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: ${gwPort}, name: http, protocol: HTTP}, hosts: ["*"]}]
`,
  });
  try {
    const [web, gw] = await Promise.all([
      m.sidecar({ name: "web", serviceAccount: "web", labels: "app=web", appPort: app.port }),
      m.gateway(),
    ]);
    const out = web.outbound;
    const pid = web.proc.child.pid;
    const startFds = fds(pid);
    const cases: { head: string; status: number }[] = [
      { head: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", status: 400 },
      { head: "GET / HTTP/1.0\r\n\r\n", status: 404 },
      { head: get("/", ""), status: 404 },
      { head: get("/", `127.0.0.1:${out}`), status: 508 },
      { head: get("/", `localhost:${out}`), status: 508 },
      { head: get("/", `[::1]:${out}`), status: 508 },
      { head: get("/", `0.0.0.0:${out}`), status: 508 },
      { head: get("/", `127.1.2.3:${out}`), status: 508 },
      { head: get(`http://127.0.0.1:${out}/`, "example.com"), status: 508 },
      { head: get("/", `127.0.0.1:${web.inbound}`), status: 508 },
      { head: get("/", `127.0.0.1:${web.admin}`), status: 508 },
    ];
    let loops = 0;
    for (let round = 0; round < 10; round++) {
      for (const c of cases) {
        const res = await raw(out, c.head);
        assert.equal(res.status, c.status, `${JSON.stringify(c.head)}: ${res.body}`);
        if (res.status === 508) loops++;
      }
    }
    // A loop through another proxy: passthrough to the gateway, whose route leads back to this
    // sidecar's outbound listener; the hop marker stops it at the sidecar.
    await Deno.writeTextFile(
      `${m.configDir}/loop.yaml`,
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: back, namespace: istio-system}
spec:
  hosts: [back.example]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${out}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: back, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: back.example, port: {number: 80}}}]}]
`,
    );
    await gw.proc.waitFor(new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort}`));
    await eventually(
      async () => {
        const res = await raw(out, get("/", `127.0.0.1:${gwPort}`));
        return res.status === 508 && /loop detected/.test(res.body);
      },
      15_000,
      "the chain sidecar → gateway → sidecar answered 508",
    );
    for (let i = 0; i < 20; i++) {
      const res = await raw(out, get("/", `127.0.0.1:${gwPort}`));
      assert.equal(res.status, 508, res.body);
      loops++;
    }
    const endFds = fds(pid);
    console.log(
      `fault: loops: ${loops} loop requests answered 508, fds ${startFds} -> ${endFds}`,
    );
    assert.ok(endFds < startFds + 50, `fds grew from ${startFds} to ${endFds}`);
    // The proxy is alive and still serves.
    const ready = await fetch(`http://127.0.0.1:${web.admin}/ready`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    const ok = await raw(out, get("/", "web.default.svc.cluster.local:8080"));
    assert.equal(ok.status, 200, ok.body);
  } finally {
    await m.close();
    await app.close();
  }
});
