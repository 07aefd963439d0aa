/**
 * One HTTP/2 stream (RFC 9113 §5.1) as the application sees it, on either side: the
 * headers, the incoming body ({@linkcode H2Body}, with backpressure), trailers, and the
 * outgoing side: `respond` (server), `write` (resolves once the bytes fit the peer's
 * windows and were handed to the socket), `end` (optionally with trailers) and `reset`.
 * The connection (`connection.ts`) owns the protocol state; the stream keeps what its
 * application needs and what the connection's sender pulls from it.
 *
 * Promises never go unhandled: `closed` resolves (with the error, if any) and never rejects;
 * `response`, `trailers` and `write` reject on failure but are marked handled, so ignoring
 * them is safe.
 *
 * @example
 * ```ts
 * conn.onStream = async (stream) => {
 *   const body = await stream.body.bytes();
 *   stream.respond([[":status", "200"]]);
 *   await stream.write(body);
 *   await stream.end([["x-checksum", "1"]]);
 * };
 * ```
 * @module
 */
import { H2_ERROR, H2StreamError } from "./errors.ts";
import type { HeaderField } from "./hpack.ts";
import { H2Body } from "./body.ts";

/** What a stream asks of its connection. */
export interface StreamHost {
  sendHeaders(s: H2Stream, fields: HeaderField[], endStream: boolean): void;
  /** The stream has data or an end to send. */
  schedule(s: H2Stream): void;
  /** The application resets the stream. */
  resetStream(s: H2Stream, code: number): void;
  /** The application read `n` bytes of the body. */
  consumed(s: H2Stream, n: number): void;
}

/** RFC 9113 §5.1 states (reserved ones never occur: we never push). */
export type H2StreamState =
  | "idle"
  | "open"
  | "half-closed (local)"
  | "half-closed (remote)"
  | "closed";

interface Pending {
  data: Uint8Array;
  at: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

function handled<T>(): PromiseWithResolvers<T> {
  const r = Promise.withResolvers<T>();
  r.promise.catch(() => {});
  return r;
}

/** One stream. */
export class H2Stream {
  /** The stream id (0 for a client request still waiting for a free stream). */
  id = 0;
  readonly role: "server" | "client";
  /** Server: the request's header fields. Client: those sent. */
  readonly headers: HeaderField[];
  /** The incoming body (server: the request's, client: the response's). */
  readonly body: H2Body;
  /** Client: the final response's header fields (1xx are skipped). Made when first read. */
  get response(): Promise<HeaderField[]> {
    return this.#settled("response").promise;
  }
  /** The incoming trailers ([] when there were none). Made when first read. */
  get trailers(): Promise<HeaderField[]> {
    return this.#settled("trailers").promise;
  }
  /** Resolves when the stream is closed: undefined when it completed, else the error. */
  readonly closed: Promise<Error | undefined>;

  /** @internal Flow control and state, owned by the connection. */
  _sendWindow = 0;
  /** @internal */
  _recvWindow = 0;
  /** @internal Bytes consumed and not yet announced in WINDOW_UPDATE. */
  _unacked = 0;
  /** @internal */
  _localEnded = false;
  /** @internal */
  _remoteEnded = false;
  /** @internal */
  _done = false;
  /** @internal Server: final response headers sent. Client: final response headers received. */
  _headersDone = false;
  /** @internal The request's method. */
  _method: string;
  /** @internal content-length of the incoming message, when it binds the DATA. */
  _expected: number | undefined;
  /** @internal DATA bytes received. */
  _received = 0;
  /** @internal Client: END_STREAM with the request headers. */
  _endWithHeaders = false;
  /** @internal Outgoing data not yet framed. */
  _out: Pending[] = [];
  /** @internal */
  _outBytes = 0;
  /** @internal end() called: trailers to send after the data. */
  _end: { trailers: HeaderField[]; resolve: () => void; reject: (e: Error) => void } | undefined;
  /** @internal When the stream opened (for the rapid-reset accounting). */
  _openedAt = 0;

