/**
 * HTTP/2 on the routed listeners with mesh's codec: h2c with prior knowledge and ALPN h2, the
 * listener's limits, the real client address, trailers both ways, backpressure, client
 * resets releasing the response body, handler failures.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { PREFACE, prefaceMatch } from "./h2_serve.ts";
import { DEFAULT_LIMITS, hasVerifiedXfcc, type ServeHandler, serveHttp } from "./listener.ts";
import { H2Connection } from "./h2/connection.ts";
import { H2_ERROR } from "./h2/errors.ts";
import { trailersOf, withTrailers } from "./trailers.ts";
import { testPki } from "../tests/helpers.ts";

const enc = new TextEncoder();

/** curl with `-w`: status, HTTP version and curl's own local port (what the server sees). */
async function curlInfo(args: string[]) {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "10",
      "-w",
      "\n@@%{http_code} %{http_version} %{local_port}",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const i = text.lastIndexOf("\n@@");
  const [status, version, localPort] = text.slice(i + 3).split(" ");
  return {
    status: Number(status),
    version,
    localPort: Number(localPort),
    body: text.slice(0, i),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A handler that answers with what it saw. */
const echo: ServeHandler = (req, info) => {
  const a = info.remoteAddr as Deno.NetAddr;
  return Response.json({
    url: req.url,
    remote: `${a.hostname}:${a.port}`,
    xfcc: req.headers.get("x-forwarded-client-cert"),
    verified: hasVerifiedXfcc(req),
  });
};

/** Resolves when `s` is closed by the other side (or after `ms`, with false). */
function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.on("error", reject);
    s.resume(); // read (and drop) what comes, so that the peer's FIN is seen
  });
}

Deno.test("prefaceMatch decides on the first byte that can't be the preface", () => {
  assert.deepEqual(prefaceMatch(enc.encode("GET / HTTP/1.1\r\n")), "h1");
  assert.deepEqual(prefaceMatch(enc.encode("P")), "more");
  assert.deepEqual(prefaceMatch(enc.encode("POST / HTTP/1.1")), "h1");
  assert.deepEqual(prefaceMatch(enc.encode("PRI * HTTP/2.0\r\n")), "more");
  assert.deepEqual(prefaceMatch(enc.encode("PRI * HTTP/1.1\r\n")), "h1");
  assert.deepEqual(prefaceMatch(PREFACE), "h2");
  assert.deepEqual(prefaceMatch(new Uint8Array([...PREFACE, 0, 0, 18, 4])), "h2");
  assert.deepEqual(PREFACE.length, 24);
});

Deno.test("plaintext listener: h2c with prior knowledge and HTTP/1.1 on one port, real remote address", async () => {
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler: echo });
  try {
    const url = `http://127.0.0.1:${l.port}/a?b=1`;
    const h2 = await curlInfo(["--http2-prior-knowledge", url]);
    assert.deepEqual([h2.status, h2.version], [200, "2"], h2.stderr);
    const seen = JSON.parse(h2.body);
    assert.deepEqual(seen.url, url);
    // The handler sees curl's own address.
    assert.deepEqual(seen.remote, `127.0.0.1:${h2.localPort}`);
    const h1 = await curlInfo(["--http1.1", url]);
    assert.deepEqual([h1.status, h1.version], [200, "1.1"], h1.stderr);
    assert.deepEqual(JSON.parse(h1.body).remote, `127.0.0.1:${h1.localPort}`);
    // `:scheme https` over cleartext doesn't make the URL https.
    const lie = await curlInfo(["--http2-prior-knowledge", "-H", "x-a: b", url]);
    assert.deepEqual(JSON.parse(lie.body).url.startsWith("http://"), true);
  } finally {
    await l.shutdown();
  }
});

