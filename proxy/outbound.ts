/**
 * The routed side of the proxy: a sidecar's outbound listener (apps send to it
 * by Host header, or with absolute-form requests as to an HTTP proxy) and a
 * gateway's listeners, both on `Deno.serve`. Logical service (virtual host +
 * route) → concrete backend (cluster) → endpoint.
 * @module
 */
import { hostMatches, splitHostPort } from "../api/host.ts";
import type {
  Cluster,
  Endpoint,
  HashPolicy,
  HeaderChanges,
  Route,
  RouteCors,
  RouteFault,
  RouteMatch,
  RouteRedirect,
  RouteRewrite,
} from "../api/proxy_config.ts";
import type { Balancer } from "./balancer.ts";
import type { CircuitBreakers } from "./circuit.ts";
import type { OutlierDetector } from "./outlier.ts";
import type { AccessLog } from "./access_log.ts";
import { normalizeTarget } from "./authz.ts";
import { jwtDenied, type RequestAuth } from "./jwt.ts";
import { type Tracer, withTraceHeaders } from "./tracing.ts";
import { hasVerifiedXfcc } from "./tls_gateway.ts";
import { type H1Response, UpstreamError } from "./h1_client.ts";
import {
  backoffMs,
  type CompiledRetry,
  compileRetryPolicy,
  retriableFailure,
  retriableStatus,
  type UpstreamFailure,
} from "./retry.ts";
import { HOP_BY_HOP } from "./h1_codec.ts";
import { originationOf, type Runtime } from "./runtime.ts";
import { compileStringMatch, type RequestView, type RouteHit, type RouteTable } from "./route.ts";
import type { Upstreams } from "./forward.ts";
import type { Stats } from "./stats.ts";

/** Where a routed listener gets its state. */
export interface RoutedContext {
  runtime(): Runtime | undefined;
  upstreams: Upstreams;
  stats: Stats;
  /** Passive health checking across config pushes. */
  outliers: OutlierDetector;
  /** Connection pool limits per cluster. */
  breakers: CircuitBreakers;
  /** Access log (off unless the mesh config turns it on). */
  accessLog?: AccessLog;
  /** The tracer, while the config turns tracing on. */
  tracer?: () => Tracer | undefined;
}

/** Writes the access log line of a request handled by a routed listener, if logging is on. */
function logAccess(
  ctx: RoutedContext,
  req: Request,
  path: string,
  authority: string,
  start: number,
  status: number,
  more: { ep?: Endpoint; cluster?: string; route?: string; flags?: string } = {},
  requestId?: string,
): void {
  const log = ctx.accessLog;
  if (!log?.enabled) return;
  const durationMs = performance.now() - start;
  log.write({
    start: Date.now() - durationMs,
    method: req.method,
    path,
    status,
    flags: more.flags,
    bytesReceived: Number(req.headers.get("content-length") ?? 0) || 0,
    durationMs,
    forwardedFor: req.headers.get("x-forwarded-for") ?? undefined,
    userAgent: req.headers.get("user-agent") ?? undefined,
    requestId: requestId ?? req.headers.get("x-request-id") ?? undefined,
    authority,
    upstreamHost: more.ep ? `${more.ep.address}:${more.ep.port}` : undefined,
    upstreamCluster: more.cluster,
    routeName: more.route,
  });
}

/** Splits `scheme://authority/path` (as `Request.url` always is) into authority and path. */
export function splitUrl(url: string): { authority: string; path: string } {
  const start = url.indexOf("://") + 3;
  const slash = url.indexOf("/", start);
  return slash < 0
    ? { authority: url.slice(start), path: "/" }
    : { authority: url.slice(start, slash), path: url.slice(slash) };
}

class RequestHeadersView implements RequestView {
  method: string;
  path: string;
  authority: string;
  host: string;
  port: number;
  scheme: string;
  #headers: Headers;
  constructor(req: Request, authority: string, host: string, path: string, port: number) {
    this.method = req.method;
    this.path = path;
    this.authority = authority;
    this.host = host;
    this.port = port;
    // The listener's scheme (an HTTPS gateway's requests arrive as `https://...`).
    this.scheme = req.url.startsWith("https:") ? "https" : "http";
    this.#headers = req.headers;
  }
  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain" } });
}

/**
 * Headers to send upstream: hop-by-hop, framing and client-sent XFCC dropped (an XFCC a
 * MUTUAL gateway listener set from a verified client certificate is kept).
 */
