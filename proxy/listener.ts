/**
 * The proxy's routed HTTP listeners (sidecar outbound and HTTP egress ports, gateway HTTP,
 * HTTPS SIMPLE and MUTUAL), all one way: `node:net` (and `node:tls` for HTTPS) with mesh's
 * own HTTP/1.1 server (`h1_server.ts`), bridged to a `Deno.serve`-style
 * `(Request, ServeHandlerInfo) => Response` handler. Owning the connections is what lets the
 * proxy protect itself as Envoy does, in one place ({@linkcode ListenerLimits}):
 *
 * - at most `maxConnections` connections per listener (and a process-wide budget derived from
 *   the open-file limit, so that accepting can never run the process out of descriptors);
 *   one more is closed as soon as it is accepted;
 * - a request head must arrive whole within `requestHeadersTimeoutMs` of its first byte, and
 *   a TLS handshake within the same time (slowloris);
 * - heads are limited to `maxRequestHeadersBytes` and `maxRequestHeaders` (431);
 * - a connection without a request in flight closes after `idleTimeoutMs`;
 * - accept errors never crash the process, and an accept loop that stopped (Deno 2.9's
 *   `node:net` stops accepting for good after one `EMFILE`) is noticed by a loopback probe
 *   and the port listened on again.
 *
 * HTTP/2 gets through too: a plaintext connection that opens with the HTTP/2 preface (h2c
 * with prior knowledge; decided on the first byte that can't be the preface, so HTTP/1.1
 * waits for nothing) and a TLS connection that negotiated ALPN `h2` are served by mesh's own
 * HTTP/2 codec (`h2_serve.ts` over `h2/`), still counted by the listener, with its limits
 * mapped onto the connection (header list size, headers and idle timeouts), trailers carried.
 *
 * The inbound listener (`inbound.ts`) gets the same protection with `guardServer`
 * (`guard.ts`, where the connection limits and the accept watchdog live) and
 * {@linkcode h1Options}.
 *
 * @example
 * ```ts
 * const l = await serveHttp({ name: "outbound", hostname: "127.0.0.1", port: 15001, handler });
 * l.port; // the bound port
 * await l.shutdown();
 * ```
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import {
  type H1ConnectHandler,
  type H1Handler,
  type H1ServerOptions,
  serveH1,
} from "./h1_server.ts";
import { carry, offerUpgrade, switchingHeaders, upgradeOf, type UpgradeSlot } from "./upgrade.ts";
import { prefaceMatch, serveH2 } from "./h2_serve.ts";
import { wholeBody } from "./whole_body.ts";
import { setClientGone } from "./client_gone.ts";
import type { H2Connection } from "./h2/connection.ts";

export {
  DEFAULT_LIMITS,
  type Guard,
  guardServer,
  type ListenerLimits,
  openConnections,
  openFileLimit,
  PROCESS_CONNECTION_BUDGET,
  rateLimitedLog,
} from "./guard.ts";
import { DEFAULT_LIMITS, type Guard, guardServer, type ListenerLimits } from "./guard.ts";

/** The HTTP/1.1 server options that carry `limits`. */
export function h1Options(limits: ListenerLimits = DEFAULT_LIMITS): H1ServerOptions {
  return {
    requestHeadersTimeoutMs: limits.requestHeadersTimeoutMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    maxRequestHeadersBytes: limits.maxRequestHeadersBytes,
    maxRequestHeaders: limits.maxRequestHeaders,
  };
}

/**
 * Whether a server-side TLS socket's client certificate chained to the trusted CAs. A
 * `TLSSocket` made directly (not by `tls.Server`) doesn't set `authorized`, and Deno's
 * handshake accepts an untrusted certificate and reports it only through `verifyError()`,
 * as Node's `tls.Server` reads it; without that, nothing is trusted.
 */
function peerVerified(t: tls.TLSSocket): boolean {
  if (t.authorized) return true;
  const handle = (t as unknown as { _handle?: { verifyError?: () => unknown } })._handle;
  if (typeof handle?.verifyError !== "function") return false;
  const cert = t.getPeerCertificate();
  return !handle.verifyError() && !!cert && Object.keys(cert).length > 0;
}

