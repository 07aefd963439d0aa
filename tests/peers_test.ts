/**
 * The test peers of tests/peers.ts, proved against each other with no mesh in
 * between: h2spec against nghttpd (h2c and TLS), gRPC-Go's interop client
 * against its server (12 cases, plus TLS), and our WebSocket client against
 * its echo server (a 10 MB message, a Host override, both HTTP proxy modes
 * through a tiny proxy here, and a client that vanishes mid-message).
 *
 * The first run builds the Go peers into the bench's cache dir (about a
 * minute in all); later runs reuse them. Each test is ignored, with one line
 * saying why, when Go or nghttpd is missing.
 */
import assert from "node:assert/strict";
import { eventually, freePort, Proc } from "./helpers.ts";
import { makeCerts, PEER_B_NAME } from "../bench/certs.ts";
import { have } from "../bench/spawn.ts";
import {
  goCommand,
  GRPC_INTEROP_CASES,
  GRPC_LOG_ENV,
  grpcInterop,
  grpcInteropServerArgs,
  grpcInteropServerPort,
  h2load,
  h2spec,
  type H2specResult,
  nghttpd,
  parseH2specJunit,
  runGrpcInteropClient,
  runH2spec,
  runWsClient,
  wsClient,
  wsServerConns,
  wsServerPort,
} from "./peers.ts";

const HAVE_GO = (await goCommand()) !== undefined;
const NGHTTPD = await nghttpd();
const HAVE_OPENSSL = await have("openssl", ["version"]);

function skipUnless(ok: boolean, name: string, why: string): boolean {
  if (!ok) console.log(`skip ${name}: ${why}`);
  return !ok;
}
const NO_GO = "Go not installed (no go on the PATH or at /usr/local/go/bin/go)";