function upstreamHeaders(
  req: Request,
  authority: string,
  replaceHost = false,
  requestId?: string,
): [string, string][] {
  const out: [string, string][] = [];
  let hasHost = false;
  let hasRequestId = false;
  const keepXfcc = hasVerifiedXfcc(req);
  req.headers.forEach((v, k) => {
    if (HOP_BY_HOP.has(k) || k === "content-length") return;
    if (k === "x-forwarded-client-cert" && !keepXfcc) return;
    if (k === "expect") return; // the client's 100-continue is answered by Deno.serve
    if (k === "host") {
      if (replaceHost) return;
      hasHost = true;
    } else if (k === "x-request-id") hasRequestId = true;
    out.push([k, v]);
  });
  if (!hasHost) out.push(["host", authority]);
  if (!hasRequestId) out.push(["x-request-id", requestId ?? crypto.randomUUID()]);
  return out;
}

/**
 * Sends the request to `ep` once (no route, so no retries or timeout: the
 * passthrough cluster) and turns the upstream answer into a Response.
 */
export async function proxyTo(
  ctx: RoutedContext,
  ep: Endpoint,
  req: Request,
  path: string,
  authority: string,
  onStatus: (status: number) => void,
  requestId?: string,
): Promise<Response> {
  const cl = req.headers.get("content-length");
  try {
    const res = await ctx.upstreams.request(ep, {
      method: req.method,
      path,
      headers: upstreamHeaders(req, authority, false, requestId),
      body: req.body,
      length: cl !== null ? Number(cl) : undefined,
    });
    onStatus(res.status);
    return await toResponse(res);
  } catch (err) {
    onStatus(503);
    return text(
      503,
      `upstream connect error or disconnect/reset before headers. reset reason: ${
        (err as Error).message
      }`,
    );
  }
}

/**
 * Makes a `Deno.serve` handler that routes with `table(runtime)`.
 * `defaultPort` is the port assumed when the authority names none; with
 * `passthrough`, hosts outside the registry go straight to their address
 * when the mesh allows it (ALLOW_ANY).
 */
