/**
 * HTTP/2 on the routed listeners (`listener.ts`), which frame HTTP/1.1 themselves: a
 * connection that opens with the HTTP/2 preface (h2c with prior knowledge), or a TLS one that
 * negotiated ALPN `h2`, is piped byte for byte to an internal `Deno.serve` (hyper speaks the
 * HTTP/2), one per listener, on 127.0.0.1 port 0, started on the first such connection.
 *
 * The listener keeps owning the connection: it was accepted (and counted) by the listener's
 * guard and stays counted while piped; both ends are destroyed when either closes; a
 * connection whose first request doesn't arrive within the headers timeout, or that has no
 * stream open for the idle timeout, is closed. The internal server runs the listener's
 * handler with `info.remoteAddr` set to the real client: each pipe is registered by its local
 * port (the `remoteAddr.port` the internal server sees), and a connection to the internal
 * port that isn't a registered pipe gets 503, so nothing bypasses the listener.
 *
 * @example
 * ```ts
 * const h2 = new H2Bridge({ name: "outbound", scheme: "http", handler, limits });
 * if (prefaceMatch(firstBytes) === "h2") h2.attach(socket, firstBytes);
 * await h2.close();
 * ```
 * @module
 */
import net from "node:net";
import { logger } from "../util/log.ts";

const log = logger("h2c");

/** The HTTP/2 connection preface (RFC 9113 §3.4). */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * What the first bytes of a connection are: `h2` (the whole preface), `h1` (they can't be
 * the preface any more: decided on the first byte that differs), or `more` (a proper prefix).
 */
