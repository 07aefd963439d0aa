/**
 * mesh's pooled HTTP/2 client as an {@linkcode EndpointClient}, over the codec of `proxy/h2/`.
 *
 * One pool per endpoint key (address, port and TLS: mesh identity or origination settings, as
 * `forward.ts` keys its pools). A pool holds a few connections; a request goes on the first
 * one that accepts streams and has fewer in flight than the peer's MAX_CONCURRENT_STREAMS and
 * our `maxStreamsPerConnection`, else on a new connection (up to `maxConnections`), else on
 * the least loaded one (the codec queues it until a stream frees). A connection that got or
 * sent GOAWAY takes no new requests and leaves the pool once closed; one without streams for
 * `idleMs` closes (the codec's idle timeout). Pools are bounded: an empty one is dropped, and
 * past `maxPools` the idle ones go first.
 *
 * Plaintext is h2c with prior knowledge; TLS offers ALPN `h2` only and a peer that picks
 * anything else is closed. A stream the peer never processed (REFUSED_STREAM, above a
 * GOAWAY's last stream id) is retried once on a fresh connection when the body can be sent
 * again (bytes or none). Request bodies are streamed with backpressure (each chunk waits for
 * the peer's windows and the socket); response bodies pull from the stream, and cancelling
 * one resets the stream (CANCEL).
 *
 * @example
 * ```ts
 * const client = byProtocol({
 *   http1: new H1EndpointClient(upstreams),
 *   http2: new H2EndpointClient({ dialer: upstreams }),
 * });
 * ```
 * @module
 */
import net from "node:net";
import type { Socket } from "node:net";
import type { Endpoint } from "../../api/proxy_config.ts";
import { connectTls, type TlsDialOptions } from "../flow.ts";
import type { Origination } from "../forward.ts";
import { DEFAULT_CONNECT_TIMEOUT_MS, UpstreamError } from "../h1_client.ts";
import { H2Connection, type H2ConnectionOptions } from "../h2/connection.ts";
import { H2_ERROR, H2StreamError } from "../h2/errors.ts";
import type { HeaderField } from "../h2/hpack.ts";
import type { H2Stream } from "../h2/stream.ts";
import { h2Tunnel } from "../h2/tunnel.ts";
import { upgradeOf as requestedUpgrade } from "../upgrade.ts";
import {
  type EndpointClient,
  type EndpointRequest,
  type EndpointResponse,
  type EndpointTarget,
  UseHttp1,
} from "./endpoint.ts";

/** How endpoints are keyed and dialled (`forward.ts`'s `Upstreams` is one). */
export interface H2Dialer {
  key(ep: Endpoint, origination?: Origination): string;
  /** TLS options, or undefined for plaintext; may throw (no certificate, unreadable file). */
  tlsOptions(ep: Endpoint, origination?: Origination): TlsDialOptions | undefined;
}

/** How an {@linkcode H2EndpointClient} pools. */
export interface H2EndpointOptions {
  dialer: H2Dialer;
  /** Connections per endpoint before requests share the least loaded one (default 4). */
  maxConnections?: number;
  /** Streams in flight per connection before another is opened (default 100). */
  maxStreamsPerConnection?: number;
  /** A connection without streams for this long closes (default 60 s; 0: never). */
  idleMs?: number;
  /** Endpoint pools kept (default 1024); past it, pools without requests in flight close. */
  maxPools?: number;
  /** Options for each connection (timeouts, settings, limits, clock). */
  connection?: Partial<Omit<H2ConnectionOptions, "role">>;
}

interface Conn {
  conn: H2Connection;
  socket: Socket;
  /** TCP (and the TLS handshake, with ALPN h2) completed. */
  established: boolean;
  inflight: number;
}

function connectError(c: Conn, err: unknown): unknown {
  if (c.established) return err;
  return new UpstreamError((err as Error)?.message ?? String(err), false, false);
}

/** The connections to one endpoint. */
class H2Pool {
  readonly conns: Conn[] = [];
  readonly #dial: () => Socket;
  readonly #o: H2EndpointOptions;
  readonly #onEmpty: () => void;
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  /** The cluster's `maxConcurrentStreams`, when it sets one (below our own cap). */
  maxStreams: number | undefined;

