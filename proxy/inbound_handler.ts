/**
 * One request on the inbound listener, whichever HTTP version carried it: admitted (config,
 * mTLS mode, one authority and normalized path, RequestAuthentication, AuthorizationPolicy),
 * then forwarded to the app on localhost through the endpoint stage (`stages/endpoint.ts`):
 * HTTP/1.1 from mesh's pool, or HTTP/2 (h2c with prior knowledge) when the config says the
 * app's port speaks it (`inboundProtocol` `HTTP2`, or `CLIENT` and the peer spoke HTTP/2).
 * Refusals are answered by `errors.ts` (gRPC-shaped for a gRPC request) and every request is
 * observed once (`stages/observe.ts`).
 *
 * The listener (`inbound.ts`) serves HTTP/1.1 with this handler directly; HTTP/2 streams
 * (`h2_serve.ts`) are adapted by {@linkcode inboundServeHandler}.
 *
 * @example
 * ```ts
 * const handle = inboundHandler(ctx, { peer, sourceIp: "10.0.0.1", http2: false, close });
 * const answer = await handle({ method: "GET", target: "/", headers, body: null });
 * ```
 * @module
 */
import type { HeaderChanges, MtlsMode, PathNormalization } from "../api/proxy_config.ts";
import type { Endpoint } from "../api/proxy_config.ts";
import type { H1ServerResponse } from "./h1_server.ts";
import type { AuthzDecision, AuthzRequest } from "./authz.ts";
import type { JwtAuthenticator, RequestAuth } from "./jwt.ts";
import type { ServeHandler } from "./listener.ts";
import { normalizePath } from "./path_normalize.ts";
import { targetAuthority } from "./authority.ts";
import { hopFilter, withoutHopHeaders } from "./hop_headers.ts";
import { VIA_HEADER } from "./loop.ts";
import { type Failure, failureAnswer } from "./errors.ts";
import { observe, type Telemetry } from "./stages/observe.ts";
import type { EndpointClient, EndpointResponse } from "./stages/endpoint.ts";
import { type Span, type Tracer, withTraceHeaders } from "./tracing.ts";
import { carry, switchingHeaders, upgradeHeaders, upgradeOf, upgradeSlotOf } from "./upgrade.ts";
import { isGrpc } from "./grpc.ts";
import { cameOverHttp2, pathOf } from "./h2_serve.ts";
import { withTrailers } from "./trailers.ts";
import { clientGone } from "./client_gone.ts";

/** What every request on one inbound listener shares. */
export interface InboundContext {
  /** This proxy's SPIFFE ID (the `By` of the XFCC it sets). */
  self: string;
  appPort: number;
  /** The inbound listener's own port (an app port equal to it would loop). */
  port: number;
  service: string;
  telemetry: Telemetry;
  /** Sends to the app (`byProtocol` of an HTTP/1.1 and an HTTP/2 client). */
  app: EndpointClient;
  mode: () => MtlsMode;
  waitForConfig?: () => Promise<boolean> | boolean;
  authorize?: () => ((r: AuthzRequest) => AuthzDecision) | undefined;
  authenticate?: () => JwtAuthenticator | undefined;
  tracer?: () => Tracer | undefined;
  pathNormalization?: () => PathNormalization | undefined;
  /** What the app's port speaks (`ProxyConfig.inboundProtocol`); HTTP/1.1 when undefined. */
  appProtocol?: () => "HTTP2" | "CLIENT" | undefined;
  /** A tunnel's idle timeout (WebSocket upgrades; ms, 0: none). */
  idleTimeoutMs: number;
}

/** One connection's peer. */
export interface InboundConn {
  /** The verified mesh peer (mTLS), or undefined for plaintext. */
  peer?: { uri: string; hash: string };
  sourceIp: string;
  /** The connection speaks HTTP/2. */
  http2: boolean;
  /** Closes the connection (a plaintext one once STRICT applies). */
  close(): void;
}

