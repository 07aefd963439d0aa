/**
 * The sending half of an HTTP/2 connection: frames go into one buffer flushed to the socket
 * once per turn (one `write` for many frames), DATA is framed only within the peer's stream
 * and connection windows and only while the socket takes more (`write()` returning false
 * stops it until `drain`), streams with data are served round-robin a frame at a time, and
 * the control frames we owe while the socket is backed up are capped (a peer that floods
 * us with frames to answer and doesn't read the answers is cut off).
 *
 * @example
 * ```ts
 * const sender = new Sender({ socket, maxOutboundControl: 1000, onOverflow, sendTrailers, onEndSent });
 * sender.control(encodeFrame({ type: "PING", ack: true, data }));
 * sender.schedule(stream, windows); // frames its queued data as the windows allow
 * ```
 * @module
 */
import type { Socket } from "node:net";
import { dataFrameHeader, encodeHeaders, type HeaderBlockOptions } from "./frames.ts";
import type { HeaderField } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";

/** The connection-wide numbers the sender frames DATA within. */
export interface SendWindows {
  /** The peer's connection window, as we count it. */
  conn: number;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrame: () => number;
}

/** What a {@linkcode Sender} writes to and reports to. */
export interface SenderOptions {
  socket: Socket;
  /** Control frames owed while the socket's buffer is full; more calls `onOverflow`. */
  maxOutboundControl: number;
  onOverflow: () => void;
  /** Encodes and sends a stream's trailers (HEADERS with END_STREAM). */
  sendTrailers: (s: H2Stream, fields: HeaderField[]) => void;
  /** A stream's END_STREAM was sent. */
  onEndSent: (s: H2Stream) => void;
}

/**
 * Bytes framed per pump round before flushing: each round is one socket write. Deno's TLS
 * encrypts a whole write at once, so larger writes cost memory per connection (and keep it:
 * 1,000 sockets each sent 490 KB in one write kept 54 KB of RSS each, in 16–64 KB writes
 * 13–20 KB) without being faster.
 */
const ROUND = 64 * 1024;

/** The frames going out on one connection. */
export class Sender {
  readonly #o: SenderOptions;
  #out: Uint8Array[] = [];
  #bytes = 0;
  #queued = false;
  #blocked = false;
  #owed = 0;
  #closed = false;
  #pumping = false;
  #overflowed = false;
  #windows: SendWindows | undefined;
  readonly #ready = new Set<H2Stream>();

  constructor(o: SenderOptions) {
    this.#o = o;
  }

  /** Bytes framed and not yet handed to the socket. */
  get buffered(): number {
    return this.#bytes;
  }

  /** HEADERS and DATA frames framed so far (stream traffic, as opposed to control frames). */
  streamFrames = 0;

  /**
   * A control frame (SETTINGS, PING, RST_STREAM, WINDOW_UPDATE, GOAWAY, the preface).
   * `force` skips the cap (the GOAWAY that ends the connection).
   */
  control(frame: Uint8Array, force = false): void {
    if (this.#closed) return;
    if (!force && this.#blocked && ++this.#owed > this.#o.maxOutboundControl) {
      if (!this.#overflowed) {
        this.#overflowed = true;
        this.#o.onOverflow();
      }
      return;
    }
    this.#push(frame);
  }

  /** A header block (HEADERS and CONTINUATION frames). */
  headers(o: HeaderBlockOptions): void {
    if (this.#closed) return;
    this.streamFrames++;
    this.#push(encodeHeaders(o));
  }

  /** A stream's END_STREAM went out with its last frame. */
  endSent(s: H2Stream): void {
    s._endSent();
    this.#ready.delete(s);
    this.#o.onEndSent(s);
  }

  /** The stream has data or an end to send. */
  schedule(s: H2Stream, w: SendWindows): void {
    this.#ready.add(s);
    this.pump(w);
  }

  /** The stream is gone. */
  unschedule(s: H2Stream): void {
    this.#ready.delete(s);
  }

  /** Frames what the windows and the socket allow. */
  pump(w: SendWindows): void {
    this.#windows = w;
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      while (!this.#blocked && this.#ready.size && !this.#closed) {
        let budget = ROUND;
        let progress = true;
        while (budget > 0 && progress) {
          progress = false;
          for (const s of [...this.#ready]) {
            const n = this.#frameOne(s, w);
            if (n >= 0) {
              progress = true;
              budget -= n + 9;
            }
          }
        }
        this.#flush();
        if (budget === ROUND || budget > 0 && !progress) break;
      }
    } finally {
      this.#pumping = false;
      if (this.#out.length) this.#flush();
    }
  }

  /** Stops sending: what is buffered is flushed, nothing more is taken. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#ready.clear();
  }

  /** Frames one DATA frame (or the end) of `s`: its payload length, or -1 when it can't. */
  #frameOne(s: H2Stream, w: SendWindows): number {
    if (s._done || s._localEnded) {
      this.#ready.delete(s);
      return -1;
    }
    const p = s._out[0];
    if (p) {
      const n = Math.min(s._sendWindow, w.conn, w.maxFrame(), p.data.length - p.at);
      if (n <= 0) return -1; // waits for WINDOW_UPDATE
      const chunk = p.data.subarray(p.at, p.at + n);
      p.at += n;
      s._outBytes -= n;
      s._sendWindow -= n;
      w.conn -= n;
      const whole = p.at === p.data.length;
      if (whole) s._out.shift();
      const last = s._out.length === 0 && s._end !== undefined && s._end.trailers.length === 0;
      this.streamFrames++;
      this.#push(dataFrameHeader(s.id, n, last));
      this.#push(chunk);
      if (whole) p.resolve();
      if (last) this.endSent(s);
      return n;
    }
    if (s._end) {
      if (s._end.trailers.length) this.#o.sendTrailers(s, s._end.trailers);
      else {
        this.#push(dataFrameHeader(s.id, 0, true));
        this.endSent(s);
      }
      return 0;
    }
    this.#ready.delete(s);
    return -1;
  }

  #push(b: Uint8Array): void {
    this.#out.push(b);
    this.#bytes += b.length;
    if (!this.#queued && !this.#pumping) {
      this.#queued = true;
      queueMicrotask(() => {
        this.#queued = false;
        this.#flush();
      });
    }
  }

  #flush(): void {
    if (this.#out.length === 0) return;
    const socket = this.#o.socket;
    const parts = this.#out;
    this.#out = [];
    const n = this.#bytes;
    this.#bytes = 0;
    if (socket.destroyed || socket.writableEnded) return;
    let buf: Uint8Array;
    if (parts.length === 1) buf = parts[0];
    else {
      buf = new Uint8Array(n);
      let at = 0;
      for (const p of parts) {
        buf.set(p, at);
        at += p.length;
      }
    }
    if (!socket.write(buf) && !this.#blocked) {
      this.#blocked = true;
      socket.once("drain", () => {
        this.#blocked = false;
        this.#owed = 0;
        if (this.#windows) this.pump(this.#windows);
      });
    }
  }
}