export function routedHandler(
  ctx: RoutedContext,
  table: (rt: Runtime) => RouteTable | undefined,
  defaultPort: number,
  passthrough: boolean,
  gateway = false,
): (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> | Response {
  return (req, info) => {
    const start = performance.now();
    const rt = ctx.runtime();
    if (!rt) return text(503, "proxy has no configuration yet");
    if (req.method === "CONNECT") {
      return text(501, "CONNECT tunnels are not supported yet; send plain HTTP");
    }
    let { authority, path } = splitUrl(req.url);
    // A gateway authenticates (RequestAuthentication) and authorizes on the normalized path.
    if (gateway && (rt.authorize || rt.jwt)) path = normalizeTarget(path);
    if (gateway && rt.jwt) {
      return rt.jwt.authenticate({ path, header: (n) => req.headers.get(n) ?? undefined })
        .then((out) => {
          if (out.ok) return serve(req, info, rt, start, authority, path, out.auth, out.headers);
          ctx.stats.record("source", { service: "unknown" }, 401, performance.now() - start);
          logAccess(ctx, req, path, authority, start, 401);
          const scheme = new URL(req.url).protocol === "https:" ? "https" : "http";
          const denied = jwtDenied(out.message, authority, path, scheme);
          return new Response(denied.body, { status: 401, headers: denied.headers });
        }, (err) => {
          ctx.stats.record("source", { service: "unknown" }, 500, performance.now() - start);
          return text(500, `request authentication failed: ${(err as Error).message}`);
        });
    }
    return serve(req, info, rt, start, authority, path);
  };

  function serve(
    req: Request,
    info: Deno.ServeHandlerInfo | undefined,
    rt: Runtime,
    start: number,
    authority: string,
    path: string,
    auth?: RequestAuth,
    extraHeaders?: HeaderChanges,
  ): Promise<Response> | Response {
    // With access logs on, an id the proxy makes up is logged and sent upstream alike.
    const requestId = ctx.accessLog?.enabled && !req.headers.has("x-request-id")
      ? crypto.randomUUID()
      : undefined;
    // A gateway enforces the AuthorizationPolicies that select it (its clients have no mesh
    // identity: principals and namespaces never match; a verified JWT gives a request one).
    if (gateway && rt.authorize) {
      const remote = info?.remoteAddr as Deno.NetAddr | undefined;
      const decision = rt.authorize({
        principal: "",
        sourceIp: remote?.hostname ?? "",
        host: authority,
        port: defaultPort,
        method: req.method,
        path,
        header: (name) => req.headers.get(name) ?? undefined,
        auth,
      });
      if (!decision.allowed) {
        ctx.stats.record("source", { service: "unknown" }, 403, performance.now() - start);
        logAccess(ctx, req, path, authority, start, 403, { flags: "RBAC" }, requestId);
        return text(403, "RBAC: access denied");
      }
    }
    // The authority is parsed once per request; the route table reuses the host.
    const hp = splitHostPort(authority);
    const port = hp.port ?? defaultPort;
    const hit = table(rt)?.match(new RequestHeadersView(req, authority, hp.host, path, port));
    if (hit === undefined) {
      if (passthrough && rt.config.outboundTrafficPolicy === "ALLOW_ANY" && authority) {
        const address = hp.host.replace(/^\[|\]$/g, "");
        const ep: Endpoint = { address, port, mtls: false, labels: {} };
        return proxyTo(
          ctx,
          ep,
          req,
          path,
          authority,
          (code) => {
            ctx.stats.record(
              "source",
              { service: "PassthroughCluster" },
              code,
              performance.now() - start,
            );
            logAccess(ctx, req, path, authority, start, code, {
              ep,
              cluster: "PassthroughCluster",
            }, requestId);
          },
          requestId,
        );
      }
      ctx.stats.record("source", { service: "BlackHoleCluster" }, 502, 0);
      const status = passthrough ? 502 : 404;
      logAccess(ctx, req, path, authority, start, status, {
        cluster: "BlackHoleCluster",
        flags: "NR",
      }, requestId);
      return text(status, "");
    }
    if (hit === null) {
      ctx.stats.record("source", { service: "unknown" }, 404, 0);
      logAccess(ctx, req, path, authority, start, 404, { flags: "NR" }, requestId);
      return text(404, "");
    }
    const lb = rt.balancers.get(hit.cluster);
    const service = lb?.cluster.host ?? hit.cluster.split("|")[3] ?? "unknown";
    let delayed = false;
    // A CLIENT span (B3 headers onward; a sampled one is reported when the request ends).
    const span = ctx.tracer?.()?.start("CLIENT", (n) => req.headers.get(n) ?? undefined);
    if (span) extraHeaders = withTraceHeaders(extraHeaders, span);
    const record = (code: number, ep?: Endpoint, flags?: string) => {
      ctx.stats.record("source", { service, mtls: ep?.mtls }, code, performance.now() - start);
      if (ctx.accessLog?.enabled) {
        logAccess(ctx, req, path, authority, start, code, {
          ep,
          cluster: hit.cluster || undefined,
          route: hit.route.name,
          flags: delayed ? withDelayFlag(flags) : flags,
        }, requestId);
      }
      span?.end({
        name: `${service}:${port}/*`,
        status: code,
        method: req.method,
        url: `http://${authority}${path}`,
        upstreamCluster: hit.cluster || undefined,
        responseFlags: delayed ? withDelayFlag(flags) : flags,
        requestId: req.headers.get("x-request-id") ?? requestId,
        userAgent: req.headers.get("user-agent") ?? undefined,
        peerAddress: ep?.address,
      });
    };
    const forward = (): Promise<Response> | Response => {
      const route = hit.route;
      if (route.cors) {
        const origin = req.headers.get("origin");
        if (origin !== null) {
          const c = corsFor(route.cors, req, origin);
          if (c instanceof Response) {
            record(c.status);
            return c;
          }
          if (c) {
            const res = forwardAction(route);
            return res instanceof Response
              ? withHeaders(res, c)
              : res.then((r) => withHeaders(r, c));
          }
        }
      }
      return forwardAction(route);
    };
    const forwardAction = (route: Route): Promise<Response> | Response => {
      if (route.directResponse) {
        record(route.directResponse.status);
        return directResponse(route);
      }
      if (route.redirect) {
        record(route.redirect.code);
        return withHeaders(
          new Response(null, {
            status: route.redirect.code,
            headers: {
              location: redirectLocation(
                route.redirect,
                path,
                authority,
                port,
                hit.matched,
                req.url.startsWith("https:") ? "https" : "http",
              ),
            },
          }),
          route.headers?.response,
        );
      }
      let upPath = path;
      let upAuthority = authority;
      if (route.rewrite) {
        upPath = rewritePath(path, route.rewrite, hit.matched);
        upAuthority = route.rewrite.authority ?? authority;
      }
      return forwardRouted(ctx, lb, hit, req, upPath, upAuthority, record, {
        requestId,
        extraHeaders,
        info,
        gateway,
      });
    };
    const fault = hit.route.fault;
    if (!fault) return forward();
    return injectFault(
      fault,
      forward,
      (status) => {
        record(status, undefined, "FI");
        return text(status, "fault filter abort");
      },
      Math.random,
      () => delayed = true,
    );
  }
}

/**
 * Adds Envoy's `DI` (delay injected) to a request's response flags, in Envoy's
 * order: after the upstream and routing flags, before `FI`.
 */
export function withDelayFlag(flags: string | undefined): string {
  if (!flags) return "DI";
  return AFTER_DI.has(flags) ? `DI,${flags}` : `${flags},DI`;
}
const AFTER_DI = new Set(["FI", "UPE", "RBAC"]);

/** Request bodies up to this size are buffered so that a retry can send them again. */
export const MAX_REPLAY_BYTES = 64 * 1024;

const compiledRetries = new WeakMap<Route, CompiledRetry>();
function retryOf(route: Route): CompiledRetry {
  let p = compiledRetries.get(route);
  if (!p) compiledRetries.set(route, p = compileRetryPolicy(route.retries));
  return p;
}

/**
 * The next endpoint that isn't ejected, avoiding `tried` when asked to and
 * another one exists.
 */
export function pickAvoiding(
  lb: Balancer,
  tried: Endpoint[],
  avoid: boolean,
  outliers: OutlierDetector,
  hashKey?: string,
): Endpoint | undefined {
  const cluster = lb.cluster;
  let skip = cluster.outlier ? (e: Endpoint) => outliers.isEjected(cluster, e) : undefined;
  // Panic mode: with too few healthy endpoints, ejections are ignored (minHealthPercent).
  const min = cluster.outlier?.minHealthPercent;
  if (skip && min) {
    const healthy = cluster.endpoints.filter((e) => !skip!(e)).length;
    if (healthy * 100 < min * cluster.endpoints.length) skip = undefined;
  }
  if (hashKey !== undefined) {
    // Consistent hashing: the key's endpoint; a retry that avoids tried hosts walks the ring on.
    const ep = lb.pickByKey(
      hashKey,
      (e) => (skip?.(e) ?? false) || (avoid && tried.includes(e)),
    );
    return ep && skip?.(ep) ? undefined : ep;
  }
  let ep = lb.pick(Math.random(), skip);
  // Istio's default minHealthPercent 0 turns Envoy's panic mode off: with every endpoint
  // ejected there is no healthy upstream.
  if (ep && skip?.(ep)) return undefined;
  if (!avoid || tried.length === 0) return ep;
  // Envoy's previous_hosts predicate with host_selection_retry_max_attempts 5, as Istio sets.
  for (let i = 0; i < 5 && ep && tried.includes(ep); i++) ep = lb.pick(Math.random(), skip);
  return ep && skip?.(ep) ? undefined : ep;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What {@linkcode forwardRouted} needs beyond the request and its route. */
export interface ForwardExtras {
  /** An `x-request-id` the proxy made up (sent upstream when the client sent none). */
  requestId?: string;
  /** Header changes of this request (a verified token's, the trace's). */
  extraHeaders?: HeaderChanges;
  /** The client's connection (its address, read only for consistent hashing on `useSourceIp`). */
  info?: Deno.ServeHandlerInfo;
  /** The request came to a gateway (original-destination clusters are refused there). */
  gateway?: boolean;
}

/**
 * Forwards a routed request to its cluster: picks an endpoint, enforces the
 * route's timeout (the whole exchange until the response head, retries
 * included) and per-try timeout, and retries what the route's policy says
 * on another endpoint, with jittered backoff. A request whose body can't be
 * replayed (streamed, or over {@linkcode MAX_REPLAY_BYTES}) is tried once.
 */
export async function forwardRouted(
  ctx: RoutedContext,
  lb: Balancer | undefined,
  hit: RouteHit,
  req: Request,
  path: string,
  authority: string,
  record: (code: number, ep?: Endpoint, flags?: string) => void,
  extra: ForwardExtras = {},
): Promise<Response> {
  const { requestId, extraHeaders } = extra;
  const route = hit.route;
  const policy = retryOf(route);
  const cl = req.headers.get("content-length");
  let body: ReadableStream<Uint8Array> | Uint8Array | null = req.body;
  const keep = policy.attempts > 0 || route.mirrors !== undefined;
  if (body !== null && keep && cl !== null && Number(cl) <= MAX_REPLAY_BYTES) {
    body = new Uint8Array(await req.arrayBuffer());
  }
  const replayable = !(body instanceof ReadableStream);
  let headers = upstreamHeaders(
    req,
    authority,
    route.rewrite?.authority !== undefined,
    requestId,
  );
  // Changes of this request (a verified token removed, claims and trace headers added) come
  // before the route's.
  if (extraHeaders) headers = changeHeaderList(headers, extraHeaders);
  // A gateway is where requests enter: it says which scheme they came in with.
  if (extra.gateway) {
    headers = changeHeaderList(headers, {
      set: { "x-forwarded-proto": req.url.startsWith("https:") ? "https" : "http" },
    });
  }
  // Envoy's default order: the more specific (destination) first, so the route's `set` wins.
  const destHeaders = hit.destination?.headers;
  if (destHeaders?.request) headers = changeHeaderList(headers, destHeaders.request);
  if (route.headers?.request) headers = changeHeaderList(headers, route.headers.request);
  if (route.mirrors && !(body instanceof ReadableStream)) {
    mirror(ctx, route.mirrors, req.method, path, headers, body);
  }
  const deadline = route.timeoutMs !== undefined ? performance.now() + route.timeoutMs : undefined;
  const hash = lb?.cluster.hash
    ? hashKeyOf(
      lb.cluster.hash,
      req,
      path,
      () => (extra.info?.remoteAddr as Deno.NetAddr | undefined)?.hostname,
    )
    : undefined;
  const tried: Endpoint[] = [];
  for (let attempt = 0;; attempt++) {
    const ep = lb?.cluster.originalDst
      ? (extra.gateway ? undefined : originalDestination(splitUrl(req.url).authority, lb.cluster))
      : lb && pickAvoiding(lb, tried, policy.ignorePreviousHosts, ctx.outliers, hash?.key);
    if (!ep || !lb) {
      record(503, undefined, "UH");
      return text(503, "no healthy upstream");
    }
    tried.push(ep);
    const cluster = lb.cluster;
    // Circuit breaking: wait for a slot, or fail at once past the pending limit.
    const slot = ctx.breakers.acquire(cluster);
    if (slot === undefined) {
      record(503, ep, "UO");
      return new Response(
        "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        { status: 503, headers: { "content-type": "text/plain", "x-envoy-overloaded": "true" } },
      );
    }
    const slotRelease = typeof slot === "function" ? slot : await slot;
    const done = cluster.lb === "LEAST_REQUEST" ? lb.begin(ep) : undefined;
    const release = done
      ? () => {
        slotRelease();
        done();
      }
      : slotRelease;
    let limit = policy.perTryTimeoutMs;
    if (deadline !== undefined) {
      const left = deadline - performance.now();
      if (left <= 0) {
        // The route timeout passed while waiting for a slot: don't send, don't blame the endpoint.
        release();
        record(504, ep, "UT");
        return text(504, "upstream request timeout");
      }
      limit = limit === undefined ? left : Math.min(limit, left);
    }
    const abort = limit !== undefined ? new AbortController() : undefined;
    const timer = abort ? setTimeout(() => abort.abort(), limit) : undefined;
    // Retry only while attempts and time remain; the backoff must fit before the deadline.
    const retryAfter = (): number | undefined => {
      if (!replayable || attempt >= policy.attempts) return undefined;
      const wait = backoffMs(policy, attempt + 1);
      if (deadline !== undefined && performance.now() + wait >= deadline) return undefined;
      return wait;
    };
    let res: H1Response;
    try {
      res = await ctx.upstreams.request(
        ep,
        {
          method: req.method,
          path,
          headers,
          body,
          length: body instanceof Uint8Array ? body.length : cl !== null ? Number(cl) : undefined,
          signal: abort?.signal,
          maxUses: cluster.limits?.maxRequestsPerConnection,
        },
        originationOf(cluster),
        cluster.connectTimeoutMs,
      );
      clearTimeout(timer);
      // A streamed body keeps its circuit-breaker slot and LEAST_REQUEST count until it ends,
      // as Envoy counts a request until its stream is done.
      if (res.full || (cluster.limits === undefined && done === undefined)) release();
    } catch (err) {
      clearTimeout(timer);
      release();
      const timedOut = abort?.signal.aborted === true;
      const failure: UpstreamFailure = timedOut
        ? "timeout"
        : err instanceof UpstreamError && !err.connected
        ? "connect"
        : "reset";
      ctx.outliers.report(cluster, ep, failure);
      if (retriableFailure(policy, failure)) {
        const wait = retryAfter();
        if (wait !== undefined) {
          await sleep(wait);
          continue;
        }
      }
      if (timedOut) {
        record(504, ep, "UT");
        return text(504, "upstream request timeout");
      }
      record(503, ep, failure === "connect" ? "UF" : "UC");
      return text(
        503,
        `upstream connect error or disconnect/reset before headers. reset reason: ${
          failure === "connect" ? "connection failure" : "connection termination"
        }, transport failure reason: ${(err as Error).message}`,
      );
    }
    ctx.outliers.report(cluster, ep, res.status);
    if (retriableStatus(policy, res.status)) {
      const wait = retryAfter();
      if (wait !== undefined) {
        if (!res.full) await res.body.cancel().catch(() => {});
        release();
        await sleep(wait);
        continue;
      }
    }
    if (!res.full && (cluster.limits !== undefined || done !== undefined)) {
      res = { ...res, body: onEnd(res.body, release) };
    }
    // The route timeout covers the whole response, as Envoy's: a body still streaming at the
    // deadline is cut off (the client sees the response reset).
    if (!res.full && deadline !== undefined) {
      res = { ...res, body: untilDeadline(res.body, deadline - performance.now()) };
    }
    let out: Response;
    try {
      out = await toResponse(res);
    } catch (err) {
      // A status or header the HTTP layer can't pass on (e.g. status 600): a bad upstream answer.
      if (!res.full) await res.body.cancel().catch(() => {});
      release();
      record(502, ep, "UPE");
      return text(502, `upstream sent a response mesh can't forward: ${(err as Error).message}`);
    }
    record(res.status, ep);
    if (destHeaders?.response) out = withHeaders(out, destHeaders.response);
    if (route.headers?.response) out = withHeaders(out, route.headers.response);
    if (hash?.setCookie) out = withHeaders(out, { add: { "set-cookie": hash.setCookie } });
    return out;
  }
}

/**
 * A request's consistent-hash key: its header, cookie, query parameter or client address.
 * A missing cookie with a TTL is made up, and `setCookie` hands it to the client (as Envoy
 * does); other missing keys give no key (the cluster's usual balancing).
 */
export function hashKeyOf(
  policy: HashPolicy,
  req: Request,
  path: string,
  clientIp: () => string | undefined,
): { key?: string; setCookie?: string } | undefined {
  if (policy.header) {
    const v = req.headers.get(policy.header);
    return v === null ? undefined : { key: v };
  }
  if (policy.sourceIp) {
    const ip = clientIp();
    return ip === undefined ? undefined : { key: ip };
  }
  if (policy.queryParameter) {
    const q = path.indexOf("?");
    const v = q < 0 ? null : new URLSearchParams(path.slice(q + 1)).get(policy.queryParameter);
    return v === null ? undefined : { key: v };
  }
  const c = policy.cookie;
  if (!c) return undefined;
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === c.name) return { key: part.slice(eq + 1).trim() };
  }
  if (!c.ttlSeconds) return undefined;
  const value = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  return {
    key: value,
    setCookie: `${c.name}=${value}; Max-Age=${c.ttlSeconds}; Path=${c.path ?? "/"}; HttpOnly`,
  };
}