/** A `Deno.serve`-style handler. */
export type ServeHandler = (
  req: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** Serving material of an HTTPS listener; with `ca`, clients must present a certificate (MUTUAL). */
export interface ListenerTls {
  cert: string;
  key: string;
  /** CAs that client certificates must chain to (MUTUAL). */
  ca?: string;
}

/** What {@linkcode serveHttp} starts. */
export interface ListenerOptions {
  /** For logs: `outbound`, `gateway:443`, ... */
  name: string;
  hostname: string;
  port: number;
  handler: ServeHandler;
  tls?: ListenerTls;
  limits?: ListenerLimits;
  /** Takes CONNECT requests (the sidecar's outbound listener); without, they get 405. */
  onConnect?: H1ConnectHandler;
}

/** A running routed listener. */
export interface HttpListener {
  port: number;
  guard: Guard;
  /** Stops listening and closes every connection. */
  shutdown(): Promise<void>;
}

const verified = new WeakSet<Request>();

/** Whether `req`'s `x-forwarded-client-cert` was set by a MUTUAL listener (so it goes on). */
export function hasVerifiedXfcc(req: Request): boolean {
  return verified.has(req);
}

/** The `x-forwarded-client-cert` value Envoy sets for a verified client certificate. */
export function xfccFor(cert: tls.PeerCertificate): string {
  const hash = (cert.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
  const subject = Object.entries(cert.subject ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`).reverse().join(",");
  const parts = [`Hash=${hash}`, `Subject="${subject.replace(/"/g, '\\"')}"`];
  for (const san of (cert.subjectaltname ?? "").split(/,\s*/)) {
    if (san.startsWith("URI:")) parts.push(`URI=${san.slice(4)}`);
    else if (san.startsWith("DNS:")) parts.push(`DNS=${san.slice(4)}`);
  }
  return parts.join(";");
}

/** Response bodies up to this size (with a content-length) are read whole before writing. */
const SMALL_BODY_BYTES = 16 * 1024;

/** The URL the `Request` object is built with (its `url` is replaced by the one as sent). */
const BASE_URL = "http://request.invalid/";
const ABSOLUTE = /^https?:\/\//i;

/**
 * Bridges mesh's HTTP/1.1 server to a `Deno.serve`-style handler for one connection. The
 * handler sees `Request.url` as `Deno.serve` builds it, unnormalized: an absolute-form target
 * as sent, else `scheme://` + the Host header + the target (`localhost:<port>` when an
 * HTTP/1.0 request has no Host, as `Deno.serve` does). A WebSocket upgrade request is
 * offered to the handler (`upgrade.ts`); when it comes back accepted, the connection is
 * answered 101 and spliced to the upstream one, closed after `upgradeIdleMs` of quiet.
 */
export function bridge(
  handler: ServeHandler,
  socket: net.Socket,
  scheme: "http" | "https",
  listenerPort: number,
  xfcc?: string,
  upgradeIdleMs: number = DEFAULT_LIMITS.idleTimeoutMs,
): H1Handler {
  const info = {
    remoteAddr: {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    },
    completed: Promise.resolve(),
  } as unknown as Deno.ServeHandlerInfo;
  // Aborted when the client's connection closes: the request in flight is cancelled upstream.
  // One per connection, handed over by `clientGone` (not as the Request's `signal`, which
  // costs a dependent signal per request on a long-lived one).
  const gone = new AbortController();
  socket.once("close", () => gone.abort(new Error("downstream connection closed")));
  return async (r) => {
    let host: string | undefined;
    let pairs = r.headers;
    if (xfcc !== undefined) {
      pairs = r.headers.filter(([k]) => k !== "x-forwarded-client-cert");
      pairs.push(["x-forwarded-client-cert", xfcc]);
    }
    for (const [k, v] of r.headers) {
      if (k === "host") {
        host = v;
        break;
      }
    }
    const t = r.target;
    let url: string;
    if (t.charCodeAt(0) === 47) url = `${scheme}://${host ?? `localhost:${listenerPort}`}${t}`;
    else if (ABSOLUTE.test(t)) url = t;
    else if (t === "*") url = `${scheme}://${host ?? `localhost:${listenerPort}`}*`;
    else return { status: 400, headers: [], body: "bad request: bad request target\n" };
    let req: Request;
    try {
      req = new Request(BASE_URL, {
        method: r.method,
        headers: new Headers(pairs),
        body: r.method === "GET" || r.method === "HEAD" ? null : r.body,
      });
    } catch (err) {
      await r.body?.cancel().catch(() => {});
      return { status: 400, headers: [], body: `bad request: ${(err as Error).message}\n` };
    }
    Object.defineProperty(req, "url", { value: url });
    setClientGone(req, gone.signal);
    if (xfcc !== undefined) verified.add(req);
    // An upgrade can be carried only once the request is whole (no body still to come).
    const asked = upgradeOf(r.headers);
    if (asked && "refused" in asked) {
      // As Envoy answers an upgrade type its connection manager isn't configured for.
      await r.body?.cancel().catch(() => {});
      return { status: 403, headers: [], body: `upgrade ${asked.refused} is not allowed\n` };
    }
    let slot: UpgradeSlot | undefined;
    if (asked && "type" in asked && !r.body) slot = offerUpgrade(req, asked.type);
    let res: Response;
    try {
      res = await handler(req, info);
    } catch (err) {
      res = new Response(`proxy error: ${(err as Error).message}`, { status: 500 });
    }
    const up = slot?.upstream;
    if (slot && up) {
      await res.body?.cancel().catch(() => {});
      const pairs: [string, string][] = [];
      res.headers.forEach((v, k) => pairs.push([k, v]));
      const done = slot.done;
      return {
        status: 101,
        headers: switchingHeaders(pairs, slot.type),
        body: null,
        upgrade: (client, rest) =>
          carry(client, rest, up, { idleTimeoutMs: upgradeIdleMs, done: () => done?.() }),
      };
    }
    const out: [string, string][] = [];
    let length: number | undefined;
    res.headers.forEach((v, k) => {
      if (k === "content-length") length = Number(v);
      out.push([k, v]);
    });
    // A body that came whole from upstream goes out as those bytes (no stream made or read);
    // another small body of known length is read whole (natively) and goes out with the head
    // in one write; anything else streams with backpressure.
    const whole = wholeBody(res);
    if (whole !== undefined && (length === undefined || length === whole.length)) {
      return { status: res.status, headers: out, body: whole };
    }
    if (res.body !== null && length !== undefined && length <= SMALL_BODY_BYTES) {
      return { status: res.status, headers: out, body: new Uint8Array(await res.arrayBuffer()) };
    }
    return { status: res.status, headers: out, body: res.body, length };
  };
}

/**
 * Starts a routed HTTP (or, with `tls`, HTTPS) listener; resolves once it listens, rejects
 * when it can't (port in use).
 */
export function serveHttp(opts: ListenerOptions): Promise<HttpListener> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  let port = opts.port;
  const acceptor = httpAcceptor({ ...opts, port: () => port });
  const server = net.createServer((socket) => acceptor.accept(socket));
  return listenGuarded(
    server,
    { ...opts, limits, onPort: (p) => port = p },
    () => acceptor.close(),
  );
}

