/**
 * HTTP/2 on the routed listeners (`listener.ts`) with mesh's own codec (`h2/`): each stream
 * of a server-side {@linkcode H2Connection} becomes a `Request` for the listener's
 * `Deno.serve`-style handler, and the handler's `Response` goes back on the stream.
 *
 * - The request: `:method`, a URL of the listener's scheme (whatever `:scheme` the client
 *   sent) with `:authority` (else `host`) and `:path` as sent, unnormalized (as the HTTP/1.1
 *   bridge builds it); the header fields (split `cookie` fields joined with `; `, §8.2.3); a
 *   streaming body that pulls from the stream's body, so the client's window grows only as
 *   the handler reads (backpressure); the request's trailers attached with `withTrailers`.
 *   A MUTUAL listener's `x-forwarded-client-cert` replaces the client's.
 * - The response: status and headers (connection-specific ones dropped), the body written
 *   chunk by chunk, each `await stream.write()` waiting for the client's windows and the
 *   socket (backpressure), then END_STREAM with the response's trailers (`trailers.ts`;
 *   gRPC's `grpc-status`).
 * - A client reset aborts the request's signal and cancels the response body (the upstream
 *   side is released); a handler that throws answers 500; a body that fails mid-way resets
 *   the stream (INTERNAL_ERROR). Nothing here throws into the event loop.
 * - Upgrades are extended CONNECT (RFC 8441), announced with SETTINGS_ENABLE_CONNECT_PROTOCOL
 *   where `upgrades` is given (HTTP/2 forbids `connection`/`upgrade` fields: the codec refuses
 *   them as malformed). A CONNECT with `:protocol websocket` reaches the handler as the
 *   HTTP/1.1 upgrade request it stands for (GET, `connection: upgrade`, `upgrade: websocket`,
 *   an upgrade slot offered, `upgrade.ts`), so routing, authorization and telemetry see one
 *   kind of upgrade; when the handler accepts it, the stream answers 200 and becomes the
 *   client's side of the tunnel (`h2/tunnel.ts`), closed after `upgrades.idleTimeoutMs` of
 *   quiet. A `:protocol` mesh doesn't carry answers 403, as an HTTP/1.1 one does. A plain
 *   CONNECT (`:authority` only) answers 501: tunnels are HTTP/1.1 CONNECT on the outbound
 *   listener.
 *
 * The listener's limits map onto the connection: `maxRequestHeadersBytes` is our
 * SETTINGS_MAX_HEADER_LIST_SIZE (over it the codec answers 431), `maxRequestHeaders` is
 * checked here (431), `requestHeadersTimeoutMs` bounds the preface and SETTINGS and each
 * header block, `idleTimeoutMs` closes a connection without streams (GOAWAY); a connection
 * with streams open and no byte either way for `streamIdleTimeoutMs` is closed too.
 *
 * @example
 * ```ts
 * if (prefaceMatch(firstBytes) === "h2") {
 *   serveH2(socket, { scheme: "http", handler, limits, initialBytes: firstBytes });
 * }
 * ```
 * @module
 */
import type net from "node:net";
import { H2Connection, PREFACE } from "./h2/connection.ts";
import type { H2Stream } from "./h2/stream.ts";
import { H2_ERROR } from "./h2/errors.ts";
import { writeBody } from "./h2/pipe.ts";
import type { HeaderField } from "./h2/hpack.ts";
import { h2Tunnel } from "./h2/tunnel.ts";
import { wholeBody } from "./whole_body.ts";
import { setClientGone } from "./client_gone.ts";
import { type TrailerFields, trailersOf, withTrailers } from "./trailers.ts";
import type { ListenerLimits, ServeHandler } from "./listener.ts";
import {
  ALLOWED_UPGRADES,
  carry,
  offerUpgrade,
  upgradeHeaders,
  type UpgradeSlot,
} from "./upgrade.ts";

