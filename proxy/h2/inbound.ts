/**
 * The receiving half of an HTTP/2 connection and its stream bookkeeping, the base of
 * `H2Connection` (`connection.ts`, which adds the public API and the lifecycle): frames as
 * the reader hands them on (`frame_reader.ts`), SETTINGS, PING, GOAWAY, WINDOW_UPDATE,
 * RST_STREAM, header blocks (HPACK, `hpack.ts`) checked against §8 (`message.ts`), DATA
 * within our windows, stream states and ids (§5.1), and the counters of `limits.ts`.
 *
 * Errors found here are thrown as `H2ConnectionError` (the connection catches them and
 * ends with GOAWAY) or handled as stream errors (RST_STREAM).
 *
 * @example
 * ```ts
 * // Not used directly: see connection.ts.
 * import { H2Connection } from "./connection.ts";
 * new H2Connection(socket, { role: "server", onStream: (s) => s.reset() });
 * ```
 * @module
 */
import type { Socket } from "node:net";
import { type Clock, realClock } from "../../util/clock.ts";
import { errorName, H2_ERROR, H2ConnectionError, H2StreamError } from "./errors.ts";
import { FrameReader } from "./frame_reader.ts";
import { encodeFrame, type HeadersFrame, type ReadItem } from "./frames.ts";
import { type HeaderField, HpackDecoder, HpackEncoder, HpackError } from "./hpack.ts";
import { type ClosedHow, ClosedStreams } from "./closed.ts";
import { H2_LIMITS, type H2Limits, RateCounter } from "./limits.ts";
import { checkRequest, checkResponse, checkTrailers } from "./message.ts";
import {
  H2_LOCAL_SETTINGS,
  H2_TIMEOUTS,
  type H2CloseReason,
  type H2ConnectionOptions,
  type H2LocalSettings,
  type H2Timeouts,
  PREFACE,
} from "./options.ts";
import { Sender } from "./sender.ts";
import {
  applySettings,
  DEFAULT_SETTINGS,
  type H2Settings,
  MAX_WINDOW,
  SETTING,
  settingsEntries,
} from "./settings.ts";
import { H2Stream, type StreamHost } from "./stream.ts";

const enc = new TextEncoder();

/** The state and the receiving half of a connection. */
export abstract class H2Inbound implements StreamHost {
  /** Our SETTINGS entries, as announced. */
  protected readonly _entries: readonly (readonly [number, number])[];
  readonly role: "server" | "client";
  /** Server: called for each new request stream (may be set after construction). */
  onStream: ((stream: H2Stream) => void | Promise<void>) | undefined;
  /** Resolves once the connection is closed, with the reason. Never rejects. */
  readonly closed: Promise<H2CloseReason>;
  /**
   * Resolves true once the peer's first SETTINGS are in (`peerSettings` is then what it
   * announced), false when the connection closes before. Never rejects.
   */
  readonly ready: Promise<boolean>;
  /** The peer's settings as last received. */
  peerSettings: H2Settings = { ...DEFAULT_SETTINGS };
  readonly localSettings: Readonly<H2LocalSettings>;

  protected readonly _socket: Socket;
  protected readonly _clock: Clock;
  protected readonly _t: H2Timeouts;
  protected readonly _limits: H2Limits;
  protected readonly _reader: FrameReader;
  protected readonly _decoder: HpackDecoder;
  protected readonly _encoder: HpackEncoder;
  protected readonly _sender: Sender;
  protected readonly _closed = Promise.withResolvers<H2CloseReason>();
  protected readonly _ready = Promise.withResolvers<boolean>();
  protected readonly _streams = new Map<number, H2Stream>();
  protected readonly _closedStreams = new ClosedStreams(); // the peer's, for late frames
  protected readonly _waiting: H2Stream[] = []; // client requests waiting for a free stream
  protected readonly _connWindow: number;
  protected _connRecv: number;
  protected _connUnacked = 0;
  protected _prefaceLeft: number;
  protected _gotSettings = false;
  protected _settingsAcked = false;
  protected _lastPeerId = 0;
  protected _nextId: number;
  protected _peerOpen = 0;
  protected _localOpen = 0;
  protected _goawaySent: number | undefined;
  protected _goawayGot: { lastStreamId: number; code: number } | undefined;
  protected _closeDeadline: unknown;
  protected _dead = false;
  protected _pings = new Map<
    string,
    { resolve: (ms: number) => void; reject: (e: Error) => void; at: number; timer: unknown }
  >();
  protected _pingSeq = 0;
  /** Our stream frames sent when the peer's last PING arrived. */
  protected _framesAtPing = -1;
  protected _timers: { settings?: unknown; idle?: unknown; headers?: unknown; linger?: unknown } =
    {};
  protected readonly _resets: RateCounter;
  protected readonly _pingRate: RateCounter;
  protected readonly _settingsRate: RateCounter;
  protected readonly _emptyRate: RateCounter;