  constructor(dial: () => Socket, o: H2EndpointOptions, onEmpty: () => void) {
    this.#dial = dial;
    this.#o = o;
    this.#onEmpty = onEmpty;
  }

  get inflight(): number {
    return this.conns.reduce((n, c) => n + c.inflight, 0);
  }

  /** A connection for one more request; `fresh` opens a new one. */
  pick(fresh: boolean): Conn {
    if (!fresh) {
      const cap = Math.min(this.#o.maxStreamsPerConnection ?? 100, this.maxStreams ?? Infinity);
      const open = this.conns.filter((c) => c.conn.acceptsStreams);
      const free = open.find((c) =>
        c.inflight < Math.min(cap, c.conn.peerSettings.maxConcurrentStreams)
      );
      if (free) return free;
      if (open.length && open.length >= (this.#o.maxConnections ?? 4)) {
        return open.reduce((a, b) => (b.inflight < a.inflight ? b : a));
      }
    }
    return this.#open();
  }

  #open(): Conn {
    const socket = this.#dial();
    const secure = (socket as { encrypted?: boolean }).encrypted === true;
    const idleMs = this.#o.idleMs ?? 60_000;
    const conn = new H2Connection(socket, {
      ...this.#o.connection,
      role: "client",
      timeouts: { idleMs, ...this.#o.connection?.timeouts },
    });
    const c: Conn = { conn, socket, established: false, inflight: 0 };
    const ms = this.connectTimeoutMs;
    if (ms > 0) {
      socket.setTimeout(ms, () => {
        if (!c.established) conn.destroy(new Error(`connect timeout after ${ms} ms`));
      });
    }
    socket.once(secure ? "secureConnect" : "connect", () => {
      if (ms > 0) socket.setTimeout(0);
      const alpn = (socket as { alpnProtocol?: string | false }).alpnProtocol;
      if (secure && alpn !== "h2") {
        c.established = true; // connected, but the peer won't speak HTTP/2: UC, not UF
        conn.destroy(new Error(`upstream negotiated ${alpn || "no ALPN protocol"}, not h2`));
        return;
      }
      c.established = true;
    });
    this.conns.push(c);
    conn.closed.then(() => {
      const i = this.conns.indexOf(c);
      if (i >= 0) this.conns.splice(i, 1);
      if (this.conns.length === 0) this.#onEmpty();
    });
    return c;
  }

  /** Closes every connection at once. */
  destroy(): void {
    for (const c of [...this.conns]) c.conn.destroy();
  }
}

/**
 * Request header fields for HTTP/2: pseudo-headers from the head, `host` as `:authority`;
 * an upgrade (`upgrade` set) as an extended CONNECT with that `:protocol` (RFC 8441 §4).
 */
function requestFields(
  req: EndpointRequest,
  o: { secure: boolean; length: number | undefined; upgrade?: string },
) {
  const host = req.headers.find(([k]) => k === "host")?.[1] ?? "";
  const fields: HeaderField[] = [
    [":method", o.upgrade ? "CONNECT" : req.method],
    ...(o.upgrade ? [[":protocol", o.upgrade] as HeaderField] : []),
    [":scheme", o.secure ? "https" : "http"],
    [":path", req.path],
    [":authority", host],
  ];
  for (const [k, v] of req.headers) {
    if (k !== "host" && k !== "content-length") fields.push([k, v]);
  }
  const length = o.length;
  if (length !== undefined) fields.push(["content-length", String(length)]);
  return fields;
}

/** The upgrade a request asks for (`upgrade.ts`'s rules: an allowed type), or undefined. */
function upgradeOf(req: EndpointRequest): string | undefined {
  if (req.body !== null) return undefined;
  const asked = requestedUpgrade(req.headers);
  return asked && "type" in asked ? asked.type : undefined;
}

/** Sends the request body on `s` with backpressure; never rejects. */
async function sendBody(s: H2Stream, body: EndpointRequest["body"]): Promise<void> {
  if (body === null) return;
  if (body instanceof Uint8Array) {
    if (body.length) await s.write(body).catch(() => {});
    await s.end().catch(() => {});
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value?.length) await s.write(value); // resolves within the peer's windows
    }
    await s.end();
  } catch {
    // The stream failed (its error reaches the caller through `response`) or the body did:
    // then the peer must not take a truncated body as whole.
    s.reset(H2_ERROR.CANCEL);
    reader.cancel().catch(() => {});
  } finally {
    reader.releaseLock();
  }
}