  readonly #host: StreamHost;
  // The response and trailers promises exist only once read (a server stream never reads its
  // `response`), and an error for them only once one is needed: a stream that completes
  // makes no Error (its stack trace is the costly part).
  #promises: {
    response?: PromiseWithResolvers<HeaderField[]>;
    trailers?: PromiseWithResolvers<HeaderField[]>;
  } = {};
  #values: { response?: HeaderField[]; trailers?: HeaderField[] } = {};
  readonly #closed = Promise.withResolvers<Error | undefined>();

  #settled(which: "response" | "trailers"): PromiseWithResolvers<HeaderField[]> {
    let p = this.#promises[which];
    if (p) return p;
    p = handled<HeaderField[]>();
    this.#promises[which] = p;
    const v = this.#values[which];
    if (v !== undefined) p.resolve(v);
    else if (this._done) p.reject(this.#failure());
    return p;
  }

  /** The error pending promises reject with: the stream's, else a closed-stream one. */
  #failure(): Error {
    return this.#error ?? new H2StreamError(H2_ERROR.STREAM_CLOSED, this.id, "stream closed");
  }

  /** @internal Made by the connection. */
  constructor(
    o: { host: StreamHost; role: "server" | "client"; headers: HeaderField[]; method: string },
  ) {
    this.#host = o.host;
    this.role = o.role;
    this.headers = o.headers;
    this._method = o.method;
    this.closed = this.#closed.promise;
    this.body = new H2Body({
      onConsume: (n) => this.#host.consumed(this, n),
      onCancel: () => this.#bodyCancelled(),
      onDiscard: () => this.#discarded(),
    });
  }

  /** A server gave up on the request body before its response ended: see `#discarded`. */
  #abandoned = false;

  /**
   * The body was cancelled. A client (the response body) resets the stream. A server (the
   * request body) that still has a response to send keeps the stream: the response goes out
   * (a refusal, say), and then, should more of the request come, RST_STREAM NO_ERROR asks the
   * client to stop (RFC 9113 §8.1); the bytes meanwhile are dropped, their window given back.
   */
  #bodyCancelled(): void {
    if (this.role === "server" && !this._localEnded && !this._done) {
      this.#abandoned = true;
      return;
    }
    this.reset(H2_ERROR.CANCEL);
  }

  /** Request bytes were dropped: once the response is out, the client is asked to stop. */
  #discarded(): void {
    if (this.#abandoned && this._localEnded && !this._done) this.reset(H2_ERROR.NO_ERROR);
  }

  /** The stream's state. */
  get state(): H2StreamState {
    if (this._done) return "closed";
    if (this.id === 0) return "idle";
    if (this._localEnded) return "half-closed (local)";
    if (this._remoteEnded) return "half-closed (remote)";
    return "open";
  }

  /** Outgoing bytes waiting for the peer's windows. */
  get bufferedOutgoing(): number {
    return this._outBytes;
  }

  /** How much the peer lets us send on this stream now. */
  get sendWindow(): number {
    return this._sendWindow;
  }

  /** Server: the request's method, path and authority, from its pseudo-header fields. */
  get method(): string {
    return this._method;
  }

  /** The value of the first field called `name` among the headers. */
  header(name: string): string | undefined {
    return this.headers.find(([n]) => n === name)?.[1];
  }

  /**
   * Server: sends response headers (`:status` first; 1xx may come before the final one).
   * Throws on misuse (a second final response, or on a client stream); does nothing on a
   * stream already closed (the peer may reset it at any time).
   */
  respond(fields: readonly HeaderField[], o?: { endStream?: boolean }): void {
    if (this.role !== "server") throw new Error("respond() is for server streams");
    if (this._headersDone) throw new Error(`stream ${this.id}: response already sent`);
    if (this._done || this._localEnded) return;
    const status = fields.find(([n]) => n === ":status")?.[1] ?? "";
    if (!/^[1-9][0-9]{2}$/.test(status) || status === "101") {
      throw new Error(`stream ${this.id}: invalid :status ${JSON.stringify(status)}`);
    }
    const informational = status.startsWith("1");
    if (!informational) this._headersDone = true;
    const end = !informational && (o?.endStream ?? false);
    if (end) this._localEnded = true;
    this.#host.sendHeaders(this, [...fields], end);
  }

  /**
   * Queues body bytes; resolves once they fit the peer's windows and were handed to the
   * socket, rejects if the stream fails first. Server streams must have responded.
   */
  write(data: Uint8Array): Promise<void> {
    if (this._done) {
      return rejected(this.#error ?? new H2StreamError(H2_ERROR.STREAM_CLOSED, this.id, "closed"));
    }
    if (this.role === "server" && !this._headersDone) {
      return rejected(new Error(`stream ${this.id}: write() before respond()`));
    }
    if (this._done) {
      return rejected(this.#error ?? new H2StreamError(H2_ERROR.STREAM_CLOSED, this.id, "closed"));
    }
    if (this._end || this._localEnded) {
      return rejected(new Error(`stream ${this.id}: write() after end()`));
    }
    if (data.length === 0) return Promise.resolve();
    const p = handled<void>();
    this._out.push({ data, at: 0, resolve: p.resolve, reject: p.reject });
    this._outBytes += data.length;
    this.#host.schedule(this);
    return p.promise;
  }

  /**
   * Ends the outgoing side after the queued data, with trailers if given (non-empty).
   * Resolves once END_STREAM was handed to the socket.
   */
  end(trailers?: readonly HeaderField[]): Promise<void> {
    if (this._done) return this.#error ? rejected(this.#error) : Promise.resolve();
    if (this.role === "server" && !this._headersDone) {
      return rejected(new Error(`stream ${this.id}: end() before respond()`));
    }
    if (this._done) return this.#error ? rejected(this.#error) : Promise.resolve();
    if (this._end || this._localEnded) return Promise.resolve();
    const p = handled<void>();
    this._end = { trailers: trailers ? [...trailers] : [], resolve: p.resolve, reject: p.reject };
    this.#host.schedule(this);
    return p.promise;
  }

  /** Resets the stream (RST_STREAM with `code`, CANCEL by default); nothing when closed. */
  reset(code: number = H2_ERROR.CANCEL): void {
    if (this._done) return;
    this.#host.resetStream(this, code);
  }

  #error: Error | undefined;

  /** @internal Final response headers arrived (client). */
  _gotResponse(fields: HeaderField[]): void {
    this._headersDone = true;
    this.#values.response = fields;
    this.#promises.response?.resolve(fields);
  }

  /** @internal The incoming side ended, with these trailers. */
  _remoteEnd(trailers: HeaderField[]): void {
    this._remoteEnded = true;
    this.body.end();
    this.#values.trailers = trailers;
    this.#promises.trailers?.resolve(trailers);
  }

  /** @internal The outgoing data and end are all framed. */
  _endSent(): void {
    this._localEnded = true;
    const e = this._end;
    this._end = undefined;
    e?.resolve();
  }

  /** @internal The stream is over: settles everything, with `error` if it failed. */
  _finish(error?: Error): void {
    if (this._done) return;
    this._done = true;
    this.#error = error;
    if (this._out.length) {
      const e = this.#failure();
      for (const w of this._out) w.reject(e);
    }
    this._out = [];
    this._outBytes = 0;
    if (this._end) {
      if (error) this._end.reject(error);
      else this._end.resolve();
      this._end = undefined;
    }
    if (error) this.body.fail(error);
    else this.body.end();
    // Promises already read and not settled reject; the others settle when read.
    for (const which of ["response", "trailers"] as const) {
      const p = this.#promises[which];
      if (p && this.#values[which] === undefined) p.reject(this.#failure());
    }
    this.#closed.resolve(error);
  }
}

function rejected(e: Error): Promise<never> {
  const p = Promise.reject(e);
  p.catch(() => {});
  return p;
}
