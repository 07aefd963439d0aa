/**
 * Fault suite for the proxy's listeners: slowloris, connection floods, running out of file
 * descriptors, slow readers, apps that never read, and smuggling or malformed requests, all
 * against real proxies (a real control plane, real sidecars) with raw TCP clients on
 * loopback. Each test prints its figures (`fault: ...`).
 */
import assert from "node:assert/strict";
import net from "node:net";
import {
  configDump,
  curl,
  echoServer,
  eventually,
  Proc,
  serviceEntryYaml,
  TestMesh,
  waitForEndpoints,
} from "./helpers.ts";
import { ROOT } from "./helpers.ts";
import { denoRunArgs } from "../util/v8_flags.ts";

const HOST = "big.default.svc.cluster.local:8080";
const CLUSTER = "outbound|8080||big.default.svc.cluster.local";
const MB = 1024 * 1024;

/** VmRSS of a process, in MB. */
function rssMb(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) / 1024 : 0;
}

/** Samples the RSS of `pids` every 50 ms until stopped; returns the peaks. */
function rssSampler(pids: number[]) {
  const peaks = pids.map((p) => rssMb(p));
  const timer = setInterval(() => {
    pids.forEach((p, i) => peaks[i] = Math.max(peaks[i], rssMb(p)));
  }, 50);
  return {
    peaks,
    stop: () => {
      clearInterval(timer);
      pids.forEach((p, i) => peaks[i] = Math.max(peaks[i], rssMb(p)));
      return peaks;
    },
  };
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

/** Sends `bytes` on a new connection; resolves with what came back when the server closed. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    let out = "";
    s.setTimeout(15_000, () => s.destroy());
    s.on("data", (c: Uint8Array) => out += new TextDecoder("latin1").decode(c));
    s.on("error", () => {});
    s.on("close", () => resolve(out));
  });
}

/**
 * A raw HTTP/1.1 app: `GET /download` answers `size` bytes written with backpressure (drain
 * waits) and counts them; any request with a body is read only as far as its head, then the
 * socket is never read again (an app that never reads an upload).
 */
function rawApp(size: number) {
  const sockets = new Set<net.Socket>();
  const stats = { sent: 0, heads: 0 };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    let head = "";
    const onData = (c: Uint8Array) => {
      head += new TextDecoder("latin1").decode(c);
      if (!head.includes("\r\n\r\n")) return;
      stats.heads++;
      s.off("data", onData);
      if (!head.startsWith("GET /download")) {
        s.pause(); // never reads the body
        return;
      }
      s.write(
        `HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\ncontent-type: application/octet-stream\r\n\r\n`,
      );
      const chunk = new Uint8Array(64 * 1024).fill(97);
      const pump = () => {
        while (stats.sent < size && !s.destroyed) {
          const n = Math.min(chunk.length, size - stats.sent);
          stats.sent += n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            s.once("drain", pump);
            return;
          }
        }
      };
      pump();
    };
    s.on("data", onData);
  });
  const ready = new Promise<number>((r) =>
    server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port))
  );
  return {
    ready,
    stats,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** PeerAuthentication DISABLE for the namespace: sidecars talk plaintext to each other. */
const PLAINTEXT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: DISABLE}}
`;

/**
 * Control plane + the app `big` behind sidecar B + client sidecar A (with `extra` flags);
 * with `plaintext`, the hop between the sidecars is plain TCP (PeerAuthentication DISABLE).
 */
async function setup(appPort: number, extra: string[] = [], withB = true, plaintext = false) {
  const m = await TestMesh.start({
    "big.yaml": serviceEntryYaml("big", 8080),
    ...(plaintext ? { "pa.yaml": PLAINTEXT } : {}),
  });
  try {
    const [a, b] = await Promise.all([
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a", extra }),
      withB
        ? m.sidecar({ name: "b", serviceAccount: "big", labels: "app=big", appPort, extra })
        : Promise.resolve(undefined),
    ]);
    if (withB) await waitForEndpoints(a.admin, CLUSTER);
    if (plaintext) {
      await eventually(
        async () => {
          const c = (await configDump(a.admin)).config.clusters[CLUSTER];
          return (c?.endpoints as { mtls?: boolean }[] | undefined)?.[0]?.mtls === false;
        },
        10_000,
        "the client sidecar sending plaintext",
      );
    }
    return { m, a, b };
  } catch (err) {
    await m.close();
    throw err;
  }
}

Deno.test("fault: slowloris: partial heads sent slowly are closed after the headers timeout; requests still served", async () => {
  const app = echoServer("big");
  const { m, a } = await setup(app.port, ["--request-headers-timeout=1s"]);
  const N = 300;
  const sockets: net.Socket[] = [];
  let closed = 0;
  let answered408 = 0;
  try {
    const sampler = rssSampler([a.proc.child.pid]);
    const startRss = rssMb(a.proc.child.pid);
    const sent = new Array(N).fill(0);
    for (let i = 0; i < N; i++) {
      const s = net.connect({ host: "127.0.0.1", port: a.outbound });
      s.on("error", () => {});
      s.on("data", (c: Uint8Array) => {
        if (new TextDecoder().decode(c).startsWith("HTTP/1.1 408")) answered408++;
      });
      s.on("close", () => closed++);
      s.once("connect", () => s.write(`GET / HTTP/1.1\r\nhost: ${HOST}\r\nx-slow: `));
      sockets.push(s);
    }
    // One byte per connection every 100 ms, at most 300 bytes each (30 s): the head never ends.
    const drip = setInterval(() => {
      sockets.forEach((s, i) => {
        if (!s.destroyed && s.writable && sent[i] < 300) {
          s.write("a");
          sent[i]++;
        }
      });
    }, 100);
    try {
      // Meanwhile a normal request is served.
      const r = await curl(["-H", `host: ${HOST}`, `http://127.0.0.1:${a.outbound}/hello`]);
      assert.equal(r.status, 200, r.body + r.stderr);
      await eventually(() => closed === N, 30_000, `all ${N} slow connections closed`);
    } finally {
      clearInterval(drip);
    }
    const peak = sampler.stop()[0];
    assert.ok(Math.max(...sent) < 300, "closed before the clients gave up");
    const r2 = await curl(["-H", `host: ${HOST}`, `http://127.0.0.1:${a.outbound}/again`]);
    assert.equal(r2.status, 200, r2.body + r2.stderr);
    console.log(
      `fault: slowloris ${N} conns: all closed (${answered408} answered 408, at most ` +
        `${Math.max(...sent)} bytes dripped each), peak RSS ${peak.toFixed(0)} MB ` +
        `(from ${startRss.toFixed(0)} MB)`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    await m.close();
    await app.close();
  }
});