/**
 * Guards `server` (the listener limits) and listens on `o.hostname:o.port`; resolves once it
 * does, with the bound port. Its shutdown stops listening and calls `closeAll` to close the
 * connections it serves.
 */
export function listenGuarded(
  server: net.Server,
  o: {
    name: string;
    hostname: string;
    port: number;
    limits: ListenerLimits;
    onPort: (p: number) => void;
  },
  closeAll: () => void,
): Promise<HttpListener> {
  const guard = guardServer(server, o.name, o.limits);
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(err);
    server.prependOnceListener("error", failed);
    server.listen(o.port, o.hostname, () => {
      server.off("error", failed);
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : o.port;
      o.onPort(port);
      resolve({
        port,
        guard,
        shutdown: () =>
          new Promise<void>((done) => {
            if (!server.listening) done();
            else server.close(() => done());
            closeAll();
          }),
      });
    });
  });
}

/** What {@linkcode httpAcceptor} serves connections with. */
export interface HttpAcceptorOptions extends Omit<ListenerOptions, "hostname" | "port"> {
  /** The port requests count as received on (the listener's, or a captured destination's). */
  port: () => number;
}

/** Serves HTTP on connections accepted elsewhere (a listener, or transparent capture). */
export interface HttpAcceptor {
  /** Serves `socket` (TLS first when the options have it; HTTP/1.1 or HTTP/2 by sniffing). */
  accept(socket: net.Socket): void;
  /** Closes every connection it serves. */
  close(): void;
}