Deno.test("h2c: requests multiplexed on one connection, bodies both ways, one listener connection", async () => {
  const handler: ServeHandler = async (req, info) => {
    const body = new Uint8Array(await req.arrayBuffer());
    const port = (info.remoteAddr as Deno.NetAddr).port;
    return new Response(`${req.method} ${new URL(req.url).pathname} ${body.length} ${port}`);
  };
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler });
  // Deno's fetch with HTTP/2 only speaks h2c with prior knowledge (curl 7.88 can't reuse an
  // h2c connection, against Deno.serve itself too).
  const client = Deno.createHttpClient({ http1: false, http2: true });
  try {
    const base = `http://127.0.0.1:${l.port}`;
    const big = "x".repeat(300_000); // larger than the pipe's and HTTP/2's windows
    const up = await fetch(`${base}/up`, { client, method: "POST", body: big });
    assert.deepEqual(up.status, 200);
    const [method, path, length, port] = (await up.text()).split(" ");
    assert.deepEqual([method, path, length], ["POST", "/up", "300000"]);
    const texts = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => fetch(`${base}/p${i}`, { client }).then((r) => r.text()),
      ),
    );
    // All 20 on the connection of the first: the same client port, one listener connection.
    assert.deepEqual(new Set(texts.map((t) => t.split(" ")[3])), new Set([port]));
    assert.deepEqual(l.guard.connections, 1);
  } finally {
    client.close();
    await l.shutdown();
  }
});

Deno.test("h2c: handler errors are a 500; too many request headers a 431; nothing crashes", async () => {
  const handler: ServeHandler = (req) => {
    if (req.url.endsWith("/throw")) throw new Error("boom");
    return new Response("ok");
  };
  const limits = { ...DEFAULT_LIMITS, maxRequestHeaders: 20 };
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler, limits });
  try {
    const base = `http://127.0.0.1:${l.port}`;
    const thrown = await curlInfo(["--http2-prior-knowledge", `${base}/throw`]);
    assert.deepEqual([thrown.status, thrown.version], [500, "2"]);
    const many = Array.from({ length: 30 }, (_, i) => ["-H", `x-h${i}: v`]).flat();
    const tooMany = await curlInfo(["--http2-prior-knowledge", ...many, `${base}/`]);
    assert.deepEqual(tooMany.status, 431);
    // A client that vanishes mid-connection: the listener goes on.
    const s = await connect(l.port);
    s.write(PREFACE);
    s.destroy();
    const after = await curlInfo(["--http2-prior-knowledge", `${base}/`]);
    assert.deepEqual([after.status, after.body], [200, "ok"]);
  } finally {
    await l.shutdown();
  }
});

Deno.test("h2c counts against max connections; the preface and first request are timed", async () => {
  const limits = { ...DEFAULT_LIMITS, maxConnections: 2, requestHeadersTimeoutMs: 300 };
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler: echo, limits });
  const held: net.Socket[] = [];
  try {
    // Two h2c connections held open by real h2 clients (curl with a slow upload).
    for (let i = 0; i < 2; i++) {
      const s = await connect(l.port);
      s.on("error", () => {});
      s.write(PREFACE);
      held.push(s);
    }
    const deadline = Date.now() + 2_000;
    while (l.guard.connections < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(l.guard.connections, 2);
    const third = await curlInfo(["--http2-prior-knowledge", `http://127.0.0.1:${l.port}/`]);
    assert.deepEqual(third.status, 0, "refused beyond --max-connections");
    assert(l.guard.refused >= 1);
    // A preface with no request after it is closed after the headers timeout.
    assert(await closedWithin(held[0], 2_000), "preface without a request closed");
    assert(await closedWithin(held[1], 2_000));
    // A proper prefix of the preface that stalls is closed too.
    const partial = await connect(l.port);
    partial.on("error", () => {});
    partial.write("PRI * HTTP/2.0\r\n");
    assert(await closedWithin(partial, 2_000), "stalled preface closed");
    // HTTP/1.1 starting like the preface ("P...") still works once it differs.
    const h1 = await connect(l.port);
    const got = new Promise<string>((resolve) => {
      let text = "";
      h1.on("data", (d: Uint8Array) => {
        text += new TextDecoder().decode(d);
        if (text.includes("\r\n\r\n")) resolve(text);
      });
      h1.on("close", () => resolve(text));
    });
    h1.write("P");
    await new Promise((r) => setTimeout(r, 50));
    h1.write("OST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n");
    assert((await got).startsWith("HTTP/1.1 200"), await got);
    h1.destroy();
    const ok = await curlInfo(["--http2-prior-knowledge", `http://127.0.0.1:${l.port}/`]);
    assert.deepEqual(ok.status, 200, ok.stderr);
  } finally {
    for (const s of held) s.destroy();
    await l.shutdown();
  }
});

