/** Client and server of this codec against each other over real sockets on 127.0.0.1. */
import assert from "node:assert/strict";
import { H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";
import type { H2Stream } from "./stream.ts";
import { get, h2Pair } from "./testing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Yields to the event loop (lets the peer's frames arrive), without a fixed sleep. */
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("connection: GET and POST with trailers, 300 concurrent streams over a limit of 50", async () => {
  const p = await h2Pair({
    server: { settings: { maxConcurrentStreams: 50 } },
    onStream: async (s) => {
      const body = await s.body.bytes();
      const trailers = await s.trailers;
      s.respond([[":status", "200"], ["x-method", s.method]]);
      await s.write(enc.encode(`${s.header(":path")}:${dec.decode(body)}`));
      await s.end([["x-got-trailer", trailers.find(([n]) => n === "x-t")?.[1] ?? "none"]]);
    },
  });
  const get1 = p.client.request(get("/a"), { endStream: true });
  assert.deepEqual(await get1.response, [[":status", "200"], ["x-method", "GET"]]);
  assert.equal(dec.decode(await get1.body.bytes()), "/a:");
  assert.deepEqual(await get1.trailers, [["x-got-trailer", "none"]]);
  assert.equal(await get1.closed, undefined);

  const streams = Array.from({ length: 300 }, (_, i) => {
    const s = p.client.request(get(`/p${i}`, "POST"));
    s.write(enc.encode(`body${i}`));
    s.end([["x-t", `t${i}`]]);
    return s;
  });
  assert.ok(p.client.activeStreams <= 300);
  const out = await Promise.all(streams.map(async (s, i) => {
    const h = await s.response;
    assert.equal(h[1][1], "POST");
    assert.equal(dec.decode(await s.body.bytes()), `/p${i}:body${i}`);
    assert.deepEqual(await s.trailers, [["x-got-trailer", `t${i}`]]);
    return s.id;
  }));
  assert.equal(new Set(out).size, 300);
  assert.ok(out.every((id) => id % 2 === 1));
  await turn();
  assert.equal(p.client.activeStreams, 0);
  assert.equal((await p.server).activeStreams, 0);
  const rtt = await p.client.ping();
  assert.ok(rtt >= 0);
  assert.deepEqual(await p.client.close(), { code: H2_ERROR.NO_ERROR, by: "local" });
  await p.close();
});

Deno.test("connection: 20 MB each way; a slow reader keeps both sides' buffers within the window", async () => {
  const WINDOW = 64 * 1024;
  const TOTAL = 20 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  const FRAME = 16384 + 9;
  let serverMax = 0;
  let clientSendMax = 0;
  let serverSendMax = 0;
  let clientMax = 0;
  let server: H2Stream | undefined;
  const settings = { initialWindowSize: WINDOW };
  const p = await h2Pair({
    server: { settings, connectionWindow: 4 * WINDOW },
    client: { settings, connectionWindow: 4 * WINDOW },
    onStream: async (s) => {
      server = s;
      let n = 0;
      let reads = 0;
      for await (const c of s.body) {
        n += c.length;
        serverMax = Math.max(serverMax, s.body.buffered + c.length);
        if (++reads % 4 === 0) await turn(); // slow: the peer's writes must wait
      }
      s.respond([[":status", "200"], ["x-received", String(n)]]);
      const chunk = new Uint8Array(CHUNK).fill(2);
      for (let sent = 0; sent < TOTAL; sent += CHUNK) {
        await s.write(chunk);
        serverSendMax = Math.max(serverSendMax, s.bufferedOutgoing + p.servers[0].bufferedOutgoing);
      }
      await s.end();
    },
  });
  const s = p.client.request(get("/big", "PUT"));
  const chunk = new Uint8Array(CHUNK).fill(1);
  const t0 = performance.now();
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    await s.write(chunk);
    clientSendMax = Math.max(clientSendMax, s.bufferedOutgoing + p.client.bufferedOutgoing);
  }
  await s.end();
  const h = await s.response;
  assert.equal(h.find(([n]) => n === "x-received")?.[1], String(TOTAL));
  let n = 0;
  let reads = 0;
  for await (const c of s.body) {
    n += c.length;
    clientMax = Math.max(clientMax, s.body.buffered + c.length);
    if (++reads % 4 === 0) await turn();
  }
  const ms = performance.now() - t0;
  assert.equal(n, TOTAL);
  assert.ok(server);
  // What a receiver holds never exceeds its stream window; a sender holds at most the
  // window in flight plus the chunk being written and one frame.
  assert.ok(serverMax <= WINDOW, `server buffered ${serverMax}`);
  assert.ok(clientMax <= WINDOW, `client buffered ${clientMax}`);
  assert.ok(clientSendMax <= WINDOW + CHUNK + FRAME, `client sender held ${clientSendMax}`);
  assert.ok(serverSendMax <= WINDOW + CHUNK + FRAME, `server sender held ${serverSendMax}`);
  console.log(
    `40 MB through 64 KiB windows with slow readers: ${(40 / (ms / 1000)).toFixed(1)} MB/s`,
  );
  await p.close();
});

