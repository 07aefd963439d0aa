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
