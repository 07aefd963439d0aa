/**
 * A small HTTP/1.1 client over pooled, kept-alive connections (mesh mTLS via
 * `node:tls`, or plain TCP), built for the proxy's hot path: a request head
 * goes out in one write, the response is parsed incrementally, its body
 * streams through as it arrives (with backpressure), and the connection goes
 * back to its pool as soon as the response is complete.
 *
 * @example
 * ```ts
 * const pool = new H1Pool(() => tls.connect({ host, port, key, cert, ca }));
 * const res = await pool.request({ method: "GET", path: "/", headers: [["host", "reviews:9080"]], body: null });
 * res.status; // 200
 * ```
 * @module
 */
import type { Socket } from "node:net";
import {
  BARE_LF,
  ChunkedDecoder,
  concat,
  CRLF,
  emptyBody,
  findHeadEnd,
  latin1,
  MAX_HEAD_BYTES,
  parseHeaderLines,
  responseFraming,
  SocketBody,
  writeBody,
} from "./h1_codec.ts";
import { pauseReading } from "./flow.ts";

/** A request as the client writes it. */
export interface H1Request {
  method: string;
  path: string;
  /** Header name/value pairs, names lowercase, without hop-by-hop or framing headers. */
  headers: [string, string][];
  /** The body, or null. A stream is sent with `length` as content-length, or chunked. */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** Body length when known. */
  length?: number;
  /**
   * Aborting it before the response head arrives closes the connection and
   * rejects the request (no retry).
   */
  signal?: AbortSignal;
  /** Close the connection once it has carried this many requests. */
  maxUses?: number;
}

/** A response head plus its body stream. */
export interface H1Response {
  status: number;
  statusText: string;
  /** Header pairs as received (names lowercase), framing headers included. */
  headers: [string, string][];
  body: ReadableStream<Uint8Array>;
  /**
   * The whole body, when it had fully arrived with the head (small responses):
   * callers can send it in one write instead of reading `body`.
   */
  full?: Uint8Array;
  /**
   * Set for a `101 Switching Protocols` answer to a request with an `Upgrade` header: the
   * connection, out of its pool now and the caller's, with the bytes that followed the head.
   */
  upgrade?: { socket: Socket; head: Uint8Array };
}

/** Failure before a response head arrived. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  /** True when the request can't have been processed (a reused connection closed under it). */
  readonly retriable: boolean;
  /** False when the connection (TCP, and TLS when secure) was never established. */
  readonly connected: boolean;
  constructor(message: string, retriable: boolean, connected = true) {
    super(message);
    this.retriable = retriable;
    this.connected = connected;
  }
}

const encoder = new TextEncoder();
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/** One kept-alive connection carrying one request at a time. */
class H1Connection {
  readonly socket: Socket;
  readonly pool: H1Pool;
  uses = 0;
  closed = false;
  /** Set once TCP (or, for TLS, the handshake) completed. */
  established = false;
  #onData?: (chunk: Uint8Array) => void;
  #onEnd?: (err: Error) => void;
  // deno-lint-ignore no-explicit-any
  #listeners: [string, (...args: any[]) => void][] = [];