/**
 * What the first bytes of a connection are: `h2` (the whole preface), `h1` (they can't be
 * the preface any more: decided on the first byte that differs), or `more` (a proper prefix).
 */
export function prefaceMatch(buf: Uint8Array): "h1" | "h2" | "more" {
  const n = Math.min(buf.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (buf[i] !== PREFACE[i]) return "h1";
  return buf.length >= PREFACE.length ? "h2" : "more";
}

export { PREFACE };

/** What {@linkcode serveH2} is given. */
export interface H2ServeOptions {
  /** The listener's scheme: request URLs carry it whatever `:scheme` the client sent. */
  scheme: "http" | "https";
  handler: ServeHandler;
  limits: Pick<
    ListenerLimits,
    "requestHeadersTimeoutMs" | "idleTimeoutMs" | "maxRequestHeadersBytes" | "maxRequestHeaders"
  >;
  /** Bytes already read from the socket (the preface, and maybe more). */
  initialBytes?: Uint8Array;
  /** The listener's port, for the URL of a request without `:authority` or `host`. */
  listenerPort?: number;
  /** A MUTUAL listener's `x-forwarded-client-cert` for the verified client certificate. */
  xfcc?: string;
  /** Called with each request that carries the listener-set `x-forwarded-client-cert`. */
  onVerified?: (req: Request) => void;
  /** With streams open, no byte either way this long closes the connection (ms; 0: off). */
  streamIdleTimeoutMs?: number;
  /** Extended CONNECT (WebSocket over HTTP/2) accepted, tunnels closed after this quiet. */
  upgrades?: { idleTimeoutMs: number };
}

const STREAM_IDLE_TIMEOUT_MS = 300_000;
/**
 * The `:path` as sent of a request that came in over HTTP/2: a symbol-keyed property, not a
 * WeakMap (no ephemeron work for the garbage collector per request).
 */
const H2_PATH = Symbol("mesh.h2Path");
type WithPath = Request & { [H2_PATH]?: string };

/** Whether `req` came in over HTTP/2 (a stream of {@linkcode serveH2}). */
export function cameOverHttp2(req: Request): boolean {
  return (req as WithPath)[H2_PATH] !== undefined;
}

/** The `:path` of a request that came in over HTTP/2, as sent; `/` for any other. */
export function pathOf(req: Request): string {
  return (req as WithPath)[H2_PATH] ?? "/";
}
/** The URL the `Request` object is built with (its `url` is replaced by the one as sent). */
const BASE_URL = "http://request.invalid/";

/**
 * Serves HTTP/2 on `socket` (plaintext after the preface check, or TLS that negotiated ALPN
 * `h2`) with `o.handler`; owns the socket from then on (destroyed when the connection ends).
 */
export function serveH2(socket: net.Socket, o: H2ServeOptions): H2Connection {
  const remoteAddr: Deno.NetAddr = {
    transport: "tcp",
    hostname: socket.remoteAddress ?? "",
    port: socket.remotePort ?? 0,
  };
  const conn = new H2Connection(socket, {
    role: "server",
    ...(o.initialBytes ? { initialBytes: o.initialBytes } : {}),
    settings: {
      maxHeaderListSize: o.limits.maxRequestHeadersBytes,
      enableConnectProtocol: o.upgrades !== undefined,
    },
    timeouts: {
      headersMs: Math.max(0, o.limits.requestHeadersTimeoutMs),
      idleMs: Math.max(0, o.limits.idleTimeoutMs),
    },
    onStream: (stream) => serveStream(stream, o, remoteAddr),
  });
  const idle = o.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
  if (idle > 0) socket.setTimeout(idle, () => conn.destroy(new Error("no traffic")));
  // A graceful close ended the socket with its last frames still on the way (the codec
  // destroys it after a short linger); a failed one goes at once.
  conn.closed.then((r) => r.error && socket.destroy());
  return conn;
}

function text(status: number, body: string): Response {
  return new Response(body + "\n", { status, headers: { "content-type": "text/plain" } });
}

/** One stream: the request to the handler, its response back. Never rejects. */
async function serveStream(
  stream: H2Stream,
  o: H2ServeOptions,
  remoteAddr: Deno.NetAddr,
): Promise<void> {
  const abort = new AbortController();
  let res: Response | undefined;
  // A client reset (or the connection failing) before the response ended.
  stream.closed.then((err) => {
    if (!err) return;
    abort.abort(err);
    if (res?.body && !res.body.locked) res.body.cancel(err).catch(() => {});
  });
  try {
    const built = buildRequest(stream, o, abort.signal);
    let slot: UpgradeSlot | undefined;
    if (built instanceof Response) res = built;
    else {
      const type = stream.method === "CONNECT" ? stream.header(":protocol") : undefined;
      if (type !== undefined) slot = offerUpgrade(built, type);
      const info = {
        remoteAddr,
        get completed() {
          return stream.closed.then(() => {});
        },
      } as unknown as Deno.ServeHandlerInfo;
      try {
        res = await o.handler(built, info);
      } catch (err) {
        res = text(500, `proxy error: ${(err as Error)?.message ?? err}`);
      }
    }
    if (slot && (slot.upstream || slot.handOver) && res.status === 200) {
      return tunnel(stream, { res, slot, idleTimeoutMs: o.upgrades?.idleTimeoutMs ?? 0 });
    }
    if (slot) {
      // Refused or failed: no tunnel, so no bytes to take, and an upstream side already
      // accepted (a later stage failing) is let go with its circuit-breaker slot.
      stream.body.cancel();
      slot.upstream?.socket.destroy();
      if (slot.upstream) slot.done?.();
    }
    await respond(stream, res);
  } catch {
    // A stream that can't be answered (reset meanwhile, or a response it can't carry).
    stream.reset(H2_ERROR.INTERNAL_ERROR);
    if (res?.body && !res.body.locked) await res.body.cancel().catch(() => {});
  }
}

/** The handler's `Request` for `stream`, or a `Response` answering it without the handler. */
function buildRequest(
  stream: H2Stream,
  o: H2ServeOptions,
  signal: AbortSignal,
): Request | Response {
  const method = stream.method;
  let authority: string | undefined;
  let path = "/";
  let host: string | undefined;
  const fields: [string, string][] = [];
  const cookies: string[] = [];
  let count = 0;
  for (const [k, v] of stream.headers) {
    if (k.charCodeAt(0) === 58) {
      if (k === ":authority") authority = v;
      else if (k === ":path") path = v;
      continue;
    }
    count++;
    if (k === "host") host = v;
    if (k === "cookie") cookies.push(v);
    else if (!(o.xfcc !== undefined && k === "x-forwarded-client-cert")) fields.push([k, v]);
  }
  const protocol = method === "CONNECT" ? stream.header(":protocol") : undefined;
  if (method === "CONNECT" && protocol === undefined) {
    stream.body.cancel();
    return text(501, "CONNECT over HTTP/2 is not supported");
  }
  if (protocol !== undefined && !ALLOWED_UPGRADES.has(protocol)) {
    stream.body.cancel();
    return text(403, `upgrade ${protocol} is not allowed`);
  }
  if (count > o.limits.maxRequestHeaders) {
    stream.body.cancel();
    return text(431, `more than ${o.limits.maxRequestHeaders} request headers`);
  }
  if (cookies.length) fields.push(["cookie", cookies.join("; ")]);
  if (o.xfcc !== undefined) fields.push(["x-forwarded-client-cert", o.xfcc]);
  // An extended CONNECT is the upgrade request it stands for; its DATA are the tunnel's.
  if (protocol !== undefined) fields.push(...upgradeHeaders(protocol));
  const where = authority ?? host ?? `localhost:${o.listenerPort ?? 0}`;
  const url = `${o.scheme}://${where}${path === "*" ? "*" : path}`;
  let body: ReadableStream<Uint8Array> | null = null;
  if (protocol !== undefined) {
    // the tunnel's bytes: read by the tunnel, once accepted
  } else if (!stream.body.done) {
    if (method === "GET" || method === "HEAD") drain(stream); // a web Request can't carry it
    else body = stream.body.readable();
  }
  let req: Request;
  try {
    req = new Request(BASE_URL, {
      method: protocol !== undefined ? "GET" : method,
      headers: new Headers(fields),
      body,
    });
  } catch (err) {
    stream.body.cancel();
    return text(400, `bad request: ${(err as Error).message}`);
  }
  Object.defineProperty(req, "url", { value: url });
  (req as WithPath)[H2_PATH] = path;
  setClientGone(req, signal);
  // Trailers can only come with a body still to arrive.
  if (body !== null) withTrailers(req, stream.trailers.then(trailerFields));
  if (o.xfcc !== undefined) o.onVerified?.(req);
  return req;
}

/**
 * An accepted upgrade: the handler's 200 (the upstream's switch, its headers) goes out
 * without END_STREAM and the stream, as a socket, is spliced to the upstream side.
 */
function tunnel(
  stream: H2Stream,
  o: { res: Response; slot: UpgradeSlot; idleTimeoutMs: number },
): void {
  const head: [string, string][] = [[":status", "200"]];
  o.res.headers.forEach((v, k) => head.push([k, v]));
  o.res.body?.cancel().catch(() => {});
  const { upstream, handOver, done } = o.slot;
  if (stream.state === "closed") {
    // The client left meanwhile: the other side goes too (carrying onto a destroyed tunnel
    // closes the app's connection that `handOver` holds).
    upstream?.socket.destroy();
    done?.();
    if (handOver) handOver(h2Tunnel(stream), new Uint8Array(0));
    return;
  }
  stream.respond(head);
  const client = h2Tunnel(stream);
  const none = new Uint8Array(0);
  if (upstream) {
    carry(client, none, upstream, { idleTimeoutMs: o.idleTimeoutMs, done: () => done?.() });
  } else handOver!(client, none);
}

/** Reads and drops a body the request can't carry (its window goes back to the client). */
async function drain(stream: H2Stream): Promise<void> {
  try {
    for await (const _ of stream.body);
  } catch {
    // the stream failed: nothing to drain
  }
}

function trailerFields(fields: readonly HeaderField[]): TrailerFields {
  const out: TrailerFields = [];
  for (const [k, v] of fields) if (k.charCodeAt(0) !== 58) out.push([k, v]);
  return out;
}

/** Writes `res` on `stream`; rejects when the stream can't take it (the caller resets). */
async function respond(stream: H2Stream, res: Response): Promise<void> {
  const head: [string, string][] = [[":status", String(res.status)]];
  // Connection-specific fields HTTP/2 can't carry (§8.2.2) are dropped by the codec.
  res.headers.forEach((v, k) => head.push([k, v]));
  const bodyless = stream.method === "HEAD" || res.status === 204 || res.status === 304;
  // Bytes that came whole from upstream are written as they are (no stream made or read).
  const whole = bodyless ? undefined : wholeBody(res);
  if (whole !== undefined) {
    if (stream.state === "closed") return;
    stream.respond(head);
    await stream.write(whole);
    await stream.end();
    return;
  }
  if (res.body === null || bodyless) {
    await res.body?.cancel().catch(() => {});
    const trailers = bodyless ? [] : await trailersOf(res);
    if (trailers.length === 0) {
      stream.respond(head, { endStream: true });
      return;
    }
    stream.respond(head);
    await stream.end(trailers);
    return;
  }
  if (stream.state === "closed") {
    await res.body.cancel().catch(() => {});
    return;
  }
  stream.respond(head);
  await writeBody(stream, res.body);
  await stream.end(await trailersOf(res));
}
