/**
 * The endpoint stage: one request to one endpoint over a pooled connection. The rest of the
 * request path sees only {@linkcode EndpointClient}; today's client is mesh's HTTP/1.1 one
 * (`h1_client.ts` pools over `node:net`, or `node:tls` with mesh mTLS or a DestinationRule's
 * TLS origination, `forward.ts`). An HTTP/2 pooled client implements the same interface and
 * goes beside it in {@linkcode byProtocol}.
 *
 * Messages are header lists, not fetch `Request`/`Response`: header order and repeats are kept,
 * a small body that came with the head is handed over whole (`full`), a `101` hands over its
 * connection (`upgrade`), and a status `Response` would refuse reaches the caller, which
 * answers it as a bad upstream response (`UPE`, `errors.ts`).
 *
 * @example
 * ```ts
 * const client = byProtocol({ http1: new H1EndpointClient(upstreams) });
 * const res = await client.send(
 *   { method: "GET", path: "/", headers: [["host", "reviews:9080"]], body: null },
 *   { endpoint: { address: "10.0.0.1", port: 9080, mtls: true, labels: {} } },
 *   AbortSignal.timeout(1000),
 * );
 * const out = await responseOf(res);
 * ```
 * @module
 */
import type { Endpoint } from "../../api/proxy_config.ts";
import type { Origination } from "../forward.ts";
import type { H1Request, H1Response } from "../h1_client.ts";
import { hopFilter } from "../hop_headers.ts";
import { NULL_BODY_STATUS } from "../route_actions.ts";
import { withTrailers } from "../trailers.ts";
import { withWholeBody } from "../whole_body.ts";

/** A request as an endpoint client sends it. */
export interface EndpointRequest {
  method: string;
  /** The path with query (HTTP/2's `:path`). */
  path: string;
  /**
   * Header pairs, names lowercase, `host` included (HTTP/2's `:authority`); no hop-by-hop or
   * framing headers, except `connection`/`upgrade` of a WebSocket upgrade (over HTTP/2 it
   * becomes an extended CONNECT with `:protocol`).
   */
  headers: [string, string][];
  /** The body, or null; a stream is sent with `length` as its length, or chunked/streamed. */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** The body's length when known. */
  length?: number;
}

/** A response head and its body. */
export interface EndpointResponse {
  status: number;
  statusText: string;
  /** Header pairs as received (names lowercase); framing headers may be among them. */
  headers: [string, string][];
  /** The body; cancel it when it isn't read. */
  body: ReadableStream<Uint8Array>;
  /** The whole body, when it had arrived with the head (sent on in one write). */
  full?: Uint8Array;
  /**
   * A switch to an upgrade request (HTTP/1.1's `101`, or HTTP/2's `200` to an extended
   * CONNECT, RFC 8441): the connection or stream, as a socket, now the caller's.
   */
  upgrade?: H1Response["upgrade"];
  /**
   * The trailers, once the body has been read to its end (HTTP/2; `[]` when none); never
   * rejects. {@linkcode responseOf} attaches them to the `Response` (`trailers.ts`).
   */
  trailers?: Promise<[string, string][]>;
}

/** Where and how to send: the endpoint and its cluster's connection settings. */
export interface EndpointTarget {
  endpoint: Endpoint;
  /** TLS origination (DestinationRule SIMPLE or MUTUAL) to an endpoint outside the mesh. */
  origination?: Origination;
  /** The cluster's `connectTimeout`. */
  connectTimeoutMs?: number;
  /** Close a connection once it has carried this many requests (`maxRequestsPerConnection`). */
  maxRequestsPerConnection?: number;
  /** HTTP/2: streams in flight per connection before another opens (`maxConcurrentStreams`). */
  maxStreamsPerConnection?: number;
  /** The protocol to speak; HTTP/1.1 without. */
  protocol?: "http1" | "http2";
}

/**
 * Sends one request to one endpoint. Rejects before a response head with an error whose
 * `connected` is false when no connection (TCP, and TLS when secure) was ever established
 * (`UpstreamError` has it); aborting `signal` before the head rejects too, and closes the
 * connection or stream that carried the request.
 */
export interface EndpointClient {
  send(
    req: EndpointRequest,
    target: EndpointTarget,
    signal?: AbortSignal,
  ): Promise<EndpointResponse>;
}

/** What {@linkcode H1EndpointClient} sends through (`forward.ts`'s `Upstreams`). */
export interface H1Pools {
  request(
    ep: Endpoint,
    req: H1Request,
    origination?: Origination,
    connectTimeoutMs?: number,
  ): Promise<H1Response>;
}

/** mesh's pooled HTTP/1.1 client as an {@linkcode EndpointClient}. */
export class H1EndpointClient implements EndpointClient {
  #pools: H1Pools;
  constructor(pools: H1Pools) {
    this.#pools = pools;
  }

  // Async so that a pool that can't be made (no mesh certificate yet, an unreadable TLS file)
  // rejects like any other failure instead of throwing at the caller (a mirror's `.catch`).
  async send(
    req: EndpointRequest,
    target: EndpointTarget,
    signal?: AbortSignal,
  ): Promise<EndpointResponse> {
    return await this.#pools.request(
      target.endpoint,
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        length: req.length,
        signal,
        maxUses: target.maxRequestsPerConnection,
      },
      target.origination,
      target.connectTimeoutMs,
    );
  }
}

/** The clients of each protocol; HTTP/2 falls back to HTTP/1.1 until there is one. */
export interface ProtocolClients {
  http1: EndpointClient;
  http2?: EndpointClient;
}

/**
 * Thrown by an HTTP/2 client before it sent anything, for a request the peer's connection
 * can't carry but HTTP/1.1 can: an upgrade to a peer that didn't announce extended CONNECT
 * (SETTINGS_ENABLE_CONNECT_PROTOCOL). {@linkcode byProtocol} then sends it as HTTP/1.1.
 */
export class UseHttp1 extends Error {
  override name = "UseHttp1";
}

/**
 * One {@linkcode EndpointClient} that sends by `target.protocol`; an HTTP/2 client's
 * {@linkcode UseHttp1} sends the request again as HTTP/1.1.
 */
export function byProtocol(clients: ProtocolClients): EndpointClient {
  const { http1, http2 } = clients;
  return {
    send(req, target, signal) {
      if (target.protocol !== "http2" || !http2) return http1.send(req, target, signal);
      return http2.send(req, target, signal).catch((err) => {
        if (err instanceof UseHttp1) return http1.send(req, target, signal);
        throw err;
      });
    },
  };
}

/**
 * An endpoint's answer as a `Response`, hop-by-hop headers dropped; a body-less status gets
 * no body. Throws (the body cancelled by the caller) for what `Response` refuses (status 600).
 */
export async function responseOf(res: EndpointResponse): Promise<Response> {
  const headers = new Headers();
  const drop = hopFilter(res.headers.filter(([k]) => k === "connection").map(([, v]) => v), false);
  for (const [k, v] of res.headers) if (!drop(k)) headers.append(k, v);
  if (NULL_BODY_STATUS.has(res.status)) {
    if (!res.full) await res.body.cancel();
    return new Response(null, { status: res.status, headers });
  }
  // An empty whole body is none: a response that ended with its head goes on as one.
  const body = res.full ? (res.full.length ? res.full as Uint8Array<ArrayBuffer> : null) : res.body;
  const out = new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers,
  });
  // A whole body rides along: the listener writes these bytes without reading `out.body`.
  if (res.full?.length && !res.trailers) withWholeBody(out, res.full);
  return res.trailers ? withTrailers(out, res.trailers) : out;
}