Deno.test("connection: RST_STREAM from each side settles both ends", async () => {
  const held = Promise.withResolvers<H2Stream>();
  const p = await h2Pair({
    onStream: (s) => {
      if (s.header(":path") === "/server-resets") {
        s.respond([[":status", "200"]]);
        s.write(enc.encode("partial")).then(() => s.reset(H2_ERROR.INTERNAL_ERROR));
        return;
      }
      s.respond([[":status", "200"]]);
      s.write(enc.encode("first"));
      held.resolve(s);
    },
  });
  // The client resets.
  const a = p.client.request(get("/client-resets"), { endStream: true });
  await a.response;
  assert.equal(dec.decode((await a.body.read())!), "first");
  const srv = await held.promise;
  a.reset(H2_ERROR.CANCEL);
  const srvErr = await srv.closed;
  assert.ok(srvErr instanceof H2StreamError && srvErr.code === H2_ERROR.CANCEL && srvErr.remote);
  await assert.rejects(srv.write(enc.encode("more")), H2StreamError);
  assert.ok((await a.closed) instanceof H2StreamError);
  // The server resets.
  const b = p.client.request(get("/server-resets"), { endStream: true });
  await b.response;
  await assert.rejects(
    b.body.bytes(),
    (e) => e instanceof H2StreamError && e.code === H2_ERROR.INTERNAL_ERROR && e.remote,
  );
  await assert.rejects(b.trailers, H2StreamError);
  // The connection carries on.
  const c = p.client.request(get("/client-resets"), { endStream: true });
  assert.equal((await c.response)[0][1], "200");
  c.reset();
  await p.close();
});

Deno.test("connection: graceful GOAWAY lets in-flight streams finish and refuses new ones as retryable", async () => {
  const release = Promise.withResolvers<void>();
  let started = 0;
  const allStarted = Promise.withResolvers<void>();
  const p = await h2Pair({
    onStream: async (s) => {
      if (++started === 5) allStarted.resolve();
      await release.promise;
      s.respond([[":status", "200"]]);
      await s.write(enc.encode(`done ${s.header(":path")}`));
      await s.end();
    },
  });
  const inflight = Array.from(
    { length: 5 },
    (_, i) => p.client.request(get(`/${i}`), { endStream: true }),
  );
  await allStarted.promise;
  const server = await p.server;
  const closing = server.close();
  // The client learns of the GOAWAY: new requests fail at once, retryable.
  await p.client.ping();
  const late = p.client.request(get("/late"), { endStream: true });
  await assert.rejects(late.response, (e) => e instanceof H2StreamError && e.retryable);
  release.resolve();
  const bodies = await Promise.all(inflight.map(async (s) => dec.decode(await s.body.bytes())));
  assert.deepEqual(bodies, [0, 1, 2, 3, 4].map((i) => `done /${i}`));
  assert.deepEqual(await closing, { code: H2_ERROR.NO_ERROR, by: "local" });
  assert.deepEqual(await p.client.closed, { code: H2_ERROR.NO_ERROR, by: "peer" });
  await p.close();
});

Deno.test("connection: on GOAWAY a client fails streams above the last stream id, retryable", async () => {
  const p = await h2Pair({ onStream: () => {} }); // never answers
  const a = p.client.request(get("/a"), { endStream: true });
  const server = await p.server;
  await p.client.ping();
  await p.client.ping(); // the server has seen stream 1
  // A GOAWAY naming stream 1 as the last: stream 3, sent after, was never processed.
  const b = p.client.request(get("/b"), { endStream: true });
  server.goaway();
  await assert.rejects(
    b.response,
    (e) => e instanceof H2StreamError && e.retryable && e.code === H2_ERROR.REFUSED_STREAM,
  );
  assert.equal(a.state, "half-closed (local)");
  a.reset();
  await p.client.closed;
  await p.close();
});