  constructor(socket: Socket, o: H2ConnectionOptions) {
    this._socket = socket;
    this.role = o.role;
    this.onStream = o.onStream;
    this.closed = this._closed.promise;
    this.ready = this._ready.promise;
    this._clock = o.clock ?? realClock;
    this._t = { ...H2_TIMEOUTS, ...o.timeouts };
    this._limits = { ...H2_LIMITS, ...o.limits };
    const local = { ...H2_LOCAL_SETTINGS, ...o.settings };
    this.localSettings = Object.freeze(local);
    this._entries = settingsEntries({ ...DEFAULT_SETTINGS, ...local, enablePush: false });
    this._connWindow = o.connectionWindow ?? 1024 * 1024;
    if (this._connWindow < 65535 || this._connWindow > MAX_WINDOW) {
      throw new RangeError("connectionWindow");
    }
    this._connRecv = this._connWindow;
    this._nextId = this.role === "client" ? 1 : 2;
    this._prefaceLeft = this.role === "server" ? PREFACE.length : 0;
    const L = this._limits;
    this._reader = new FrameReader({
      maxFrameSize: local.maxFrameSize,
      maxHeaderBlockSize: L.maxHeaderBlockSize,
      maxContinuations: L.maxContinuations,
    });
    this._decoder = new HpackDecoder({
      maxTableSize: local.headerTableSize,
      maxHeaderListSize: local.maxHeaderListSize,
    });
    this._encoder = new HpackEncoder({ huffman: o.huffman ?? true });
    const rate = (max: number) =>
      new RateCounter({ clock: this._clock, windowMs: L.windowMs, max });
    this._resets = rate(L.maxResets);
    this._pingRate = rate(L.maxPings);
    this._settingsRate = rate(L.maxSettings);
    this._emptyRate = rate(L.maxEmptyFrames);
    this._sender = new Sender({
      socket,
      maxOutboundControl: L.maxOutboundControl,
      onOverflow: () => this._calm("too many control frames owed while the peer doesn't read"),
      sendTrailers: (s, fields) => this.sendHeaders(s, fields, true),
      onEndSent: (s) => this._ended(s),
    });
  }

  // ---- internals ----

  protected _windows = { conn: 65535, maxFrame: () => this.peerSettings.maxFrameSize };

  protected _initialRecv(): number {
    // Until our SETTINGS are acknowledged the peer may still count from 65535.
    const w = this.localSettings.initialWindowSize;
    return this._settingsAcked ? w : Math.max(w, 65535);
  }