export function prefaceMatch(buf: Uint8Array): "h1" | "h2" | "more" {
  const n = Math.min(buf.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (buf[i] !== PREFACE[i]) return "h1";
  return buf.length >= PREFACE.length ? "h2" : "more";
}

/** A `Deno.serve`-style handler. */
type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** The limits of the listener that apply to its HTTP/2 connections. */
export interface H2Limits {
  /** The first request's headers must have arrived this long after the preface (ms; 0: off). */
  requestHeadersTimeoutMs: number;
  /** A connection with no stream open this long is closed (ms; 0: off). */
  idleTimeoutMs: number;
  /** Largest header list (HTTP/2 accounting: name + value + 32 per field); hyper's own is 16 KiB. */
  maxRequestHeadersBytes: number;
  /** Most header fields in a request. */
  maxRequestHeaders: number;
}

/** What {@linkcode H2Bridge} is built with. */
export interface H2BridgeOptions {
  /** For logs: the listener's name. */
  name: string;
  /** The listener's scheme: request URLs carry it whatever `:scheme` the client sent. */
  scheme: "http" | "https";
  handler: Handler;
  limits: H2Limits;
  /** A connection without traffic this long is closed even with streams open (ms). */
  streamIdleTimeoutMs?: number;
  /** Called with each request that carries a listener-set `x-forwarded-client-cert`. */
  onVerified?: (req: Request) => void;
}

/** Per-connection details a piped connection brings. */
export interface H2Attach {
  /** A MUTUAL listener's `x-forwarded-client-cert` for the verified client certificate. */
  xfcc?: string;
}

interface Pipe {
  remote: Deno.NetAddr;
  xfcc: string | undefined;
  /** Streams (requests) in flight. */
  active: number;
  requests: number;
  idleSince: number;
  downstream: net.Socket;
  upstream: net.Socket;
}

const STREAM_IDLE_TIMEOUT_MS = 300_000;
const SHUTDOWN_WAIT_MS = 1_000;

/** Logs one line per key at most every 10 s. */
const lastWarn = new Map<string, number>();
function warn(key: string, message: string, fields: Record<string, unknown>) {
  const now = performance.now();
  const at = lastWarn.get(key);
  if (at !== undefined && now - at < 10_000) return;
  lastWarn.set(key, now);
  log.warn(message, fields);
}

/** One listener's HTTP/2 side: the internal server and the connections piped to it. */
export class H2Bridge {
  readonly #o: H2BridgeOptions;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #closed = false;
  /** Registered pipes by their local port (the internal server's `remoteAddr.port`). */
  readonly #pipes = new Map<number, Pipe>();
  /** Every pipe, registered or still connecting. */
  readonly #all = new Set<Pipe>();
  /** Requests refused because they didn't come through a registered pipe. */
  refused = 0;

  constructor(opts: H2BridgeOptions) {
    this.#o = opts;
  }

  /** The internal server's port (undefined until the first HTTP/2 connection). */
  get internalPort(): number | undefined {
    return this.#server?.addr.port;
  }

  /** Connections piped now. */
  get connections(): number {
    return this.#all.size;
  }

  /**
   * Pipes `socket` (HTTP/2 from its first byte; `head` are bytes already read from it) to the
   * internal server; owns the socket from then on.
   */
  attach(socket: net.Socket, head?: Uint8Array, extra: H2Attach = {}): void {
    socket.pause();
    socket.on("error", () => {});
    const server = this.#ensureServer();
    if (!server) {
      socket.destroy();
      return;
    }
    const up = net.connect({ host: "127.0.0.1", port: server.addr.port });
    const p: Pipe = {
      remote: {
        transport: "tcp",
        hostname: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
      },
      xfcc: extra.xfcc,
      active: 0,
      requests: 0,
      idleSince: performance.now(),
      downstream: socket,
      upstream: up,
    };
    this.#all.add(p);
    let port = -1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      clearTimeout(timer);
      socket.destroy();
      up.destroy();
      this.#all.delete(p);
      if (port !== -1 && this.#pipes.get(port) === p) this.#pipes.delete(port);
    };
    up.on("error", end);
    socket.on("error", end);
    up.once("close", end);
    socket.once("close", end);
    up.once("connect", () => {
      if (socket.destroyed) return end();
      up.setNoDelay(true);
      socket.setNoDelay?.(true);
      port = up.localPort ?? -1;
      this.#pipes.set(port, p);
      if (head?.length) up.write(head);
      // pipe() pauses the reading side while the writing side is backed up, both ways.
      socket.pipe(up);
      up.pipe(socket);
    });
    // Timers: the first request within the headers timeout of the preface, then no stream
    // open for the idle timeout; one timer per connection, re-armed by itself.
    const l = this.#o.limits;
    const check = () => {
      timer = undefined;
      if (p.requests === 0) {
        warn(`${this.#o.name}:h2-headers`, "HTTP/2 connection closed: no request in time", {
          listener: this.#o.name,
          remote: p.remote.hostname,
        });
        return end();
      }
      if (l.idleTimeoutMs <= 0) return;
      const idle = p.active > 0 ? 0 : performance.now() - p.idleSince;
      if (idle >= l.idleTimeoutMs) return end();
      timer = setTimeout(check, l.idleTimeoutMs - idle);
    };
    if (l.requestHeadersTimeoutMs > 0) timer = setTimeout(check, l.requestHeadersTimeoutMs);
    else if (l.idleTimeoutMs > 0) {
      p.requests = -1; // no headers deadline: only the idle check
      timer = setTimeout(check, l.idleTimeoutMs);
    }
    // No bytes at all either way (a stream stuck open): closed.
    socket.setTimeout(this.#o.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS, end);
  }

  /** Closes every piped connection and the internal server. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const p of [...this.#all]) {
      p.downstream.destroy();
      p.upstream.destroy();
    }
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      s.shutdown().catch(() => {}),
      new Promise<void>((r) => (t = setTimeout(r, SHUTDOWN_WAIT_MS))),
    ]);
    clearTimeout(t);
  }

  /** The internal server's handler (exposed for tests): pipe lookup, `info` fix-up, limits. */
  handle = (req: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response> => {
    const a = info.remoteAddr as Deno.NetAddr;
    const p = a.hostname === "127.0.0.1" ? this.#pipes.get(a.port) : undefined;
    if (p === undefined) {
      this.refused++;
      warn(`${this.#o.name}:h2-stray`, "internal HTTP/2 port: connection not from the listener", {
        listener: this.#o.name,
        remote: `${a.hostname}:${a.port}`,
      });
      return new Response("not a connection of this listener\n", { status: 503 });
    }
    if (p.requests >= 0) p.requests++;
    p.active++;
    const done = () => {
      p.active--;
      p.idleSince = performance.now();
    };
    info.completed.then(done, done);
    const l = this.#o.limits;
    let count = 0;
    let bytes = 0;
    req.headers.forEach((v, k) => {
      count++;
      bytes += k.length + v.length + 32;
    });
    if (count > l.maxRequestHeaders) {
      return text(431, `more than ${l.maxRequestHeaders} request headers`);
    }
    if (bytes > l.maxRequestHeadersBytes) {
      return text(431, `request headers over ${Math.floor(l.maxRequestHeadersBytes / 1024)} KiB`);
    }
    let r = req;
    if (p.xfcc !== undefined) {
      const h = new Headers(req.headers);
      h.set("x-forwarded-client-cert", p.xfcc);
      r = new Request(req, { headers: h });
      this.#o.onVerified?.(r);
    }
    // The URL as the listener serves it: hyper builds it from the client's `:scheme`.
    const scheme = this.#o.scheme;
    if (!r.url.startsWith(scheme) || r.url.charCodeAt(scheme.length) !== 58) {
      const url = scheme + r.url.slice(r.url.indexOf(":"));
      Object.defineProperty(r, "url", { value: url });
    }
    const fixed = { remoteAddr: p.remote, completed: info.completed } as Deno.ServeHandlerInfo;
    return this.#o.handler(r, fixed);
  };

  #ensureServer(): Deno.HttpServer<Deno.NetAddr> | undefined {
    if (this.#closed) return undefined;
    if (this.#server) return this.#server;
    try {
      const s = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: () => {},
        onError: (err) => {
          warn(`${this.#o.name}:h2-error`, "HTTP/2 request failed", {
            listener: this.#o.name,
            error: (err as Error)?.message ?? String(err),
          });
          return text(502, `proxy error: ${(err as Error)?.message ?? err}`);
        },
      }, this.handle);
      s.finished.catch((err) =>
        log.error("internal HTTP/2 server failed", { listener: this.#o.name, error: err })
      );
      this.#server = s;
      log.debug("internal HTTP/2 server started", {
        listener: this.#o.name,
        port: s.addr.port,
      });
      return s;
    } catch (err) {
      warn(`${this.#o.name}:h2-start`, "can't start the internal HTTP/2 server", {
        listener: this.#o.name,
        error: (err as Error).message,
      });
      return undefined;
    }
  }
}

function text(status: number, body: string): Response {
  return new Response(body + "\n", { status, headers: { "content-type": "text/plain" } });
}
