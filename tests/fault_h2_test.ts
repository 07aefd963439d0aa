/**
 * Fault suite for the HTTP/2 paths, with real processes (a control plane, sidecars, a gateway)
 * and real or hand-driven HTTP/2 clients: client → sidecar A's outbound listener (h2c prior
 * knowledge) → HTTP/2 over mesh mTLS (ALPN h2) → sidecar B's inbound listener → h2c → an app
 * of mesh's own codec (`proxy/h2/`), for a ServiceEntry port of protocol HTTP2.
 *
 * - h2load clients SIGKILLed mid-run, a few times;
 * - the app sending GOAWAY (graceful, lastStreamId 0, with an error code) and dropping its
 *   connections while streams are in flight;
 * - rapid reset (CVE-2023-44487) at the outbound listener and at a gateway's HTTPS listener;
 * - a slow reader that never sends WINDOW_UPDATE for a large response.
 *
 * Each test is bounded in count and time, waits on events (no fixed sleeps), and ends by
 * checking that the proxies are still ready, alive, serving, and logged no uncaught error.
 * Each prints its figures (`fault h2: ...`). The h2load test is skipped with one line when
 * h2load is missing.
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { H2Connection } from "../proxy/h2/connection.ts";
import { H2_ERROR } from "../proxy/h2/errors.ts";
import { encodeFrame, type Frame, type ReadItem } from "../proxy/h2/frames.ts";
import { FrameReader } from "../proxy/h2/frame_reader.ts";
import { type HeaderField, HpackEncoder } from "../proxy/h2/hpack.ts";
import type { H2Stream } from "../proxy/h2/stream.ts";
import {
  curl,
  edgeRouteYaml,
  eventually,
  freePort,
  TestMesh,
  testPki,
  waitForEndpoints,
} from "./helpers.ts";

const SVC = "h2app.default.svc.cluster.local";
const CLUSTER = `outbound|80||${SVC}`;
const MB = 1024 * 1024;

/** RSS growth allowed while a reader stalls (fault_listener_test.ts measures warm-up 45–80 MB). */
const RSS_GROWTH_BOUND_MB = 100;

const H2LOAD = await new Deno.Command("h2load", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);
if (!H2LOAD) console.log("fault_h2_test: h2load tests skipped, h2load is not installed");

/** VmRSS of a process, in MB. */
function rssMb(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) / 1024 : 0;
}

/** Waits until `value()` stays the same over `polls` polls 200 ms apart (at most `max` polls). */
async function settled(value: () => number, polls = 4, max = 150): Promise<number> {
  let last = value();
  let same = 0;
  for (let i = 0; i < max && same < polls; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const v = value();
    same = v === last ? same + 1 : 0;
    last = v;
  }
  return last;
}

/**
 * The app: an h2c server of mesh's codec that keeps its sockets (to drop them without a
 * GOAWAY). Paths:
 * - `/bytes/<n>`: n bytes, written in 16 KiB chunks with backpressure (`sent` counts them);
 * - `/hold`: the response waits until `release()` (streams in flight for GOAWAY tests);
 * - `/never`: never answered (until the stream is reset);
 * - `/delay/<ms>/...`: answered 200 after `ms` (or ended by a reset first);
 * - anything else: reads the body, answers 200 `ok <bytes>`.
 */
