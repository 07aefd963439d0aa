import assert from "node:assert/strict";
import { selfSignedCert } from "../../tests/self_signed.ts";
import net from "node:net";
import type { Endpoint } from "../../api/proxy_config.ts";
import { Upstreams } from "../forward.ts";
import { H2_ERROR } from "../h2/errors.ts";
import { h2Listen } from "../h2/testing.ts";
import type { H2Stream } from "../h2/stream.ts";
import { trailersOf } from "../trailers.ts";
import { byProtocol, type EndpointRequest, responseOf, UseHttp1 } from "./endpoint.ts";
import { H2EndpointClient } from "./h2_endpoint.ts";

const dec = new TextDecoder();
const ep = (port: number): Endpoint => ({ address: "127.0.0.1", port, mtls: false, labels: {} });
const get = (path: string): EndpointRequest => ({
  method: "GET",
  path,
  headers: [["host", "svc.example"], ["x-a", "1"]],
  body: null,
});

/** A server answering each request with its method, path and body length. */
function echo(s: H2Stream): void {
  (async () => {
    const body = await s.body.bytes();
    s.respond([[":status", "200"], ["x-authority", s.header(":authority") ?? ""]]);
    await s.write(new TextEncoder().encode(`${s.method} ${s.header(":path")} ${body.length}`));
    await s.end([["grpc-status", "0"]]);
  })().catch(() => {});
}

Deno.test("h2 endpoint: concurrent requests share one connection; host becomes :authority; trailers", async () => {
  const l = await h2Listen({ onStream: echo });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    const all = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const res = await client.send(get(`/r${i}`), { endpoint: ep(l.port), protocol: "http2" });
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers.find(([k]) => k === "x-authority"), [
        "x-authority",
        "svc.example",
      ]);
      const out = await responseOf(res);
      const text = await out.text();
      assert.deepEqual(await trailersOf(out), [["grpc-status", "0"]]);
      return text;
    }));
    assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => `GET /r${i} 0`));
    assert.equal(l.servers.length, 1);
    assert.equal(client.connections, 1);
  } finally {
    client.close();
    await l.close();
  }
});

/** A server that holds each response until `release()`. */
function holding() {
  const held: H2Stream[] = [];
  const arrived: (() => void)[] = [];
  return {
    held,
    onStream: (s: H2Stream) => {
      held.push(s);
      for (const a of arrived.splice(0)) a();
    },
    async until(n: number) {
      while (held.length < n) await new Promise<void>((r) => arrived.push(r));
    },
    release() {
      for (const s of held.splice(0)) echo(s);
    },
  };
}

Deno.test("h2 endpoint: another connection past the stream cap and past the peer's max concurrent streams", async () => {
  for (const o of [{ cap: 2, peerMax: 100 }, { cap: 100, peerMax: 2 }]) {
    const h = holding();
    const l = await h2Listen({
      onStream: h.onStream,
      server: { settings: { maxConcurrentStreams: o.peerMax } },
    });
    const client = new H2EndpointClient({
      dialer: new Upstreams(),
      maxStreamsPerConnection: o.cap,
    });
    try {
      // The first request learns the peer's SETTINGS.
      const first = client.send(get("/0"), { endpoint: ep(l.port) });
      await h.until(1);
      // One at a time, each after the server took the last (and its SETTINGS arrived).
      const rest = [];
      for (let i = 1; i < 5; i++) {
        rest.push(client.send(get(`/${i}`), { endpoint: ep(l.port) }));
        await h.until(i + 1);
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const r of [first, ...rest]) r.catch(() => {});
      await h.until(5);
      assert.equal(l.servers.length, 3, JSON.stringify(o));
      h.release();
      for (const r of await Promise.all([first, ...rest])) {
        assert.equal(r.status, 200);
        await r.body.cancel();
      }
    } finally {
      client.close();
      await l.close();
    }
  }
});

Deno.test("h2 endpoint: GOAWAY mid-traffic: in-flight requests finish, new ones go to a new connection", async () => {
  const h = holding();
  const l = await h2Listen({ onStream: h.onStream });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    const inflight = [0, 1, 2].map((i) => client.send(get(`/a${i}`), { endpoint: ep(l.port) }));
    await h.until(3);
    const first = l.servers[0];
    first.goaway();
    await new Promise((r) => setTimeout(r, 50)); // the GOAWAY arrives
    const after = client.send(get("/b"), { endpoint: ep(l.port) });
    await h.until(4);
    assert.equal(l.servers.length, 2);
    h.release();
    const texts = await Promise.all([...inflight, after].map(async (p) => {
      const r = await p;
      return dec.decode(new Uint8Array(await new Response(r.body).arrayBuffer()));
    }));
    assert.deepEqual(texts, ["GET /a0 0", "GET /a1 0", "GET /a2 0", "GET /b 0"]);
    const reason = await first.closed;
    assert.equal(reason.code, H2_ERROR.NO_ERROR);
    assert.equal(client.connections, 1);
  } finally {
    client.close();
    await l.close();
  }
});

