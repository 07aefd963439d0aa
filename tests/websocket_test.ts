/**
 * WebSocket through the mesh, end to end: client → outbound sidecar → mesh mTLS → inbound
 * sidecar → app, and client → gateway → mTLS → app. The client is Deno's own `WebSocket`
 * (an implementation mesh didn't write); the app is a `Deno.upgradeWebSocket` echo server.
 * Deno's WebSocket can't use an HTTP proxy, so for the sidecar path it connects to a small
 * loopback shim that puts the service's Host (and test headers) into the upgrade request
 * head and pipes the bytes on to the outbound listener unchanged.
 */
import assert from "node:assert/strict";
import { eventually, freePort, type Proc, TestMesh } from "./helpers.ts";
import { runWsClient, wsClient } from "./peers.ts";
import net from "node:net";
import { H2Connection } from "../proxy/h2/connection.ts";

/** A WebSocket echo app: greets with its name (not on `/pure`), then echoes every message. */
function wsApp(name: string) {
  const state = { open: 0, closed: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ name, path: new URL(req.url).pathname });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    const greet = new URL(req.url).pathname !== "/pure";
    socket.onopen = () => {
      state.open++;
      if (greet) socket.send(`hello from ${name}`);
    };
    socket.onmessage = (e) => socket.send(e.data);
    socket.onclose = () => state.closed++;
    socket.onerror = () => {};
    return response;
  });
  return { port: server.addr.port, state, close: () => server.shutdown() };
}

/**
 * A loopback shim in front of a proxy port: the first request head gets `host` as its Host
 * and `headers` added; everything else is piped through as is.
 */
function hostShim(target: number, host: string, headers: Record<string, string> = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const up = await Deno.connect({ hostname: "127.0.0.1", port: target });
        conns.add(up);
        let buf = new Uint8Array(0);
        const chunk = new Uint8Array(16 * 1024);
        for (let i = 0; i < 64; i++) {
          const n = await conn.read(chunk);
          if (n === null) break;
          const next = new Uint8Array(buf.length + n);
          next.set(buf);
          next.set(chunk.subarray(0, n), buf.length);
          buf = next;
          const text = new TextDecoder("latin1").decode(buf);
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) continue;
          const lines = text.slice(0, end).split("\r\n")
            .filter((l) => !/^host:/i.test(l));
          lines.push(`Host: ${host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`));
          const head = new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`);
          await up.write(head);
          if (buf.length > end + 4) await up.write(buf.subarray(end + 4));
          break;
        }
        await Promise.allSettled([
          conn.readable.pipeTo(up.writable),
          up.readable.pipeTo(conn.writable),
        ]);
      })().catch(() => {}).finally(() => {
        for (const c of [conn]) {
          try {
            c.close();
          } catch { /* closed */ }
        }
      });
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** Opens a WebSocket; resolves with it and a reader of its messages once open. */
function openWs(url: string): Promise<{ ws: WebSocket; next: () => Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const queue: unknown[] = [];
    const waiting: ((v: unknown) => void)[] = [];
    ws.onmessage = (e) => {
      const w = waiting.shift();
      if (w) w(e.data);
      else queue.push(e.data);
    };
    const next = () =>
      queue.length ? Promise.resolve(queue.shift()) : new Promise<unknown>((r, j) => {
        const t = setTimeout(() => j(new Error("no message in 20 s")), 20_000);
        waiting.push((v) => {
          clearTimeout(t);
          r(v);
        });
      });
    ws.onopen = () => resolve({ ws, next });
    ws.onerror = (e) => reject(new Error(`websocket failed: ${(e as ErrorEvent).message}`));
  });
}

/** Closes a WebSocket and waits until it is closed. */
function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.addEventListener("close", () => resolve());
    ws.close();
  });
}

/** Sends a raw upgrade request to `port`; resolves with the connection and the answer head. */
async function rawUpgrade(
  port: number,
  target: string,
  host: string,
  upgrade = "websocket",
): Promise<{ conn: Deno.Conn; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n` +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  ));
  let text = "";
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 100 && !text.includes("\r\n\r\n"); i++) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder("latin1").decode(buf.subarray(0, n));
  }
  return { conn, head: text.slice(0, text.indexOf("\r\n\r\n") + 1 || undefined) };
}

/** Open file descriptors of a process (Linux). */
function fds(p: Proc): number {
  return [...Deno.readDirSync(`/proc/${p.child.pid}/fd`)].length;
}

/**
 * A raw client upgrades through `client`'s outbound listener, sends part of a 1 MiB frame and
 * vanishes: the app sees the close and neither proxy keeps a descriptor of it.
 */