async function h2App() {
  const conns: { conn: H2Connection; socket: net.Socket }[] = [];
  const sockets = new Set<net.Socket>();
  const stats = { streams: 0, done: 0, sent: 0, held: 0, delayed: 0 };
  let holdRelease = Promise.withResolvers<void>();
  /** While true, `/hold` answers at once (requests retried after a fault). */
  let holdOff = false;
  const answer = async (s: H2Stream, text: string) => {
    s.respond([[":status", "200"], ["content-type", "text/plain"]]);
    await s.write(new TextEncoder().encode(text));
    await s.end();
    stats.done++;
  };
  const onStream = (s: H2Stream) => {
    stats.streams++;
    const path = s.header(":path") ?? "/";
    (async () => {
      const size = path.match(/^\/bytes\/(\d+)$/);
      if (size) {
        await s.body.bytes();
        s.respond([[":status", "200"], ["content-type", "application/octet-stream"]]);
        const chunk = new Uint8Array(16 * 1024).fill(97);
        for (let left = Number(size[1]); left > 0;) {
          const n = Math.min(left, chunk.length);
          await s.write(n === chunk.length ? chunk : chunk.subarray(0, n));
          stats.sent += n;
          left -= n;
        }
        await s.end();
        stats.done++;
      } else if (path === "/hold") {
        await s.body.bytes();
        if (!holdOff) {
          stats.held++;
          await holdRelease.promise;
        }
        await answer(s, "held");
      } else if (path === "/never") {
        await s.closed;
      } else if (path.startsWith("/delay/")) {
        stats.delayed++;
        const ms = Number(path.split("/")[2]) || 0;
        let gone = false;
        s.closed.then(() => gone = true);
        await Promise.race([new Promise((r) => setTimeout(r, ms)), s.closed]);
        if (!gone) await answer(s, "late");
      } else {
        const body = await s.body.bytes();
        await answer(s, `ok ${body.length}`);
      }
    })().catch(() => {});
  };
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    conns.push({ conn: new H2Connection(socket, { role: "server", onStream }), socket });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    conns,
    stats,
    /** Streams open now over every connection. */
    active: () => conns.reduce((n, c) => n + c.conn.activeStreams, 0),
    /** Connections not closed yet. */
    open: () => conns.filter((c) => !c.socket.destroyed),
    release() {
      holdRelease.resolve();
      holdRelease = Promise.withResolvers<void>();
      stats.held = 0;
    },
    set holdOff(v: boolean) {
      holdOff = v;
    },
    close: async () => {
      holdRelease.resolve();
      for (const c of conns) c.conn.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

type App = Awaited<ReturnType<typeof h2App>>;
type Sidecar = Awaited<ReturnType<TestMesh["sidecar"]>>;

const SERVICE_YAML = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: h2app}
spec:
  hosts: [${SVC}]
  location: MESH_INTERNAL
  resolution: STATIC
  # Port 80: the bare host is a route domain, so :authority = the name reaches it.
  ports: [{number: 80, name: http2, protocol: HTTP2}]
  workloadSelector: {labels: {app: h2app}}
`;

/** Control plane, sidecar B in front of the app, client sidecar A; both ready, route served. */
async function setup(app: App, files: Record<string, string> = {}) {
  const m = await TestMesh.start({ "svc.yaml": SERVICE_YAML, ...files });
  try {
    const [a, b] = await Promise.all([
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
      m.sidecar({ name: "b", serviceAccount: "h2app", labels: "app=h2app", appPort: app.port }),
    ]);
    await waitForEndpoints(a.admin, CLUSTER);
    await eventually(async () => (await h2c(a.outbound, "/warm")).status === 200, 10_000, "route");
    return { m, a, b };
  } catch (err) {
    await m.close();
    throw err;
  }
}

/** One request through curl over h2c (prior knowledge) to A's outbound listener. */
function h2c(outbound: number, path: string, extra: string[] = []) {
  return curl([
    "--http2-prior-knowledge",
    "-H",
    `host: ${SVC}`,
    ...extra,
    `http://127.0.0.1:${outbound}${path}`,
  ]);
}

