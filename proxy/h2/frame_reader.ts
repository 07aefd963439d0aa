/**
 * {@linkcode FrameReader}: an incremental HTTP/2 frame reader over socket chunks. It enforces
 * SETTINGS_MAX_FRAME_SIZE as soon as a frame header arrives (before buffering the payload),
 * each type's length and stream-id rules (see `frames.ts`), and assembles a header block
 * (HEADERS or PUSH_PROMISE and its CONTINUATION frames) into one frame: any other frame inside
 * a header block is PROTOCOL_ERROR, and a block over its byte or CONTINUATION-count limit is
 * ENHANCE_YOUR_CALM (the CONTINUATION flood). Frames of unknown types are dropped.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./frames.ts";
 * import { FrameReader } from "./frame_reader.ts";
 * const reader = new FrameReader({ maxFrameSize: 16384 });
 * const bytes = encodeFrame({ type: "PING", ack: false, data: new Uint8Array(8) });
 * reader.push(bytes.subarray(0, 5), () => {}); // nothing yet
 * reader.push(bytes.subarray(5), (item) => console.log(item.type)); // "PING"
 * ```
 * @module
 */
import { H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";
import {
  type Frame,
  FRAME_HEADER_SIZE,
  FRAME_TYPE,
  type FrameHeader,
  type HeadersFrame,
  parseFrame,
  parseFrameHeader,
  type PushPromiseFrame,
  type ReadItem,
} from "./frames.ts";

const connErr = (code: number, msg: string) => new H2ConnectionError(code, msg);
const PROTOCOL = H2_ERROR.PROTOCOL_ERROR;
const SIZE = H2_ERROR.FRAME_SIZE_ERROR;
const EMPTY = new Uint8Array(0);

/** Limits of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Our SETTINGS_MAX_FRAME_SIZE: a longer frame is a connection FRAME_SIZE_ERROR. */
  maxFrameSize: number;
  /** Largest header block (all its frames' fragments); more is ENHANCE_YOUR_CALM. */
  maxHeaderBlockSize?: number;
  /** Most CONTINUATION frames in one header block (CONTINUATION flood); more is ENHANCE_YOUR_CALM. */
  maxContinuations?: number;
}

/** Default {@linkcode FrameReaderOptions.maxHeaderBlockSize}. */
export const DEFAULT_MAX_HEADER_BLOCK = 256 * 1024;
/** Default {@linkcode FrameReaderOptions.maxContinuations}. */
export const DEFAULT_MAX_CONTINUATIONS = 64;

/**
 * Reads frames from a byte stream pushed chunk by chunk. The first error (thrown as
 * {@linkcode H2ConnectionError} by {@linkcode push}) ends it: every later push throws it again.
 */
export class FrameReader {
  /** Our SETTINGS_MAX_FRAME_SIZE (may change when we announce a new one). */
  maxFrameSize: number;
  readonly #maxBlock: number;
  readonly #maxCont: number;
  #chunks: Uint8Array[] = [];
  #head = 0; // offset into #chunks[0]
  #size = 0;
  #hdr: FrameHeader | undefined;
  #block: { frame: HeadersFrame | PushPromiseFrame; parts: Uint8Array[]; size: number } | undefined;
  #failed: H2ConnectionError | undefined;

  constructor(o: FrameReaderOptions) {
    this.maxFrameSize = o.maxFrameSize;
    this.#maxBlock = o.maxHeaderBlockSize ?? DEFAULT_MAX_HEADER_BLOCK;
    this.#maxCont = o.maxContinuations ?? DEFAULT_MAX_CONTINUATIONS;
  }

  /** True while a header block waits for CONTINUATION frames. */
  get inHeaderBlock(): boolean {
    return this.#block !== undefined;
  }

  /** Bytes held: a partial frame, or a header block being assembled. */
  get buffered(): number {
    return this.#size + (this.#block?.size ?? 0);
  }

