/** The receiving side against a hand-driven peer: every protocol violation ends as RFC 9113 says. */
import assert from "node:assert/strict";
import { FakeClock } from "../../util/clock.ts";
import { H2_ERROR } from "./errors.ts";
import type { ReadItem } from "./frames.ts";
import type { HeaderField } from "./hpack.ts";
import type { H2ConnectionOptions } from "./options.ts";
import { SETTING } from "./settings.ts";
import type { H2Stream } from "./stream.ts";
import { get, h2Listen, RawPeer } from "./testing.ts";

const enc = new TextEncoder();

async function withPeer(
  o: { server?: Partial<H2ConnectionOptions>; onStream?: (s: H2Stream) => void },
  fn: (peer: RawPeer, seen: H2Stream[]) => Promise<void>,
): Promise<void> {
  const seen: H2Stream[] = [];
  const l = await h2Listen({
    server: o.server,
    onStream: (s) => {
      seen.push(s);
      (o.onStream ?? ((s) => s.respond([[":status", "200"]], { endStream: true })))(s);
    },
  });
  const peer = new RawPeer(l.port);
  try {
    await fn(peer, seen);
  } finally {
    await peer.close();
    await l.close();
  }
}

const goawayCode = async (peer: RawPeer) => (await peer.goaway()).code;