/** The proxies are ready, alive, serve a normal request (A → B → app), logged no crash. */
async function survived(a: Sidecar, procs: Sidecar[], what: string): Promise<void> {
  for (const p of procs) {
    const r = await fetch(`http://127.0.0.1:${p.admin}/ready`);
    await r.body?.cancel();
    assert.equal(r.status, 200, `${p.proc.name} ready after ${what}`);
    const status = await Promise.race([
      p.proc.status,
      new Promise((r) => setTimeout(r, 10, "alive")),
    ]);
    assert.equal(status, "alive", `${p.proc.name} alive after ${what}`);
    assert.doesNotMatch(
      p.proc.output,
      /panicked|Uncaught|unhandled rejection/i,
      `${p.proc.name} output after ${what}`,
    );
  }
  const r = await h2c(a.outbound, "/after");
  assert.equal(r.status, 200, `a request after ${what}: ${r.body}${r.stderr}`);
  assert.equal(r.body, "ok 0");
  const h1 = await curl(["--http1.1", "-H", `host: ${SVC}`, `http://127.0.0.1:${a.outbound}/h1`]);
  assert.equal(h1.status, 200, `an HTTP/1.1 request after ${what}: ${h1.body}${h1.stderr}`);
}

/** A hand-driven HTTP/2 client over TCP or TLS (ALPN h2): frames out as written, in as read. */
class Peer {
  readonly socket: net.Socket;
  readonly frames: ReadItem[] = [];
  readonly encoder = new HpackEncoder({ huffman: false });
  readonly ended: Promise<void>;
  #reader = new FrameReader({ maxFrameSize: 1 << 24 });

  constructor(port: number, secure = false) {
    this.socket = secure
      ? tls.connect({
        host: "127.0.0.1",
        port,
        servername: "secure.example.com",
        ALPNProtocols: ["h2"],
        rejectUnauthorized: false,
      })
      : net.connect(port, "127.0.0.1");
    const ended = Promise.withResolvers<void>();
    this.ended = ended.promise;
    this.socket.on("data", (c: Uint8Array) => {
      try {
        this.#reader.push(c, (f) => this.frames.push(f));
      } catch { /* the test looks at what arrived */ }
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => ended.resolve());
  }

  /** Connected (TLS: handshake done with ALPN h2). */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = this.socket as tls.TLSSocket;
      const ev = s.encrypted ? "secureConnect" : "connect";
      s.once(ev, () => {
        if (s.encrypted && s.alpnProtocol !== "h2") reject(new Error(`ALPN ${s.alpnProtocol}`));
        else resolve();
      });
      s.once("error", reject);
    });
  }

  /** The preface, our SETTINGS, and an ACK of the server's. */
  start(settings: [number, number][] = []): this {
    this.socket.write(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    this.send({ type: "SETTINGS", ack: false, settings });
    this.send({ type: "SETTINGS", ack: true, settings: [] });
    return this;
  }

  send(f: Frame): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(f));
  }

  headers(streamId: number, fields: HeaderField[], endStream = true): void {
    this.send({
      type: "HEADERS",
      streamId,
      endStream,
      endHeaders: true,
      block: this.encoder.encode(fields),
    });
  }

  goaway(): Extract<ReadItem, { type: "GOAWAY" }> | undefined {
    return this.frames.find((f) => f.type === "GOAWAY") as
      | Extract<ReadItem, { type: "GOAWAY" }>
      | undefined;
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.ended;
  }
}