async function vanishMidMessage(o: {
  client: { proc: Proc; outbound: number };
  server: { proc: Proc };
  app: { state: { closed: number } };
}): Promise<void> {
  const before = { a: fds(o.client.proc), b: fds(o.server.proc), closed: o.app.state.closed };
  const { conn, head } = await rawUpgrade(
    o.client.outbound,
    "http://ws-app:8080/echo",
    "ws-app:8080",
  );
  assert.match(head, /^HTTP\/1\.1 101 /, head);
  assert.match(head, /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
  // A masked binary frame that says 1 MiB, and only 1000 bytes of it.
  const frame = new Uint8Array(2 + 8 + 4 + 1000);
  frame.set([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4]);
  await conn.write(frame);
  conn.close();
  await eventually(() => o.app.state.closed > before.closed, 15_000, "the app to see the close");
  await eventually(
    () => fds(o.client.proc) <= before.a && fds(o.server.proc) <= before.b,
    15_000,
    "the proxies' descriptors back to where they were",
  );
}

/** The value of the source-reported istio_requests_total series for `service` and `code`. */
function requests(stats: string, service: string, code: number): number {
  let total = 0;
  for (const line of stats.split("\n")) {
    if (!line.startsWith("istio_requests_total{")) continue;
    if (!line.includes(`reporter="source"`) || !line.includes(`response_code="${code}"`)) continue;
    if (!line.includes(`destination_service="${service}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

const CONFIG = (gwPort: number, o: { h2?: boolean } = {}) => ({
  "mesh.yaml": `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  accessLogFile: /dev/stdout
`,
  "ws.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ws-app}
spec:
  hosts: [ws-app.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ws-app}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ws-app}
spec:
  host: ws-app
  ${o.h2 ? "trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}" : ""}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ws-app}
spec:
  hosts: [ws-app]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: ws-app, subset: v2}}]
  - route: [{destination: {host: ws-app, subset: v1}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ws-deny-private}
spec:
  selector: {matchLabels: {app: ws-app}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/private*"]}}]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: ${gwPort}, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: ws-app, subset: v1}}]}]
`,
});

/** The idle timeout of the client's sidecar (its listener's `--idle-timeout`). */
const IDLE_S = 3;

Deno.test("WebSocket through sidecars and the gateway: routed, authorized, spliced, counted as 101", async (t) => {
  const v1 = wsApp("ws-v1");
  const v2 = wsApp("ws-v2");
  const gwPort = freePort();
  const m = await TestMesh.start(CONFIG(gwPort));
  const shims: { close(): void }[] = [];
  try {
    const [b1, , a] = await Promise.all([
      m.sidecar({
        name: "ws-v1",
        serviceAccount: "ws",
        labels: "app=ws-app,version=v1",
        appPort: v1.port,
      }),
      m.sidecar({
        name: "ws-v2",
        serviceAccount: "ws",
        labels: "app=ws-app,version=v2",
        appPort: v2.port,
      }),
      m.sidecar({
        name: "a",
        serviceAccount: "a",
        labels: "app=a",
        extra: [`--idle-timeout=${IDLE_S}s`],
      }),
    ]);
    const shim = (headers: Record<string, string> = {}) => {
      const s = hostShim(a.outbound, "ws-app:8080", headers);
      shims.push(s);
      return s.port;
    };
    const plain = shim();
    // Both subsets have their endpoints before anything is asserted.
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${shim({ "x-version": "v2" })}/`);
        return r.ok && (await r.json()).name === "ws-v2";
      },
      15_000,
      "routing to ws-v2",
    );
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${plain}/`);
        return r.ok && (await r.json()).name === "ws-v1";
      },
      15_000,
      "routing to ws-v1",
    );
    let upgrades = 0;

    await t.step("small messages echo, text and binary", async () => {
      const { ws, next } = await openWs(`ws://127.0.0.1:${plain}/echo`);
      upgrades++;
      assert.equal(await next(), "hello from ws-v1");
      ws.send("ping");
      assert.equal(await next(), "ping");
      ws.send(new Uint8Array([1, 2, 3, 250]));
      assert.deepEqual(new Uint8Array(await next() as ArrayBuffer), new Uint8Array([1, 2, 3, 250]));
      await closeWs(ws);
    });

    await t.step("a 10 MB message comes back whole", async () => {
      const { ws, next } = await openWs(`ws://127.0.0.1:${plain}/echo`);
      upgrades++;
      await next();
      const big = new Uint8Array(10 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 13)) & 0xff;
      ws.send(big);
      const back = new Uint8Array(await next() as ArrayBuffer);
      assert.equal(back.length, big.length);
      let same = true;
      for (let i = 0; i < big.length && same; i++) same = back[i] === big[i];
      assert.ok(same, "the echoed bytes are the ones sent");
      await closeWs(ws);
    });

    await t.step("a header on the upgrade request routes it (VirtualService match)", async () => {
      const { ws, next } = await openWs(`ws://127.0.0.1:${shim({ "x-version": "v2" })}/echo`);
      upgrades++;
      assert.equal(await next(), "hello from ws-v2");
      await closeWs(ws);
    });

    await t.step("AuthorizationPolicy denies the upgrade: 403, never 101", async () => {
      const { conn, head } = await rawUpgrade(
        a.outbound,
        "http://ws-app:8080/private/chat",
        "ws-app:8080",
      );
      conn.close();
      assert.match(head, /^HTTP\/1\.1 403 /, head);
      await assert.rejects(openWs(`ws://127.0.0.1:${plain}/private/chat`));
      // An upgrade type Istio doesn't enable is refused too.
      const other = await rawUpgrade(a.outbound, "http://ws-app:8080/x", "ws-app:8080", "foo");
      other.conn.close();
      assert.match(other.head, /^HTTP\/1\.1 403 /, other.head);
    });

    await t.step(
      "a client vanishing mid-message closes both sides; no descriptor leaks",
      async () => {
        await vanishMidMessage({ client: a, server: b1, app: v1 });
        upgrades++;
      },
    );

    await t.step(
      `an idle upgraded connection closes after the listener's ${IDLE_S} s`,
      async () => {
        const { ws, next } = await openWs(`ws://127.0.0.1:${plain}/echo`);
        upgrades++;
        await next();
        const closedBefore = v1.state.closed;
        const closed = new Promise<CloseEvent>((r) => ws.addEventListener("close", r));
        // In use, the tunnel stays open: every message comes back.
        for (let i = 0; i < 5; i++) {
          ws.send(`m${i}`);
          assert.equal(await next(), `m${i}`);
        }
        // Then quiet: the proxy closes both sides (the client never calls close()). The timer
        // only catches a tunnel that never closes.
        let hang: ReturnType<typeof setTimeout> | undefined;
        const ev = await Promise.race([
          closed,
          new Promise<never>((_, j) =>
            hang = setTimeout(() => j(new Error("the idle tunnel never closed")), 60_000)
          ),
        ]).finally(() => clearTimeout(hang));
        assert.notEqual(ev.code, 1000, "closed by the proxy, not by a clean WebSocket close");
        await eventually(() => v1.state.closed > closedBefore, 15_000, "the app to see the close");
      },
    );

    await t.step(
      "counted once each as 101 in istio_requests_total and the access log",
      async () => {
        const service = "ws-app.default.svc.cluster.local";
        await eventually(
          async () => {
            const stats = await (await fetch(`http://127.0.0.1:${a.admin}/stats/prometheus`))
              .text();
            return requests(stats, service, 101) === upgrades;
          },
          5_000,
          `${upgrades} upgrades counted as 101`,
        );
        await a.proc.waitFor(/"GET \/echo HTTP\/1\.1" 101 .*"ws-app:8080".*outbound\|8080\|v1\|/);
        await b1.proc.waitFor(/"GET \/echo HTTP\/1\.1" 101 .*inbound\|/);
        await a.proc.waitFor(/"GET \/private\/chat HTTP\/1\.1" 403 /);
      },
    );

    const go = await wsClient().catch((err) => ({ path: undefined, skip: String(err) }));
    await t.step({
      name:
        "a Go client (coder/websocket) with the sidecar as its proxy, absolute-form and CONNECT",
      ignore: go.path === undefined,
      fn: async () => {
        const run = (proxyConnect: boolean) =>
          runWsClient({
            url: "ws://ws-app:8080/pure",
            proxy: `http://127.0.0.1:${a.outbound}`,
            proxyConnect,
            n: 20,
            size: 1000,
            big: 10 * 1024 * 1024,
            bin: go.path,
            timeoutS: 60,
          });
        const r = await run(false);
        assert.ok(r.ok, JSON.stringify(r));
        assert.equal(r.echoed, 21);
        // Through a CONNECT tunnel the app's inbound side sees TCP: the DENY policy's HTTP-only
        // `paths` are ignored for TCP, which makes its rule match every connection (Istio's
        // rule for DENY), so the tunnel is refused.
        const tunnel = await run(true);
        assert.equal(tunnel.ok, false);
        assert.match(tunnel.error ?? "", /CONNECT ws-app:8080 .*403 Forbidden/);
      },
    });

    await t.step("through the gateway to the meshed app", async () => {
      const gw = await m.gateway();
      await gw.proc.waitFor(new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort}`));
      const { ws, next } = await eventually(
        () => openWs(`ws://127.0.0.1:${gwPort}/echo`),
        10_000,
        "the gateway to route the upgrade",
      );
      assert.equal(await next(), "hello from ws-v1");
      ws.send("through the edge");
      assert.equal(await next(), "through the edge");
      await closeWs(ws);
      await assert.rejects(openWs(`ws://127.0.0.1:${gwPort}/private/x`));
    });
  } finally {
    for (const s of shims) s.close();
    await m.close();
    await v1.close();
    await v2.close();
  }
});

