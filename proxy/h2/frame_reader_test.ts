/** The frame reader: chunking, SETTINGS_MAX_FRAME_SIZE, header-block sequencing and limits. */
import assert from "node:assert/strict";
import { H2_ERROR, H2ConnectionError } from "./errors.ts";
import { encodeFrame, encodeHeaders, type Frame, type ReadItem } from "./frames.ts";
import { FrameReader } from "./frame_reader.ts";

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const read = (r: FrameReader, wire: Uint8Array, step = wire.length): ReadItem[] => {
  const out: ReadItem[] = [];
  for (let i = 0; i < wire.length; i += step) {
    r.push(wire.subarray(i, i + step), (f) => out.push(f));
  }
  return out;
};
const failsWith = (
  code: number,
  wire: Uint8Array,
  o?: { maxHeaderBlockSize?: number; maxContinuations?: number },
) => {
  const r = new FrameReader({ maxFrameSize: 16384, ...o });
  const got: ReadItem[] = [];
  assert.throws(
    () => r.push(wire, (f) => got.push(f)),
    (e) => e instanceof H2ConnectionError && e.code === code,
  );
  // The reader stays failed.
  assert.throws(() => r.push(new Uint8Array(0), () => {}), H2ConnectionError);
  return got;
};
const ping = encodeFrame({ type: "PING", ack: false, data: new Uint8Array(8) });

Deno.test("frame reader: frames split at every byte and many in one chunk", () => {
  const frames: Frame[] = [
    { type: "SETTINGS", ack: false, settings: [[4, 1 << 20]] },
    {
      type: "DATA",
      streamId: 1,
      endStream: false,
      data: new Uint8Array(20_000).fill(7),
      flowLength: 20_000,
    },
    { type: "WINDOW_UPDATE", streamId: 0, increment: 100 },
    { type: "DATA", streamId: 1, endStream: true, data: new Uint8Array(0), flowLength: 0 },
  ];
  const wire = concat(...frames.map(encodeFrame));
  for (const step of [1, 7, 9, 4096, wire.length]) {
    const got = read(new FrameReader({ maxFrameSize: 32768 }), wire, step);
    assert.deepEqual(got, frames, `step ${step}`);
  }
});

Deno.test("frame reader: a header block and its CONTINUATION frames are one HEADERS", () => {
  const block = new Uint8Array(50_000).map((_, i) => i % 251);
  const wire = concat(
    encodeHeaders({ streamId: 3, block, endStream: true, maxFrameSize: 16384 }),
    ping,
  );
  for (const step of [1000, wire.length]) {
    const got = read(new FrameReader({ maxFrameSize: 16384 }), wire, step);
    assert.equal(got.length, 2);
    const h = got[0] as Extract<ReadItem, { type: "HEADERS" }>;
    assert.equal(h.type, "HEADERS");
    assert.deepEqual(h.block, block);
    assert.equal(h.endHeaders, true);
    assert.equal(h.endStream, true);
    assert.equal(h.continuations, 3);
    assert.equal(got[1].type, "PING");
  }
});

Deno.test("frame reader: frames over SETTINGS_MAX_FRAME_SIZE fail as soon as their header arrives", () => {
  const r = new FrameReader({ maxFrameSize: 16384 });
  const big = encodeFrame({
    type: "DATA",
    streamId: 1,
    endStream: false,
    data: new Uint8Array(16385),
  });
  // The payload isn't awaited: the 9-byte header is enough.
  assert.throws(
    () => r.push(big.subarray(0, 9), () => {}),
    (e) => e instanceof H2ConnectionError && e.code === H2_ERROR.FRAME_SIZE_ERROR,
  );
  const ok = new FrameReader({ maxFrameSize: 16384 });
  assert.equal(
    read(
      ok,
      encodeFrame({ type: "DATA", streamId: 1, endStream: false, data: new Uint8Array(16384) }),
    ).length,
    1,
  );
  ok.maxFrameSize = 20_000;
  assert.equal(read(ok, big).length, 1);
});