/** A request as the handler takes it (HTTP/1.1's shape; HTTP/2 adapted to it). */
export interface InboundRequest {
  method: string;
  /** The target as sent. */
  target: string;
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | null;
  length?: number;
  /** Aborted when the peer went away (stream reset, connection closed): the app call ends. */
  signal?: AbortSignal;
}

/** The answer: HTTP/1.1's response shape, with the app's trailers (HTTP/2) when any. */
export type InboundAnswer = H1ServerResponse & { trailers?: Promise<[string, string][]> };

const appEndpoint = (port: number): Endpoint => ({
  address: "127.0.0.1",
  port,
  mtls: false,
  labels: {},
});

/** The handler of the requests of one connection. */
export function inboundHandler(
  ctx: InboundContext,
  conn: InboundConn,
): (req: InboundRequest) => Promise<InboundAnswer> {
  const peer = conn.peer?.uri ?? "";
  const mtls = conn.peer !== undefined;
  const xfcc = conn.peer
    ? `By=${ctx.self};Hash=${conn.peer.hash};Subject="";URI=${peer}`
    : undefined;
  const labels = { service: ctx.service, peer, mtls };
  const principal = peer.replace(/^spiffe:\/\//, "");
  const appHost = `127.0.0.1:${ctx.appPort}`;
  const inboundCluster = `inbound|${ctx.appPort}||`;
  const endpoint = appEndpoint(ctx.appPort);
  return async (req) => {
    const start = performance.now();
    const h = (n: string) => req.headers.find(([k]) => k === n)?.[1];
    const grpc = isGrpc(h("content-type"));
    // Request headers, `host` the request's one authority once decided.
    let header = h;
    // The one observe step (stats, access log, span), as the routed listeners have it.
    const done = (status: number, o: { flags?: string; span?: Span; grpcStatus?: string }) =>
      observe(ctx.telemetry, {
        reporter: "destination",
        labels,
        status,
        flags: o.flags,
        // A gRPC request is counted as gRPC even when no status came ("").
        grpcStatus: o.grpcStatus ?? (grpc ? "" : undefined),
        start,
        method: req.method,
        path: req.target,
        authority: h("host"),
        protocol: conn.http2 ? "HTTP/2" : "HTTP/1.1",
        header: h,
        upstreamHost: appHost,
        upstreamCluster: inboundCluster,
        span: o.span && {
          span: o.span,
          name: `${ctx.service}:${ctx.appPort}/*`,
          url: `http://${header("host") ?? ""}${req.target}`,
          peerAddress: conn.sourceIp,
        },
      });
    // A refusal or failure as errors.ts answers it, observed; the request body, if still
    // ours, is not read.
    const refuse = async (f: Failure, span?: Span): Promise<InboundAnswer> => {
      const a = failureAnswer(f, { grpc });
      done(a.status, { flags: a.flags, span, grpcStatus: a.grpcStatus });
      if (req.body) await req.body.cancel().catch(() => {});
      return { status: a.status, headers: a.headers, body: a.body };
    };
    if (ctx.waitForConfig) {
      const waited = ctx.waitForConfig();
      const ready = waited === true || await waited;
      if (!ready) return refuse({ kind: "no_config" });
    }
    if (!mtls && ctx.mode() === "STRICT") {
      conn.close();
      return { status: 503, headers: [], body: "" };
    }
    // One authority and one normalized path (MeshConfig pathNormalization), decided once:
    // authorization and the app see the same ones.
    const authority = targetAuthority(req.target, h("host"));
    const normalized = normalizePath(req.target, ctx.pathNormalization?.());
    if (authority.reject !== undefined || normalized.reject !== undefined) {
      return refuse({ kind: "bad_request", why: (authority.reject ?? normalized.reject)! });
    }
    const path = normalized.path;
    const host = authority.authority;
    header = (name: string) => name === "host" ? host : h(name);
    if (ctx.appPort === ctx.port) {
      // The app port is this listener's own: forwarding would loop.
      return refuse({ kind: "loop", why: "the app port is the inbound listener's own" });
    }
    // A SERVER span sharing the caller's span id; its B3 headers go on to the app.
    const span = ctx.tracer?.()?.start("SERVER", header);
    // RequestAuthentication: a token must verify; it gives the request an identity.
    let auth: RequestAuth | undefined;
    let extraHeaders: HeaderChanges | undefined;
    const jwt = ctx.authenticate?.();
    if (jwt) {
      // Several values of one header are read together, as Envoy does.
      const joined = (name: string) => {
        const vs = req.headers.filter(([k]) => k === name).map(([, v]) => v);
        return vs.length ? vs.join(",") : undefined;
      };
      const out = await jwt.authenticate({ path, header: joined });
      if (!out.ok) {
        return refuse({
          kind: "jwt_denied",
          message: out.message,
          authority: header("host") ?? "",
          path,
          scheme: "http",
        }, span);
      }
      auth = out.auth;
      extraHeaders = out.headers;
    }
    const authorize = ctx.authorize?.();
    if (authorize) {
      const decision = authorize({
        principal,
        sourceIp: conn.sourceIp,
        host: header("host") ?? "",
        port: ctx.appPort,
        method: req.method,
        path,
        header,
        auth,
      });
      if (!decision.allowed) return refuse({ kind: "rbac" }, span);
    }
    if (span) extraHeaders = withTraceHeaders(extraHeaders, span);
    const headers = appHeaders(req, { host, mtls, xfcc, extraHeaders });
    // A WebSocket upgrade (authorized like any request) asks the app for it in turn.
    const asked = req.body ? undefined : upgradeOf(req.headers);
    const upgrade = asked && "type" in asked ? asked.type : undefined;
    if (upgrade) headers.push(...upgradeHeaders(upgrade));
    const protocol = ctx.appProtocol?.();
    const http2 = !upgrade && (protocol === "HTTP2" || (protocol === "CLIENT" && conn.http2));
    let res: EndpointResponse;
    try {
      res = await ctx.app.send(
        { method: req.method, path, headers, body: req.body, length: req.length },
        { endpoint, ...(http2 ? { protocol: "http2" as const } : {}) },
        req.signal,
      );
    } catch (err) {
      if (req.signal?.aborted) return refuse({ kind: "downstream_reset" }, span);
      return refuse({ kind: "unreachable", detail: (err as Error).message }, span);
    }
    const up = res.upgrade;
    if (up && upgrade) {
      done(101, { span });
      return {
        status: 101,
        headers: switchingHeaders(res.headers, upgrade),
        body: null,
        upgrade: (s, rest) => carry(s, rest, up, { idleTimeoutMs: ctx.idleTimeoutMs }),
      };
    }
    const resHeaders = withoutHopHeaders(res.headers);
    const grpcStatus = grpc ? res.headers.find(([k]) => k === "grpc-status")?.[1] : undefined;
    if (res.full) {
      done(res.status, { span, grpcStatus });
      return { status: res.status, headers: resHeaders, body: res.full };
    }
    const cl = res.headers.find(([k]) => k === "content-length");
    const trailers = res.trailers;
    if (grpc && grpcStatus === undefined && trailers) {
      // gRPC's status comes in the trailers: observed once they are in.
      trailers.then((t) =>
        done(res.status, { span, grpcStatus: t.find(([k]) => k === "grpc-status")?.[1] })
      );
    } else done(res.status, { span, grpcStatus });
    return {
      status: res.status,
      headers: resHeaders,
      body: res.body,
      length: cl ? Number(cl[1]) : undefined,
      ...(trailers ? { trailers } : {}),
    };
  };
}

/** The headers sent to the app. */
function appHeaders(
  req: InboundRequest,
  o: { host: string; mtls: boolean; xfcc?: string; extraHeaders?: HeaderChanges },
): [string, string][] {
  const headers: [string, string][] = [];
  // From a mesh peer (mTLS), an XFCC it set (a MUTUAL gateway's) is kept and ours appended, as
  // Istio's APPEND_FORWARD; in plaintext, nothing a client sent is trusted. Likewise the scheme
  // a gateway saw (x-forwarded-proto) comes through from a peer. Both are picked up in the one
  // pass over the headers.
  let incomingXfcc: string | undefined;
  let incomingProto: string | undefined;
  const extra = o.extraHeaders;
  const drop = extra && new Set([...(extra.remove ?? []), ...Object.keys(extra.set ?? {})]);
  // Hop-by-hop headers and those `Connection` names stay here; Envoy's `x-envoy-*` only come
  // through from mesh peers (mTLS), and `x-mesh-via` (loop detection) ends here.
  const hop = hopFilter(
    req.headers.filter(([k]) => k === "connection").map(([, v]) => v),
    !o.mtls,
  );
  for (const h of req.headers) {
    const k = h[0];
    if (k === "host" || k === VIA_HEADER) continue;
    if (k === "x-forwarded-client-cert") {
      if (o.xfcc) incomingXfcc = h[1];
      continue;
    }
    if (k === "x-forwarded-proto") {
      if (o.xfcc) incomingProto = h[1];
      continue;
    }
    // `te: trailers` is end to end for gRPC (HTTP/2 to the app keeps it; hopFilter drops te).
    if (k === "te" && h[1].toLowerCase() === "trailers") {
      headers.push(h);
      continue;
    }
    if (hop(k) || k === "content-length") continue;
    if (k === "expect" || drop?.has(k)) continue;
    headers.push(h);
  }
  if (o.host) headers.push(["host", o.host]);
  for (const kv of Object.entries(extra?.set ?? {})) headers.push(kv);
  if (o.xfcc) {
    headers.push(
      ["x-forwarded-client-cert", incomingXfcc ? `${incomingXfcc},${o.xfcc}` : o.xfcc],
      ["x-forwarded-proto", incomingProto ?? "https"],
    );
  } else headers.push(["x-forwarded-proto", "http"]);
  return headers;
}

/**
 * The handler as a `Request` → `Response` one, for HTTP/2 streams (`h2_serve.ts`): the
 * stream's `:path` as the target, the app's trailers (gRPC's status) passed on. An upgrade
 * (an extended CONNECT) the app switched for is handed over through the request's upgrade
 * slot, answered 200 with the app's headers; the stream then carries the tunnel.
 */
export function inboundServeHandler(
  handle: (req: InboundRequest) => Promise<InboundAnswer>,
): ServeHandler {
  return async (request) => {
    const headers: [string, string][] = [];
    request.headers.forEach((v, k) => headers.push([k, v]));
    // HTTP/2's authority is `:authority` (in the URL), not a `host` field: the app, routing
    // by host and AuthorizationPolicy `hosts` see it as `host`, as over HTTP/1.1.
    if (!request.headers.has("host")) {
      const u = request.url;
      const from = u.indexOf("://") + 3;
      const to = u.indexOf("/", from);
      const authority = u.slice(from, to < 0 ? undefined : to);
      if (authority) headers.push(["host", authority]);
    }
    const cl = request.headers.get("content-length");
    let target = pathOf(request);
    if (!cameOverHttp2(request)) {
      const u = new URL(request.url);
      target = u.pathname + u.search;
    }
    const answer = await handle({
      method: request.method,
      target,
      headers,
      body: request.body,
      signal: clientGone(request),
      ...(cl !== null && /^\d+$/.test(cl) ? { length: Number(cl) } : {}),
    });
    if (answer.status === 101) {
      const slot = upgradeSlotOf(request);
      if (!slot || !answer.upgrade) {
        return new Response("upgrade without a tunnel\n", { status: 502 });
      }
      slot.handOver = answer.upgrade;
      return new Response(null, { status: 200, headers: withoutHopHeaders(answer.headers) });
    }
    // An empty body is none: a response that ended with its head (gRPC's trailers-only) goes on
    // as one HEADERS frame with END_STREAM.
    const b = answer.body;
    const body = b === null || b === "" || (b instanceof Uint8Array && b.length === 0)
      ? null
      : b as BodyInit;
    const res = new Response(NULL_BODY.has(answer.status) ? null : body, {
      status: answer.status,
      headers: answer.headers,
    });
    return answer.trailers ? withTrailers(res, answer.trailers) : res;
  };
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);