/**
 * The connection side of {@linkcode serveHttp}: everything but the listening socket, so a
 * connection accepted by another listener (a captured one) is served exactly the same way.
 */
export function httpAcceptor(opts: HttpAcceptorOptions): HttpAcceptor {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const h1 = h1Options(limits);
  const sockets = new Set<net.Socket>();
  const scheme = opts.tls ? "https" : "http";
  const h2 = new Set<H2Connection>();
  /** Hands a connection to HTTP/2 (mesh's codec); it stays counted by the guard. */
  const toH2 = (socket: net.Socket, head: Uint8Array | undefined, xfcc?: string) => {
    const conn = serveH2(socket, {
      scheme,
      handler: opts.handler,
      limits,
      listenerPort: opts.port(),
      upgrades: { idleTimeoutMs: limits.idleTimeoutMs },
      ...(head ? { initialBytes: head } : {}),
      ...(xfcc !== undefined ? { xfcc, onVerified: (req: Request) => verified.add(req) } : {}),
    });
    h2.add(conn);
    conn.closed.then(() => h2.delete(conn));
  };
  const secure = opts.tls
    ? tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca })
    : undefined;
  const mutual = opts.tls?.ca !== undefined;
  const accept = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (!secure) {
      sniff(socket);
      return;
    }
    // The handshake must finish within the headers timeout too (a slow handshake is slowloris).
    const handshake = limits.requestHeadersTimeoutMs > 0
      ? setTimeout(() => socket.destroy(), limits.requestHeadersTimeoutMs)
      : undefined;
    const t = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: secure,
      requestCert: mutual,
      rejectUnauthorized: mutual,
      ALPNProtocols: ["h2", "http/1.1"],
    } as tls.TLSSocketOptions);
    t.on("error", () => {
      clearTimeout(handshake);
      t.destroy();
      socket.destroy();
    });
    t.once("close", () => {
      clearTimeout(handshake);
      socket.destroy();
    });
    t.once("secure", () => {
      clearTimeout(handshake);
      if (mutual && !peerVerified(t)) {
        t.destroy();
        return;
      }
      const xfcc = mutual ? xfccFor(t.getPeerCertificate()) : undefined;
      if (t.alpnProtocol === "h2") return toH2(t, undefined, xfcc);
      serveH1(
        t,
        bridge(opts.handler, t, scheme, opts.port(), xfcc, limits.idleTimeoutMs),
        opts.onConnect,
        h1,
      );
    });
  };
  /**
   * A plaintext connection's first bytes: the HTTP/2 preface goes to HTTP/2, anything else
   * to HTTP/1.1 as soon as a byte differs from the preface (usually the first). Before a byte
   * arrives the idle timeout applies; a proper prefix of the preface must complete within the
   * headers timeout, which HTTP/1.1 then gets only what is left of.
   */
  const sniff = (socket: net.Socket) => {
    let buf: Uint8Array | undefined;
    let started = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onIdle = () => socket.destroy();
    const onData = (chunk: Uint8Array) => {
      buf = buf === undefined ? chunk : concat(buf, chunk);
      const m = prefaceMatch(buf);
      if (m === "more") {
        if (timer === undefined && limits.requestHeadersTimeoutMs > 0) {
          started = performance.now();
          timer = setTimeout(() => socket.destroy(), limits.requestHeadersTimeoutMs);
        }
        return;
      }
      socket.removeListener("data", onData);
      socket.removeListener("timeout", onIdle);
      clearTimeout(timer);
      if (m === "h2") {
        socket.setTimeout(0);
        return toH2(socket, buf);
      }
      socket.pause();
      socket.unshift(buf);
      let o = h1;
      if (timer !== undefined) {
        const left = limits.requestHeadersTimeoutMs - (performance.now() - started);
        o = { ...h1, requestHeadersTimeoutMs: Math.max(1, left) };
      }
      serveH1(
        socket,
        bridge(opts.handler, socket, scheme, opts.port(), undefined, limits.idleTimeoutMs),
        opts.onConnect,
        o,
      );
      socket.resume();
    };
    socket.on("data", onData);
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs);
      socket.on("timeout", onIdle);
    }
    socket.once("close", () => clearTimeout(timer));
  };
  return {
    accept,
    close() {
      for (const c of [...h2]) c.destroy();
      for (const s of sockets) s.destroy();
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