Deno.test("frame reader: anything interleaved in a header block is PROTOCOL_ERROR", () => {
  const open = encodeFrame({
    type: "HEADERS",
    streamId: 1,
    endStream: false,
    endHeaders: false,
    block: new Uint8Array(3),
  });
  const cont = (streamId: number, endHeaders: boolean) =>
    encodeFrame({ type: "CONTINUATION", streamId, endHeaders, block: new Uint8Array(2) });
  const P = H2_ERROR.PROTOCOL_ERROR;
  failsWith(P, concat(open, ping));
  failsWith(P, concat(open, cont(3, true)));
  failsWith(
    P,
    concat(
      open,
      encodeFrame({ type: "DATA", streamId: 1, endStream: false, data: new Uint8Array(1) }),
    ),
  );
  failsWith(
    P,
    concat(
      open,
      encodeFrame({
        type: "UNKNOWN",
        frameType: 0x42,
        flags: 0,
        streamId: 1,
        payload: new Uint8Array(0),
      }),
    ),
  );
  failsWith(P, cont(1, true)); // CONTINUATION with no block open
  const pp = encodeFrame({
    type: "PUSH_PROMISE",
    streamId: 1,
    promisedId: 2,
    endHeaders: false,
    block: new Uint8Array(1),
  });
  failsWith(P, concat(pp, ping));
  // Frames before the error were handed on.
  const got = failsWith(P, concat(ping, open, ping));
  assert.deepEqual(got.map((f) => f.type), ["PING"]);
  // A PUSH_PROMISE block completes like HEADERS.
  const r = new FrameReader({ maxFrameSize: 16384 });
  const items = read(r, concat(pp, cont(1, false), cont(1, true)));
  assert.equal(items.length, 1);
  assert.equal(items[0].type, "PUSH_PROMISE");
  assert.equal((items[0] as { block: Uint8Array }).block.length, 5);
});

Deno.test("frame reader: CONTINUATION floods and oversized blocks are ENHANCE_YOUR_CALM", () => {
  const open = encodeFrame({
    type: "HEADERS",
    streamId: 1,
    endStream: false,
    endHeaders: false,
    block: new Uint8Array(10),
  });
  const empty = encodeFrame({
    type: "CONTINUATION",
    streamId: 1,
    endHeaders: false,
    block: new Uint8Array(0),
  });
  const E = H2_ERROR.ENHANCE_YOUR_CALM;
  failsWith(E, concat(open, ...Array.from({ length: 11 }, () => empty)), { maxContinuations: 10 });
  // Ten empty CONTINUATION frames and an END_HEADERS one are within a limit of 11.
  const last = encodeFrame({
    type: "CONTINUATION",
    streamId: 1,
    endHeaders: true,
    block: new Uint8Array(0),
  });
  const r = new FrameReader({ maxFrameSize: 16384, maxContinuations: 11 });
  assert.equal(read(r, concat(open, ...Array.from({ length: 10 }, () => empty), last)).length, 1);
  const part = encodeFrame({
    type: "CONTINUATION",
    streamId: 1,
    endHeaders: false,
    block: new Uint8Array(16384),
  });
  failsWith(E, concat(open, part, part), { maxHeaderBlockSize: 30_000 });
  const bigOpen = encodeFrame({
    type: "HEADERS",
    streamId: 1,
    endStream: false,
    endHeaders: false,
    block: new Uint8Array(16000),
  });
  failsWith(E, bigOpen, { maxHeaderBlockSize: 8000 });
});

Deno.test("frame reader: stream errors are handed on and reading goes on; unknown types are dropped", () => {
  const r = new FrameReader({ maxFrameSize: 16384 });
  const wire = concat(
    encodeFrame({
      type: "UNKNOWN",
      frameType: 0xee,
      flags: 0,
      streamId: 0,
      payload: new Uint8Array(30),
    }),
    encodeFrame({
      type: "UNKNOWN",
      frameType: 0x02,
      flags: 0,
      streamId: 5,
      payload: new Uint8Array(4),
    }), // PRIORITY of 4
    new Uint8Array([0, 0, 4, 8, 0, 0, 0, 0, 7, 0, 0, 0, 0]), // WINDOW_UPDATE 0 on stream 7
    ping,
  );
  const got = read(r, wire);
  assert.deepEqual(got.map((f) => f.type), ["STREAM_ERROR", "STREAM_ERROR", "PING"]);
  const e = got[0] as Extract<ReadItem, { type: "STREAM_ERROR" }>;
  assert.equal(e.streamId, 5);
  assert.equal(e.error.code, H2_ERROR.FRAME_SIZE_ERROR);
  assert.equal((got[1] as typeof e).error.code, H2_ERROR.PROTOCOL_ERROR);
});
