/**
 * The control server's TLS port in-process: HTTP/2 (mesh's codec, ALPN h2) and
 * HTTP/1.1 over node:tls for the one-shot calls and the full-duplex push
 * stream, keepalives both ways, GOAWAY on shutdown, peers resetting or going
 * away, and the limits on refused signing requests.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { createCsr } from "../ca/csr.ts";
import { TokenIssuer } from "../ca/token.ts";
import { UsedTokens } from "../ca/used_tokens.ts";
import { openPushStream } from "../proxy/push_stream.ts";
import { H2Connection } from "../proxy/h2/connection.ts";
import { buildSnapshot, MESH_DEFAULTS } from "./snapshot.ts";
import { CaManager } from "./ca_manager.ts";
import { PushHub } from "./push.ts";
import { RateLimiter, startControlServer } from "./server.ts";

async function fixture(opts: { usedTokensPath?: string; refusalRate?: number } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "mesh-server-test-" });
  const caMgr = await CaManager.start({
    dataDir: dir,
    trustDomain: "cluster.local",
    servingNames: ["127.0.0.1"],
  });
  const tokens = await TokenIssuer.loadOrCreate(dir);
  const hub = new PushHub(() => {});
  const records: Record<string, unknown>[] = [];
  const usedTokens = await UsedTokens.load(opts.usedTokensPath ?? `${dir}/used-tokens.json`);
  const server = await startControlServer({
    host: "127.0.0.1",
    port: 0,
    keyPem: caMgr.serving.keyPem,
    certPem: caMgr.serving.certPem,
    ca: () => caMgr.ca,
    tokens,
    hub,
    usedTokens,
    audit: (r) => records.push(r),
    keepaliveMs: 100,
    refusalRate: opts.refusalRate,
  });
  const roots = caMgr.ca.trustBundlePem;
  const http = Deno.createHttpClient({ caCerts: [roots], http2: false });
  const post = async (body: string, token?: string) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`https://127.0.0.1:${server.port}/v1/certificates`, {
      method: "POST",
      headers,
      body,
      client: http,
    });
    return { status: r.status, body: await r.json() };
  };
  const identity = async (sa: string) => {
    const { keyPem, csrPem } = await createCsr(`spiffe://cluster.local/ns/default/sa/${sa}`);
    const signed = await caMgr.ca.signCsr(csrPem, { namespace: "default", serviceAccount: sa });
    return { key: keyPem, cert: signed.certChainPem };
  };
  return {
    dir,
    server,
    hub,
    tokens,
    records,
    roots,
    serving: caMgr.serving,
    post,
    identity,
    async close() {
      http.close();
      await server.close();
      hub.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

const hello = (id: string, sa = "b") =>
  JSON.stringify({
    type: "hello",
    node: {
      id,
      mode: "sidecar",
      namespace: "default",
      serviceAccount: sa,
      labels: {},
      address: "127.0.0.1",
      inboundPort: 1,
    },
  }) + "\n";

async function until(fn: () => boolean, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10 + i));
  }
  throw new Error(`never happened: ${what}`);
}

Deno.test("GET /v1/root with curl over HTTP/2 (ALPN h2) and HTTP/1.1", async () => {
  const f = await fixture();
  try {
    await Deno.writeTextFile(`${f.dir}/roots.pem`, f.roots);
    for (const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]) {
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          flag,
          "--cacert",
          `${f.dir}/roots.pem`,
          "-w",
          "\n%{http_version}",
          `https://127.0.0.1:${f.server.port}/v1/root`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout), `${f.roots}\n${version}`, flag);
    }
    for (const [offer, want] of [[["h2", "http/1.1"], "h2"], [["http/1.1"], "http/1.1"]]) {
      const sock = tls.connect({
        host: "127.0.0.1",
        port: f.server.port,
        ca: f.roots,
        ALPNProtocols: offer as string[],
      });
      const proto = await new Promise<string | false | null>((resolve, reject) => {
        sock.once("secureConnect", () => resolve(sock.alpnProtocol ?? null));
        sock.once("error", reject);
      });
      sock.destroy();
      assert.equal(proto, want, `offering ${offer}`);
    }
  } finally {
    await f.close();
  }
});

Deno.test("over HTTP/2 the one-shot routes answer as over HTTP/1.1 (fetch, ALPN h2)", async () => {
  const f = await fixture();
  const h2 = Deno.createHttpClient({ caCerts: [f.roots], http1: false, http2: true });
  try {
    const base = `https://127.0.0.1:${f.server.port}`;
    const root = await fetch(`${base}/v1/root`, { client: h2 });
    assert.equal(root.status, 200);
    assert.equal(await root.text(), f.roots);
    const token = await f.tokens.create({ namespace: "default", serviceAccount: "h2" });
    const { csrPem } = await createCsr("spiffe://cluster.local/ns/default/sa/h2");
    const signed = await fetch(`${base}/v1/certificates`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ csr: csrPem }),
      client: h2,
    });
    assert.equal(signed.status, 200);
    assert.match((await signed.json()).certChain, /BEGIN CERTIFICATE/);
    const refused = await fetch(`${base}/v1/certificates`, {
      method: "POST",
      body: JSON.stringify({ csr: csrPem }),
      client: h2,
    });
    assert.equal(refused.status, 401);
    assert.match((await refused.json()).error, /no credential/);
    const missing = await fetch(`${base}/v1/nothing`, { client: h2 });
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /no route for GET \/v1\/nothing/);
    // An anonymous push stream over h2 is refused like over HTTP/1.1.
    const stream = await fetch(`${base}/v1/stream`, { method: "POST", body: "{}\n", client: h2 });
    assert.equal(stream.status, 401);
    await stream.body?.cancel();
  } finally {
    h2.close();
    await f.close();
  }
});

for (const [alpn, protocol] of [[["h2", "http/1.1"], "h2"], [["http/1.1"], "http/1.1"]] as const) {
  Deno.test(`push stream over ${protocol}: hello up, config and keepalives down, acks up, on one stream`, async () => {
    const f = await fixture();
    try {
      const id = await f.identity("b");
      const lines: string[] = [];
      let announced = 0;
      let used = "";
      const s = openPushStream({
        host: "127.0.0.1",
        port: f.server.port,
        authority: `127.0.0.1:${f.server.port}`,
        tls: { ca: f.roots, ...id },
        alpn: [...alpn],
        first: hello("n1"),
        onOpen: (ms, p) => {
          announced = ms;
          used = p;
        },
        onLine: (l) => lines.push(l),
      });
      // The hub may see the hello before the proxy has read the response head: wait for both.
      await until(
        () => f.hub.connections().length === 1 && announced > 0,
        "the hub to see the proxy, and the proxy the response head",
      );
      assert.equal(announced, 100, "the server's keepalive interval reaches the proxy");
      assert.equal(used, protocol);
      await until(() => lines.filter((l) => l.includes("keepalive")).length >= 3, "keepalives");
      // Lines up after the hello reach the hub while the response keeps streaming.
      assert.ok(s.send(JSON.stringify({ type: "ack", version: "v7" }) + "\n"));
      await until(() => f.hub.connections()[0]?.ackedVersion === "v7", "the ack");
      // The proxy's keepalives keep it alive past 3 intervals of otherwise silence.
      const before = lines.length;
      await until(() => lines.length >= before + 5, "more keepalives");
      assert.equal(f.hub.connections().length, 1);
      s.close();
      const end = await s.done;
      assert.equal(end.opened, true);
      await until(() => f.hub.connections().length === 0, "the hub to forget the proxy");
    } finally {
      await f.close();
    }
  });

  Deno.test(`push stream over ${protocol}: another identity's hello, or no certificate, is refused`, async () => {
    const f = await fixture();
    try {
      const id = await f.identity("b");
      const lines: string[] = [];
      const wrong = openPushStream({
        host: "127.0.0.1",
        port: f.server.port,
        authority: "x",
        tls: { ca: f.roots, ...id },
        alpn: [...alpn],
        first: hello("n1", "admin"),
        onLine: (l) => lines.push(l),
      });
      const end = await wrong.done;
      assert.match(
        lines.join("\n"),
        /hello names default\/admin but the certificate is default\/b/,
      );
      assert.match(end.reason.message, /ended the stream|closed/);
      assert.equal(f.hub.connections().length, 0);
      const anonymous = openPushStream({
        host: "127.0.0.1",
        port: f.server.port,
        authority: "x",
        tls: { ca: f.roots },
        alpn: [...alpn],
        first: hello("n2"),
        onLine: () => {},
      });
      const refused = await anonymous.done;
      assert.equal(refused.opened, false);
      assert.match(refused.reason.message, /401.*valid mesh client certificate/);
    } finally {
      await f.close();
    }
  });
}

Deno.test("push stream over h2: a 4 MB config arrives whole and is acked", async () => {
  const f = await fixture();
  try {
    const id = await f.identity("b");
    const configs: string[] = [];
    const s = openPushStream({
      host: "127.0.0.1",
      port: f.server.port,
      authority: "x",
      tls: { ca: f.roots, ...id },
      first: hello("big"),
      onLine: (l) => {
        if (!l.includes('"config"')) return;
        configs.push(l);
        const version = JSON.parse(l).config.version;
        s.send(JSON.stringify({ type: "ack", version }) + "\n");
      },
    });
    await until(() => f.hub.connections().length === 1, "the hub to see the proxy");
    const blob = "y".repeat(4 << 20);
    f.hub.push(
      buildSnapshot({
        revision: 9001,
        resources: [],
        workloads: [],
        mesh: MESH_DEFAULTS,
        roots: blob,
      }),
    );
    await until(() => f.hub.connections()[0]?.ackedVersion === "9001", "the big config's ack");
    const big = configs.map((l) => JSON.parse(l).config).filter((c) => c.version === "9001");
    assert.equal(big.length, 1);
    assert.ok(big[0].roots === blob, "the config arrived unchanged");
    s.close();
    await s.done;
  } finally {
    await f.close();
  }
});

Deno.test("control plane shutdown sends GOAWAY: the proxy's h2 stream ends with a reason", async () => {
  const f = await fixture();
  try {
    const id = await f.identity("b");
    const s = openPushStream({
      host: "127.0.0.1",
      port: f.server.port,
      authority: "x",
      tls: { ca: f.roots, ...id },
      first: hello("n1"),
      onLine: () => {},
    });
    await until(() => f.hub.connections().length === 1, "the hub to see the proxy");
    await f.server.close();
    const end = await s.done;
    assert.equal(end.opened, true);
    assert.match(end.reason.message, /going away \(GOAWAY NO_ERROR\)/);
    assert.equal(f.hub.connections().length, 0);
  } finally {
    await f.close();
  }
});

Deno.test("h2 peers resetting streams, going away or vanishing don't hurt the server", async () => {
  const f = await fixture();
  const id = await f.identity("b");
  const connect = () => {
    const sock = tls.connect({
      host: "127.0.0.1",
      port: f.server.port,
      ca: f.roots,
      ...id,
      ALPNProtocols: ["h2"],
    });
    sock.on("error", () => {});
    return { sock, conn: new H2Connection(sock, { role: "client" }) };
  };
  const stream = (conn: H2Connection, node: string) => {
    const s = conn.request([
      [":method", "POST"],
      [":scheme", "https"],
      [":path", "/v1/stream"],
      [":authority", "x"],
    ]);
    s.write(new TextEncoder().encode(hello(node))).catch(() => {});
    return s;
  };
  try {
    const a = connect();
    const s1 = stream(a.conn, "r1");
    await until(() => f.hub.connections().length === 1, "the first stream");
    s1.reset(); // RST_STREAM CANCEL from the proxy
    await until(() => f.hub.connections().length === 0, "the reset stream to be forgotten");
    const s2 = stream(a.conn, "r2");
    await until(() => f.hub.connections().length === 1, "a second stream on the connection");
    a.conn.goaway(); // the proxy going away: its stream stays until it ends
    assert.equal((await s2.response).find(([k]) => k === ":status")?.[1], "200");
    a.conn.destroy();
    await until(() => f.hub.connections().length === 0, "the stream of the closed connection");
    // A proxy that vanishes without a FIN or a frame: dropped after 3 keepalive intervals.
    const b = connect();
    stream(b.conn, "silent");
    await until(() => f.hub.connections().length === 1, "the silent proxy");
    b.sock.pause(); // reads nothing more, sends nothing more
    await until(() => f.hub.connections().length === 0, "the silent proxy to be dropped");
    b.conn.destroy();
    // Still serving.
    const c = openPushStream({
      host: "127.0.0.1",
      port: f.server.port,
      authority: "x",
      tls: { ca: f.roots, ...id },
      first: hello("after"),
      onLine: () => {},
    });
    await until(() => f.hub.connections().length === 1, "a new proxy after all that");
    c.close();
    await c.done;
  } finally {
    await f.close();
  }
});

Deno.test("push stream: a proxy gone silent (no FIN) is dropped by the server", async () => {
  const f = await fixture();
  try {
    const id = await f.identity("b");
    // Sends the hello and then nothing, never closing: like a proxy whose host died.
    const sock = tls.connect({ host: "127.0.0.1", port: f.server.port, ca: f.roots, ...id });
    sock.on("error", () => {});
    const body = hello("silent");
    sock.write(
      "POST /v1/stream HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n" +
        `${new TextEncoder().encode(body).length.toString(16)}\r\n${body}\r\n`,
    );
    await until(() => f.hub.connections().length === 1, "the hub to see the proxy");
    await until(() => f.hub.connections().length === 0, "the server to drop the silent proxy");
    sock.destroy();
  } finally {
    await f.close();
  }
});

Deno.test("push stream: a control plane gone silent (no FIN) is dropped by the proxy", async () => {
  const f = await fixture();
  const id = await f.identity("b");
  // Answers the stream's head, announces 100 ms keepalives, then never sends again.
  const sockets: tls.TLSSocket[] = [];
  const mute = tls.createServer({ key: f.serving.keyPem, cert: f.serving.certPem });
  try {
    mute.on("secureConnection", (s: tls.TLSSocket) => {
      sockets.push(s);
      s.on("error", () => {});
      s.once("data", () => {
        s.write(
          "HTTP/1.1 200 OK\r\nx-mesh-keepalive-ms: 100\r\ntransfer-encoding: chunked\r\n\r\n",
        );
      });
    });
    const port = await new Promise<number>((resolve) =>
      mute.listen(0, "127.0.0.1", () => resolve((mute.address() as { port: number }).port))
    );
    const s = openPushStream({
      host: "127.0.0.1",
      port,
      authority: "x",
      tls: { ca: f.roots, ...id },
      first: hello("n1"),
      onLine: () => {},
    });
    const end = await s.done;
    assert.equal(end.opened, true);
    assert.match(end.reason.message, /nothing from the control plane for 3 keepalive intervals/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => mute.close(r));
    await f.close();
  }
});

Deno.test("refused signing requests past the limit get 429 and are counted, not audited one by one", async () => {
  const f = await fixture({ refusalRate: 0.001 });
  try {
    const { csrPem } = await createCsr("spiffe://cluster.local/ns/default/sa/x");
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push((await f.post(JSON.stringify({ csr: csrPem }), "not-a-token")).status);
    }
    assert.deepEqual(statuses, [...Array(20).fill(401), ...Array(10).fill(429)]);
    assert.equal(f.records.filter((r) => r.event === "refused").length, 20);
    // A good request from the same address still works: only refusals count.
    const token = await f.tokens.create({ namespace: "default", serviceAccount: "x" });
    assert.equal((await f.post(JSON.stringify({ csr: csrPem }), token)).status, 200);
    await f.server.close();
    const summary = f.records.filter((r) => r.event === "refused-suppressed");
    assert.deepEqual(summary, [{
      event: "refused-suppressed",
      key: "remote:127.0.0.1",
      count: 10,
    }]);
  } finally {
    await f.close();
  }
});

Deno.test("a single-use token that can't be recorded is not burned: 503 with the reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-used-" });
  const f = await fixture({ usedTokensPath: `${dir}/missing/used-tokens.json` });
  try {
    const { csrPem } = await createCsr("spiffe://cluster.local/ns/default/sa/once");
    const once = await f.tokens.create({
      namespace: "default",
      serviceAccount: "once",
      singleUse: true,
    });
    const failed = await f.post(JSON.stringify({ csr: csrPem }), once);
    assert.equal(failed.status, 503);
    assert.match(
      failed.body.error,
      /^can't record the single-use token: .*; free space in the data dir/,
    );
    await Deno.mkdir(`${dir}/missing`);
    assert.equal((await f.post(JSON.stringify({ csr: csrPem }), once)).status, 200);
    const again = await f.post(JSON.stringify({ csr: csrPem }), once);
    assert.equal(again.status, 401);
    assert.match(again.body.error, /already used/);
  } finally {
    await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rate limiter: burst, refill, and a bounded number of keys", () => {
  const l = new RateLimiter(1000, 2, 3);
  assert.equal(l.take("a"), true);
  assert.equal(l.take("a"), true);
  for (const k of ["b", "c", "d", "e", "f"]) l.take(k);
  assert.ok(l.size <= 3, `${l.size} keys kept`);
});