/** Starts a peer and waits for `ready` in its output, failing at once if it exits first. */
async function start(
  name: string,
  cmd: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<{ proc: Proc; match: RegExpMatchArray }> {
  const proc = new Proc(name, cmd, args, env);
  const exited = proc.status.then((s) => {
    throw new Error(`${name} exited (${s.code}) before it was ready:\n${proc.output}`);
  });
  try {
    return { proc, match: await Promise.race([proc.waitFor(ready, 30_000), exited]) };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

async function connects(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

// -- h2spec ------------------------------------------------------------------

const JUNIT_SAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="1. Starting HTTP/2" package="generic/1" id="1" tests="1" skipped="0" failures="0" errors="0">
    <testcase package="generic/1" classname="Sends a client connection preface" time="0.0057"></testcase>
  </testsuite>
  <testsuite name="5.1.1. Stream Identifiers" package="http2/5.1.1" id="5.1.1" tests="3" skipped="1" failures="0" errors="1">
    <testcase package="http2/5.1.1" classname="Sends even-numbered stream identifier" time="0.0001"></testcase>
    <testcase package="http2/5.1.1" classname="Sends stream identifier that is numerically smaller than previous" time="2.0007">
      <error>GOAWAY Frame (Error Code: PROTOCOL_ERROR)
Connection closed
DATA Frame (length:148, flags:0x01, stream_id:5)</error>
    </testcase>
    <testcase package="http2/5.1.1" classname="Sends &#34;x&#34; &amp; more" time="0"><skipped></skipped></testcase>
  </testsuite>
</testsuites>`;

const FAILURES_SAMPLE = `
Failures: 

Hypertext Transfer Protocol Version 2 (HTTP/2)
  5. Streams and Multiplexing
    5.1. Stream States
      5.1.1. Stream Identifiers
        × 2: Sends stream identifier that is numerically smaller than previous
          -> The endpoint MUST respond with a connection error of type PROTOCOL_ERROR.
             Expected: GOAWAY Frame (Error Code: PROTOCOL_ERROR)
                       Connection closed
               Actual: DATA Frame (length:148, flags:0x01, stream_id:5)

Finished in 2.0602 seconds
3 tests, 1 passed, 1 skipped, 1 failed
`;

Deno.test("parseH2specJunit: ids, statuses and failure messages from h2spec's report", () => {
  const cases = parseH2specJunit(JUNIT_SAMPLE, FAILURES_SAMPLE);
  assert.deepStrictEqual(cases.map((c) => [c.id, c.status]), [
    ["generic/1/1", "passed"],
    ["http2/5.1.1/1", "passed"],
    ["http2/5.1.1/2", "failed"],
    ["http2/5.1.1/3", "skipped"],
  ]);
  assert.deepStrictEqual(cases[2].section, "5.1.1");
  assert.deepStrictEqual(cases[2].sectionName, "Stream Identifiers");
  assert.deepStrictEqual(cases[3].description, 'Sends "x" & more');
  assert.deepStrictEqual(
    cases[2].message,
    "The endpoint MUST respond with a connection error of type PROTOCOL_ERROR. " +
      "Expected: GOAWAY Frame (Error Code: PROTOCOL_ERROR) | Connection closed; " +
      "actual: DATA Frame (length:148, flags:0x01, stream_id:5)",
  );
});

function checkAgainstSummary(r: H2specResult): void {
  assert(r.summary, `no count line in h2spec's output:\n${r.output.slice(-500)}`);
  const [, total, passed, skipped, failed] = r.summary.match(
    /(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed/,
  )!
    .map(Number);
  assert.deepStrictEqual([r.total, r.passed, r.skipped, r.failed], [
    total,
    passed,
    skipped,
    failed,
  ]);
  for (const c of r.cases.filter((c) => c.status === "failed")) {
    assert(c.message, `${c.id} failed with no message`);
  }
}

async function h2specVsNghttpd(tls: boolean): Promise<H2specResult> {
  const bin = await h2spec();
  assert(bin.path, bin.skip);
  const dir = await Deno.makeTempDir({ prefix: "mesh-peers-h2-" });
  const port = freePort();
  const args = ["-a", "127.0.0.1", "-d", dir];
  if (tls) {
    const certs = await makeCerts(`${dir}/certs`);
    args.push(String(port), certs.serverKey, certs.serverCert);
  } else args.push("--no-tls", String(port));
  await Deno.writeTextFile(`${dir}/index.html`, "hello\n");
  const proc = new Proc("nghttpd", NGHTTPD.path!, args);
  try {
    await eventually(() => connects(port), 15_000, `nghttpd on port ${port}`);
    const r = await runH2spec({
      host: "127.0.0.1",
      port,
      tls,
      insecure: tls,
      timeoutS: 2,
      strict: false,
      bin: bin.path,
    });
    console.log(
      `h2spec vs nghttpd (${tls ? "TLS" : "h2c"}): ${r.passed}/${r.total} passed, ` +
        `${r.failed} failed, ${r.skipped} skipped` +
        r.cases.filter((c) => c.status === "failed").map((c) => `\n  ${c.id}: ${c.message}`)
          .join(""),
    );
    return r;
  } finally {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "h2spec against nghttpd over h2c: every case parsed, nearly all pass",
  ignore: skipUnless(HAVE_GO, "h2spec", NO_GO) ||
    skipUnless(!NGHTTPD.skip, "h2spec vs nghttpd", NGHTTPD.skip ?? ""),
  async fn() {
    const r = await h2specVsNghttpd(false);
    checkAgainstSummary(r);
    assert(r.total >= 140, `only ${r.total} cases`);
    assert(r.passed >= r.total - 3, `nghttpd passed only ${r.passed} of ${r.total}`);
    assert(r.cases.some((c) => c.id === "http2/6.5/1"));
    assert.deepStrictEqual(new Set(r.cases.map((c) => c.id)).size, r.total, "case ids are unique");
  },
});

Deno.test({
  name: "h2spec against nghttpd over TLS (insecure)",
  ignore: skipUnless(HAVE_GO, "h2spec TLS", NO_GO) ||
    skipUnless(!NGHTTPD.skip, "h2spec TLS vs nghttpd", NGHTTPD.skip ?? "") ||
    skipUnless(HAVE_OPENSSL, "h2spec TLS", "openssl not installed"),
  async fn() {
    const r = await h2specVsNghttpd(true);
    checkAgainstSummary(r);
    assert(r.total >= 140, `only ${r.total} cases`);
    assert(r.passed >= r.total - 3, `nghttpd passed only ${r.passed} of ${r.total}`);
  },
});

Deno.test({
  name: "runH2spec: a port nobody listens on is an error, not an empty pass",
  ignore: skipUnless(HAVE_GO, "runH2spec refused", NO_GO),
  async fn() {
    const bin = await h2spec();
    let err: Error | undefined;
    try {
      await runH2spec({ host: "127.0.0.1", port: freePort(), timeoutS: 1, bin: bin.path });
    } catch (e) {
      err = e as Error;
    }
    assert(err, "runH2spec should throw");
    assert.match(err.message, /h2spec/);
  },
});

// -- gRPC interop ------------------------------------------------------------

async function interopServer(
  server: string,
  tls?: { cert: string; key: string },
): Promise<{ proc: Proc; port: number }> {
  const { proc, match } = await start(
    "grpc-interop-server",
    server,
    grpcInteropServerArgs(tls ? { tlsCert: tls.cert, tlsKey: tls.key } : {}),
    /interop server listening on \S*:\d+/,
    GRPC_LOG_ENV,
  );
  return { proc, port: grpcInteropServerPort(match[0])! };
}

Deno.test({
  name: "gRPC interop: the Go client passes the 12 cases against the Go server",
  ignore: skipUnless(HAVE_GO, "grpc interop", NO_GO),
  async fn() {
    const t0 = Date.now();
    const peer = await grpcInterop();
    assert(peer.client, peer.skip);
    console.log(`grpc interop ${peer.version} ready in ${Date.now() - t0} ms: ${peer.client}`);
    const { proc, port } = await interopServer(peer.server);
    try {
      const failed: string[] = [];
      for (const testCase of GRPC_INTEROP_CASES) {
        const r = await runGrpcInteropClient({
          serverHost: "127.0.0.1",
          serverPort: port,
          testCase,
          bin: peer.client,
          timeoutMs: 30_000,
        });
        if (!r.passed) failed.push(`${testCase}: ${r.detail}`);
      }
      console.log(
        `grpc interop direct: ${GRPC_INTEROP_CASES.length - failed.length}/` +
          `${GRPC_INTEROP_CASES.length} passed`,
      );
      assert.deepStrictEqual(failed, []);
    } finally {
      await proc.stop();
    }
  },
});

Deno.test({
  name: "gRPC interop over TLS with a CA file and a host override; a dead port fails",
  ignore: skipUnless(HAVE_GO, "grpc interop TLS", NO_GO) ||
    skipUnless(HAVE_OPENSSL, "grpc interop TLS", "openssl not installed"),
  async fn() {
    const peer = await grpcInterop();
    assert(peer.client, peer.skip);
    const dir = await Deno.makeTempDir({ prefix: "mesh-peers-grpc-" });
    const certs = await makeCerts(dir);
    const { proc, port } = await interopServer(peer.server, {
      cert: certs.serverCert,
      key: certs.serverKey,
    });
    try {
      for (const testCase of ["empty_unary", "large_unary", "ping_pong"]) {
        const r = await runGrpcInteropClient({
          serverHost: "127.0.0.1",
          serverPort: port,
          testCase,
          useTLS: true,
          caFile: certs.ca,
          serverHostOverride: PEER_B_NAME,
          bin: peer.client,
          timeoutMs: 30_000,
        });
        assert(r.passed, `${testCase} over TLS: ${r.detail}`);
      }
      const plain = await runGrpcInteropClient({
        serverHost: "127.0.0.1",
        serverPort: port,
        testCase: "empty_unary",
        bin: peer.client,
        timeoutMs: 30_000,
      });
      assert(!plain.passed, "plaintext to a TLS server should fail");
    } finally {
      await proc.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    const dead = await runGrpcInteropClient({
      serverHost: "127.0.0.1",
      serverPort: freePort(),
      testCase: "empty_unary",
      bin: peer.client,
      timeoutMs: 30_000,
    });
    assert(!dead.passed && !dead.timedOut, `against a dead port: ${dead.detail}`);
  },
});

// -- WebSocket ---------------------------------------------------------------

/**
 * A tiny HTTP proxy on 127.0.0.1 for wsclient's two proxy modes: CONNECT
 * tunnels, and absolute-form requests (`GET http://host/path`) forwarded in
 * origin form. Records each request line.
 */
function tinyProxy(): { port: number; lines: string[]; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const conns = new Set<Promise<void>>();
  const handle = async (c: Deno.Conn) => {
    let up: Deno.Conn | undefined;
    try {
      let head = new Uint8Array(0);
      const buf = new Uint8Array(16 * 1024);
      let end = -1;
      while (end < 0 && head.length < 64 * 1024) {
        const n = await c.read(buf);
        if (n === null) return;
        const next = new Uint8Array(head.length + n);
        next.set(head);
        next.set(buf.subarray(0, n), head.length);
        head = next;
        end = new TextDecoder().decode(head).indexOf("\r\n\r\n");
      }
      const text = new TextDecoder().decode(head);
      const [first, ...rest] = text.slice(0, end).split("\r\n");
      lines.push(first);
      const [method, target, version] = first.split(" ");
      const enc = new TextEncoder();
      if (method === "CONNECT") {
        const [host, port] = target.split(":");
        up = await Deno.connect({ hostname: host, port: Number(port) });
        await c.write(enc.encode("HTTP/1.1 200 Connection established\r\n\r\n"));
        await up.write(head.subarray(end + 4));
      } else {
        const u = new URL(target);
        up = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
        const headers = rest.filter((h) => !/^proxy-/i.test(h));
        await up.write(
          enc.encode(
            `${method} ${u.pathname}${u.search} ${version}\r\n${headers.join("\r\n")}\r\n\r\n`,
          ),
        );
        await up.write(head.subarray(end + 4));
      }
      const u2 = up;
      await Promise.allSettled([
        c.readable.pipeTo(u2.writable),
        u2.readable.pipeTo(c.writable),
      ]);
    } catch {
      /* a peer went away */
    } finally {
      try {
        c.close();
      } catch { /* closed by pipeTo */ }
      try {
        up?.close();
      } catch { /* closed by pipeTo */ }
    }
  };
  const accepting = (async () => {
    for await (const c of listener) {
      const p = handle(c);
      conns.add(p);
      p.finally(() => conns.delete(p));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    lines,
    close: async () => {
      listener.close();
      await accepting.catch(() => {});
      await Promise.allSettled([...conns]);
    },
  };
}

Deno.test({
  name: "wsclient against its echo server: 10 MB echoed, Host override, proxies, vanishing client",
  ignore: skipUnless(HAVE_GO, "wsclient", NO_GO),
  async fn() {
    const t0 = Date.now();
    const ws = await wsClient();
    assert(ws.path, ws.skip);
    console.log(`wsclient ready in ${Date.now() - t0} ms: ${ws.path}`);
    const { proc, match } = await start(
      "ws-echo",
      ws.path,
      ["-serve", "127.0.0.1:0"],
      /^\{"listening".*\}$/m,
    );
    const port = wsServerPort(match[0])!;
    const proxy = tinyProxy();
    try {
      const url = `ws://127.0.0.1:${port}/echo`;
      const big = await runWsClient({
        url,
        n: 20,
        size: 1024,
        big: 10 * 1024 * 1024,
        bin: ws.path,
      });
      assert(big.ok, big.error);
      assert.deepStrictEqual([big.sent, big.echoed, big.bytes], [
        21,
        21,
        20 * 1024 + 10 * 1024 * 1024,
      ]);
      console.log(
        `ws echo direct: ${big.echoed} messages incl. 10 MB, ${big.bytes} bytes in ${big.ms} ms`,
      );

      const text = await runWsClient({
        url: `ws://127.0.0.1:${port}/text`,
        n: 5,
        size: 70_000,
        text: true,
        host: "app.example:8080",
        bin: ws.path,
      });
      assert(text.ok, text.error);

      const fwd = await runWsClient({
        url: `ws://127.0.0.1:${port}/fwd`,
        proxy: `http://127.0.0.1:${proxy.port}`,
        n: 3,
        big: 1024 * 1024,
        bin: ws.path,
      });
      assert(fwd.ok, fwd.error);
      const tunnel = await runWsClient({
        url: `ws://127.0.0.1:${port}/tunnel`,
        proxy: `http://127.0.0.1:${proxy.port}`,
        proxyConnect: true,
        n: 3,
        bin: ws.path,
      });
      assert(tunnel.ok, tunnel.error);
      assert.deepStrictEqual(proxy.lines, [
        `GET http://127.0.0.1:${port}/fwd HTTP/1.1`,
        `CONNECT 127.0.0.1:${port} HTTP/1.1`,
      ]);

      const gone = await runWsClient({
        url: `${url}/gone`,
        n: 4,
        size: 4096,
        vanishAfter: 2,
        bin: ws.path,
      });
      assert(gone.ok && gone.vanished, gone.error);
      assert.deepStrictEqual(gone.echoed, 2);

      const conns = await eventually(
        () => {
          const c = wsServerConns(proc.output);
          return c.length >= 5 && c;
        },
        15_000,
        "the echo server's connection lines",
      );
      const byPath = Object.fromEntries(conns.map((c) => [c.path, c]));
      assert.deepStrictEqual(byPath["/echo"].host, `127.0.0.1:${port}`);
      assert.deepStrictEqual(byPath["/echo"].end, "closed: 1000");
      assert.deepStrictEqual(byPath["/text"].host, "app.example:8080");
      assert.deepStrictEqual(byPath["/text"].messages, 5);
      assert.deepStrictEqual(byPath["/fwd"].messages, 4);
      assert.deepStrictEqual(byPath["/tunnel"].messages, 3);
      assert.deepStrictEqual(byPath["/echo/gone"].messages, 2);
      assert.match(byPath["/echo/gone"].end, /^error: .*(reset|EOF)/);

      const refused = await runWsClient({
        url: `ws://127.0.0.1:${freePort()}/`,
        n: 1,
        timeoutS: 10,
        bin: ws.path,
      });
      assert(!refused.ok);
      assert.match(refused.error ?? "", /dial/);
    } finally {
      await proxy.close();
      await proc.stop();
    }
  },
});

/** Runs `code` against peers.ts in a child Deno with a fresh, empty peer cache. */
async function inFreshCache(code: string, env: Record<string, string>): Promise<string> {
  const cache = await Deno.makeTempDir({ prefix: "mesh-peers-cache-" });
  try {
    const peers = new URL("./peers.ts", import.meta.url).href;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", `import * as p from ${JSON.stringify(peers)};\n${code}`],
      env: { XDG_CACHE_HOME: cache, GOMODCACHE: `${cache}/gomod`, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  } finally {
    await Deno.remove(cache, { recursive: true }).catch(() => {});
  }
}

Deno.test("no Go: each Go peer is skipped with a one-line reason", async () => {
  const out = await inFreshCache(
    `for (const f of [p.h2spec, p.grpcInterop, p.wsClient]) console.log(JSON.stringify(await f()));`,
    { MESH_TEST_GO: "/nonexistent/go" },
  );
  const lines = out.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 3, out);
  for (const l of lines) {
    assert.equal(l.path ?? l.client, undefined);
    assert.match(l.skip, /^Go not installed .*: cannot build \S+$/);
  }
});

Deno.test({
  name: "a failed build is an error naming the module, version and go's complaint",
  ignore: skipUnless(HAVE_GO, "failed build", NO_GO),
  async fn() {
    // An empty module cache and no proxy: go install fails at once, offline.
    const out = await inFreshCache(
      `try { await p.h2spec(); console.log("built?"); } catch (e) { console.log(e.message); }`,
      { GOPROXY: "off", GOFLAGS: "-modcacherw" },
    );
    assert.match(
      out,
      /building github\.com\/summerwind\/h2spec failed: go install github\.com\/summerwind\/h2spec\/cmd\/h2spec@v2\.2\.1\+incompatible failed: .*GOPROXY=off/,
    );
  },
});

Deno.test("h2load: found on the PATH or skipped with the package to install", async () => {
  const p = await h2load();
  if (p.path === undefined) {
    console.log(`skip h2load: ${p.skip}`);
    assert.match(p.skip, /nghttp2-client/);
  } else {
    assert.match(p.path, /\/h2load$/);
  }
});
