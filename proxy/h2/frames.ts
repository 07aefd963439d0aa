/**
 * HTTP/2 frames (RFC 9113 §4, §6): parsing and serializing every frame type, with each
 * type's length and stream-id rules as the RFC says (FRAME_SIZE_ERROR or PROTOCOL_ERROR, as
 * connection or stream errors). The incremental reader over socket chunks, which also
 * enforces SETTINGS_MAX_FRAME_SIZE and header-block sequencing, is `frame_reader.ts`.
 *
 * @example
 * ```ts
 * import { encodeFrame, parseFrame, parseFrameHeader } from "./frames.ts";
 * const bytes = encodeFrame({ type: "PING", ack: false, data: new Uint8Array(8) });
 * const frame = parseFrame(parseFrameHeader(bytes), bytes.subarray(9)); // { type: "PING", ... }
 * ```
 * @module
 */
import { H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";
import type { SettingEntry } from "./settings.ts";

/** Frame type codes. */
export const FRAME_TYPE = Object.freeze({
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
});

/** Frame flags. */
export const FLAG = Object.freeze({
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
});

/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 9;

/** The priority fields of HEADERS and PRIORITY (deprecated by RFC 9113, parsed and ignored). */
export interface PriorityFields {
  exclusive: boolean;
  dependency: number;
  /** 1 to 256. */
  weight: number;
}

/** DATA. */
export interface DataFrame {
  type: "DATA";
  streamId: number;
  endStream: boolean;
  data: Uint8Array;
  /** Padding bytes to send (serializing) or that were sent (parsed). */
  padLength?: number;
  /** The whole payload length, which flow control counts (set when parsed). */
  flowLength?: number;
}

/** HEADERS. When read by the frame reader, `block` is the whole header block. */
export interface HeadersFrame {
  type: "HEADERS";
  streamId: number;
  endStream: boolean;
  endHeaders: boolean;
  block: Uint8Array;
  priority?: PriorityFields;
  padLength?: number;
  /** CONTINUATION frames the block came in (set by the frame reader). */
  continuations?: number;
}

/** PRIORITY. */
export interface PriorityFrame {
  type: "PRIORITY";
  streamId: number;
  priority: PriorityFields;
}

/** RST_STREAM. */
export interface RstStreamFrame {
  type: "RST_STREAM";
  streamId: number;
  code: number;
}

/** SETTINGS. */
export interface SettingsFrame {
  type: "SETTINGS";
  ack: boolean;
  settings: SettingEntry[];
}

/** PUSH_PROMISE (never accepted by the connection: we never enable push). */
export interface PushPromiseFrame {
  type: "PUSH_PROMISE";
  streamId: number;
  promisedId: number;
  endHeaders: boolean;
  block: Uint8Array;
  padLength?: number;
  continuations?: number;
}

/** PING (8 bytes of opaque data). */
export interface PingFrame {
  type: "PING";
  ack: boolean;
  data: Uint8Array;
}

/** GOAWAY. */
export interface GoawayFrame {
  type: "GOAWAY";
  lastStreamId: number;
  code: number;
  debug: Uint8Array;
}

/** WINDOW_UPDATE. */
export interface WindowUpdateFrame {
  type: "WINDOW_UPDATE";
  streamId: number;
  increment: number;
}

/** CONTINUATION (the frame reader folds them into their block). */
export interface ContinuationFrame {
  type: "CONTINUATION";
  streamId: number;
  endHeaders: boolean;
  block: Uint8Array;
}

/** A frame of a type RFC 9113 doesn't define (only from {@linkcode parseFrame}). */
export interface UnknownFrame {
  type: "UNKNOWN";
  frameType: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

/** Any frame. */
export type Frame =
  | DataFrame
  | HeadersFrame
  | PriorityFrame
  | RstStreamFrame
  | SettingsFrame
  | PushPromiseFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame
  | ContinuationFrame
  | UnknownFrame;

/** A frame that was well framed but broke a rule of its stream: the stream's error. */
export interface StreamErrorItem {
  type: "STREAM_ERROR";
  streamId: number;
  error: H2StreamError;
}

/** What the frame reader (`frame_reader.ts`) hands on. */
export type ReadItem = Exclude<Frame, ContinuationFrame | UnknownFrame> | StreamErrorItem;

/** A parsed frame header. */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

const connErr = (code: number, msg: string) => new H2ConnectionError(code, msg);
const PROTOCOL = H2_ERROR.PROTOCOL_ERROR;
const SIZE = H2_ERROR.FRAME_SIZE_ERROR;

/** Reads a 9-byte frame header (the reserved bit of the stream id is ignored). */
export function parseFrameHeader(b: Uint8Array): FrameHeader {
  return {
    length: (b[0] << 16) | (b[1] << 8) | b[2],
    type: b[3],
    flags: b[4],
    streamId: ((b[5] & 0x7f) << 24 | b[6] << 16 | b[7] << 8 | b[8]) >>> 0,
  };
}

const u32 = (b: Uint8Array, i: number) =>
  (b[i] << 24 | b[i + 1] << 16 | b[i + 2] << 8 | b[i + 3]) >>> 0;

/** Strips padding: the content, or a connection PROTOCOL_ERROR when the padding is too long. */
function unpad(h: FrameHeader, p: Uint8Array, name: string): { body: Uint8Array; pad: number } {
  if (!(h.flags & FLAG.PADDED)) return { body: p, pad: 0 };
  if (p.length < 1) throw connErr(SIZE, `padded ${name} without a pad length`);
  const pad = p[0];
  if (pad >= p.length) {
    throw connErr(PROTOCOL, `${name} padding ${pad} not less than payload ${p.length}`);
  }
  return { body: p.subarray(1, p.length - pad), pad };
}

function parsePriority(b: Uint8Array): PriorityFields {
  return { exclusive: (b[0] & 0x80) !== 0, dependency: u32(b, 0) & 0x7fffffff, weight: b[4] + 1 };
}

/**
 * Parses one frame's payload. Throws {@linkcode H2ConnectionError} for connection errors
 * and {@linkcode H2StreamError} for the stream errors RFC 9113 names (PRIORITY of the
 * wrong length, WINDOW_UPDATE of 0 on a stream). SETTINGS values are not validated here
 * (see `settings.ts`); nor is the frame's length against SETTINGS_MAX_FRAME_SIZE.
 */
export function parseFrame(h: FrameHeader, p: Uint8Array): Frame {
  const sid = h.streamId;
  const needStream = (name: string) => {
    if (sid === 0) throw connErr(PROTOCOL, `${name} on stream 0`);
  };
  const needZero = (name: string) => {
    if (sid !== 0) throw connErr(PROTOCOL, `${name} on stream ${sid}`);
  };
  switch (h.type) {
    case FRAME_TYPE.DATA: {
      needStream("DATA");
      const { body, pad } = unpad(h, p, "DATA");
      const f: DataFrame = {
        type: "DATA",
        streamId: sid,
        endStream: (h.flags & FLAG.END_STREAM) !== 0,
        data: body,
        flowLength: p.length,
      };
      if (h.flags & FLAG.PADDED) f.padLength = pad;
      return f;
    }
    case FRAME_TYPE.HEADERS: {
      needStream("HEADERS");
      const { body, pad } = unpad(h, p, "HEADERS");
      const f: HeadersFrame = {
        type: "HEADERS",
        streamId: sid,
        endStream: (h.flags & FLAG.END_STREAM) !== 0,
        endHeaders: (h.flags & FLAG.END_HEADERS) !== 0,
        block: body,
      };
      if (h.flags & FLAG.PRIORITY) {
        if (body.length < 5) throw connErr(SIZE, "HEADERS too short for its priority fields");
        f.priority = parsePriority(body);
        f.block = body.subarray(5);
      }
      if (h.flags & FLAG.PADDED) f.padLength = pad;
      return f;
    }
    case FRAME_TYPE.PRIORITY:
      needStream("PRIORITY");
      if (p.length !== 5) {
        throw new H2StreamError(SIZE, sid, `PRIORITY of ${p.length} bytes, not 5`);
      }
      return { type: "PRIORITY", streamId: sid, priority: parsePriority(p) };
    case FRAME_TYPE.RST_STREAM:
      needStream("RST_STREAM");
      if (p.length !== 4) throw connErr(SIZE, `RST_STREAM of ${p.length} bytes, not 4`);
      return { type: "RST_STREAM", streamId: sid, code: u32(p, 0) };
    case FRAME_TYPE.SETTINGS: {
      needZero("SETTINGS");
      const ack = (h.flags & FLAG.ACK) !== 0;
      if (ack && p.length !== 0) throw connErr(SIZE, `SETTINGS ACK with ${p.length} bytes`);
      if (p.length % 6 !== 0) {
        throw connErr(SIZE, `SETTINGS of ${p.length} bytes, not a multiple of 6`);
      }
      const settings: SettingEntry[] = [];
      for (let i = 0; i < p.length; i += 6) settings.push([(p[i] << 8) | p[i + 1], u32(p, i + 2)]);
      return { type: "SETTINGS", ack, settings };
    }
    case FRAME_TYPE.PUSH_PROMISE: {
      needStream("PUSH_PROMISE");
      const { body, pad } = unpad(h, p, "PUSH_PROMISE");
      if (body.length < 4) throw connErr(SIZE, "PUSH_PROMISE too short for its promised id");
      const f: PushPromiseFrame = {
        type: "PUSH_PROMISE",
        streamId: sid,
        promisedId: u32(body, 0) & 0x7fffffff,
        endHeaders: (h.flags & FLAG.END_HEADERS) !== 0,
        block: body.subarray(4),
      };
      if (h.flags & FLAG.PADDED) f.padLength = pad;
      return f;
    }
    case FRAME_TYPE.PING:
      needZero("PING");
      if (p.length !== 8) throw connErr(SIZE, `PING of ${p.length} bytes, not 8`);
      return { type: "PING", ack: (h.flags & FLAG.ACK) !== 0, data: p };
    case FRAME_TYPE.GOAWAY:
      needZero("GOAWAY");
      if (p.length < 8) throw connErr(SIZE, `GOAWAY of ${p.length} bytes, under 8`);
      return {
        type: "GOAWAY",
        lastStreamId: u32(p, 0) & 0x7fffffff,
        code: u32(p, 4),
        debug: p.subarray(8),
      };
    case FRAME_TYPE.WINDOW_UPDATE: {
      if (p.length !== 4) throw connErr(SIZE, `WINDOW_UPDATE of ${p.length} bytes, not 4`);
      const increment = u32(p, 0) & 0x7fffffff;
      if (increment === 0) {
        if (sid === 0) throw connErr(PROTOCOL, "WINDOW_UPDATE of 0 on the connection");
        throw new H2StreamError(PROTOCOL, sid, "WINDOW_UPDATE of 0");
      }
      return { type: "WINDOW_UPDATE", streamId: sid, increment };
    }
    case FRAME_TYPE.CONTINUATION:
      needStream("CONTINUATION");
      return {
        type: "CONTINUATION",
        streamId: sid,
        endHeaders: (h.flags & FLAG.END_HEADERS) !== 0,
        block: p,
      };
    default:
      return { type: "UNKNOWN", frameType: h.type, flags: h.flags, streamId: sid, payload: p };
  }
}

function header(out: Uint8Array, h: FrameHeader): void {
  out[0] = h.length >>> 16;
  out[1] = h.length >>> 8;
  out[2] = h.length;
  out[3] = h.type;
  out[4] = h.flags;
  out[5] = (h.streamId >>> 24) & 0x7f;
  out[6] = h.streamId >>> 16;
  out[7] = h.streamId >>> 8;
  out[8] = h.streamId;
}

function put32(out: Uint8Array, i: number, v: number): void {
  out[i] = v >>> 24;
  out[i + 1] = v >>> 16;
  out[i + 2] = v >>> 8;
  out[i + 3] = v;
}

/** A frame with `body` (plus optional padding and a prefix of fixed fields) as payload. */
function build(
  h: Omit<FrameHeader, "length">,
  o: { prefix?: Uint8Array; body: Uint8Array; pad?: number },
): Uint8Array {
  const pad = o.pad;
  const padded = pad !== undefined;
  if (padded && (!Number.isInteger(pad) || pad < 0 || pad > 255)) {
    throw new RangeError(`pad ${pad}`);
  }
  const pre = o.prefix?.length ?? 0;
  const length = (padded ? 1 + pad : 0) + pre + o.body.length;
  if (length > 0xffffff) throw new RangeError(`frame payload of ${length} bytes`);
  const out = new Uint8Array(FRAME_HEADER_SIZE + length);
  header(out, { ...h, length, flags: h.flags | (padded ? FLAG.PADDED : 0) });
  let i = FRAME_HEADER_SIZE;
  if (padded) out[i++] = pad;
  if (o.prefix) {
    out.set(o.prefix, i);
    i += pre;
  }
  out.set(o.body, i);
  return out; // padding bytes are already zero
}

function priorityBytes(p: PriorityFields): Uint8Array {
  if (p.weight < 1 || p.weight > 256) throw new RangeError(`priority weight ${p.weight}`);
  const b = new Uint8Array(5);
  put32(b, 0, (p.dependency & 0x7fffffff) | (p.exclusive ? 0x80000000 : 0));
  b[4] = p.weight - 1;
  return b;
}

/** The wire bytes of `f` (header and payload). Throws RangeError on values that can't be sent. */
export function encodeFrame(f: Frame): Uint8Array {
  switch (f.type) {
    case "DATA":
      return build(
        { type: FRAME_TYPE.DATA, flags: f.endStream ? FLAG.END_STREAM : 0, streamId: f.streamId },
        { body: f.data, pad: f.padLength },
      );
    case "HEADERS": {
      const flags = (f.endStream ? FLAG.END_STREAM : 0) | (f.endHeaders ? FLAG.END_HEADERS : 0) |
        (f.priority ? FLAG.PRIORITY : 0);
      return build({ type: FRAME_TYPE.HEADERS, flags, streamId: f.streamId }, {
        prefix: f.priority ? priorityBytes(f.priority) : undefined,
        body: f.block,
        pad: f.padLength,
      });
    }
    case "PRIORITY":
      return build({ type: FRAME_TYPE.PRIORITY, flags: 0, streamId: f.streamId }, {
        body: priorityBytes(f.priority),
      });
    case "RST_STREAM": {
      const b = new Uint8Array(4);
      put32(b, 0, f.code);
      return build({ type: FRAME_TYPE.RST_STREAM, flags: 0, streamId: f.streamId }, { body: b });
    }
    case "SETTINGS": {
      const b = new Uint8Array(f.settings.length * 6);
      f.settings.forEach(([id, v], i) => {
        b[i * 6] = id >>> 8;
        b[i * 6 + 1] = id;
        put32(b, i * 6 + 2, v);
      });
      return build({ type: FRAME_TYPE.SETTINGS, flags: f.ack ? FLAG.ACK : 0, streamId: 0 }, {
        body: b,
      });
    }
    case "PUSH_PROMISE": {
      const pre = new Uint8Array(4);
      put32(pre, 0, f.promisedId & 0x7fffffff);
      return build({
        type: FRAME_TYPE.PUSH_PROMISE,
        flags: f.endHeaders ? FLAG.END_HEADERS : 0,
        streamId: f.streamId,
      }, { prefix: pre, body: f.block, pad: f.padLength });
    }
    case "PING":
      if (f.data.length !== 8) throw new RangeError(`PING data of ${f.data.length} bytes`);
      return build({ type: FRAME_TYPE.PING, flags: f.ack ? FLAG.ACK : 0, streamId: 0 }, {
        body: f.data,
      });
    case "GOAWAY": {
      const pre = new Uint8Array(8);
      put32(pre, 0, f.lastStreamId & 0x7fffffff);
      put32(pre, 4, f.code);
      return build({ type: FRAME_TYPE.GOAWAY, flags: 0, streamId: 0 }, {
        prefix: pre,
        body: f.debug,
      });
    }
    case "WINDOW_UPDATE": {
      if (f.increment < 1 || f.increment > 0x7fffffff) {
        throw new RangeError(`increment ${f.increment}`);
      }
      const b = new Uint8Array(4);
      put32(b, 0, f.increment);
      return build({ type: FRAME_TYPE.WINDOW_UPDATE, flags: 0, streamId: f.streamId }, { body: b });
    }
    case "CONTINUATION":
      return build({
        type: FRAME_TYPE.CONTINUATION,
        flags: f.endHeaders ? FLAG.END_HEADERS : 0,
        streamId: f.streamId,
      }, { body: f.block });
    case "UNKNOWN":
      return build({ type: f.frameType, flags: f.flags, streamId: f.streamId }, {
        body: f.payload,
      });
  }
}

/** What {@linkcode encodeHeaders} sends. */
export interface HeaderBlockOptions {
  streamId: number;
  /** The encoded header block. */
  block: Uint8Array;
  endStream: boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE: longer blocks continue in CONTINUATION frames. */
  maxFrameSize: number;
}

/** HEADERS and as many CONTINUATION frames as the block needs, as one byte array. */
export function encodeHeaders(o: HeaderBlockOptions): Uint8Array {
  const max = o.maxFrameSize;
  if (o.block.length <= max) {
    return encodeFrame({
      type: "HEADERS",
      streamId: o.streamId,
      endStream: o.endStream,
      endHeaders: true,
      block: o.block,
    });
  }
  const parts: Uint8Array[] = [];
  for (let i = 0; i < o.block.length; i += max) {
    const piece = o.block.subarray(i, i + max);
    const last = i + max >= o.block.length;
    parts.push(
      i === 0
        ? encodeFrame({
          type: "HEADERS",
          streamId: o.streamId,
          endStream: o.endStream,
          endHeaders: false,
          block: piece,
        })
        : encodeFrame({
          type: "CONTINUATION",
          streamId: o.streamId,
          endHeaders: last,
          block: piece,
        }),
    );
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The frame header of a DATA frame, for sending its payload without copying it. */
export function dataFrameHeader(streamId: number, length: number, endStream: boolean): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE);
  header(out, { length, type: FRAME_TYPE.DATA, flags: endStream ? FLAG.END_STREAM : 0, streamId });
  return out;
}