Deno.test("HTTPS: ALPN h2 is served over HTTP/2 with the https URL; MUTUAL keeps XFCC", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pki = await testPki(dir);
    const resolve = (port: number) => ["--resolve", `secure.example.com:${port}:127.0.0.1`];
    const simple = await serveHttp({
      name: "t",
      hostname: "127.0.0.1",
      port: 0,
      handler: echo,
      tls: pki.server,
    });
    try {
      const url = `https://secure.example.com:${simple.port}/s`;
      for (const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]) {
        const r = await curlInfo([flag, "--cacert", pki.caPath, ...resolve(simple.port), url]);
        assert.deepEqual([r.status, r.version], [200, version], r.stderr);
        const seen = JSON.parse(r.body);
        assert.deepEqual(seen.url, url);
        assert.deepEqual(seen.remote, `127.0.0.1:${r.localPort}`);
        assert.deepEqual(seen.xfcc, null);
      }
    } finally {
      await simple.shutdown();
    }
    const mutual = await serveHttp({
      name: "t",
      hostname: "127.0.0.1",
      port: 0,
      handler: echo,
      tls: { ...pki.server, ca: pki.ca },
    });
    try {
      const url = `https://secure.example.com:${mutual.port}/m`;
      const r = await curlInfo([
        "--http2",
        "--cacert",
        pki.caPath,
        "--cert",
        pki.clientCertPath,
        "--key",
        pki.clientKeyPath,
        "-H",
        "x-forwarded-client-cert: forged",
        ...resolve(mutual.port),
        url,
      ]);
      assert.deepEqual([r.status, r.version], [200, "2"], r.stderr);
      const seen = JSON.parse(r.body);
      assert(seen.xfcc.includes("URI=spiffe://ext/client"), seen.xfcc);
      assert(!seen.xfcc.includes("forged"));
      assert.deepEqual(seen.verified, true);
      assert.deepEqual(seen.remote, `127.0.0.1:${r.localPort}`);
    } finally {
      await mutual.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A client of mesh's codec connected to `port`. */
function h2Client(port: number): Promise<H2Connection> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      resolve(new H2Connection(s, { role: "client" }));
    });
    s.on("error", reject);
  });
}

function req(path: string, method = "GET", extra: [string, string][] = []): [string, string][] {
  return [[":method", method], [":scheme", "http"], [":path", path], [
    ":authority",
    "svc.test",
  ], ...extra];
}

const enc2 = new TextEncoder();

Deno.test("h2: trailers both ways (request trailers to the handler, response trailers to the client)", async () => {
  let seenTrailers: [string, string][] = [];
  let seenCookie: string | null = null;
  const handler: ServeHandler = async (r) => {
    if (r.method === "GET") {
      return withTrailers(new Response(null), Promise.resolve([["grpc-status", "12"]]));
    }
    const body = await r.text();
    seenTrailers = await trailersOf(r);
    seenCookie = r.headers.get("cookie");
    const res = new Response(`got ${body}`, { headers: { "content-type": "application/grpc" } });
    return withTrailers(res, Promise.resolve([["grpc-status", "0"], ["grpc-message", "ok"]]));
  };
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler });
  const c = await h2Client(l.port);
  try {
    const s = c.request(req("/svc/M", "POST", [["te", "trailers"], ["cookie", "a=1"], [
      "cookie",
      "b=2",
    ]]));
    await s.write(enc2.encode("hello"));
    await s.end([["x-req-trailer", "yes"]]);
    const head = await s.response;
    assert.deepEqual(head.find(([k]) => k === ":status")?.[1], "200");
    assert.deepEqual(new TextDecoder().decode(await s.body.bytes()), "got hello");
    assert.deepEqual(await s.trailers, [["grpc-status", "0"], ["grpc-message", "ok"]]);
    assert.deepEqual(seenTrailers, [["x-req-trailer", "yes"]]);
    assert.deepEqual(seenCookie, "a=1; b=2");
    // A trailers-only answer (no body, trailers attached): HEADERS, then trailers.
    const only = c.request(req("/none"), { endStream: true });
    await only.response;
    assert.deepEqual((await only.body.bytes()).length, 0);
    assert.deepEqual(await only.trailers, [["grpc-status", "12"]]);
  } finally {
    await c.close();
    await l.shutdown();
  }
});

