/**
 * The proxy's HTTP/1.1 client and server against each other and against real
 * peers (Deno.serve, curl), over plain TCP and mesh mTLS.
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { H1Pool, UpstreamError } from "./h1_client.ts";
import { type H1Handler, serveH1 } from "./h1_server.ts";
import { ChunkedDecoder } from "./h1_codec.ts";

function h1Server(handler: H1Handler): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    serveH1(s, handler);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

const text = async (s: ReadableStream<Uint8Array>) => await new Response(s).text();

Deno.test("chunked decoder handles sizes, extensions, split input and trailers", () => {
  const d = new ChunkedDecoder();
  const out: string[] = [];
  const input = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
  const bytes = new TextEncoder().encode(input);
  let used = 0;
  for (let i = 0; i < bytes.length && !d.done; i += 3) {
    const r = d.feed(
      bytes.subarray(i, Math.min(i + 3, bytes.length)),
      (c) => out.push(new TextDecoder().decode(c)),
    );
    assert.equal(typeof r, "number");
    used = i + (r as number);
  }
  assert.equal(out.join(""), "hello world");
  assert.ok(d.done);
  assert.equal(new TextDecoder().decode(bytes.subarray(used)), "NEXT");
  assert.match(
    String(new ChunkedDecoder().feed(new TextEncoder().encode("zz\r\n"), () => {})),
    /bad chunk size/,
  );
});

Deno.test("client and server: keep-alive reuse, bodies both ways, HEAD and 204", async () => {
  const srv = await h1Server(async (req) => {
    const body = req.body ? await text(req.body) : "";
    if (req.target === "/empty") return { status: 204, headers: [], body: null };
    if (req.target === "/stream") {
      const chunks = ["a", "bb", "ccc"];
      return {
        status: 200,
        headers: [["x-kind", "stream"]],
        body: new ReadableStream({
          pull: (c) =>
            chunks.length ? c.enqueue(new TextEncoder().encode(chunks.shift()!)) : c.close(),
        }),
      };
    }
    return {
      status: 200,
      headers: [["content-type", "text/plain"]],
      body: `${req.method} ${req.target} ${body}`,
    };
  });
  const pool = new H1Pool(() => net.connect({ host: "127.0.0.1", port: srv.port }));
  try {
    for (let i = 0; i < 20; i++) {
      const r = await pool.request({
        method: "GET",
        path: `/n${i}`,
        headers: [["host", "x"]],
        body: null,
      });
      assert.equal(r.status, 200);
      assert.equal(await text(r.body), `GET /n${i} `);
    }
    assert.equal(pool.size, 1, "one connection carried all sequential requests");

    const post = await pool.request({
      method: "POST",
      path: "/p",
      headers: [["host", "x"]],
      body: new TextEncoder().encode("data"),
    });
    assert.equal(await text(post.body), "POST /p data");

    const streamed = await pool.request({
      method: "PUT",
      path: "/s",
      headers: [["host", "x"]],
      body: new ReadableStream({
        start: (
          c,
        ) => (c.enqueue(new TextEncoder().encode("one-")),
          c.enqueue(new TextEncoder().encode("two")),
          c.close()),
      }),
    });
    assert.equal(await text(streamed.body), "PUT /s one-two");

    const chunked = await pool.request({
      method: "GET",
      path: "/stream",
      headers: [["host", "x"]],
      body: null,
    });
    assert.equal(chunked.headers.find(([k]) => k === "transfer-encoding")?.[1], "chunked");
    assert.equal(await text(chunked.body), "abbccc");

    const head = await pool.request({
      method: "HEAD",
      path: "/h",
      headers: [["host", "x"]],
      body: null,
    });
    assert.equal(head.status, 200);
    assert.equal(await text(head.body), "");
    const empty = await pool.request({
      method: "GET",
      path: "/empty",
      headers: [["host", "x"]],
      body: null,
    });
    assert.equal(empty.status, 204);
    assert.equal(await text(empty.body), "");

    // Still one connection, and it still works.
    const again = await pool.request({
      method: "GET",
      path: "/again",
      headers: [["host", "x"]],
      body: null,
    });
    assert.equal(await text(again.body), "GET /again ");
    assert.equal(pool.size, 1);
  } finally {
    pool.close();
    await srv.close();
  }
});

Deno.test("client retries once when a reused connection dies before answering", async () => {
  // Each connection answers its first request, then drops the connection on the next one,
  // as a server whose idle timeout fired at the wrong moment.
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    let n = 0;
    s.on("data", () => {
      if (n++ === 0) s.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      else s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const pool = new H1Pool(() => net.connect({ host: "127.0.0.1", port }));
  try {
    for (let i = 0; i < 3; i++) {
      const r = await pool.request({ method: "GET", path: "/", headers: [], body: null });
      assert.equal(await text(r.body), "ok");
    }
    assert.equal(connections, 3, "each retry used a new connection");
    // A request with a streamed body is not retried: the error surfaces.
    await assert.rejects(
      pool.request({
        method: "POST",
        path: "/",
        headers: [],
        body: new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) }),
      }),
    );
  } finally {
    pool.close();
    await new Promise((r) => server.close(r));
  }
});

Deno.test("server answers malformed requests with 400 and pipelined requests in order", async () => {
  const srv = await h1Server((req) => ({ status: 200, headers: [], body: req.target }));
  try {
    const talk = (raw: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port: srv.port }, () => s.write(raw));
        let out = "";
        s.setEncoding("utf8");
        s.on("data", (c: string) => out += c);
        s.on("close", () => resolve(out));
        setTimeout(() => s.end(), 300);
      });
    assert.match(await talk("NOT HTTP\r\n\r\n"), /^HTTP\/1\.1 400 /);
    const two = await talk("GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n");
    assert.ok(two.indexOf("/a") < two.indexOf("/b") && two.includes("/b"), two);
  } finally {
    await srv.close();
  }
});

Deno.test("client talks to Deno.serve and server to curl", async () => {
  const ds = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) =>
      new Response(
        `${req.method} ${new URL(req.url).pathname} ${req.body ? (await req.text()).length : 0}`,
      ),
  );
  const pool = new H1Pool(() => net.connect({ host: "127.0.0.1", port: ds.addr.port }));
  try {
    const big = new Uint8Array(1 << 20).fill(97);
    const r = await pool.request({
      method: "POST",
      path: "/big",
      headers: [["host", "x"]],
      body: big,
    });
    assert.equal(await text(r.body), "POST /big 1048576");
  } finally {
    pool.close();
    await ds.shutdown();
  }
  const srv = await h1Server(async (req) => ({
    status: 201,
    headers: [["x-a", "b"]],
    body: `got ${req.body ? (await text(req.body)).length : 0}`,
  }));
  try {
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-i",
        "--data-binary",
        "@-",
        "-H",
        "Expect: 100-continue",
        `http://127.0.0.1:${srv.port}/up`,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new Uint8Array(200_000).fill(98));
    await w.close();
    const res = new TextDecoder().decode((await out.output()).stdout);
    assert.match(res, /HTTP\/1\.1 201/);
    assert.match(res, /got 200000/);
  } finally {
    await srv.close();
  }
});

Deno.test("client errors say whether the connection was ever established; a signal aborts", async () => {
  // Nothing listens on a port we just closed: a connect failure.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (l.addr as Deno.NetAddr).port;
  l.close();
  const refused = new H1Pool(() => net.connect({ host: "127.0.0.1", port: closedPort }));
  const err = await refused.request({ method: "GET", path: "/", headers: [], body: null })
    .catch((e) => e);
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.connected, false);

  // A server that accepts and closes without answering: established, then reset.
  const srv = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of srv) {
      await c.read(new Uint8Array(1024)).catch(() => null);
      c.close();
    }
  })();
  const port = (srv.addr as Deno.NetAddr).port;
  const resets = new H1Pool(() => net.connect({ host: "127.0.0.1", port }));
  const err2 = await resets.request({ method: "GET", path: "/", headers: [], body: null })
    .catch((e) => e);
  assert.ok(err2 instanceof UpstreamError, String(err2));
  assert.equal(err2.connected, true);

  // An aborted signal fails the request at once and isn't retried.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of silent) held.push(c);
  })();
  const pool = new H1Pool(() =>
    net.connect({ host: "127.0.0.1", port: (silent.addr as Deno.NetAddr).port })
  );
  const ac = new AbortController();
  const pending = pool.request({
    method: "GET",
    path: "/",
    headers: [],
    body: null,
    signal: ac.signal,
  })
    .catch((e) => e);
  setTimeout(() => ac.abort(), 50);
  const err3 = await pending;
  assert.match(String(err3), /aborted/);
  srv.close();
  silent.close();
  for (const c of held) c.close();
});

Deno.test("H1Pool: a connection (TLS handshake included) that takes too long fails with a connect timeout", async () => {
  // A server that accepts and then says nothing: the TLS handshake never ends.
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  const port = (silent.address() as net.AddressInfo).port;
  const pool = new H1Pool(
    () => tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }),
    8,
    100,
  );
  try {
    await assert.rejects(
      () => pool.request({ method: "GET", path: "/", headers: [["host", "x"]], body: null }),
      /connect timeout after 100 ms/,
    );
  } finally {
    pool.close();
    silent.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Strict parsing and connection limits (shared by the inbound and the routed listeners)

/** Sends `bytes` on a new connection and returns everything the server sent until it closed. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => s.write(bytes));
    let out = "";
    s.on("data", (c: Uint8Array) => out += new TextDecoder("latin1").decode(c));
    s.on("error", () => {});
    s.on("close", () => resolve(out));
  });
}

Deno.test("server refuses smuggling and malformed heads with 400/431/501; the handler never sees them", async () => {
  const seen: string[] = [];
  const srv = await h1Server(async (req) => {
    seen.push(req.target);
    if (req.body) await text(req.body);
    return { status: 200, headers: [], body: "ok" };
  });
  const many = Array.from({ length: 101 }, (_, i) => `x-h${i}: v\r\n`).join("");
  const cases: [string, string, number][] = [
    ["bare LF", "GET /a HTTP/1.1\nhost: a\n\n", 400],
    ["bare LF in one line", "GET /a HTTP/1.1\r\nhost: a\nx: y\r\n\r\n", 400],
    [
      "TE x, chunked",
      "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: x, chunked\r\n\r\n0\r\n\r\n",
      501,
    ],
    ["TE chunked, x", "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, x\r\n\r\n", 501],
    ["TE identity", "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: identity\r\n\r\n", 501],
    [
      "two TE headers",
      "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
      501,
    ],
    [
      "CL + TE",
      "POST /a HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "differing CL",
      "POST /a HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
      400,
    ],
    ["CL not a number", "POST /a HTTP/1.1\r\nhost: a\r\ncontent-length: +1\r\n\r\na", 400],
    ["CL list", "POST /a HTTP/1.1\r\nhost: a\r\ncontent-length: 1, 1\r\n\r\na", 400],
    ["obs-fold", "GET /a HTTP/1.1\r\nhost: a\r\nx: 1\r\n  2\r\n\r\n", 400],
    ["space before colon", "GET /a HTTP/1.1\r\nhost : a\r\n\r\n", 400],
    ["bad name", "GET /a HTTP/1.1\r\nhost: a\r\nx(y): 1\r\n\r\n", 400],
    ["NUL in value", "GET /a HTTP/1.1\r\nhost: a\r\nx: 1\x002\r\n\r\n", 400],
    ["CR in value", "GET /a HTTP/1.1\r\nhost: a\r\nx: 1\r2\r\n\r\n", 400],
    ["no Host on 1.1", "GET /a HTTP/1.1\r\nx: 1\r\n\r\n", 400],
    ["two Hosts", "GET /a HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", 400],
    ["bad request line", "GET  /a HTTP/1.1\r\nhost: a\r\n\r\n", 400],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400],
    ["101 headers", `GET /a HTTP/1.1\r\nhost: a\r\n${many}\r\n`, 431],
    ["head over 60 KiB", `GET /a HTTP/1.1\r\nhost: a\r\nx: ${"a".repeat(61 * 1024)}\r\n\r\n`, 431],
    [
      "incomplete head over 60 KiB",
      `GET /a HTTP/1.1\r\nhost: a\r\nx: ${"a".repeat(61 * 1024)}`,
      431,
    ],
    [
      "bad chunk size",
      "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
      0,
    ],
    [
      "chunk size with bare LF",
      "POST /a HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
      0,
    ],
  ];
  try {
    for (const [what, bytes, status] of cases) {
      const out = await rawExchange(srv.port, bytes);
      if (status === 0) {
        // A bad chunk arrives after the handler started: the connection is reset, never a 200.
        assert.ok(!out.startsWith("HTTP/1.1 200"), `${what}: ${JSON.stringify(out.slice(0, 80))}`);
      } else {
        assert.match(
          out,
          new RegExp(`^HTTP/1\\.1 ${status} `),
          `${what}: ${JSON.stringify(out.slice(0, 80))}`,
        );
        assert.match(out, /connection: close/, what);
      }
    }
    assert.equal(
      seen.filter((t) => t === "/a").length,
      2,
      "only the two chunked cases reach the handler",
    );
    // What is allowed still is: HTTP/1.0 without Host, a chunk extension, trailers, leading CRLF.
    const ok = [
      "GET /ok HTTP/1.0\r\n\r\n",
      "\r\nGET /ok HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
      "POST /ok HTTP/1.1\r\nhost: a\r\nconnection: close\r\ntransfer-encoding: Chunked\r\n\r\n" +
      "5;x=1\r\nhello\r\n0\r\nx-t: 1\r\n\r\n",
      "GET /ok HTTP/1.1\r\nhost: a\r\nconnection: close\r\nx: \t tab \t\r\n\r\n",
    ];
    for (const bytes of ok) {
      const out = await rawExchange(srv.port, bytes);
      assert.match(out, /^HTTP\/1\.1 200 /, JSON.stringify(bytes));
    }
  } finally {
    await srv.close();
  }
});

Deno.test("client refuses responses with smuggling framing", async () => {
  const answers = [
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\ncontent-length: 2\n\nok",
    "HTTP/1.1 200 OK\r\nx: 1\r\n 2\r\ncontent-length: 2\r\n\r\nok",
  ];
  for (const answer of answers) {
    const server = net.createServer((s) => {
      s.on("error", () => {});
      s.once("data", () => s.end(answer));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const pool = new H1Pool(() => net.connect({ host: "127.0.0.1", port }));
    try {
      await assert.rejects(
        pool.request({ method: "GET", path: "/", headers: [["host", "x"]], body: null }),
        JSON.stringify(answer),
      );
    } finally {
      pool.close();
      await new Promise((r) => server.close(r));
    }
  }
});

Deno.test("server closes a head that doesn't arrive within the headers timeout, counted from its first byte", async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    serveH1(s, () => ({ status: 200, headers: [], body: "ok" }), undefined, {
      requestHeadersTimeoutMs: 300,
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    // One byte at a time, each well within the timeout: the head's clock isn't reset.
    const s = net.connect({ host: "127.0.0.1", port });
    let out = "";
    let sent = 0;
    s.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    const closed = new Promise<void>((r) => s.on("close", () => r()));
    s.on("error", () => {});
    const head = "GET / HTTP/1.1\r\nhost: a\r\nx-slow: " + "a".repeat(1000);
    const timer = setInterval(() => {
      if (sent < head.length && !s.destroyed) s.write(head[sent++]);
    }, 20);
    await closed;
    clearInterval(timer);
    assert.match(out, /^HTTP\/1\.1 408 /);
    assert.ok(sent < head.length, `closed after ${sent} bytes`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

Deno.test("a request body the handler doesn't read pauses the client socket (bounded buffering)", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  let serverSocket!: net.Socket;
  const server = net.createServer((s) => {
    serverSocket = s;
    serveH1(s, async (req) => {
      await released;
      const n = (await new Response(req.body).arrayBuffer()).byteLength;
      return { status: 200, headers: [], body: String(n) };
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const total = 64 * 1024 * 1024;
  const c = net.connect({ host: "127.0.0.1", port });
  let written = 0;
  let out = "";
  c.on("data", (d: Uint8Array) => out += new TextDecoder().decode(d));
  const chunk = new Uint8Array(64 * 1024);
  const pump = () => {
    while (written < total) {
      written += chunk.length;
      if (!c.write(chunk)) return; // wait for drain: the server isn't reading
    }
  };
  c.on("drain", pump);
  c.write(`POST / HTTP/1.1\r\nhost: a\r\ncontent-length: ${total}\r\n\r\n`);
  pump();
  try {
    // The writer stalls: the server stopped reading well before the 64 MiB were sent.
    let last = -1;
    for (let i = 0; i < 100 && written !== last; i++) {
      last = written;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(written < total / 2, `the client wrote ${written} bytes unhindered`);
    assert.ok(
      (serverSocket.bytesRead ?? 0) < 16 * 1024 * 1024,
      `server read ${serverSocket.bytesRead}`,
    );
    release();
    const done = new Promise<void>((r) => c.on("end", () => r()));
    await new Promise<void>((r) => {
      const check = () => out.includes(String(total)) ? r() : setTimeout(check, 20);
      check();
    });
    assert.match(out, new RegExp(`^HTTP/1\\.1 200 [\\s\\S]*${total}$`));
    c.end();
    await Promise.race([done, new Promise((r) => setTimeout(r, 100))]);
  } finally {
    c.destroy();
    serverSocket.destroy();
    await new Promise((r) => server.close(r));
  }
});
