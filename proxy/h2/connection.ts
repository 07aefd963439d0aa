/**
 * An HTTP/2 connection (RFC 9113) over a `node:net` or `node:tls` socket, as server or
 * client: preface, SETTINGS exchange (with an ACK timeout), PING, GOAWAY both ways
 * (graceful: in-flight streams finish), RST_STREAM, header blocks (HPACK, `hpack.ts`),
 * stream states and ids, concurrency limits, the message rules of §8 (`message.ts`), flow
 * control both ways, and the defences of `limits.ts`. Sending is in `sender.ts`, receiving in `inbound.ts`.
 *
 * Nothing here throws into the event loop: socket errors, malformed frames and peer
 * misbehaviour end in a stream error (RST_STREAM) or a connection error (GOAWAY, then close),
 * which settle every pending promise; `closed` resolves with the reason.
 *
 * @example
 * ```ts
 * net.createServer((socket) => {
 *   new H2Connection(socket, {
 *     role: "server",
 *     onStream: (s) => s.respond([[":status", "200"]], { endStream: true }),
 *   });
 * }).listen(8080);
 * const conn = new H2Connection(net.connect(8080), { role: "client" });
 * const s = conn.request([[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "x"]], { endStream: true });
 * console.log(await s.response, await s.body.bytes());
 * await conn.close();
 * ```
 * @module
 */