  /**
   * Adds `chunk` and hands each complete frame (or stream error) to `onItem`, in order.
   * Throws {@linkcode H2ConnectionError} on a connection error (after handing on the frames
   * before it); errors thrown by `onItem` propagate and end the reader too.
   */
  push(chunk: Uint8Array, onItem: (item: ReadItem) => void): void {
    if (this.#failed) throw this.#failed;
    if (chunk.length) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    }
    try {
      for (;;) {
        if (!this.#hdr) {
          if (this.#size < FRAME_HEADER_SIZE) return;
          const h = parseFrameHeader(this.#take(FRAME_HEADER_SIZE));
          this.#checkHeader(h);
          this.#hdr = h;
        }
        const h = this.#hdr;
        if (this.#size < h.length) return;
        const payload = h.length ? this.#take(h.length) : EMPTY;
        this.#hdr = undefined;
        this.#frame(h, payload, onItem);
      }
    } catch (e) {
      this.#failed = e instanceof H2ConnectionError
        ? e
        : new H2ConnectionError(H2_ERROR.INTERNAL_ERROR, String(e), { cause: e });
      this.#chunks = [];
      this.#block = undefined;
      throw e;
    }
  }

  #checkHeader(h: FrameHeader): void {
    if (h.length > this.maxFrameSize) {
      throw connErr(
        SIZE,
        `frame of ${h.length} bytes over SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`,
      );
    }
    const b = this.#block;
    if (b && (h.type !== FRAME_TYPE.CONTINUATION || h.streamId !== b.frame.streamId)) {
      throw connErr(PROTOCOL, `frame type ${h.type} on stream ${h.streamId} inside a header block`);
    }
    if (!b && h.type === FRAME_TYPE.CONTINUATION) {
      throw connErr(PROTOCOL, `CONTINUATION on stream ${h.streamId} outside a header block`);
    }
    if (b) {
      if (b.size + h.length > this.#maxBlock) {
        throw connErr(H2_ERROR.ENHANCE_YOUR_CALM, `header block over ${this.#maxBlock} bytes`);
      }
      if (b.parts.length > this.#maxCont) {
        throw connErr(H2_ERROR.ENHANCE_YOUR_CALM, `more than ${this.#maxCont} CONTINUATION frames`);
      }
    }
  }

  #frame(h: FrameHeader, payload: Uint8Array, onItem: (item: ReadItem) => void): void {
    let f: Frame;
    try {
      f = parseFrame(h, payload);
    } catch (e) {
      if (e instanceof H2StreamError) {
        return onItem({ type: "STREAM_ERROR", streamId: h.streamId, error: e });
      }
      throw e;
    }
    switch (f.type) {
      case "UNKNOWN":
        return;
      case "HEADERS":
      case "PUSH_PROMISE":
        if (f.endHeaders) {
          f.continuations = 0;
          return onItem(f);
        }
        if (f.block.length > this.#maxBlock) {
          throw connErr(H2_ERROR.ENHANCE_YOUR_CALM, `header block over ${this.#maxBlock} bytes`);
        }
        this.#block = { frame: f, parts: [f.block], size: f.block.length };
        return;
      case "CONTINUATION": {
        const b = this.#block!;
        b.parts.push(f.block);
        b.size += f.block.length;
        if (!f.endHeaders) return;
        this.#block = undefined;
        const block = new Uint8Array(b.size);
        let at = 0;
        for (const p of b.parts) {
          block.set(p, at);
          at += p.length;
        }
        b.frame.block = block;
        b.frame.endHeaders = true;
        b.frame.continuations = b.parts.length - 1;
        return onItem(b.frame);
      }
      default:
        return onItem(f);
    }
  }

  /** Removes and returns the next `n` bytes (a view when they lie in one chunk). */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    this.#size -= n;
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#head += n;
      if (this.#head === first.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0];
      const take = Math.min(n - at, c.length - this.#head);
      out.set(c.subarray(this.#head, this.#head + take), at);
      at += take;
      this.#head += take;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    return out;
  }
}