Deno.test("h2: backpressure both ways: the handler pulls the request body, the client's window holds the response", async () => {
  let pulled = 0;
  let produced = 0;
  let cancelled: unknown = undefined;
  const released = Promise.withResolvers<void>();
  const handler: ServeHandler = (r) => {
    if (r.url.endsWith("/slow-reader")) {
      // Reads one chunk, then holds the request body without reading.
      const reader = r.body!.getReader();
      return reader.read().then(({ value }) => {
        pulled += value?.length ?? 0;
        return new Response("held");
      });
    }
    // An endless response body: only what the client's windows take is produced.
    const chunk = new Uint8Array(16 * 1024);
    return new Response(
      new ReadableStream<Uint8Array>({
        pull: (ctl) => {
          produced += chunk.length;
          ctl.enqueue(chunk);
        },
        cancel: (why) => {
          cancelled = why ?? "cancelled";
          released.resolve();
        },
      }, { highWaterMark: 0 }),
    );
  };
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler });
  const c = await h2Client(l.port);
  try {
    // Upload 5 MB while the handler reads 1 chunk: the client's writes stall at the windows.
    const up = c.request(req("/slow-reader", "POST"));
    const big = new Uint8Array(64 * 1024);
    let sent = 0;
    const writing = (async () => {
      for (let i = 0; i < 80; i++) {
        await up.write(big);
        sent += big.length;
      }
    })().catch(() => {});
    const h = await up.response;
    assert.deepEqual(h.find(([k]) => k === ":status")?.[1], "200");
    await new Promise((r) => setTimeout(r, 300));
    assert(sent <= 2 * 1024 * 1024, `client could send ${sent} bytes to a handler not reading`);
    assert(pulled > 0);
    up.reset();
    await writing;

    // Download from an endless body without reading: production stops at the windows.
    const down = c.request(req("/endless"), { endStream: true });
    await down.response;
    await new Promise((r) => setTimeout(r, 300));
    assert(produced <= 3 * 1024 * 1024, `produced ${produced} bytes for a client not reading`);
    // The client resets: the handler's response body is cancelled (no leak).
    down.reset(H2_ERROR.CANCEL);
    await Promise.race([released.promise, new Promise((r) => setTimeout(r, 2_000))]);
    assert(cancelled !== undefined, "response body cancelled after the client's reset");
  } finally {
    await c.close();
    await l.shutdown();
  }
});

Deno.test("h2: HEAD and 204 answer without a body; a body error mid-way resets the stream; the connection goes on", async () => {
  const handler: ServeHandler = (r) => {
    const path = new URL(r.url).pathname;
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/broken") {
      let n = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull: (ctl) => {
            if (n++ === 0) ctl.enqueue(new Uint8Array(10));
            else ctl.error(new Error("upstream went away"));
          },
        }),
      );
    }
    return new Response("body", { headers: { "content-length": "4" } });
  };
  const l = await serveHttp({ name: "t", hostname: "127.0.0.1", port: 0, handler });
  const c = await h2Client(l.port);
  try {
    const head = c.request(req("/x", "HEAD"), { endStream: true });
    const hh = await head.response;
    assert.deepEqual(hh.find(([k]) => k === "content-length")?.[1], "4");
    assert.deepEqual((await head.body.bytes()).length, 0);
    const nc = c.request(req("/204"), { endStream: true });
    assert.deepEqual((await nc.response).find(([k]) => k === ":status")?.[1], "204");
    const broken = c.request(req("/broken"), { endStream: true });
    await broken.response;
    await assert.rejects(broken.body.bytes());
    const after = c.request(req("/x"), { endStream: true });
    await after.response;
    assert.deepEqual(new TextDecoder().decode(await after.body.bytes()), "body");
  } finally {
    await c.close();
    await l.shutdown();
  }
});