Deno.test("connection: a header list over the limit is answered 431 and the connection goes on", async () => {
  const p = await h2Pair({
    server: { settings: { maxHeaderListSize: 8192 } },
    onStream: (s) => s.respond([[":status", "200"]], { endStream: true }),
  });
  const big = p.client.request([...get("/big"), ["x-big", "a".repeat(20_000)]], {
    endStream: true,
  });
  const h = await big.response;
  assert.equal(h[0][1], "431");
  assert.match(dec.decode(await big.body.bytes()), /too large/);
  const ok = p.client.request(get("/ok"), { endStream: true });
  assert.equal((await ok.response)[0][1], "200");
  await p.close();
});

Deno.test("connection: a socket destroyed mid-stream settles every pending promise", async () => {
  const srvStream = Promise.withResolvers<H2Stream>();
  const p = await h2Pair({
    onStream: (s) => {
      s.respond([[":status", "200"]]);
      s.write(enc.encode("part"));
      srvStream.resolve(s);
    },
  });
  const s = p.client.request(get("/", "POST"));
  const pendingWrite = s.write(new Uint8Array(1 << 20)); // more than the window: stays pending
  await s.response;
  const srv = await srvStream.promise;
  const srvRead = srv.body.bytes();
  const ping = p.client.ping();
  const server = await p.server;
  // The socket goes, mid-body both ways.
  (server as unknown as { destroy(): void }).destroy();
  const results = await Promise.allSettled([
    pendingWrite,
    s.body.bytes(),
    s.trailers,
    srvRead,
    srv.trailers,
    ping,
  ]);
  assert.deepEqual(results.map((r) => r.status), [
    "rejected",
    "rejected",
    "rejected",
    "rejected",
    "rejected",
    "rejected",
  ]);
  assert.ok((await s.closed) instanceof Error);
  assert.ok((await srv.closed) instanceof Error);
  const reason = await p.client.closed;
  assert.notEqual(reason.code, H2_ERROR.NO_ERROR);
  assert.equal((await server.closed).by, "local");
  // Requests on a closed connection fail, retryable; nothing throws.
  await assert.rejects(p.client.request(get("/"), { endStream: true }).response, H2StreamError);
  await assert.rejects(p.client.ping(), H2ConnectionError);
  await p.close();
});

Deno.test("connection: throughput of one stream and of small requests (printed)", async () => {
  const TOTAL = 64 * 1024 * 1024;
  const p = await h2Pair({
    onStream: async (s) => {
      if (s.header(":path") === "/small") {
        s.respond([[":status", "200"]]);
        await s.end();
        return;
      }
      let n = 0;
      for await (const c of s.body) n += c.length;
      s.respond([[":status", "200"], ["x-n", String(n)]], { endStream: true });
    },
  });
  const s = p.client.request(get("/bulk", "POST"));
  const chunk = new Uint8Array(256 * 1024);
  let t = performance.now();
  for (let sent = 0; sent < TOTAL; sent += chunk.length) await s.write(chunk);
  await s.end();
  assert.equal((await s.response)[1][1], String(TOTAL));
  const mbps = TOTAL / 1024 / 1024 / ((performance.now() - t) / 1000);
  const N = 5000;
  t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 100 }, async () => {
    while (next < N) {
      next++;
      const r = p.client.request(get("/small"), { endStream: true });
      await r.response;
      await r.closed;
    }
  }));
  const rps = N / ((performance.now() - t) / 1000);
  console.log(
    `one stream: ${mbps.toFixed(0)} MB/s; small requests: ${rps.toFixed(0)}/s (100 in flight)`,
  );
  await p.close();
});

Deno.test("connection: a server that gives up on a request body answers first, then asks the client to stop (NO_ERROR)", async () => {
  const p = await h2Pair({
    onStream: (s) => {
      s.body.cancel(); // a refusal that won't read the upload
      s.respond([[":status", "403"], ["content-type", "text/plain"]]);
      s.end();
    },
  });
  const s = p.client.request(get("/upload", "POST"));
  const chunk = new Uint8Array(16 * 1024);
  // The response arrives though the client is still sending.
  const writes = (async () => {
    for (let i = 0; i < 64; i++) await s.write(chunk);
  })().catch((e) => e);
  assert.equal((await s.response)[0][1], "403");
  // More DATA after the response: the server resets the stream with NO_ERROR, not CANCEL.
  const err = await s.closed;
  assert.ok(err instanceof H2StreamError, String(err));
  assert.equal(err.code, H2_ERROR.NO_ERROR);
  assert.ok(err.remote);
  await writes;
  // The connection is fine.
  const next = p.client.request(get("/next"), { endStream: true });
  assert.equal((await next.response)[0][1], "403");
  await p.close();
});