  protected _onItem = (f: ReadItem): void => {
    if (this._dead) return;
    if (!this._gotSettings) {
      if (f.type !== "SETTINGS" || f.ack) {
        throw new H2ConnectionError(
          H2_ERROR.PROTOCOL_ERROR,
          `${f.type} before the peer's SETTINGS`,
        );
      }
    }
    switch (f.type) {
      case "SETTINGS":
        return this._onSettings(f.ack, f.settings);
      case "PING":
        if (f.ack) {
          const key = f.data.join();
          const p = this._pings.get(key);
          if (p) {
            this._pings.delete(key);
            this._clock.clearTimeout(p.timer);
            p.resolve(this._clock.now() - p.at);
          }
          return;
        }
        // Only PINGs with no stream traffic from us since the last count (gRPC's "ping
        // strikes"): a peer measuring bandwidth (gRPC's BDP estimator pings as our DATA
        // arrives) isn't flooding; idle PINGs over the limit are. Unread ACKs are capped by
        // the sender's owed control frames either way.
        if (this._sender.streamFrames === this._framesAtPing && this._pingRate.hit()) {
          return this._calm("PING flood");
        }
        this._framesAtPing = this._sender.streamFrames;
        return this._sender.control(encodeFrame({ type: "PING", ack: true, data: f.data }));
      case "GOAWAY":
        return this._onGoaway(f.lastStreamId, f.code);
      case "WINDOW_UPDATE":
        return this._onWindowUpdate(f.streamId, f.increment);
      case "RST_STREAM":
        return this._onReset(f.streamId, f.code);
      case "PRIORITY":
        if (this._emptyRate.hit()) return this._calm("PRIORITY flood");
        if (f.priority.dependency === f.streamId) {
          this._streamError(
            f.streamId,
            new H2StreamError(H2_ERROR.PROTOCOL_ERROR, f.streamId, "stream depends on itself"),
          );
        }
        return;
      case "PUSH_PROMISE":
        throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "PUSH_PROMISE, and push is disabled");
      case "STREAM_ERROR":
        return this._streamError(f.streamId, f.error);
      case "HEADERS":
        return this._onHeaders(f);
      case "DATA":
        return this._onDataFrame(f.streamId, f.data, {
          flow: f.flowLength ?? f.data.length,
          end: f.endStream,
        });
    }
  };

  protected _onSettings(ack: boolean, entries: readonly (readonly [number, number])[]): void {
    if (ack) {
      if (!this._settingsAcked) {
        this._settingsAcked = true;
        this._clear("settings");
      }
      return;
    }
    if (this._gotSettings && this._settingsRate.hit()) return this._calm("SETTINGS flood");
    if (
      this.role === "client" && entries.some(([id, v]) => id === SETTING.ENABLE_PUSH && v !== 0)
    ) {
      throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, "a server enabled push");
    }
    const before = this.peerSettings;
    const next = applySettings(before, entries);
    const delta = next.initialWindowSize - before.initialWindowSize;
    if (delta !== 0) {
      for (const s of this._streams.values()) {
        s._sendWindow += delta;
        if (s._sendWindow > MAX_WINDOW) {
          throw new H2ConnectionError(
            H2_ERROR.FLOW_CONTROL_ERROR,
            "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
          );
        }
      }
    }
    if (next.headerTableSize !== before.headerTableSize) {
      this._encoder.setPeerMaxTableSize(next.headerTableSize);
    }
    this.peerSettings = next;
    if (!this._gotSettings) {
      this._gotSettings = true;
      if (!this._reader.inHeaderBlock) this._clear("headers");
      this._ready.resolve(true);
    }
    this._sender.control(encodeFrame({ type: "SETTINGS", ack: true, settings: [] }));
    this._openWaiting();
    this._sender.pump(this._windows);
  }

  protected _onGoaway(lastStreamId: number, code: number): void {
    this._goawayGot = { lastStreamId, code };
    const refused = (id: number) =>
      new H2StreamError(
        H2_ERROR.REFUSED_STREAM,
        id,
        `not processed: GOAWAY ${errorName(code)} with last stream ${lastStreamId}`,
        { retryable: true, remote: true },
      );
    for (const s of [...this._streams.values()]) {
      if (this._isLocal(s.id) && s.id > lastStreamId) {
        this._remove(s);
        s._finish(refused(s.id));
      }
    }
    for (const s of this._waiting.splice(0)) s._finish(refused(0));
    this._maybeDone();
  }

  protected _onWindowUpdate(id: number, inc: number): void {
    if (id === 0) {
      this._windows.conn += inc;
      if (this._windows.conn > MAX_WINDOW) {
        throw new H2ConnectionError(H2_ERROR.FLOW_CONTROL_ERROR, "connection window over 2^31-1");
      }
    } else {
      const s = this._streams.get(id);
      if (!s) {
        if (this._isIdle(id)) {
          throw new H2ConnectionError(
            H2_ERROR.PROTOCOL_ERROR,
            `WINDOW_UPDATE on idle stream ${id}`,
          );
        }
        return;
      }
      s._sendWindow += inc;
      if (s._sendWindow > MAX_WINDOW) {
        return this._streamError(
          id,
          new H2StreamError(H2_ERROR.FLOW_CONTROL_ERROR, id, "window over 2^31-1"),
        );
      }
    }
    this._sender.pump(this._windows);
  }

  protected _onReset(id: number, code: number): void {
    const s = this._streams.get(id);
    if (!s) {
      if (this._isIdle(id)) {
        throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      }
      return;
    }
    this._remove(s, "peer-reset");
    s._finish(
      new H2StreamError(code, id, "reset by the peer", {
        remote: true,
        retryable: code === H2_ERROR.REFUSED_STREAM,
      }),
    );
    // Rapid reset: the peer opened the stream and reset it before we were done with it.
    if (!this._isLocal(id) && !s._localEnded && this._resets.hit()) {
      return this._calm("rapid reset");
    }
    this._maybeDone();
  }

  protected _onHeaders(f: HeadersFrame): void {
    const id = f.streamId;
    let fields: HeaderField[] | undefined;
    try {
      fields = this._decoder.decode(f.block);
    } catch (e) {
      if (!(e instanceof HpackError) || e.code !== "HEADER_LIST_TOO_LARGE") {
        throw new H2ConnectionError(H2_ERROR.COMPRESSION_ERROR, (e as Error).message, { cause: e });
      }
    }
    const s = this._streams.get(id);
    if (f.priority && f.priority.dependency === id) {
      return this._streamError(
        id,
        new H2StreamError(H2_ERROR.PROTOCOL_ERROR, id, "stream depends on itself"),
        s === undefined,
      );
    }
    if (s) return this._onStreamHeaders(s, fields, f.endStream);
    if (this._isLocal(id) || this.role === "client") {
      if (this._isIdle(id)) {
        throw new H2ConnectionError(
          H2_ERROR.PROTOCOL_ERROR,
          `HEADERS on idle stream ${id} of ours`,
        );
      }
      return; // a closed stream (we reset it): ignored
    }
    if (id <= this._lastPeerId) {
      const e = this._closedStreams.check(id, "HEADERS"); // closed: ignored or an error
      return e && this._streamError(id, e, true);
    }
    this._lastPeerId = id;
    if (this._goawaySent !== undefined || this._dead) {
      return this._closedStreams.add(id, "local-reset"); // after GOAWAY: not processed
    }
    const refuse = (code: number, why: string) =>
      this._streamError(id, new H2StreamError(code, id, why), true);
    if (this._peerOpen >= this.localSettings.maxConcurrentStreams) {
      return refuse(H2_ERROR.REFUSED_STREAM, "over SETTINGS_MAX_CONCURRENT_STREAMS");
    }
    if (!fields) {
      // 431: answered here, so the client learns why; the table is consistent.
      if (this._resets.hit()) return this._calm("too many refused streams");
      const s431 = this._newServerStream(id, [], "GET");
      s431.respond([[":status", "431"], ["content-type", "text/plain"]]);
      s431.write(enc.encode("request header fields too large\n"));
      s431.end();
      if (f.endStream) s431._remoteEnd([]);
      return;
    }
    const info = checkRequest(fields, {
      extendedConnect: this.localSettings.enableConnectProtocol,
    });
    if ("error" in info) return refuse(H2_ERROR.PROTOCOL_ERROR, `malformed request: ${info.error}`);
    const s2 = this._newServerStream(id, fields, info.method);
    s2._expected = info.contentLength;
    if (f.endStream) this._remoteEnd(s2, []);
    if (s2._done) return;
    const fail = (e: unknown) =>
      this._resetStream(
        s2,
        new H2StreamError(H2_ERROR.INTERNAL_ERROR, id, `handler failed: ${(e as Error)?.message}`, {
          cause: e,
        }),
      );
    try {
      if (!this.onStream) return s2.reset(H2_ERROR.REFUSED_STREAM);
      // A handler's rejection resets its stream rather than going unhandled.
      const r = this.onStream(s2) as unknown;
      if (r && typeof (r as Promise<void>).then === "function") {
        (r as Promise<void>).then(undefined, fail);
      }
    } catch (e) {
      fail(e);
    }
  }

  protected _newServerStream(id: number, fields: HeaderField[], method: string): H2Stream {
    const s = new H2Stream({ host: this, role: "server", headers: fields, method });
    s.id = id;
    s._openedAt = this._clock.now();
    s._sendWindow = this.peerSettings.initialWindowSize;
    s._recvWindow = this._initialRecv();
    this._streams.set(id, s);
    this._peerOpen++;
    this._clear("idle");
    return s;
  }

  protected _onStreamHeaders(s: H2Stream, fields: HeaderField[] | undefined, end: boolean): void {
    const id = s.id;
    if (s._remoteEnded) {
      return this._streamError(
        id,
        new H2StreamError(H2_ERROR.STREAM_CLOSED, id, "HEADERS after END_STREAM"),
      );
    }
    if (!fields) {
      return this._streamError(id, new H2StreamError(H2_ERROR.CANCEL, id, "header list too large"));
    }
    const err = (why: string) =>
      this._streamError(id, new H2StreamError(H2_ERROR.PROTOCOL_ERROR, id, why));
    if (this.role === "client" && !s._headersDone) {
      const info = checkResponse(fields);
      if ("error" in info) return err(`malformed response: ${info.error}`);
      if (info.status < 200) {
        if (end || info.status === 101) {
          return err(`informational ${info.status} response ending the stream`);
        }
        return;
      }
      const bodiless = s._method === "HEAD" || info.status === 204 || info.status === 304;
      s._expected = bodiless ? undefined : info.contentLength;
      s._gotResponse(fields);
      if (end) this._remoteEnd(s, []);
      return;
    }
    if (!end) return err("trailers without END_STREAM");
    const bad = checkTrailers(fields);
    if (bad) return err(`malformed trailers: ${bad}`);
    this._remoteEnd(s, fields);
  }

  protected _onDataFrame(id: number, data: Uint8Array, o: { flow: number; end: boolean }): void {
    if (o.flow > this._connRecv) {
      throw new H2ConnectionError(H2_ERROR.FLOW_CONTROL_ERROR, "DATA over the connection window");
    }
    this._connRecv -= o.flow;
    if (o.flow === 0 && !o.end && this._emptyRate.hit()) {
      return this._calm("empty DATA frames flood");
    }
    const s = this._streams.get(id);
    const discard = () => this.consumed(s ?? PLACEHOLDER, o.flow);
    if (!s) {
      if (this._isIdle(id)) {
        throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      }
      discard(); // a closed stream: the data is dropped, the window given back
      const e = this._isLocal(id) ? undefined : this._closedStreams.check(id, "DATA");
      return e && this._streamError(id, e, true);
    }
    if (s._remoteEnded) {
      discard();
      return this._streamError(
        id,
        new H2StreamError(H2_ERROR.STREAM_CLOSED, id, "DATA after END_STREAM"),
      );
    }
    if (this.role === "client" && !s._headersDone) {
      discard();
      return this._streamError(
        id,
        new H2StreamError(H2_ERROR.PROTOCOL_ERROR, id, "DATA before the response headers"),
      );
    }
    if (o.flow > s._recvWindow) {
      discard();
      return this._streamError(
        id,
        new H2StreamError(H2_ERROR.FLOW_CONTROL_ERROR, id, "DATA over the stream window"),
      );
    }
    s._recvWindow -= o.flow;
    s._received += data.length;
    if (s._expected !== undefined && s._received > s._expected) {
      discard();
      return this._streamError(
        id,
        new H2StreamError(H2_ERROR.PROTOCOL_ERROR, id, "DATA beyond content-length"),
      );
    }
    if (o.flow > data.length) this.consumed(s, o.flow - data.length); // padding
    s.body.push(data);
    if (o.end) this._remoteEnd(s, []);
  }

  protected _remoteEnd(s: H2Stream, trailers: HeaderField[]): void {
    if (s._expected !== undefined && s._received !== s._expected) {
      return this._streamError(
        s.id,
        new H2StreamError(
          H2_ERROR.PROTOCOL_ERROR,
          s.id,
          `content-length ${s._expected}, DATA ${s._received}`,
        ),
      );
    }
    s._remoteEnd(trailers);
    if (s._localEnded) {
      this._remove(s);
      s._finish();
      this._maybeDone();
    }
  }

  /** Our END_STREAM was handed to the socket. */
  protected _ended(s: H2Stream): void {
    if (s._done) return;
    if (s._remoteEnded) {
      this._remove(s);
      s._finish();
    } else if (this.role === "server") {
      // The response is complete: the rest of the request isn't needed (§8.1).
      this._sender.control(
        encodeFrame({ type: "RST_STREAM", streamId: s.id, code: H2_ERROR.NO_ERROR }),
      );
      this._remove(s, "local-reset");
      s._finish(
        new H2StreamError(H2_ERROR.NO_ERROR, s.id, "response complete before the request body"),
      );
    }
    this._maybeDone();
  }

  /** A stream error detected by us: RST_STREAM, counted against the rapid-reset limit. */
  protected _streamError(id: number, e: H2StreamError, count = false): void {
    const s = this._streams.get(id);
    if (s) return this._resetStream(s, e, true);
    this._sender.control(encodeFrame({ type: "RST_STREAM", streamId: id, code: e.code }));
    if (!this._isLocal(id)) this._closedStreams.add(id, "local-reset");
    if (count && this._resets.hit()) this._calm("too many refused streams");
  }

  protected _resetStream(s: H2Stream, e: H2StreamError, count = false): void {
    if (s._done) return;
    this._sender.control(encodeFrame({ type: "RST_STREAM", streamId: s.id, code: e.code }));
    this._remove(s, "local-reset");
    s._finish(e);
    if (count && this._resets.hit()) return this._calm("too many streams reset for errors");
    this._maybeDone();
  }

  protected _remove(s: H2Stream, how: ClosedHow = "done"): void {
    if (!this._streams.delete(s.id)) return;
    if (!this._isLocal(s.id)) this._closedStreams.add(s.id, how);
    if (this._isLocal(s.id)) this._localOpen--;
    else this._peerOpen--;
    this._sender.unschedule(s);
    // Its unread bytes no longer hold the connection window.
    const unread = s.body.detach();
    if (unread) this.consumed(PLACEHOLDER, unread);
    this._openWaiting();
  }

  protected _openWaiting(): void {
    while (
      this._waiting.length && this._localOpen < this.peerSettings.maxConcurrentStreams &&
      !this._dead
    ) {
      this._open(this._waiting.shift()!);
    }
  }

  protected _isLocal(id: number): boolean {
    return (id % 2 === 1) === (this.role === "client");
  }

  protected _isIdle(id: number): boolean {
    return this._isLocal(id) ? id >= this._nextId : id > this._lastPeerId;
  }

  protected _timer(name: "settings" | "idle" | "headers", ms: number, fn: () => void): void {
    this._clear(name);
    if (ms > 0) {
      this._timers[name] = this._clock.setTimeout(() => {
        this._timers[name] = undefined;
        fn();
      }, ms);
    }
  }

  protected _clear(name: "settings" | "idle" | "headers" | "linger"): void {
    const t = this._timers[name];
    if (t !== undefined) {
      this._clock.clearTimeout(t);
      this._timers[name] = undefined;
    }
  }
  abstract sendHeaders(s: H2Stream, fields: HeaderField[], endStream: boolean): void;
  abstract schedule(s: H2Stream): void;
  abstract resetStream(s: H2Stream, code: number): void;
  abstract consumed(s: H2Stream, n: number): void;
  protected abstract _calm(why: string): void;
  protected abstract _maybeDone(): void;
  protected abstract _open(s: H2Stream): void;
}

/** Stands for "no stream" where only the connection window is credited. */
const PLACEHOLDER = { _done: true, _remoteEnded: true } as unknown as H2Stream;