Deno.test("fault: connection flood beyond --max-connections: extras closed at once, the proxy keeps serving", async () => {
  const app = echoServer("big");
  const { m, a } = await setup(app.port, ["--max-connections=50"]);
  const N = 200;
  const sockets: net.Socket[] = [];
  let closed = 0;
  try {
    for (let i = 0; i < N; i++) {
      const s = net.connect({ host: "127.0.0.1", port: a.outbound });
      s.on("error", () => {});
      s.on("close", () => closed++);
      sockets.push(s);
    }
    await eventually(() => closed >= N - 50, 20_000, `${N - 50} connections refused`);
    const held = await settled(() => N - closed, 3);
    assert.ok(held <= 50, `${held} connections open, limit 50`);
    // At the limit, one more is refused too; below it, requests are served again.
    const refused = await rawExchange(a.outbound, `GET / HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`);
    assert.equal(refused, "", "a connection over the limit is closed without an answer");
    for (const s of sockets) s.destroy();
    await eventually(
      async () => {
        const r = await curl(["-H", `host: ${HOST}`, `http://127.0.0.1:${a.outbound}/after`]);
        return r.status === 200;
      },
      10_000,
      "a request once the flood is gone",
    );
    const logged = (a.proc.output.match(/too many connections/g) ?? []).length;
    console.log(
      `fault: flood ${N} conns at --max-connections=50: ${closed} closed, ${held} held, ` +
        `${logged} log line(s), proxy alive and serving`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    await m.close();
    await app.close();
  }
});

Deno.test("fault: out of file descriptors (ulimit -n 256): a flood of 1,000 connections never crashes the proxy", async () => {
  const app = echoServer("big");
  const m = await TestMesh.start({ "big.yaml": serviceEntryYaml("big", 8080) });
  let proc: Proc | undefined;
  const sockets: net.Socket[] = [];
  try {
    const token = await m.token("default", "a");
    const args = [
      ...denoRunArgs(`${ROOT}/main.ts`),
      "start",
      "--mode=proxy",
      `--control=https://127.0.0.1:${m.port}`,
      `--token-file=${token}`,
      "--service-account=a",
      "--labels=app=a",
      "--inbound-port=0",
      "--outbound-port=0",
      "--admin-port=0",
    ].map((x) => `'${x}'`).join(" ");
    proc = new Proc("a-lowfd", "sh", ["-c", `ulimit -n 256 && exec '${Deno.execPath()}' ${args}`]);
    m.procs.push(proc);
    const started = await proc.waitFor(/proxy started .*outbound=(\d+) admin=(\d+)/, 20_000);
    const outbound = Number(started[1]);
    let closed = 0;
    for (let i = 0; i < 1000; i++) {
      const s = net.connect({ host: "127.0.0.1", port: outbound });
      s.on("error", () => {});
      s.on("close", () => closed++);
      sockets.push(s);
    }
    await eventually(() => closed >= 800, 30_000, "connections over the budget closed");
    const held = await settled(() => 1000 - closed, 3);
    for (const s of sockets) s.destroy();
    // Alive and accepting (a config-less answer still proves the listener accepts).
    await eventually(
      async () => {
        const r = await curl(["-H", `host: ${HOST}`, `http://127.0.0.1:${outbound}/`]);
        return r.status === 200 || r.status === 503 || r.status === 404;
      },
      15_000,
      "the proxy answering after the flood",
    );
    const status = await Promise.race([
      proc.status,
      new Promise((r) => setTimeout(r, 10, "alive")),
    ]);
    assert.equal(status, "alive");
    console.log(
      `fault: fd flood 1000 conns at ulimit -n 256: ${held} held (process budget), ` +
        `${closed} closed, proxy alive and accepting`,
    );
  } finally {
    for (const s of sockets) s.destroy();
    await m.close();
    await app.close();
  }
});

/**
 * RSS growth a proxy may show while a 200 MB stream's reader stalls or lags. The stall point
 * (the sender held after a few MB: two 64 KiB body windows plus the sockets' buffers) is the
 * exact proof of backpressure; RSS also takes in a fresh proxy's warm-up and garbage not yet
 * collected (45–80 MB measured), while a proxy without backpressure grows by the transfer
 * (538 MB measured before proxy/flow.ts).
 */
const RSS_GROWTH_BOUND_MB = 100;

/**
 * A 200 MB download through A and B read slowly by a raw client, over a plaintext or an mTLS
 * hop between the sidecars (mTLS reading is paused under the TLS layer: proxy/flow.ts).
 */
async function slowReader(plaintext: boolean) {
  const hop = plaintext ? "plaintext hop" : "mTLS hop";
  const SIZE = 200 * MB;
  const app = rawApp(SIZE);
  const { m, a, b } = await setup(await app.ready, [], true, plaintext);
  const pids = [a.proc.child.pid, b!.proc.child.pid];
  const start = pids.map(rssMb);
  const sampler = rssSampler(pids);
  const c = net.connect({ host: "127.0.0.1", port: a.outbound });
  try {
    let received = 0;
    let headSeen = false;
    c.on("error", () => {});
    c.on("data", (d: Uint8Array) => {
      received += d.length;
      if (!headSeen) {
        headSeen = true;
        c.pause(); // the client stops reading after the first bytes
      }
    });
    c.write(`GET /download HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`);
    await eventually(() => headSeen, 10_000, "the response head");
    // The app's writes stall once the buffers along the way are full.
    const stalledAt = await settled(() => app.stats.sent);
    assert.ok(stalledAt < SIZE / 4, `the app wrote ${stalledAt} bytes to a client that reads none`);
    // Then read slowly: 200 bursts of about 64 KiB, 10 ms apart; then the rest at full speed.
    for (let i = 0; i < 200; i++) {
      const before = received;
      c.resume();
      await eventually(() => received - before >= 64 * 1024 || received >= SIZE, 10_000);
      c.pause();
      await new Promise((r) => setTimeout(r, 10));
    }
    // Memory is bounded while the reader lags; the rest then goes at full speed.
    const peaks = sampler.stop();
    const growth = peaks.map((p, i) => p - start[i]);
    c.resume();
    await eventually(() => received >= SIZE, 120_000, "the whole download");
    console.log(
      `fault: slow reader 200 MB download (${hop}): app stalled after ${
        (stalledAt / MB).toFixed(1)
      } MB ` +
        `unread; peak RSS while it lagged A ${peaks[0].toFixed(0)} MB (+${
          growth[0].toFixed(0)
        }), ` +
        `B ${peaks[1].toFixed(0)} MB (+${growth[1].toFixed(0)})`,
    );
    assert.ok(received - SIZE < 1024, `received ${received}`);
    for (const g of growth) assert.ok(g < RSS_GROWTH_BOUND_MB, `RSS grew ${g.toFixed(0)} MB`);
  } finally {
    sampler.stop();
    c.destroy();
    await m.close();
    await app.close();
  }
}

Deno.test("fault: slow reader: a 200 MB download read slowly keeps both proxies' memory bounded (plaintext hops)", () =>
  slowReader(true));
Deno.test("fault: slow reader: a 200 MB download read slowly keeps both proxies' memory bounded (mTLS hop)", () =>
  slowReader(false));

/** A 200 MB upload to an app that never reads (as {@linkcode slowReader} for the hops). */
async function neverReading(plaintext: boolean) {
  const hop = plaintext ? "plaintext hop" : "mTLS hop";
  const SIZE = 200 * MB;
  const app = rawApp(0);
  const { m, a, b } = await setup(await app.ready, [], true, plaintext);
  const pids = [a.proc.child.pid, b!.proc.child.pid];
  const start = pids.map(rssMb);
  const sampler = rssSampler(pids);
  const c = net.connect({ host: "127.0.0.1", port: a.outbound });
  try {
    c.on("error", () => {});
    let written = 0;
    const chunk = new Uint8Array(64 * 1024).fill(98);
    const pump = () => {
      while (written < SIZE && !c.destroyed) {
        written += chunk.length;
        if (!c.write(chunk)) {
          c.once("drain", pump);
          return;
        }
      }
    };
    c.write(`POST /upload HTTP/1.1\r\nhost: ${HOST}\r\ncontent-length: ${SIZE}\r\n\r\n`);
    pump();
    await eventually(() => app.stats.heads > 0, 10_000, "the upload's head at the app");
    const stalledAt = await settled(() => written);
    const peaks = sampler.stop();
    const growth = peaks.map((p, i) => p - start[i]);
    console.log(
      `fault: never-reading app 200 MB upload (${hop}): client stalled after ` +
        `${(stalledAt / MB).toFixed(1)} MB; peak RSS A ${peaks[0].toFixed(0)} MB ` +
        `(+${growth[0].toFixed(0)}), B ${peaks[1].toFixed(0)} MB (+${growth[1].toFixed(0)})`,
    );
    assert.ok(
      stalledAt < SIZE / 4,
      `the client wrote ${stalledAt} bytes to an app that reads none`,
    );
    for (const g of growth) assert.ok(g < RSS_GROWTH_BOUND_MB, `RSS grew ${g.toFixed(0)} MB`);
  } finally {
    sampler.stop();
    c.destroy();
    await m.close();
    await app.close();
  }
}

Deno.test("fault: never-reading app: a 200 MB upload stalls with both proxies' memory bounded (plaintext hops)", () =>
  neverReading(true));
Deno.test("fault: never-reading app: a 200 MB upload stalls with both proxies' memory bounded (mTLS hop)", () =>
  neverReading(false));

Deno.test("fault: smuggling and malformed requests are refused with 400/431/501 and never reach the app", async () => {
  const app = echoServer("big");
  const { m, a } = await setup(app.port);
  try {
    const h = `host: ${HOST}\r\n`;
    const many = Array.from({ length: 101 }, (_, i) => `x-h${i}: v\r\n`).join("");
    const smuggled = `GET /smuggled HTTP/1.1\r\n${h}\r\n`;
    const cases: [string, string, number][] = [
      ["bare LF", `GET /bad HTTP/1.1\n${h.replace("\r\n", "\n")}\n`, 400],
      [
        "TE: x, chunked",
        `POST /bad HTTP/1.1\r\n${h}transfer-encoding: x, chunked\r\n\r\n0\r\n\r\n${smuggled}`,
        501,
      ],
      [
        "TE: chunked, x",
        `POST /bad HTTP/1.1\r\n${h}transfer-encoding: chunked, x\r\n\r\n0\r\n\r\n`,
        501,
      ],
      ["TE: identity", `POST /bad HTTP/1.1\r\n${h}transfer-encoding: identity\r\n\r\n`, 501],
      [
        "CL + TE",
        `POST /bad HTTP/1.1\r\n${h}content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
        400,
      ],
      [
        "duplicate differing CL",
        `POST /bad HTTP/1.1\r\n${h}content-length: 3\r\ncontent-length: 30\r\n\r\nabc${smuggled}`,
        400,
      ],
      [
        "oversized head (61 KiB)",
        `GET /bad HTTP/1.1\r\n${h}x-big: ${"a".repeat(61 * 1024)}\r\n\r\n`,
        431,
      ],
      ["101 headers", `GET /bad HTTP/1.1\r\n${h}${many}\r\n`, 431],
      ["obs-fold", `GET /bad HTTP/1.1\r\n${h}x-a: 1\r\n 2\r\n\r\n`, 400],
      ["space before colon", `GET /bad HTTP/1.1\r\nhost : ${HOST}\r\n\r\n`, 400],
      ["no Host (HTTP/1.1)", `GET /bad HTTP/1.1\r\nx-a: 1\r\n\r\n`, 400],
      ["two Hosts", `GET /bad HTTP/1.1\r\n${h}host: other\r\n\r\n`, 400],
      ["control character in a value", `GET /bad HTTP/1.1\r\n${h}x-a: 1\x012\r\n\r\n`, 400],
      ["bad request line", `GET /bad  HTTP/1.1\r\n${h}\r\n`, 400],
    ];
    const results: string[] = [];
    for (const [what, bytes, status] of cases) {
      const out = await rawExchange(a.outbound, bytes);
      const got = out.match(/^HTTP\/1\.1 (\d{3})/)?.[1];
      assert.equal(Number(got), status, `${what}: ${JSON.stringify(out.slice(0, 120))}`);
      results.push(`${what} ${got}`);
    }
    assert.deepEqual(app.seen.filter((s) => s.path !== "/ok"), [], "the app saw a refused request");
    const ok = await rawExchange(a.outbound, `GET /ok HTTP/1.1\r\n${h}connection: close\r\n\r\n`);
    assert.match(ok, /^HTTP\/1\.1 200 /);
    assert.deepEqual(app.seen.map((s) => s.path), ["/ok"]);
    console.log(
      `fault: malformed table (${cases.length} cases, app saw none): ${results.join("; ")}`,
    );
  } finally {
    await m.close();
    await app.close();
  }
});

// The same limits reach the gateway listeners: a quick check that a gateway HTTP listener
// closes a slow head too (one connection; the table above covers the parser).
Deno.test("fault: a gateway HTTP listener closes a slow head after the headers timeout", async () => {
  const gwPort = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const m = await TestMesh.start({
    "gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: ${gwPort}, name: http, protocol: HTTP}, hosts: ["*"]}]
`,
  });
  try {
    const gw = await m.gateway(["--request-headers-timeout=1s"]);
    await gw.proc.waitFor(new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${gwPort}`));
    const s = net.connect({ host: "127.0.0.1", port: gwPort });
    let out = "";
    let sent = 0;
    s.on("error", () => {});
    s.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    const closed = new Promise<void>((r) => s.on("close", () => r()));
    s.once("connect", () => s.write("GET / HTTP/1.1\r\nhost: x\r\nx-slow: "));
    const drip = setInterval(() => {
      if (!s.destroyed && s.writable && sent < 300) {
        s.write("a");
        sent++;
      }
    }, 100);
    await closed;
    clearInterval(drip);
    assert.match(out, /^HTTP\/1\.1 408 /);
    assert.ok(sent < 300);
    console.log(`fault: gateway slow head closed with 408 after ${sent} dripped bytes`);
  } finally {
    await m.close();
  }
});