/** mesh's pooled HTTP/2 client as an {@linkcode EndpointClient}. */
export class H2EndpointClient implements EndpointClient {
  readonly #o: H2EndpointOptions;
  readonly #pools = new Map<string, H2Pool>();

  constructor(o: H2EndpointOptions) {
    this.#o = o;
  }

  /** Connections open now, over every pool. */
  get connections(): number {
    let n = 0;
    for (const p of this.#pools.values()) n += p.conns.length;
    return n;
  }

  /** Endpoint pools open now. */
  get pools(): number {
    return this.#pools.size;
  }

  async send(
    req: EndpointRequest,
    target: EndpointTarget,
    signal?: AbortSignal,
  ): Promise<EndpointResponse> {
    if (signal?.aborted) throw new UpstreamError("request aborted", false);
    const { pool, secure } = this.#pool(target);
    const upgrade = upgradeOf(req);
    if (upgrade) return await this.#tunnel(pool, { secure, req, upgrade, signal });
    const replayable = !(req.body instanceof ReadableStream);
    try {
      return await this.#attempt(pool, secure, req, signal, false);
    } catch (err) {
      if (replayable && err instanceof H2StreamError && err.retryable && !signal?.aborted) {
        return await this.#attempt(pool, secure, req, signal, true);
      }
      throw err;
    }
  }

  #pool(target: EndpointTarget): { pool: H2Pool; secure: boolean } {
    const { endpoint: ep, origination } = target;
    const d = this.#o.dialer;
    const key = d.key(ep, origination);
    let pool = this.#pools.get(key);
    const tls = pool ? undefined : d.tlsOptions(ep, origination);
    const secure = key.startsWith("mtls|") || key.startsWith("tls|") || tls !== undefined;
    if (!pool) {
      this.#bound();
      const dial = tls
        ? () => connectTls({ ...tls, ALPNProtocols: ["h2"] })
        : () => net.connect({ host: ep.address, port: ep.port });
      const made: H2Pool = new H2Pool(dial, this.#o, () => {
        if (this.#pools.get(key) === made) this.#pools.delete(key);
      });
      pool = made;
      this.#pools.set(key, pool);
    }
    if (target.connectTimeoutMs !== undefined) pool.connectTimeoutMs = target.connectTimeoutMs;
    pool.maxStreams = target.maxStreamsPerConnection;
    return { pool, secure };
  }