import type { Socket } from "node:net";
import { H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";
import { encodeFrame } from "./frames.ts";
import type { HeaderField } from "./hpack.ts";
import { H2Inbound } from "./inbound.ts";
import { checkRequest, outgoingFields } from "./message.ts";
import {
  type H2CloseReason,
  type H2ConnectionOptions,
  type H2RequestOptions,
  PREFACE,
} from "./options.ts";
import { MAX_WINDOW } from "./settings.ts";
import { H2Stream } from "./stream.ts";

export * from "./options.ts";
export { H2Stream } from "./stream.ts";

const enc = new TextEncoder();

/** One HTTP/2 connection. */
export class H2Connection extends H2Inbound {
  constructor(socket: Socket, o: H2ConnectionOptions) {
    super(socket, o);
    socket.setNoDelay?.(true);
    socket.on("data", this.#onData);
    socket.on("error", (e: Error) => this.#lost(e));
    socket.on("end", () => this.#lost(undefined));
    socket.on("close", () => {
      this.#lost(undefined);
      this._clear("linger");
    });
    // Our preface: (client) the magic, then SETTINGS and the connection window.
    if (this.role === "client") this._sender.control(PREFACE);
    this._sender.control(
      encodeFrame({ type: "SETTINGS", ack: false, settings: [...this._entries] }),
    );
    if (this._connWindow > 65535) {
      this._sender.control(
        encodeFrame({ type: "WINDOW_UPDATE", streamId: 0, increment: this._connWindow - 65535 }),
      );
    }
    this._timer(
      "settings",
      this._t.settingsAckMs,
      () =>
        this.#fail(
          new H2ConnectionError(H2_ERROR.SETTINGS_TIMEOUT, "our SETTINGS were not acknowledged"),
        ),
    );
    if (this.role === "server") {
      this._timer(
        "headers",
        this._t.headersMs,
        () =>
          this.#fail(
            new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "no preface and SETTINGS in time"),
          ),
      );
    }
    this.#armIdle();
    if (o.initialBytes?.length) this.#onData(o.initialBytes);
  }

  /** Open streams, and client requests waiting for one. */
  get activeStreams(): number {
    return this._streams.size + this._waiting.length;
  }

  /**
   * Client: whether a new request would get a stream: neither side sent GOAWAY and the
   * connection isn't closed (a pool picks connections by it).
   */
  get acceptsStreams(): boolean {
    return !this._dead && !this._goawayGot && this._goawaySent === undefined;
  }

  /** Bytes handed to the socket and not yet written out by it, plus frames not yet flushed. */
  get bufferedOutgoing(): number {
    return this._sender.buffered + (this._socket.writableLength ?? 0);
  }

  /** The stream with `id`, while open. */
  stream(id: number): H2Stream | undefined {
    return this._streams.get(id);
  }

  /**
   * Client: sends a request. The stream is returned at once; when the peer's
   * MAX_CONCURRENT_STREAMS is reached it waits for a free stream (its id is 0 meanwhile).
   * After GOAWAY (either way) or on a closed connection the stream fails with a retryable
   * REFUSED_STREAM error. Throws TypeError on fields that aren't a valid request.
   */
  request(fields: readonly HeaderField[], o?: H2RequestOptions): H2Stream {
    if (this.role !== "client") throw new Error("request() is for client connections");
    const out = outgoingFields(fields);
    const info = checkRequest(out, { extendedConnect: this.peerSettings.enableConnectProtocol });
    if ("error" in info) throw new TypeError(`invalid request: ${info.error}`);
    const s = new H2Stream({ host: this, role: "client", headers: out, method: info.method });
    s._endWithHeaders = o?.endStream ?? false;
    if (this._dead || this._goawayGot || this._goawaySent !== undefined) {
      s._finish(
        new H2StreamError(H2_ERROR.REFUSED_STREAM, 0, "connection is going away", {
          retryable: true,
        }),
      );
      return s;
    }
    this._clear("idle");
    if (this._localOpen >= this.peerSettings.maxConcurrentStreams) this._waiting.push(s);
    else this._open(s);
    return s;
  }

  /** Measures the round trip: resolves with milliseconds, rejects on timeout or close. */
  ping(): Promise<number> {
    const p = Promise.withResolvers<number>();
    p.promise.catch(() => {});
    if (this._dead) {
      p.reject(new H2ConnectionError(H2_ERROR.CANCEL, "connection closed"));
      return p.promise;
    }
    const data = new Uint8Array(8);
    new DataView(data.buffer).setFloat64(0, ++this._pingSeq);
    const key = data.join();
    const timer = this._t.pingMs > 0
      ? this._clock.setTimeout(() => {
        this._pings.delete(key);
        p.reject(new H2ConnectionError(H2_ERROR.SETTINGS_TIMEOUT, "PING not acknowledged in time"));
      }, this._t.pingMs)
      : undefined;
    this._pings.set(key, { resolve: p.resolve, reject: p.reject, at: this._clock.now(), timer });
    this._sender.control(encodeFrame({ type: "PING", ack: false, data }));
    return p.promise;
  }

  /**
   * Sends GOAWAY: no new streams are accepted (a server's GOAWAY names the last stream it
   * processes); the connection closes once the streams in flight are done.
   */
  goaway(code: number = H2_ERROR.NO_ERROR, debug = ""): void {
    if (this._dead || this._goawaySent !== undefined) return;
    this._goawaySent = this._lastPeerId;
    this._sender.control(
      encodeFrame({
        type: "GOAWAY",
        lastStreamId: this._lastPeerId,
        code,
        debug: enc.encode(debug),
      }),
    );
    const refused = new H2StreamError(H2_ERROR.REFUSED_STREAM, 0, "connection is going away", {
      retryable: true,
    });
    for (const s of this._waiting.splice(0)) s._finish(refused);
    this._maybeDone();
  }

  /**
   * Graceful close: GOAWAY, in-flight streams finish (for at most `timeouts.closeMs`, then
   * they fail), then the socket closes. Resolves with the reason.
   */
  close(): Promise<H2CloseReason> {
    this.goaway();
    if (!this._dead && this._closeDeadline === undefined && this._t.closeMs > 0) {
      this._closeDeadline = this._clock.setTimeout(() => {
        this.#fail(
          new H2ConnectionError(H2_ERROR.NO_ERROR, "streams still open at the close deadline"),
        );
      }, this._t.closeMs);
    }
    return this.closed;
  }

  /** Closes at once: GOAWAY with `code` (when the socket can still take it), every stream fails. */
  destroy(error?: Error, code: number = H2_ERROR.CANCEL): void {
    this.#fail(new H2ConnectionError(code, error?.message ?? "destroyed", { cause: error }));
    this._socket.destroy();
  }

  // ---- StreamHost (called by streams) ----

  /** @internal */
  sendHeaders(s: H2Stream, fields: HeaderField[], endStream: boolean): void {
    if (this._dead) return;
    const out = outgoingFields(fields, this.role === "client");
    let block: Uint8Array;
    try {
      block = this._encoder.encode(out);
    } catch (e) {
      throw new TypeError(`header fields can't be encoded: ${(e as Error).message}`);
    }
    this._sender.headers({
      streamId: s.id,
      block,
      endStream,
      maxFrameSize: this.peerSettings.maxFrameSize,
    });
    if (endStream) this._sender.endSent(s);
  }

  /** @internal */
  schedule(s: H2Stream): void {
    if (s.id !== 0 && !this._dead) this._sender.schedule(s, this._windows);
  }

  /** @internal */
  resetStream(s: H2Stream, code: number): void {
    if (s.id === 0) {
      const i = this._waiting.indexOf(s);
      if (i >= 0) this._waiting.splice(i, 1);
      s._finish(new H2StreamError(code, 0, "reset before it was sent"));
      this._maybeDone();
      return;
    }
    this._resetStream(s, new H2StreamError(code, s.id, "reset by the application"));
  }

  /** @internal */
  consumed(s: H2Stream, n: number): void {
    if (this._dead || n <= 0) return;
    this._connUnacked += n;
    if (this._connUnacked >= this._connWindow / 2) {
      this._sender.control(
        encodeFrame({ type: "WINDOW_UPDATE", streamId: 0, increment: this._connUnacked }),
      );
      this._connRecv += this._connUnacked;
      this._connUnacked = 0;
    }
    if (s._done || s._remoteEnded) return;
    s._unacked += n;
    if (s._unacked >= this.localSettings.initialWindowSize / 2) {
      this._sender.control(
        encodeFrame({ type: "WINDOW_UPDATE", streamId: s.id, increment: s._unacked }),
      );
      s._recvWindow += s._unacked;
      s._unacked = 0;
    }
  }

  protected _open(s: H2Stream): void {
    const id = this._nextId;
    if (id > MAX_WINDOW) {
      s._finish(
        new H2StreamError(H2_ERROR.REFUSED_STREAM, 0, "stream ids exhausted", { retryable: true }),
      );
      this.goaway();
      return;
    }
    this._nextId += 2;
    s.id = id;
    s._openedAt = this._clock.now();
    s._sendWindow = this.peerSettings.initialWindowSize;
    s._recvWindow = this._initialRecv();
    this._streams.set(id, s);
    this._localOpen++;
    this.sendHeaders(s, s.headers as HeaderField[], s._endWithHeaders);
    if (s._out.length || s._end) this.schedule(s);
  }

  #onData = (chunk: Uint8Array): void => {
    if (this._dead) return;
    try {
      if (this._prefaceLeft > 0) {
        const n = Math.min(this._prefaceLeft, chunk.length);
        const at = PREFACE.length - this._prefaceLeft;
        for (let i = 0; i < n; i++) {
          if (chunk[i] !== PREFACE[at + i]) {
            throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "invalid connection preface");
          }
        }
        this._prefaceLeft -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      this._reader.push(chunk, this._onItem);
      if (this._reader.inHeaderBlock) {
        if (this._timers.headers === undefined) {
          this._timer(
            "headers",
            this._t.headersMs,
            () =>
              this.#fail(
                new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "header block not complete in time"),
              ),
          );
        }
      } else if (this._gotSettings) this._clear("headers");
    } catch (e) {
      try {
        this.#fail(
          e instanceof H2ConnectionError
            ? e
            : new H2ConnectionError(H2_ERROR.INTERNAL_ERROR, String(e), { cause: e }),
        );
      } catch {
        this._socket.destroy(); // never into the event loop
      }
    }
  };

  protected _maybeDone(): void {
    if (this._dead) return;
    if (this.activeStreams === 0) {
      if (this._goawaySent !== undefined || this._goawayGot) return this.#finish();
      this.#armIdle();
    }
  }

  #armIdle(): void {
    if (this._timers.idle === undefined) {
      this._timer("idle", this._t.idleMs, () => {
        if (this.activeStreams === 0) this.close();
      });
    }
  }

  protected _calm(why: string): void {
    this.#fail(new H2ConnectionError(H2_ERROR.ENHANCE_YOUR_CALM, why));
  }

  /** Graceful end: everything was done; FIN after what is queued. */
  #finish(): void {
    const got = this._goawayGot;
    this.#shutdown({ code: got?.code ?? H2_ERROR.NO_ERROR, by: got ? "peer" : "local" });
  }

  /** A connection error: GOAWAY (ours), every stream fails, the socket closes. */
  #fail(e: H2ConnectionError): void {
    if (this._dead) return;
    if (!e.remote && !this._socket.destroyed) {
      this._sender.control(
        encodeFrame({
          type: "GOAWAY",
          lastStreamId: this._lastPeerId,
          code: e.code,
          debug: enc.encode(e.message.slice(0, 200)),
        }),
        true,
      );
    }
    this.#shutdown({ code: e.code, by: e.remote ? "peer" : "local", error: e });
  }

  /** The socket failed or closed under us. */
  #lost(e: Error | undefined): void {
    if (this._dead) return;
    const clean = !e && this.activeStreams === 0;
    const err = e ??
      (clean ? undefined : new H2ConnectionError(H2_ERROR.CANCEL, "connection closed by the peer", {
        remote: true,
      }));
    this.#shutdown({
      code: clean ? H2_ERROR.NO_ERROR : H2_ERROR.INTERNAL_ERROR,
      by: e ? "socket" : "peer",
      error: err,
    });
  }

  #shutdown(reason: H2CloseReason): void {
    if (this._dead) return;
    this._dead = true;
    for (const k of ["settings", "idle", "headers"] as const) this._clear(k);
    if (this._closeDeadline !== undefined) this._clock.clearTimeout(this._closeDeadline);
    const err = reason.error ?? new H2ConnectionError(H2_ERROR.CANCEL, "connection closed");
    for (const s of [...this._streams.values(), ...this._waiting.splice(0)]) {
      this._streams.delete(s.id);
      s._finish(err);
    }
    for (const p of this._pings.values()) {
      this._clock.clearTimeout(p.timer);
      p.reject(err);
    }
    this._pings.clear();
    this._ready.resolve(false);
    this._sender.close();
    this._socket.removeListener("data", this.#onData);
    this._socket.on("data", () => {}); // drain what still comes, so our FIN isn't turned into a reset
    if (!this._socket.destroyed) {
      this._socket.end();
      this._timers.linger = this._clock.setTimeout(() => this._socket.destroy(), 1000);
    }
    this._closed.resolve(reason);
  }
}
