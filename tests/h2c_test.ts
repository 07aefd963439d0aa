/**
 * HTTP/2 with prior knowledge (h2c) from clients to the routed listeners, with real
 * processes: through a sidecar's outbound listener to an app (HTTP/1.1 on the same port),
 * within --max-connections, and on a gateway whose AuthorizationPolicy sees the real client
 * address (HTTP/2 is served by mesh's own codec on the listener's connection).
 */
import assert from "node:assert/strict";
import net from "node:net";
import {
  curl,
  echoServer,
  edgeRouteYaml,
  eventually,
  freePort,
  serviceEntryYaml,
  TestMesh,
  waitForEndpoints,
} from "./helpers.ts";

const HOST = "echo.default.svc.cluster.local:8080";
const CLUSTER = "outbound|8080||echo.default.svc.cluster.local";
const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** curl with the HTTP version of the answer. */
async function curlVersion(args: string[]) {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", "-w", "\n@@%{http_code} %{http_version}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const i = text.lastIndexOf("\n@@");
  const [status, version] = text.slice(i + 3).split(" ");
  return {
    status: Number(status),
    version,
    body: text.slice(0, i),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("h2c: curl --http2-prior-knowledge through a sidecar's outbound listener; HTTP/1.1 on the same port; --max-connections holds", async () => {
  const app = echoServer("echo");
  const m = await TestMesh.start({ "echo.yaml": serviceEntryYaml("echo", 8080) });
  const held: net.Socket[] = [];
  try {
    const [a] = await Promise.all([
      m.sidecar({
        name: "a",
        serviceAccount: "a",
        labels: "app=a",
        extra: ["--max-connections=3"],
      }),
      m.sidecar({ name: "b", serviceAccount: "echo", labels: "app=echo", appPort: app.port }),
    ]);
    await waitForEndpoints(a.admin, CLUSTER);
    const url = `http://127.0.0.1:${a.outbound}`;
    const h2 = await curlVersion(["--http2-prior-knowledge", "-H", `host: ${HOST}`, `${url}/h2`]);
    assert.deepEqual([h2.status, h2.version], [200, "2"], h2.stderr + h2.body);
    const seen = JSON.parse(h2.body);
    assert.equal(seen.url, "/h2");
    assert.equal(seen.name, "echo");
    // A request body over h2c reaches the app whole.
    const file = await Deno.makeTempFile();
    await Deno.writeFile(file, new Uint8Array(1024 * 1024).fill(97));
    const up = await curlVersion([
      "--http2-prior-knowledge",
      "-H",
      `host: ${HOST}`,
      "--data-binary",
      `@${file}`,
      `${url}/upload`,
    ]).finally(() => Deno.remove(file));
    assert.deepEqual([up.status, up.version], [200, "2"], up.stderr);
    assert.equal(JSON.parse(up.body).bodyBytes, 1024 * 1024);
    // Plain HTTP/1.1 on the same port.
    const h1 = await curlVersion(["--http1.1", "-H", `host: ${HOST}`, `${url}/h1`]);
    assert.deepEqual([h1.status, h1.version], [200, "1.1"], h1.stderr);
    assert.equal(JSON.parse(h1.body).url, "/h1");

    // Three h2c connections (preface sent) fill --max-connections=3; a fourth is refused.
    for (let i = 0; i < 3; i++) {
      const s = net.connect({ host: "127.0.0.1", port: a.outbound });
      s.on("error", () => {});
      s.resume();
      s.write(PREFACE);
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.once("connect", r))));
    // Refused once the listener has taken the three (its accept may trail their connect events
    // on a loaded machine, so a curl may still get in first: it then waits and times out).
    await eventually(
      async () =>
        (await curlVersion(["--http2-prior-knowledge", "-H", `host: ${HOST}`, url]))
            .status === 0 && /connection refused: too many connections/.test(a.proc.output),
      30_000,
      "an h2c connection beyond --max-connections refused",
    );
    for (const s of held) s.destroy();
    await eventually(
      async () =>
        (await curlVersion(["--http2-prior-knowledge", "-H", `host: ${HOST}`, `${url}/again`]))
          .status === 200,
      10_000,
      "h2c served again below the limit",
    );
    console.log("h2c: outbound h2c 200 (HTTP/2), HTTP/1.1 200, 4th h2c connection refused at 3");
  } finally {
    for (const s of held) s.destroy();
    await m.close();
    await app.close();
  }
});

Deno.test("h2c: a gateway's AuthorizationPolicy ipBlocks sees the real client address over h2c", async () => {
  const edge = echoServer("edge");
  const gwPort = freePort();
  const m = await TestMesh.start({
    "gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: ${gwPort}, name: http, protocol: HTTP}, hosts: ["*"]}]
---
${edgeRouteYaml(edge.port)}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-one-address, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{from: [{source: {ipBlocks: [127.0.0.5/32]}}]}]
`,
    "svc.yaml": serviceEntryYaml("unused", 8080),
  });
  try {
    const gw = await m.gateway();
    await gw.proc.waitFor(new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort}`));
    const url = `http://127.0.0.1:${gwPort}/edge`;
    // A policy that saw a loopback hop (127.0.0.1) instead of the client would let 127.0.0.5
    // through.
    await eventually(
      async () => (await curlVersion(["--http2-prior-knowledge", url])).status === 200,
      10_000,
      "the gateway route over h2c",
    );
    const ok = await curlVersion(["--http2-prior-knowledge", url]);
    assert.deepEqual([ok.status, ok.version], [200, "2"], ok.stderr);
    assert.equal(JSON.parse(ok.body).name, "edge");
    const denied = await curlVersion(["--http2-prior-knowledge", "--interface", "127.0.0.5", url]);
    assert.deepEqual([denied.status, denied.version], [403, "2"], denied.stderr + denied.body);
    assert.match(denied.body, /RBAC: access denied/);
    const denied1 = await curl(["--http1.1", "--interface", "127.0.0.5", url]);
    assert.equal(denied1.status, 403);
    console.log("h2c: gateway policy over h2c: 127.0.0.1 200, 127.0.0.5 403 (h2c and HTTP/1.1)");
  } finally {
    await m.close();
    await edge.close();
  }
});