  /** Past `maxPools`, closes the pools with nothing in flight (oldest first). */
  #bound(): void {
    const max = this.#o.maxPools ?? 1024;
    if (this.#pools.size < max) return;
    for (const [key, p] of this.#pools) {
      if (this.#pools.size < max) break;
      if (p.inflight === 0) {
        this.#pools.delete(key);
        p.destroy();
      }
    }
  }

  async #attempt(
    pool: H2Pool,
    secure: boolean,
    req: EndpointRequest,
    signal: AbortSignal | undefined,
    fresh: boolean,
  ): Promise<EndpointResponse> {
    const c = pool.pick(fresh);
    const body = req.body;
    const length = body instanceof Uint8Array
      ? body.length
      : body === null
      ? undefined
      : req.length;
    let s: H2Stream;
    try {
      s = c.conn.request(requestFields(req, { secure, length }), {
        endStream: body === null || (body instanceof Uint8Array && body.length === 0),
      });
    } catch (err) {
      // An invalid request (a CONNECT, a bad header): nothing was sent on the connection.
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      throw new UpstreamError(`can't send over HTTP/2: ${(err as Error).message}`, false);
    }
    c.inflight++;
    s.closed.then(() => c.inflight--);
    if (body !== null && !(body instanceof Uint8Array && body.length === 0)) {
      sendBody(s, body).catch(() => s.reset(H2_ERROR.CANCEL)); // never rejects; belt and braces
    }
    const onAbort = () => s.reset(H2_ERROR.CANCEL);
    signal?.addEventListener("abort", onAbort, { once: true });
    let fields: HeaderField[];
    try {
      fields = await s.response;
    } catch (err) {
      if (signal?.aborted) throw new UpstreamError("request aborted", false);
      throw err instanceof H2StreamError && err.retryable ? err : connectError(c, err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    const status = Number(fields.find(([k]) => k === ":status")?.[1] ?? 0);
    return {
      status,
      statusText: "",
      headers: fields.filter(([k]) => !k.startsWith(":")).map(([k, v]) => [k, v]),
      body: s.body.readable(),
      // Ended with its head (gRPC's trailers-only response): no body, so that it goes on the
      // same way, one HEADERS frame with END_STREAM.
      ...(s.body.done ? { full: new Uint8Array(0) } : {}),
      trailers: s.trailers.then((t) => t.map(([k, v]): [string, string] => [k, v]), () => []),
    };
  }

  /**
   * An upgrade as an extended CONNECT (RFC 8441) on a pooled connection, once its peer
   * announced it (else {@linkcode UseHttp1}: the request goes as HTTP/1.1). A `2xx` is the
   * switch: the stream, as a socket, is the response's `upgrade`, and the response reads as a
   * `101`; any other answer is an ordinary response (our side of the stream ends).
   */
  async #tunnel(
    pool: H2Pool,
    o: { secure: boolean; req: EndpointRequest; upgrade: string; signal?: AbortSignal },
  ): Promise<EndpointResponse> {
    const c = pool.pick(false);
    c.inflight++; // held while the SETTINGS come, so that the pool doesn't close it
    let s: H2Stream;
    try {
      if (!(await c.conn.ready)) {
        throw connectError(c, new Error("connection closed before the peer's SETTINGS"));
      }
      if (!c.conn.peerSettings.enableConnectProtocol) throw new UseHttp1("no extended CONNECT");
      if (o.signal?.aborted) throw new UpstreamError("request aborted", false);
      try {
        s = c.conn.request(
          requestFields(o.req, { secure: o.secure, length: undefined, upgrade: o.upgrade }),
        );
      } catch (err) {
        throw new UpstreamError(`can't send over HTTP/2: ${(err as Error).message}`, false);
      }
    } finally {
      c.inflight--;
    }
    c.inflight++;
    s.closed.then(() => c.inflight--);
    const onAbort = () => s.reset(H2_ERROR.CANCEL);
    o.signal?.addEventListener("abort", onAbort, { once: true });
    let fields: HeaderField[];
    try {
      fields = await s.response;
    } catch (err) {
      if (o.signal?.aborted) throw new UpstreamError("request aborted", false);
      throw err instanceof H2StreamError && err.retryable ? err : connectError(c, err);
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
    const status = Number(fields.find(([k]) => k === ":status")?.[1] ?? 0);
    const headers = fields.filter(([k]) => !k.startsWith(":")).map(([k, v]): [string, string] => [
      k,
      v,
    ]);
    if (status >= 200 && status < 300) {
      // The tunnel: the response has no body of its own (cancelled when the tunnel ends).
      return {
        status: 101,
        statusText: "",
        headers,
        body: new ReadableStream(),
        upgrade: { socket: h2Tunnel(s), head: new Uint8Array(0) },
      };
    }
    s.end().catch(() => {});
    return {
      status,
      statusText: "",
      headers,
      body: s.body.readable(),
      ...(s.body.done ? { full: new Uint8Array(0) } : {}),
      trailers: s.trailers.then((t) => t.map(([k, v]): [string, string] => [k, v]), () => []),
    };
  }

  /** Closes the pools whose keys aren't among `keep` (endpoints gone from the config). */
  retain(keep: Iterable<[Endpoint, Origination | undefined]>): void {
    const wanted = new Set<string>();
    for (const [ep, o] of keep) wanted.add(this.#o.dialer.key(ep, o));
    for (const [key, p] of this.#pools) {
      if (!wanted.has(key)) {
        this.#pools.delete(key);
        for (const c of p.conns) c.conn.close().catch(() => {});
      }
    }
  }

  /** Closes every connection at once. */
  close(): void {
    for (const p of this.#pools.values()) p.destroy();
    this.#pools.clear();
  }
}