Deno.test("h2 endpoint: a refused stream is retried once on a fresh connection (replayable body)", async () => {
  let n = 0;
  const l = await h2Listen({
    onStream: (s) => (n++ === 0 ? s.reset(H2_ERROR.REFUSED_STREAM) : echo(s)),
  });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    const res = await client.send(
      { ...get("/p"), method: "POST", body: new TextEncoder().encode("hello") },
      { endpoint: ep(l.port) },
    );
    assert.equal(
      dec.decode(new Uint8Array(await new Response(res.body).arrayBuffer())),
      "POST /p 5",
    );
    assert.equal(l.servers.length, 2);
    // A streamed body isn't replayed: the refusal reaches the caller.
    n = 0;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(3));
        c.close();
      },
    });
    await assert.rejects(
      client.send({ ...get("/s"), method: "POST", body }, { endpoint: ep(l.port) }),
      (e: Error & { retryable?: boolean }) => e.retryable === true,
    );
  } finally {
    client.close();
    await l.close();
  }
});

Deno.test("h2 endpoint: connection refused rejects with connected === false", async () => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    await assert.rejects(
      client.send(get("/"), { endpoint: ep(port) }),
      (e: { connected?: boolean }) => e.connected === false,
    );
    assert.equal(client.connections, 0);
    assert.equal(client.pools, 0);
  } finally {
    client.close();
  }
});