Deno.test("inbound: a bad preface, or a first frame other than SETTINGS, is PROTOCOL_ERROR", async () => {
  await withPeer({}, async (peer) => {
    peer.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal(await goawayCode(peer), H2_ERROR.PROTOCOL_ERROR);
    await peer.ended;
  });
  await withPeer({}, async (peer) => {
    peer.write(enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    peer.send({ type: "PING", ack: false, data: new Uint8Array(8) });
    assert.equal(await goawayCode(peer), H2_ERROR.PROTOCOL_ERROR);
  });
});

Deno.test("inbound: frames on idle streams, even ids and PUSH_PROMISE are connection errors", async () => {
  const cases: ((p: RawPeer) => void)[] = [
    (p) => p.send({ type: "DATA", streamId: 1, endStream: false, data: new Uint8Array(1) }),
    (p) => p.send({ type: "RST_STREAM", streamId: 5, code: 0 }),
    (p) => p.send({ type: "WINDOW_UPDATE", streamId: 3, increment: 1 }),
    (p) => p.headers(2, get("/")),
    (p) =>
      p.send({
        type: "PUSH_PROMISE",
        streamId: 1,
        promisedId: 2,
        endHeaders: true,
        block: new Uint8Array(0),
      }),
    (p) => p.send({ type: "SETTINGS", ack: false, settings: [[SETTING.ENABLE_PUSH, 7]] }),
    (p) => p.send({ type: "SETTINGS", ack: false, settings: [[SETTING.MAX_FRAME_SIZE, 100]] }),
    (p) => p.send({ type: "WINDOW_UPDATE", streamId: 0, increment: 0x7fffffff }),
    (p) =>
      p.send({ type: "CONTINUATION", streamId: 1, endHeaders: true, block: new Uint8Array(0) }),
  ];
  const expect = [
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
    H2_ERROR.FLOW_CONTROL_ERROR,
    H2_ERROR.PROTOCOL_ERROR,
  ];
  for (const [i, c] of cases.entries()) {
    await withPeer({}, async (peer) => {
      peer.start();
      c(peer);
      assert.equal(await goawayCode(peer), expect[i], `case ${i}`);
      await peer.ended;
    });
  }
});

Deno.test("inbound: malformed requests are reset with PROTOCOL_ERROR and never reach the handler", async () => {
  const bad: HeaderField[][] = [
    [...get("/"), ["X-Upper", "1"]],
    [...get("/"), ["connection", "keep-alive"]],
    [...get("/"), ["transfer-encoding", "chunked"]],
    [...get("/"), ["te", "gzip"]],
    [...get("/"), ["", "empty name"]],
    [...get("/"), ["x-bad", "a\rb"]],
    [["x-first", "1"], ...get("/")],
    [[":method", "GET"], [":scheme", "http"], [":authority", "a"]],
    [...get("/"), [":path", "/again"]],
    [...get("/"), [":status", "200"]],
    [...get("/"), ["host", "other"]],
    [...get("/"), ["content-length", "1"], ["content-length", "2"]],
  ];
  const onStream = (s: H2Stream) => {
    if (s.header(":path") === "/ok") s.respond([[":status", "200"]], { endStream: true });
  };
  await withPeer({ onStream }, async (peer, seen) => {
    peer.start();
    let id = 1;
    for (const fields of bad) {
      peer.headers(id, fields);
      assert.equal((await peer.rst(id)).code, H2_ERROR.PROTOCOL_ERROR, JSON.stringify(fields));
      id += 2;
    }
    // content-length disagreeing with DATA.
    peer.headers(id, [...get("/", "POST"), ["content-length", "5"]], false);
    peer.send({ type: "DATA", streamId: id, endStream: true, data: new Uint8Array(3) });
    assert.equal((await peer.rst(id)).code, H2_ERROR.PROTOCOL_ERROR);
    id += 2;
    peer.headers(id, [...get("/", "POST"), ["content-length", "2"]], false);
    peer.send({ type: "DATA", streamId: id, endStream: false, data: new Uint8Array(3) });
    assert.equal((await peer.rst(id)).code, H2_ERROR.PROTOCOL_ERROR);
    id += 2;
    // Trailers without END_STREAM, and a pseudo-header in trailers.
    peer.headers(id, get("/", "POST"), false);
    peer.headers(id, [["x-t", "1"]], false);
    assert.equal((await peer.rst(id)).code, H2_ERROR.PROTOCOL_ERROR);
    id += 2;
    // The connection is fine: a good request is answered.
    peer.headers(id, get("/ok"));
    assert.deepEqual(await peer.response(id), [[":status", "200"]]);
    assert.deepEqual(seen.map((s) => s.header(":path")), ["/", "/", "/", "/ok"]);
  });
});

Deno.test("inbound: streams over SETTINGS_MAX_CONCURRENT_STREAMS are REFUSED_STREAM", async () => {
  await withPeer(
    { server: { settings: { maxConcurrentStreams: 2 } }, onStream: () => {} },
    async (peer, seen) => {
      peer.start();
      peer.headers(1, get("/1"));
      peer.headers(3, get("/3"));
      peer.headers(5, get("/5"));
      assert.equal((await peer.rst(5)).code, H2_ERROR.REFUSED_STREAM);
      assert.equal(seen.length, 2);
      // A slot frees: the next stream is taken.
      seen[0].reset();
      await peer.rst(1);
      peer.headers(7, get("/7"));
      peer.send({ type: "PING", ack: false, data: new Uint8Array(8).fill(7) });
      await peer.waitFor((f) => f.type === "PING" && f.ack);
      assert.equal(seen.length, 3);
    },
  );
});

Deno.test("inbound: flow control: windows, SETTINGS_INITIAL_WINDOW_SIZE changes, overflow", async () => {
  const body = new Uint8Array(1000).fill(9);
  const onStream = (s: H2Stream) => {
    s.respond([[":status", "200"]]);
    s.write(body).then(() => s.end());
  };
  await withPeer({ onStream }, async (peer) => {
    peer.start([[SETTING.INITIAL_WINDOW_SIZE, 0]]);
    peer.headers(1, get("/"));
    await peer.response(1);
    // Window 0: no DATA until the window opens; then exactly what it allows.
    peer.send({ type: "SETTINGS", ack: false, settings: [[SETTING.INITIAL_WINDOW_SIZE, 100]] });
    const first = await peer.waitFor<Extract<ReadItem, { type: "DATA" }>>((f) => f.type === "DATA");
    assert.equal(first.data.length, 100);
    peer.send({ type: "WINDOW_UPDATE", streamId: 1, increment: 900 });
    await peer.waitFor((f) => f.type === "DATA" && f.endStream);
    const got = peer.frames.filter((f) => f.type === "DATA").reduce(
      (n, f) => n + (f as { data: Uint8Array }).data.length,
      0,
    );
    assert.equal(got, 1000);
  });
  await withPeer({ onStream: () => {} }, async (peer) => {
    peer.start();
    peer.headers(1, get("/"), false);
    peer.send({ type: "WINDOW_UPDATE", streamId: 1, increment: 0x7fffffff });
    assert.equal((await peer.rst(1)).code, H2_ERROR.FLOW_CONTROL_ERROR);
    // DATA over the stream window (the server's is 256 KiB by default, 64 KiB here).
  });
  await withPeer(
    { server: { settings: { initialWindowSize: 65535 } }, onStream: () => {} },
    async (peer) => {
      peer.start();
      await peer.waitFor((f) => f.type === "SETTINGS" && f.ack);
      peer.headers(1, get("/", "POST"), false);
      for (let i = 0; i < 4; i++) {
        peer.send({
          type: "DATA",
          streamId: 1,
          endStream: false,
          data: new Uint8Array(16384),
        });
      }
      assert.equal((await peer.rst(1)).code, H2_ERROR.FLOW_CONTROL_ERROR);
    },
  );
  await withPeer({ server: { settings: { initialWindowSize: 65535 } } }, async (peer) => {
    peer.start();
    peer.headers(1, get("/"));
    await peer.response(1);
    peer.send({ type: "WINDOW_UPDATE", streamId: 0, increment: 10 });
    peer.send({
      type: "SETTINGS",
      ack: false,
      settings: [[SETTING.INITIAL_WINDOW_SIZE, 0x7fffffff]],
    });
    // No stream is open any more: the change alone is fine; the connection lives.
    peer.send({ type: "PING", ack: false, data: new Uint8Array(8) });
    await peer.waitFor((f) => f.type === "PING" && f.ack);
  });
});

Deno.test("inbound: timeouts on a fake clock: SETTINGS ACK, idle, an unfinished header block", async () => {
  const clock = new FakeClock();
  const server = { clock, timeouts: { settingsAckMs: 5000, idleMs: 60_000, headersMs: 3000 } };
  await withPeer({ server }, async (peer) => {
    // Our SETTINGS, never acknowledged.
    peer.write(enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    peer.send({ type: "SETTINGS", ack: false, settings: [] });
    await peer.waitFor((f) => f.type === "SETTINGS" && f.ack);
    clock.tick(4999);
    assert.equal(peer.frames.some((f) => f.type === "GOAWAY"), false);
    clock.tick(1);
    assert.equal(await goawayCode(peer), H2_ERROR.SETTINGS_TIMEOUT);
  });
  await withPeer({ server }, async (peer) => {
    peer.start();
    peer.headers(1, get("/"));
    await peer.response(1);
    clock.tick(60_000);
    assert.equal(await goawayCode(peer), H2_ERROR.NO_ERROR);
    await peer.ended;
  });
  await withPeer({ server }, async (peer) => {
    peer.start();
    await peer.waitFor((f) => f.type === "SETTINGS" && f.ack);
    const block = peer.encoder.encode(get("/"));
    peer.send({
      type: "HEADERS",
      streamId: 1,
      endStream: true,
      endHeaders: false,
      block: block.subarray(0, 2),
    });
    // The fragment has arrived once a later request on the socket is seen... a PING can't
    // follow inside a block, so wait for the server's timer instead.
    while (clock.pending < 2) await new Promise((r) => setTimeout(r, 0));
    clock.tick(3000);
    assert.equal(await goawayCode(peer), H2_ERROR.PROTOCOL_ERROR);
  });
  assert.equal(clock.pending, 0);
});
