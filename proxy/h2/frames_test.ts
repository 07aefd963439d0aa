/** Frames: every type round trips, and every malformed case is the error RFC 9113 names. */
import assert from "node:assert/strict";
import { H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";
import {
  dataFrameHeader,
  encodeFrame,
  encodeHeaders,
  FLAG,
  type Frame,
  FRAME_TYPE,
  parseFrame,
  parseFrameHeader,
} from "./frames.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const roundTrip = (f: Frame): Frame => {
  const wire = encodeFrame(f);
  const h = parseFrameHeader(wire);
  assert.equal(h.length, wire.length - 9);
  return parseFrame(h, wire.subarray(9));
};
/** A raw frame: header fields and payload. */
const raw = (type: number, flags: number, streamId: number, payload: Uint8Array) =>
  parseFrame({ length: payload.length, type, flags, streamId }, payload);
const connErr = (code: number, fn: () => unknown) =>
  assert.throws(fn, (e) => e instanceof H2ConnectionError && e.code === code);
const streamErr = (code: number, fn: () => unknown) =>
  assert.throws(fn, (e) => e instanceof H2StreamError && e.code === code);

Deno.test("frames: every type round trips", () => {
  const cases: Frame[] = [
    { type: "DATA", streamId: 1, endStream: true, data: bytes(1, 2, 3), flowLength: 3 },
    { type: "DATA", streamId: 3, endStream: false, data: bytes(9), padLength: 4, flowLength: 6 },
    { type: "DATA", streamId: 5, endStream: false, data: bytes(), flowLength: 0 },
    { type: "HEADERS", streamId: 1, endStream: false, endHeaders: true, block: bytes(0x82) },
    {
      type: "HEADERS",
      streamId: 7,
      endStream: true,
      endHeaders: false,
      block: bytes(1, 2),
      priority: { exclusive: true, dependency: 3, weight: 256 },
      padLength: 2,
    },
    { type: "PRIORITY", streamId: 9, priority: { exclusive: false, dependency: 0, weight: 1 } },
    { type: "RST_STREAM", streamId: 1, code: H2_ERROR.CANCEL },
    { type: "RST_STREAM", streamId: 1, code: 0xdeadbeef },
    { type: "SETTINGS", ack: false, settings: [[1, 0], [4, 0x7fffffff], [0xabcd, 0xffffffff]] },
    { type: "SETTINGS", ack: true, settings: [] },
    { type: "PUSH_PROMISE", streamId: 1, promisedId: 2, endHeaders: true, block: bytes(0x82) },
    {
      type: "PUSH_PROMISE",
      streamId: 3,
      promisedId: 0x7fffffff,
      endHeaders: false,
      block: bytes(),
      padLength: 1,
    },
    { type: "PING", ack: false, data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
    { type: "PING", ack: true, data: bytes(0, 0, 0, 0, 0, 0, 0, 0xff) },
    {
      type: "GOAWAY",
      lastStreamId: 0x7fffffff,
      code: 0xb,
      debug: new TextEncoder().encode("calm"),
    },
    { type: "GOAWAY", lastStreamId: 0, code: 0, debug: bytes() },
    { type: "WINDOW_UPDATE", streamId: 0, increment: 0x7fffffff },
    { type: "WINDOW_UPDATE", streamId: 5, increment: 1 },
    { type: "CONTINUATION", streamId: 1, endHeaders: true, block: bytes(4, 5) },
    { type: "UNKNOWN", frameType: 0xfa, flags: 0xff, streamId: 3, payload: bytes(1) },
  ];
  for (const f of cases) assert.deepEqual(roundTrip(f), f, f.type);
});

Deno.test("frames: the wire form is the RFC's", () => {
  // A SETTINGS ACK is 9 bytes: length 0, type 4, flag ACK, stream 0.
  assert.deepEqual(
    encodeFrame({ type: "SETTINGS", ack: true, settings: [] }),
    bytes(0, 0, 0, 4, 1, 0, 0, 0, 0),
  );
  const d = encodeFrame({
    type: "DATA",
    streamId: 0x01020304,
    endStream: true,
    data: bytes(7),
    padLength: 2,
  });
  assert.deepEqual(d, bytes(0, 0, 4, 0, FLAG.END_STREAM | FLAG.PADDED, 1, 2, 3, 4, 2, 7, 0, 0));
  assert.deepEqual(dataFrameHeader(3, 0x10000, false), bytes(1, 0, 0, 0, 0, 0, 0, 0, 3));
  // The reserved bit of a stream id is ignored when parsed and never sent.
  assert.equal(parseFrameHeader(bytes(0, 0, 0, 0, 0, 0x80, 0, 0, 1)).streamId, 1);
  const w = encodeFrame({ type: "WINDOW_UPDATE", streamId: 0, increment: 1 });
  assert.equal(w[9] & 0x80, 0);
});

Deno.test("frames: long header blocks continue in CONTINUATION frames", () => {
  const block = new Uint8Array(40_000).map((_, i) => i & 0xff);
  const wire = encodeHeaders({ streamId: 5, block, endStream: true, maxFrameSize: 16384 });
  const frames: Frame[] = [];
  for (let at = 0; at < wire.length;) {
    const h = parseFrameHeader(wire.subarray(at));
    assert.ok(h.length <= 16384);
    frames.push(parseFrame(h, wire.subarray(at + 9, at + 9 + h.length)));
    at += 9 + h.length;
  }
  assert.deepEqual(frames.map((f) => f.type), ["HEADERS", "CONTINUATION", "CONTINUATION"]);
  assert.deepEqual(frames.map((f) => (f as { endHeaders: boolean }).endHeaders), [
    false,
    false,
    true,
  ]);
  assert.equal((frames[0] as { endStream: boolean }).endStream, true);
  const short = encodeHeaders({
    streamId: 1,
    block: bytes(0x82),
    endStream: false,
    maxFrameSize: 16384,
  });
  assert.equal(short[4], FLAG.END_HEADERS);
});

Deno.test("frames: malformed frames are the errors RFC 9113 names", () => {
  const P = H2_ERROR.PROTOCOL_ERROR, S = H2_ERROR.FRAME_SIZE_ERROR;
  const T = FRAME_TYPE;
  // Frames that need a stream, on stream 0.
  for (const t of [T.DATA, T.HEADERS, T.PRIORITY, T.RST_STREAM, T.PUSH_PROMISE, T.CONTINUATION]) {
    const payload = t === T.PRIORITY ? new Uint8Array(5) : new Uint8Array(4);
    connErr(P, () => raw(t, 0, 0, payload));
  }
  // Frames of the connection, on a stream.
  connErr(P, () => raw(T.SETTINGS, 0, 1, bytes()));
  connErr(P, () => raw(T.PING, 0, 1, new Uint8Array(8)));
  connErr(P, () => raw(T.GOAWAY, 0, 1, new Uint8Array(8)));
  // Padding: missing pad length, padding as long as the payload or longer.
  connErr(S, () => raw(T.DATA, FLAG.PADDED, 1, bytes()));
  connErr(P, () => raw(T.DATA, FLAG.PADDED, 1, bytes(1)));
  connErr(P, () => raw(T.DATA, FLAG.PADDED, 1, bytes(3, 0, 0)));
  connErr(P, () => raw(T.HEADERS, FLAG.PADDED, 1, bytes(5, 1, 2)));
  connErr(P, () => raw(T.PUSH_PROMISE, FLAG.PADDED, 1, bytes(9, 0, 0, 0, 2)));
  assert.equal(
    (raw(T.DATA, FLAG.PADDED, 1, bytes(2, 0, 0)) as { data: Uint8Array }).data.length,
    0,
  );
  // Too short for mandatory fields.
  connErr(S, () => raw(T.HEADERS, FLAG.PRIORITY, 1, bytes(0, 0, 0, 3)));
  connErr(S, () => raw(T.HEADERS, FLAG.PRIORITY | FLAG.PADDED, 1, bytes(1, 0, 0, 0, 3, 0)));
  connErr(S, () => raw(T.PUSH_PROMISE, 0, 1, bytes(0, 0, 2)));
  // Fixed lengths.
  streamErr(S, () => raw(T.PRIORITY, 0, 1, new Uint8Array(4)));
  streamErr(S, () => raw(T.PRIORITY, 0, 1, new Uint8Array(6)));
  connErr(S, () => raw(T.RST_STREAM, 0, 1, new Uint8Array(3)));
  connErr(S, () => raw(T.RST_STREAM, 0, 1, new Uint8Array(5)));
  connErr(S, () => raw(T.PING, 0, 0, new Uint8Array(7)));
  connErr(S, () => raw(T.PING, FLAG.ACK, 0, new Uint8Array(9)));
  connErr(S, () => raw(T.GOAWAY, 0, 0, new Uint8Array(7)));
  connErr(S, () => raw(T.WINDOW_UPDATE, 0, 0, new Uint8Array(3)));
  connErr(S, () => raw(T.WINDOW_UPDATE, 0, 1, new Uint8Array(5)));
  // SETTINGS: ACK with a payload, a payload not a multiple of 6.
  connErr(S, () => raw(T.SETTINGS, FLAG.ACK, 0, new Uint8Array(6)));
  connErr(S, () => raw(T.SETTINGS, 0, 0, new Uint8Array(5)));
  // WINDOW_UPDATE of 0: the connection's is a connection error, a stream's a stream error.
  connErr(P, () => raw(T.WINDOW_UPDATE, 0, 0, new Uint8Array(4)));
  streamErr(P, () => raw(T.WINDOW_UPDATE, 0, 3, new Uint8Array(4)));
  // The reserved bit of an increment is ignored: 0x80000000 is an increment of 0.
  streamErr(P, () => raw(T.WINDOW_UPDATE, 0, 3, bytes(0x80, 0, 0, 0)));
  // Unknown types and unknown flags are no error.
  assert.equal(raw(0x20, 0xff, 0, bytes()).type, "UNKNOWN");
  assert.equal(raw(T.PING, 0xfe, 0, new Uint8Array(8)).type, "PING");
});

Deno.test("frames: values that can't be sent are refused before they reach the wire", () => {
  assert.throws(() => encodeFrame({ type: "PING", ack: false, data: bytes(1) }), RangeError);
  assert.throws(
    () => encodeFrame({ type: "WINDOW_UPDATE", streamId: 1, increment: 0 }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeFrame({ type: "DATA", streamId: 1, endStream: false, data: bytes(), padLength: 256 }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeFrame({
        type: "PRIORITY",
        streamId: 1,
        priority: { exclusive: false, dependency: 0, weight: 0 },
      }),
    RangeError,
  );
});