Deno.test("h2 endpoint: aborting before the head rejects and resets the stream; a cancelled body resets it", async () => {
  const resets: (Error | undefined)[] = [];
  const h = holding();
  const l = await h2Listen({
    onStream: (s) => {
      s.closed.then((e) => resets.push(e));
      h.onStream(s);
    },
  });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    const ac = new AbortController();
    const p = client.send(get("/slow"), { endpoint: ep(l.port) }, ac.signal);
    await h.until(1);
    ac.abort();
    await assert.rejects(p, (e: { connected?: boolean }) => e.connected !== false);
    while (resets.length < 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal((resets[0] as { code?: number }).code, H2_ERROR.CANCEL);
    // Cancelling a response body resets its stream.
    h.held.splice(0);
    const q = client.send(get("/body"), { endpoint: ep(l.port) });
    await h.until(1);
    const s = h.held.pop()!;
    s.respond([[":status", "200"]]);
    s.write(new Uint8Array(10)).catch(() => {});
    const res = await q;
    await res.body.cancel();
    while (resets.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal((resets[1] as { code?: number }).code, H2_ERROR.CANCEL);
    assert.equal(client.connections, 1); // the connection carries on
  } finally {
    client.close();
    await l.close();
  }
});

Deno.test("h2 endpoint: 8 MB each way, the request body pulled only as the server reads", async () => {
  const size = 8 * 1024 * 1024;
  let read = Promise.withResolvers<void>();
  const l = await h2Listen({
    onStream: (s) => {
      (async () => {
        await read.promise; // the server doesn't read at first
        s.respond([[":status", "200"]]);
        let n = 0;
        for await (const c of s.body) {
          n += c.length;
          await s.write(c); // echo, paced by the client's reading
        }
        await s.end();
        assert.equal(n, size);
      })().catch(() => {});
    },
  });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(5);
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulled >= size) return c.close();
        pulled += chunk.length;
        c.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
    const p = client.send({ ...get("/up"), method: "POST", body, length: size }, {
      endpoint: ep(l.port),
    });
    await new Promise((r) => setTimeout(r, 300));
    // Bounded by the server's windows (256 KiB stream, 1 MiB connection) and socket buffers.
    assert.ok(pulled < 4 * 1024 * 1024, `pulled ${pulled} before the server read`);
    read.resolve();
    const res = await p;
    let got = 0;
    for await (const c of res.body) {
      got += c.length;
      if (got === chunk.length) await new Promise((r) => setTimeout(r, 100)); // a slow reader
    }
    assert.equal(got, size);
    read = Promise.withResolvers<void>();
  } finally {
    client.close();
    await l.close();
  }
});

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "h2 endpoint: TLS origination with ALPN h2 against Deno.serve",
  ignore: !hasOpenssl,
}, async () => {
  const dir = await Deno.makeTempDir();
  const { cert, key } = await selfSignedCert(dir, { san: "DNS:localhost" });
  const ready = Promise.withResolvers<number>();
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    signal: ac.signal,
    onListen: ({ port }) => ready.resolve(port),
  }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(`${req.method} ${new URL(req.url).host} ${body.length}`);
  });
  const port = await ready.promise;
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  const target = {
    endpoint: ep(port),
    origination: {
      tls: { mode: "SIMPLE" as const, caCertificates: `${dir}/cert.pem` },
      host: "localhost",
    },
    protocol: "http2" as const,
  };
  try {
    const texts = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const r = await client.send(
        { ...get("/"), method: "POST", body: new Uint8Array(i * 1000) },
        target,
      );
      assert.equal(r.status, 200);
      return await (await responseOf(r)).text();
    }));
    assert.deepEqual(texts, Array.from({ length: 10 }, (_, i) => `POST svc.example ${i * 1000}`));
    assert.equal(client.connections, 1);
    // A certificate the origination doesn't trust: connected === false (the handshake failed).
    const bad = new H2EndpointClient({ dialer: new Upstreams() });
    await assert.rejects(
      bad.send(get("/"), {
        ...target,
        origination: { tls: { mode: "SIMPLE" }, host: "localhost" },
      }),
      (e: { connected?: boolean }) => e.connected === false,
    );
    bad.close();
  } finally {
    client.close();
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

const upgrade = (path: string): EndpointRequest => ({
  method: "GET",
  path,
  headers: [["host", "svc.example"], ["connection", "upgrade"], ["upgrade", "WebSocket"]],
  body: null,
});

Deno.test("h2 endpoint: an upgrade goes as extended CONNECT; 200 hands over the stream as a socket", async () => {
  const l = await h2Listen({
    server: { settings: { enableConnectProtocol: true } },
    onStream: (s) => {
      if (s.header(":path") === "/refuse") {
        s.body.cancel();
        return s.respond([[":status", "403"]], { endStream: true });
      }
      s.respond([[":status", "200"], ["x-protocol", s.header(":protocol") ?? ""]]);
      (async () => {
        for await (const c of s.body) await s.write(c);
        await s.end();
      })().catch(() => {});
    },
  });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  try {
    const res = await client.send(upgrade("/chat"), { endpoint: ep(l.port), protocol: "http2" });
    assert.equal(res.status, 101);
    assert.deepEqual(res.headers, [["x-protocol", "websocket"]]);
    const socket = res.upgrade!.socket;
    const back = new Promise<string>((r) =>
      socket.once("data", (c: Uint8Array) => r(dec.decode(c)))
    );
    socket.write(new TextEncoder().encode("ping"));
    assert.equal(await back, "ping");
    socket.end();
    await new Promise((r) => socket.once("close", r));
    // Not switched: an ordinary response.
    const no = await client.send(upgrade("/refuse"), { endpoint: ep(l.port), protocol: "http2" });
    assert.equal(no.status, 403);
    assert.equal(no.upgrade, undefined);
    assert.equal(l.servers.length, 1);
  } finally {
    client.close();
    await l.close();
  }
});

Deno.test("h2 endpoint: an upgrade to a peer without extended CONNECT goes as HTTP/1.1 (byProtocol)", async () => {
  const l = await h2Listen({ onStream: echo });
  const client = new H2EndpointClient({ dialer: new Upstreams() });
  const http1: EndpointRequest[] = [];
  const both = byProtocol({
    http2: client,
    http1: {
      send: (req) => {
        http1.push(req);
        return Promise.resolve({
          status: 426,
          statusText: "",
          headers: [],
          body: new ReadableStream(),
        });
      },
    },
  });
  try {
    await assert.rejects(
      client.send(upgrade("/chat"), { endpoint: ep(l.port), protocol: "http2" }),
      UseHttp1,
    );
    const res = await both.send(upgrade("/chat"), { endpoint: ep(l.port), protocol: "http2" });
    assert.equal(res.status, 426);
    assert.equal(http1.length, 1);
    // Ordinary requests still go over HTTP/2.
    assert.equal(
      (await both.send(get("/x"), { endpoint: ep(l.port), protocol: "http2" })).status,
      200,
    );
    assert.equal(http1.length, 1);
  } finally {
    client.close();
    await l.close();
  }
});