Deno.test("WebSocket between the proxies over HTTP/2: extended CONNECT (RFC 8441) on mesh mTLS", async (t) => {
  const v1 = wsApp("ws-v1");
  const m = await TestMesh.start(CONFIG(freePort(), { h2: true }));
  const shims: { close(): void }[] = [];
  try {
    const [b1, a] = await Promise.all([
      m.sidecar({
        name: "ws-v1",
        serviceAccount: "ws",
        labels: "app=ws-app,version=v1",
        appPort: v1.port,
      }),
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
    ]);
    const s = hostShim(a.outbound, "ws-app:8080");
    shims.push(s);
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${s.port}/`);
        return r.ok && (await r.json()).name === "ws-v1";
      },
      15_000,
      "routing to ws-v1",
    );
    // The inbound side logs the protocol it was spoken to in: HTTP/2 between the proxies.
    await b1.proc.waitFor(/"GET \/ HTTP\/2" 200 .*inbound\|/);

    await t.step("messages and a 10 MB one echo through an HTTP/2 stream", async () => {
      const { ws, next } = await openWs(`ws://127.0.0.1:${s.port}/echo`);
      assert.equal(await next(), "hello from ws-v1");
      ws.send("over h2");
      assert.equal(await next(), "over h2");
      const big = new Uint8Array(10 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 13 + (i >> 12)) & 0xff;
      ws.send(big);
      const back = new Uint8Array(await next() as ArrayBuffer);
      assert.equal(back.length, big.length);
      assert.ok(back.every((b, i) => b === big[i]), "the echoed bytes are the ones sent");
      await closeWs(ws);
      // The client's side is HTTP/1.1; the server's side got the upgrade as an HTTP/2 stream.
      await a.proc.waitFor(/"GET \/echo HTTP\/1\.1" 101 .*outbound\|8080\|v1\|/);
      await b1.proc.waitFor(/"GET \/echo HTTP\/2" 101 .*inbound\|/);
    });

    await t.step(
      "AuthorizationPolicy at the inbound side refuses the extended CONNECT: 403",
      async () => {
        const { conn, head } = await rawUpgrade(
          a.outbound,
          "http://ws-app:8080/private/x",
          "ws-app:8080",
        );
        conn.close();
        assert.match(head, /^HTTP\/1\.1 403 /, head);
        await b1.proc.waitFor(/"GET \/private\/x HTTP\/2" 403 /);
      },
    );

    await t.step(
      "a client vanishing mid-message resets the stream; no descriptor leaks",
      async () => {
        await vanishMidMessage({ client: a, server: b1, app: v1 });
      },
    );

    await t.step(
      "an HTTP/2 client's extended CONNECT on the outbound listener (h2c) goes through",
      async () => {
        const conn = new H2Connection(net.connect(a.outbound, "127.0.0.1"), { role: "client" });
        try {
          assert.equal(await conn.ready, true);
          assert.equal(conn.peerSettings.enableConnectProtocol, true);
          const st = conn.request([
            [":method", "CONNECT"],
            [":protocol", "websocket"],
            [":scheme", "http"],
            [":path", "/echo"],
            [":authority", "ws-app:8080"],
            ["sec-websocket-version", "13"],
            ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="],
          ]);
          const head = await st.response;
          assert.equal(head[0][1], "200", JSON.stringify(head));
          // The app's greeting, as an unmasked text frame: 0x81, length, payload.
          const frame = await st.body.read();
          assert.ok(frame, "a frame came");
          assert.equal(frame[0], 0x81);
          assert.equal(
            new TextDecoder().decode(frame.subarray(2, 2 + frame[1])),
            "hello from ws-v1",
          );
          st.reset();
          await b1.proc.waitFor(/"GET \/echo HTTP\/2" 101 .*inbound\|/);
          await a.proc.waitFor(/"GET \/echo HTTP\/2" 101 .*outbound\|8080\|v1\|/);
        } finally {
          conn.destroy();
        }
      },
    );

    const go = await wsClient().catch((err) => ({ path: undefined, skip: String(err) }));
    await t.step({
      name: "a Go client (coder/websocket): 20 messages and 10 MB over the HTTP/2 hop",
      ignore: go.path === undefined,
      fn: async () => {
        const r = await runWsClient({
          url: "ws://ws-app:8080/pure",
          proxy: `http://127.0.0.1:${a.outbound}`,
          proxyConnect: false,
          n: 20,
          size: 1000,
          big: 10 * 1024 * 1024,
          bin: go.path,
          timeoutS: 60,
        });
        assert.ok(r.ok, JSON.stringify(r));
        assert.equal(r.echoed, 21);
      },
    });
  } finally {
    for (const x of shims) x.close();
    await m.close();
    await v1.close();
  }
});