/**
 * Where a request for an original-destination cluster goes: the host the client asked for
 * (before any rewrite), when the cluster's host covers it, on the cluster's own port (a Host
 * header never picks the port). Undefined otherwise.
 */
export function originalDestination(authority: string, cluster: Cluster): Endpoint | undefined {
  const address = splitHostPort(authority).host.replace(/^\[|\]$/g, "").toLowerCase();
  if (!address || !hostMatches(cluster.host, address)) return undefined;
  return { address, port: cluster.port, mtls: false, labels: {} };
}

/** Applies header changes to a request's header list: remove, then set (replacing), then add. */
export function changeHeaderList(
  list: [string, string][],
  c: HeaderChanges,
): [string, string][] {
  const drop = new Set([...(c.remove ?? []), ...Object.keys(c.set ?? {})]);
  const out = drop.size ? list.filter(([k]) => !drop.has(k)) : list.slice();
  for (const [k, v] of Object.entries(c.set ?? {})) out.push([k, v]);
  for (const [k, v] of Object.entries(c.add ?? {})) out.push([k, v]);
  return out;
}

/** Applies header changes to a response (its headers may be immutable: then it is copied). */
export function withHeaders(res: Response, c: HeaderChanges | undefined): Response {
  if (!c) return res;
  let out = res;
  try {
    apply(out.headers);
  } catch {
    out = new Response(res.body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
    apply(out.headers);
  }
  return out;
  function apply(h: Headers) {
    for (const k of c!.remove ?? []) h.delete(k);
    for (const [k, v] of Object.entries(c!.set ?? {})) h.set(k, v);
    for (const [k, v] of Object.entries(c!.add ?? {})) h.append(k, v);
  }
}

const rewriteRegexes = new WeakMap<RouteRewrite, { re: RegExp; to: string }>();

/**
 * The upstream path after a `rewrite`, query kept: `uriRegexRewrite` replaces
 * every match (its `\\1` groups become `$1`); `uri` replaces the matched prefix
 * for a prefix match, the whole path for an exact or regex match, and the
 * leading `/` when the route has no URI match (as Envoy's `prefix_rewrite`).
 */
export function rewritePath(path: string, rw: RouteRewrite, matched?: RouteMatch): string {
  const q = path.indexOf("?");
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? "" : path.slice(q);
  if (rw.regex) {
    let c = rewriteRegexes.get(rw);
    if (!c) {
      c = { re: new RegExp(rw.regex.match, "g"), to: rw.regex.rewrite.replace(/\\(\d)/g, "$$$1") };
      rewriteRegexes.set(rw, c);
    }
    return p.replace(c.re, c.to) + query;
  }
  if (rw.uri === undefined) return path;
  const prefix = matched?.uri?.prefix;
  if (prefix !== undefined) return rw.uri + p.slice(prefix.length) + query;
  if (matched?.uri?.exact !== undefined || matched?.uri?.regex !== undefined) return rw.uri + query;
  return rw.uri + p.slice(1) + query;
}

/** The `location` of a redirect for a request to `authority` + `path` on `port`. */
export function redirectLocation(
  rd: RouteRedirect,
  path: string,
  authority: string,
  port: number,
  matched?: RouteMatch,
  requestScheme = "http",
): string {
  const q = path.indexOf("?");
  const p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? "" : path.slice(q);
  let newPath = path;
  if (rd.uri !== undefined) newPath = rd.uri.includes("?") ? rd.uri : rd.uri + query;
  else if (rd.prefixRewrite !== undefined) {
    const prefix = matched?.uri?.prefix ?? "/";
    newPath = rd.prefixRewrite + p.slice(prefix.length) + query;
  }
  let host = rd.authority ?? authority;
  if (rd.port !== undefined || rd.derivePort !== undefined) {
    host = splitHostPort(host).host;
    host = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    if (rd.port !== undefined) host += `:${rd.port}`;
    else if (rd.derivePort === "FROM_REQUEST_PORT") host += `:${port}`;
  }
  // Without a scheme of its own, a redirect keeps the request's (as Envoy does).
  return `${rd.scheme ?? requestScheme}://${host}${newPath}`;
}

const directBodies = new WeakMap<Route, Uint8Array<ArrayBuffer>>();

/** A route's fixed answer; a body comes with `content-type: text/plain`, as Envoy sends it. */
function directResponse(route: Route): Response {
  const dr = route.directResponse!;
  if (dr.bodyBase64 === undefined) {
    return withHeaders(new Response(null, { status: dr.status }), route.headers?.response);
  }
  let body = directBodies.get(route);
  if (!body) {
    body = Uint8Array.from(atob(dr.bodyBase64), (ch) => ch.charCodeAt(0));
    directBodies.set(route, body);
  }
  const res = new Response(NULL_BODY_STATUS.has(dr.status) ? null : body, {
    status: dr.status,
    headers: { "content-type": "text/plain" },
  });
  return withHeaders(res, route.headers?.response);
}

const corsOrigins = new WeakMap<RouteCors, ((v: string | undefined) => boolean)[]>();

/**
 * Envoy's CORS filter for a request with an `Origin`: a preflight from an
 * allowed origin is answered here (200 with the allow headers); one from
 * another origin is forwarded, or answered bare with `unmatchedPreflights:
 * IGNORE`; any other request from an allowed origin gets the headers to add
 * to its response; undefined means nothing to do.
 */
export function corsFor(
  cors: RouteCors,
  req: Request,
  origin: string,
): Response | HeaderChanges | undefined {
  let matchers = corsOrigins.get(cors);
  if (!matchers) corsOrigins.set(cors, matchers = cors.allowOrigins.map(compileStringMatch));
  const allowed = matchers.some((m) => m(origin));
  const preflight = req.method === "OPTIONS" &&
    req.headers.has("access-control-request-method");
  if (preflight) {
    if (!allowed) {
      return cors.unmatchedPreflights === "IGNORE"
        ? new Response(null, { status: 200 })
        : undefined;
    }
    const h = new Headers({ "access-control-allow-origin": origin });
    if (cors.allowMethods?.length) {
      h.set("access-control-allow-methods", cors.allowMethods.join(","));
    }
    if (cors.allowHeaders?.length) {
      h.set("access-control-allow-headers", cors.allowHeaders.join(","));
    }
    if (cors.maxAge !== undefined) h.set("access-control-max-age", String(cors.maxAge));
    if (cors.allowCredentials) h.set("access-control-allow-credentials", "true");
    return new Response(null, { status: 200, headers: h });
  }
  if (!allowed) return undefined;
  const set: Record<string, string> = { "access-control-allow-origin": origin };
  if (cors.exposeHeaders?.length) {
    set["access-control-expose-headers"] = cors.exposeHeaders.join(",");
  }
  if (cors.allowCredentials) set["access-control-allow-credentials"] = "true";
  return { set };
}

/** `body`, calling `fn` once when it ends, fails or is cancelled. */
export function onEnd(
  body: ReadableStream<Uint8Array>,
  fn: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          fn();
          c.close();
        } else c.enqueue(value);
      } catch (err) {
        fn();
        c.error(err);
      }
    },
    cancel(reason) {
      fn();
      return reader.cancel(reason);
    },
  });
}