  constructor(socket: Socket, pool: H1Pool) {
    this.socket = socket;
    this.pool = pool;
    socket.setNoDelay?.(true);
    const secure = (socket as { encrypted?: boolean }).encrypted === true;
    // Connecting (and the TLS handshake) must finish within the pool's connect timeout.
    const ms = pool.connectTimeoutMs;
    if (ms > 0) {
      socket.setTimeout(ms, () => {
        if (!this.established) socket.destroy(new Error(`connect timeout after ${ms} ms`));
      });
    }
    socket.once(secure ? "secureConnect" : "connect", () => {
      this.established = true;
      if (ms > 0) socket.setTimeout(0);
    });
    const onData = (c: Uint8Array) => {
      if (this.#onData) this.#onData(c);
      else this.destroy(); // bytes with no request outstanding: don't trust this connection
    };
    socket.on("data", onData);
    const gone = (err?: Error) => {
      if (this.closed && !this.#onEnd) return;
      this.closed = true;
      this.pool.forget(this);
      const cb = this.#onEnd;
      this.#onData = undefined;
      this.#onEnd = undefined;
      cb?.(err ?? new Error("upstream closed the connection"));
    };
    const onError = (err: Error) => gone(err);
    const onClose = () => gone();
    socket.on("error", onError);
    socket.on("close", onClose);
    this.#listeners = [["data", onData], ["error", onError], ["close", onClose]];
  }

  /** Hands the socket over (an upgrade): out of the pool, no listener of this connection left. */
  detach(): Socket {
    this.closed = true;
    this.#onData = undefined;
    this.#onEnd = undefined;
    this.pool.forget(this);
    for (const [event, fn] of this.#listeners) this.socket.removeListener(event, fn);
    this.socket.on("error", () => {}); // until the new owner listens
    return this.socket;
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  send(req: H1Request): Promise<H1Response> {
    const reused = this.uses > 0;
    return new Promise<H1Response>((resolve, reject) => {
      let head = `${req.method} ${req.path} HTTP/1.1${CRLF}`;
      for (const [k, v] of req.headers) head += `${k}: ${v}${CRLF}`;
      let streamed = false;
      if (req.body instanceof Uint8Array) {
        if (req.body.length > 0 || req.method === "POST" || req.method === "PUT") {
          head += `content-length: ${req.body.length}${CRLF}`;
        }
      } else if (req.body !== null) {
        streamed = true;
        head += req.length !== undefined
          ? `content-length: ${req.length}${CRLF}`
          : `transfer-encoding: chunked${CRLF}`;
      }
      head += CRLF;
      // A 101 to an upgrade request hands the connection over instead of ending an exchange.
      const upgrading = req.headers.some(([k]) => k === "upgrade");

      let buf: Uint8Array = new Uint8Array(0);
      let body: SocketBody | undefined;
      let remaining = 0;
      let mode: "none" | "length" | "chunked" | "close" = "none";
      let chunked: ChunkedDecoder | undefined;
      let keepAlive = true;
      let done = false;

      const finish = (reusable: boolean) => {
        if (done) return;
        done = true;
        this.#onData = undefined;
        this.#onEnd = undefined;
        body?.close();
        this.uses++;
        const worn = req.maxUses !== undefined && this.uses >= req.maxUses;
        if (reusable && keepAlive && !this.closed && !worn) this.pool.release(this);
        else this.destroy();
      };
      const fail = (err: Error) => {
        if (done) return;
        done = true;
        this.#onData = undefined;
        this.#onEnd = undefined;
        this.destroy();
        if (!body) {
          return reject(new UpstreamError(err.message, reused && !streamed, this.established));
        }
        if (mode === "close") body.close();
        else body.error(err);
      };
      const onBody = (data: Uint8Array) => {
        if (mode === "length") {
          const take = Math.min(remaining, data.length);
          if (take > 0) body!.push(take === data.length ? data : data.subarray(0, take));
          remaining -= take;
          if (remaining === 0) finish(take === data.length);
        } else if (mode === "chunked") {
          const used = chunked!.feed(data, (c) => body!.push(c));
          if (typeof used === "string") return fail(new Error(used));
          if (chunked!.done) finish(used === data.length);
        } else if (data.length) {
          body!.push(data);
        }
      };

      this.#onEnd = (err) => fail(err);
      const signal = req.signal;
      if (signal) {
        if (signal.aborted) return fail(new Error("request aborted"));
        const onAbort = () => {
          if (!body) fail(new Error("request aborted"));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        // A response head settles the race: drop the listener then.
        const settled = () => signal.removeEventListener("abort", onAbort);
        const res = resolve;
        const rej = reject;
        resolve = (v) => {
          settled();
          res(v);
        };
        reject = (e) => {
          settled();
          rej(e);
        };
      }
      this.#onData = (chunk: Uint8Array) => {
        if (body) return onBody(chunk);
        const from = buf.length;
        buf = concat(buf, chunk);
        const end = findHeadEnd(buf, from);
        if (end === BARE_LF) return fail(new Error("bare LF line ending in the response head"));
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) fail(new Error("response head over 64 KiB"));
          return;
        }
        const lines = latin1.decode(buf.subarray(0, end)).split(CRLF);
        const rest = buf.subarray(end + 4);
        buf = new Uint8Array(0);
        const m = STATUS_LINE.exec(lines[0]);
        if (!m) return fail(new Error(`bad status line ${JSON.stringify(lines[0].slice(0, 80))}`));
        const status = Number(m[2]);
        if (status === 101 && upgrading) {
          const h = parseHeaderLines(lines);
          if (typeof h === "string") return fail(new Error(h));
          done = true;
          this.uses++;
          pauseReading(this.socket); // nothing flows until the new owner pipes it
          const socket = this.detach();
          resolve({
            status,
            statusText: m[3] ?? "",
            headers: h.headers,
            body: emptyBody(),
            upgrade: { socket, head: rest },
          });
          return;
        }
        if (status >= 100 && status < 200) {
          if (rest.length) this.#onData!(rest); // 100 Continue and friends: wait for the real head
          return;
        }
        const h = parseHeaderLines(lines);
        if (typeof h === "string") return fail(new Error(h));
        keepAlive = m[1] === "1" ? h.connection !== "close" : h.connection === "keep-alive";
        // Strict framing, as for requests: Transfer-Encoding only `chunked`, never with
        // Content-Length (an upstream that breaks this fails the exchange: 503 downstream).
        const framing = responseFraming(h, req.method, status);
        if ("error" in framing) return fail(new Error(`bad response: ${framing.error}`));
        if (framing.kind === "chunked") {
          mode = "chunked";
          chunked = new ChunkedDecoder();
        } else if (framing.kind === "length") {
          remaining = framing.length;
          mode = "length";
        } else if (framing.kind === "close") {
          mode = "close";
          keepAlive = false;
        } else mode = "none";
        body = new SocketBody(this.socket, () => {
          if (!done) {
            done = true;
            this.#onData = undefined;
            this.#onEnd = undefined;
            this.destroy();
          }
        });
        if (mode === "length" && rest.length >= remaining) {
          // The whole body came with the head: hand it over as bytes, no stream needed.
          const full = rest.subarray(0, remaining);
          const extra = rest.length > remaining;
          remaining = 0;
          resolve({
            status,
            statusText: m[3] ?? "",
            headers: h.headers,
            full,
            get body() {
              return new Response(full as Uint8Array<ArrayBuffer>).body!;
            },
          });
          finish(!extra);
          return;
        }
        resolve({
          status,
          statusText: m[3] ?? "",
          headers: h.headers,
          body: mode === "none" ? emptyBody() : body.stream,
        });
        if (mode === "none") finish(rest.length === 0);
        else if (rest.length) onBody(rest);
      };

      if (req.body instanceof Uint8Array && req.body.length > 0) {
        this.socket.write(concat(encoder.encode(head), req.body));
      } else if (req.body instanceof ReadableStream) {
        writeBody(encoder.encode(head), req.body, this.socket, req.length === undefined)
          .catch((err) => fail(err));
      } else {
        this.socket.write(encoder.encode(head));
      }
    });
  }
}

/** Istio's default `connectionPool.tcp.connectTimeout`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Connections to one upstream, with the idle ones kept for reuse. */
export class H1Pool {
  #connect: () => Socket;
  #idle: H1Connection[] = [];
  #all = new Set<H1Connection>();
  maxIdle: number;
  /** How long connecting may take (0: no limit). Istio's default connectTimeout is 10 s. */
  connectTimeoutMs: number;

  /** `connect` opens a new socket (node:tls or node:net) to the upstream. */
  constructor(
    connect: () => Socket,
    maxIdle = 1024,
    connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
  ) {
    this.#connect = connect;
    this.maxIdle = maxIdle;
    this.connectTimeoutMs = connectTimeoutMs;
  }

  /** Connections open now, busy or idle. */
  get size(): number {
    return this.#all.size;
  }

  /** @internal Returns a connection whose response completed. */
  release(c: H1Connection): void {
    if (c.closed || this.#idle.length >= this.maxIdle) return c.destroy();
    this.#idle.push(c);
  }

  /** @internal Drops a closed connection. */
  forget(c: H1Connection): void {
    this.#all.delete(c);
    const i = this.#idle.lastIndexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  #open(): H1Connection {
    const c = new H1Connection(this.#connect(), this);
    this.#all.add(c);
    return c;
  }

  /**
   * Sends a request on an idle connection or a new one. When a reused
   * connection turns out closed before any response (the upstream timed it
   * out), a request without a streamed body is retried once on a new one.
   */
  async request(req: H1Request): Promise<H1Response> {
    let c: H1Connection | undefined;
    while (this.#idle.length && !c) {
      const idle = this.#idle.pop()!;
      if (!idle.closed) c = idle;
    }
    try {
      return await (c ?? this.#open()).send(req);
    } catch (err) {
      if (err instanceof UpstreamError && err.retriable && !req.signal?.aborted) {
        return await this.#open().send(req);
      }
      throw err;
    }
  }

  /** Closes every connection (idle and busy). */
  close(): void {
    for (const c of this.#all) c.destroy();
    this.#all.clear();
    this.#idle = [];
  }

  /** Closes idle connections only; busy ones close when their response ends. */
  drain(): void {
    for (const c of this.#idle) c.destroy();
    this.#idle = [];
    this.maxIdle = 0;
  }
}