Deno.test({
  name: "fault h2: h2load clients SIGKILLed mid-run (POST bodies, 8 conns x 32 streams), 3 times",
  ignore: !H2LOAD,
  async fn() {
    const app = await h2App();
    const { m, a, b } = await setup(app);
    const body = await Deno.makeTempFile({ prefix: "mesh-h2load-body-" });
    await Deno.writeFile(body, new Uint8Array(16 * 1024).fill(99));
    try {
      const runs: string[] = [];
      for (let round = 0; round < 3; round++) {
        const before = app.stats.done;
        const h2load = new Deno.Command("h2load", {
          args: [
            "-n",
            "20000",
            "-c",
            "8",
            "-m",
            "32",
            "-d",
            body,
            "-H",
            `:authority: ${SVC}`,
            `http://127.0.0.1:${a.outbound}/upload`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const out = h2load.output();
        const guard = setTimeout(() => h2load.kill("SIGKILL"), 30_000);
        try {
          // Killed once some requests completed, the rest in flight (a few hundred streams).
          await eventually(() => app.stats.done - before >= 300, 25_000, "300 h2load requests");
          const inflight = app.active();
          h2load.kill("SIGKILL");
          const o = await out;
          assert.equal(o.signal, "SIGKILL", "h2load was killed before it finished");
          // Every stream of the killed client is reset along the way: none stays at the app.
          await eventually(() => app.active() === 0, 15_000, "the app's streams to end");
          runs.push(
            `${app.stats.done - before} done, ${inflight} streams open at the app at the kill`,
          );
        } finally {
          clearTimeout(guard);
          try {
            h2load.kill("SIGKILL");
          } catch { /* gone */ }
          await out.catch(() => {});
        }
        await survived(a, [a, b], `h2load killed (round ${round + 1})`);
      }
      console.log(
        `fault h2: h2load SIGKILLed 3 times: ${runs.join("; ")}; app connections ` +
          `${app.conns.length} (open ${app.open().length}); proxies alive and serving`,
      );
    } finally {
      await m.close();
      await app.close();
      await Deno.remove(body).catch(() => {});
    }
  },
});

Deno.test("fault h2: the app sends GOAWAY (graceful, lastStreamId 0, error code) or drops connections with streams in flight", async () => {
  const app = await h2App();
  const { m, a, b } = await setup(app);
  const K = 8;
  /** K requests to `/hold` in parallel through A; resolves once the app holds all of them. */
  const holdK = async () => {
    app.holdOff = false;
    const reqs = Array.from({ length: K }, () => h2c(a.outbound, "/hold"));
    await eventually(() => app.stats.held >= K, 10_000, `${K} held streams at the app`);
    return reqs;
  };
  /** The app connection carrying the held streams. */
  const carrier = () => {
    const c = app.conns.find((c) => c.conn.activeStreams > 0);
    assert.ok(c, "a connection with streams in flight");
    return c;
  };
  try {
    const results: string[] = [];

    // 1. Graceful GOAWAY (NO_ERROR, last stream id = the last one seen): in-flight streams
    //    finish on the old connection, new requests go on a new one.
    {
      const reqs = await holdK();
      const c = carrier();
      const connsBefore = app.conns.length;
      c.conn.goaway();
      const fresh = await h2c(a.outbound, "/fresh");
      assert.equal(fresh.status, 200, "a new request while the old connection drains");
      assert.ok(app.conns.length > connsBefore, "the new request went on a new connection");
      app.release();
      const st = (await Promise.all(reqs)).map((r) => r.status);
      assert.deepEqual(st, new Array(K).fill(200), "in-flight streams finish after a GOAWAY");
      await eventually(() => c.socket.destroyed, 15_000, "the drained connection to close");
      results.push(`graceful: ${K}/${K} in-flight 200, new conn`);
    }

    // 2. GOAWAY NO_ERROR with lastStreamId 0 (none processed): the streams are retryable and
    //    B retries them once on a fresh connection, where the app answers at once.
    {
      const reqs = await holdK();
      const c = carrier();
      app.holdOff = true;
      c.socket.write(encodeFrame({
        type: "GOAWAY",
        lastStreamId: 0,
        code: H2_ERROR.NO_ERROR,
        debug: new TextEncoder().encode("none processed"),
      }));
      const st = (await Promise.all(reqs)).map((r) => r.status);
      assert.deepEqual(st, new Array(K).fill(200), "streams above lastStreamId are retried");
      c.conn.destroy();
      app.release();
      results.push(`lastStreamId 0: ${K}/${K} retried to 200`);
    }

    // 3. GOAWAY INTERNAL_ERROR and close with the streams in flight: they fail (a 5xx from the
    //    proxies, never a hang), later requests succeed on a new connection.
    {
      const reqs = await holdK();
      const c = carrier();
      app.holdOff = true;
      c.conn.destroy(new Error("app failing"), H2_ERROR.INTERNAL_ERROR);
      const st = (await Promise.all(reqs)).map((r) => r.status);
      // A 5xx, or a 200 when the client sidecar's default retry (503) reached the app again.
      for (const s of st) assert.ok(s === 200 || (s >= 500 && s < 600), `answered ${s}`);
      assert.equal((await h2c(a.outbound, "/after-error")).status, 200);
      app.release();
      results.push(`GOAWAY INTERNAL_ERROR: ${st.join(",")}`);
    }

    // 4. The app's socket dropped (no GOAWAY) with streams in flight.
    {
      const reqs = await holdK();
      const c = carrier();
      app.holdOff = true;
      c.socket.destroy();
      const st = (await Promise.all(reqs)).map((r) => r.status);
      for (const s of st) assert.ok(s === 200 || (s >= 500 && s < 600), `answered ${s}`);
      assert.equal((await h2c(a.outbound, "/after-drop")).status, 200);
      app.release();
      results.push(`socket dropped: ${st.join(",")}`);
    }

    // 5. Bounded repetition: graceful GOAWAY on every app connection after each of 20 requests.
    for (let i = 0; i < 20; i++) {
      const r = await h2c(a.outbound, `/rotate/${i}`);
      assert.equal(r.status, 200, `request ${i} after GOAWAYs: ${r.body}`);
      for (const c of app.conns) c.conn.goaway();
    }
    results.push("20 requests each followed by GOAWAY: 200");

    await survived(a, [a, b], "upstream GOAWAYs");
    console.log(
      `fault h2: upstream GOAWAY: ${results.join("; ")}; app connections ${app.conns.length}`,
    );
  } finally {
    await m.close();
    await app.close();
  }
});

/**
 * Rapid reset against `port`: up to `pairs` HEADERS + RST_STREAM(CANCEL) pairs, in batches of
 * 50, until the proxy sends GOAWAY and closes. Returns the pairs sent and the GOAWAY.
 */
async function rapidReset(
  port: number,
  secure: boolean,
  authority: string,
  pairs: number,
  path = "/",
) {
  const p = new Peer(port, secure);
  await p.ready();
  p.start();
  const scheme = secure ? "https" : "http";
  let sent = 0;
  let closed = false;
  p.ended.then(() => closed = true);
  for (let id = 1; sent < pairs && !closed && !p.goaway(); id += 2) {
    p.headers(id, [
      [":method", "GET"],
      [":scheme", scheme],
      [":path", path],
      [":authority", authority],
    ]);
    p.send({ type: "RST_STREAM", streamId: id, code: H2_ERROR.CANCEL });
    sent++;
    // Yield now and then so the socket drains and the proxy's answer is seen.
    if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  await eventually(() => p.goaway(), 10_000, "the proxy's GOAWAY");
  await Promise.race([
    p.ended,
    new Promise((_, rej) => setTimeout(() => rej(new Error("connection not closed")), 10_000)),
  ]);
  await p.close();
  return { sent, goaway: p.goaway()! };
}

Deno.test("fault h2: rapid reset (HEADERS + RST_STREAM pairs) at the outbound listener and a gateway's HTTPS h2 listener", async () => {
  const app = await h2App();
  const edge = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      // The attack's path: answered a little later, so each stream is still open when its
      // reset arrives, however the proxy's reads happen to split the frames.
      if (new URL(req.url).pathname === "/delay") await new Promise((r) => setTimeout(r, 100));
      return new Response("edge");
    },
  );
  const dir = await Deno.makeTempDir({ prefix: "mesh-fault-h2-pki-" });
  await testPki(dir);
  const gwPort = freePort();
  const { m, a, b } = await setup(app, {
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
${edgeRouteYaml(edge.addr.port)}`,
  });
  try {
    const gw = await m.gateway();
    await gw.proc.waitFor(
      new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort} protocol=HTTPS`),
    );
    const gwGet = () =>
      curl([
        "--http2",
        "-k",
        "--resolve",
        `secure.example.com:${gwPort}:127.0.0.1`,
        `https://secure.example.com:${gwPort}/`,
      ]);
    await eventually(async () => (await gwGet()).status === 200, 10_000, "the gateway route");
    const PAIRS = 2000;
    const figures: string[] = [];
    for (let round = 0; round < 3; round++) {
      const delayedBefore = app.stats.delayed;
      // Another client is served while the attack runs, on its own connection.
      const other = h2c(a.outbound, "/others");
      // A path the app answers 100 ms later: each stream is still open when its reset arrives
      // (a reset the proxy counts; a stream already answered and closed isn't, as in Envoy),
      // however the proxy's reads split the frames. With `/never` the upstream streams would
      // stay open (the bug in the ignored test below).
      const out = await rapidReset(a.outbound, false, SVC, PAIRS, `/delay/100/${round}`);
      assert.equal(out.goaway.code, H2_ERROR.ENHANCE_YOUR_CALM, "GOAWAY ENHANCE_YOUR_CALM");
      const processed = (out.goaway.lastStreamId + 1) / 2;
      assert.ok(processed < PAIRS, `closed before all ${PAIRS} pairs (${processed} processed)`);
      assert.equal((await other).status, 200, "another client during the attack");
      await eventually(() => app.active() === 0, 15_000, "the app's streams to end");
      // The attack's streams only (another client's request, retried or not, isn't one).
      const reached = app.stats.delayed - delayedBefore;
      assert.ok(reached <= processed, `${reached} streams reached the app`);
      assert.equal((await h2c(a.outbound, "/others")).status, 200);
      const otherGw = gwGet();
      const g = await rapidReset(gwPort, true, "secure.example.com", PAIRS, "/delay");
      assert.equal(g.goaway.code, H2_ERROR.ENHANCE_YOUR_CALM, "gateway GOAWAY ENHANCE_YOUR_CALM");
      const gProcessed = (g.goaway.lastStreamId + 1) / 2;
      assert.ok(gProcessed < PAIRS, `gateway closed before all ${PAIRS} (${gProcessed})`);
      assert.equal((await otherGw).status, 200, "another gateway client during the attack");
      const r = await gwGet();
      assert.equal(r.status, 200, `the gateway after a rapid reset: ${r.stderr}`);
      assert.equal(r.body, "edge");
      figures.push(
        `outbound GOAWAY at stream ${processed}/${out.sent} sent (${reached} reached the app), ` +
          `gateway at ${gProcessed}/${g.sent}`,
      );
    }
    await survived(a, [a, b, gw], "rapid reset");
    console.log(`fault h2: rapid reset x3: ${figures.join("; ")}; all proxies alive and serving`);
  } finally {
    await m.close();
    await app.close();
    await edge.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/**
 * A client's reset of a stream still waiting for its response head is passed upstream: the
 * `Request`'s signal (aborted by `proxy/h2_serve.ts` on a reset or a connection close) reaches
 * the concrete stage, which cancels the attempt in flight (RST_STREAM CANCEL to the next hop)
 * and retries nothing. Found by this test: before, only a route or per-try timeout cancelled
 * an attempt, so without one (Istio's default) upstream streams stayed open for good, and
 * 450 HEADERS + RST_STREAM pairs (below the rapid-reset limit, so no GOAWAY) filled B's pool
 * to the app (4 connections x 100 streams) until every client's requests hung.
 */
Deno.test({
  name:
    "fault h2: resets of streams awaiting their response head reach the app; 450 of them don't starve the service",
  ignore: false,
  async fn() {
    const app = await h2App();
    const { m, a, b } = await setup(app);
    const never: HeaderField[] = [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/never"],
      [":authority", SVC],
    ];
    try {
      // One stream reset by the client, then one whose connection the client closes.
      for (const how of ["RST_STREAM", "connection closed"]) {
        const p = new Peer(a.outbound);
        await p.ready();
        p.start();
        const before = app.stats.streams;
        p.headers(1, never);
        await eventually(() => app.stats.streams > before, 10_000, "the stream at the app");
        if (how === "RST_STREAM") {
          p.send({ type: "RST_STREAM", streamId: 1, code: H2_ERROR.CANCEL });
        } else p.socket.destroy();
        await eventually(() => app.active() === 0, 10_000, `the app's stream to end (${how})`);
        await p.close();
      }
      // 450 pairs on one connection, below the rapid-reset limit.
      const p = new Peer(a.outbound);
      await p.ready();
      p.start();
      for (let i = 0; i < 450; i++) {
        p.headers(1 + 2 * i, never);
        p.send({ type: "RST_STREAM", streamId: 1 + 2 * i, code: H2_ERROR.CANCEL });
      }
      await settled(() => app.stats.streams);
      await p.close();
      await eventually(() => app.active() === 0, 10_000, "the app's streams to end");
      await survived(a, [a, b], "450 resets of unanswered streams");
    } finally {
      await m.close();
      await app.close();
    }
  },
});

Deno.test("fault h2: a slow reader that never sends WINDOW_UPDATE for 4 x 50 MB keeps both proxies' memory bounded", async () => {
  const app = await h2App();
  const { m, a, b } = await setup(app);
  const pids = [a.proc.child.pid, b.proc.child.pid];
  const SIZE = 50 * MB;
  const STREAMS = 4;
  const p = new Peer(a.outbound);
  try {
    const start = pids.map(rssMb);
    const peaks = [...start];
    await p.ready();
    p.start(); // default windows (65,535 per stream and for the connection), never updated
    for (let i = 0; i < STREAMS; i++) {
      p.headers(1 + 2 * i, [
        [":method", "GET"],
        [":scheme", "http"],
        [":path", `/bytes/${SIZE}`],
        [":authority", SVC],
      ]);
    }
    await eventually(
      () => p.frames.some((f) => f.type === "HEADERS" && f.streamId === 1),
      10_000,
      "the first response head",
    );
    // The app's writes stall once the windows and buffers along the way are full.
    const stalledAt = await settled(() => app.stats.sent);
    // The stall holds: a bounded number of checks, RSS sampled at each.
    for (let i = 0; i < 10; i++) {
      await settled(() => app.stats.sent, 1, 1);
      pids.forEach((pid, j) => peaks[j] = Math.max(peaks[j], rssMb(pid)));
    }
    const after = app.stats.sent;
    const received = p.frames.reduce((n, f) => n + (f.type === "DATA" ? f.data.length : 0), 0);
    const growth = peaks.map((pk, i) => pk - start[i]);
    console.log(
      `fault h2: slow reader ${STREAMS} x ${SIZE / MB} MB, no WINDOW_UPDATE: app stalled after ` +
        `${(stalledAt / MB).toFixed(1)} MB (${(after / MB).toFixed(1)} MB 2 s later), ` +
        `client got ${received} bytes; peak RSS A ${peaks[0].toFixed(0)} MB ` +
        `(+${growth[0].toFixed(0)}), B ${peaks[1].toFixed(0)} MB (+${growth[1].toFixed(0)})`,
    );
    assert.ok(received <= 65_535, `the client got ${received} bytes past its window`);
    assert.ok(after < (STREAMS * SIZE) / 4, `the app wrote ${after} bytes to a stalled reader`);
    assert.equal(after, stalledAt, "the app stays stalled");
    for (const g of growth) assert.ok(g < RSS_GROWTH_BOUND_MB, `RSS grew ${g.toFixed(0)} MB`);
    // The client goes away: every stream ends at the app, the proxies still serve.
    await p.close();
    await eventually(() => app.active() === 0, 15_000, "the app's streams to end");
    await survived(a, [a, b], "a slow reader");
  } finally {
    await p.close();
    await m.close();
    await app.close();
  }
});