/** The error a body cut off by the route timeout ends with. */
export class RouteTimeoutError extends Error {
  constructor(ms: number) {
    super(`upstream request timeout: the response body didn't end within the route's ${ms} ms`);
    this.name = "RouteTimeoutError";
  }
}

/**
 * `body`, ended with a {@link RouteTimeoutError} (and the upstream side cancelled)
 * when it is still streaming after `ms` milliseconds.
 */
export function untilDeadline(
  body: ReadableStream<Uint8Array>,
  ms: number,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    start(c) {
      timer = setTimeout(() => {
        const err = new RouteTimeoutError(Math.round(ms));
        reader.cancel(err).catch(() => {});
        try {
          c.error(err);
        } catch { /* already closed */ }
      }, Math.max(0, ms));
    },
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          clearTimeout(timer);
          c.close();
        } else c.enqueue(value);
      } catch (err) {
        clearTimeout(timer);
        try {
          c.error(err);
        } catch { /* already errored by the deadline */ }
      }
    },
    cancel(reason) {
      clearTimeout(timer);
      return reader.cancel(reason);
    },
  });
}

/** How long a mirrored request may take before it is dropped. */
const MIRROR_TIMEOUT_MS = 15_000;

/** `reviews:9080` → `reviews-shadow:9080`: the authority of a mirrored request, as Envoy's. */
export function shadowAuthority(authority: string): string {
  const { host, port } = splitHostPort(authority);
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === undefined ? `${h}-shadow` : `${h}-shadow:${port}`;
}

/**
 * Sends copies of a request to the route's mirror clusters (each for its
 * share of requests) without waiting; answers and failures are dropped.
 * A request with a streamed body (not kept for replay) isn't mirrored.
 */
function mirror(
  ctx: RoutedContext,
  mirrors: { cluster: string; percent: number }[],
  method: string,
  path: string,
  headers: [string, string][],
  body: Uint8Array | null,
): void {
  for (const m of mirrors) {
    if (!faultHits(m.percent)) continue;
    const lb = ctx.runtime()?.balancers.get(m.cluster);
    const ep = lb?.pick();
    if (!ep || !lb) continue;
    const shadowHeaders = headers.map(([k, v]): [string, string] =>
      k === "host" ? [k, shadowAuthority(v)] : [k, v]
    );
    // Bounded like the route would be, so a shadow that never answers holds nothing for long.
    ctx.upstreams.request(ep, {
      method,
      path,
      headers: shadowHeaders,
      body,
      signal: AbortSignal.timeout(MIRROR_TIMEOUT_MS),
    }, originationOf(lb.cluster))
      .then((res) => res.full ? undefined : res.body.cancel())
      .catch(() => {});
  }
}

/** An upstream answer as a Response for `Deno.serve`, hop-by-hop headers dropped. */
async function toResponse(res: H1Response): Promise<Response> {
  const headers = new Headers();
  for (const [k, v] of res.headers) if (!HOP_BY_HOP.has(k)) headers.append(k, v);
  if (NULL_BODY_STATUS.has(res.status)) {
    if (!res.full) await res.body.cancel();
    return new Response(null, { status: res.status, headers });
  }
  return new Response((res.full as Uint8Array<ArrayBuffer> | undefined) ?? res.body, {
    status: res.status,
    statusText: res.statusText,
    headers,
  });
}

/** Whether a fault with this percentage (0..100) hits the current request. */
export function faultHits(percent: number, rand: () => number = Math.random): boolean {
  return percent >= 100 || (percent > 0 && rand() * 100 < percent);
}

/**
 * Applies a route's faults as Envoy's fault filter does: the delay (when it
 * hits) first, then the abort (when it hits) instead of forwarding.
 */
export function injectFault(
  fault: RouteFault,
  forward: () => Promise<Response> | Response,
  abort: (status: number) => Response,
  rand: () => number = Math.random,
  onDelay?: () => void,
): Promise<Response> | Response {
  const aborted = fault.abort && faultHits(fault.abort.percent, rand)
    ? fault.abort.status
    : undefined;
  const next = () => aborted !== undefined ? abort(aborted) : forward();
  if (fault.delay && faultHits(fault.delay.percent, rand)) {
    onDelay?.();
    return new Promise<void>((resolve) => setTimeout(resolve, fault.delay!.ms)).then(next);
  }
  return next();
}
