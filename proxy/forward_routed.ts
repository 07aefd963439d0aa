/**
 * Forwarding a routed request upstream: endpoint choice (balancing, outlier ejection, consistent
 * hashing, original destination), circuit breaking, the route's timeout and per-try timeout,
 * retries with backoff, mirroring, and turning the upstream answer into a `Response`.
 * @module
 */
import { hostMatches, splitHostPort } from "../api/host.ts";
import type { Cluster, Endpoint, HashPolicy, HeaderChanges, Route } from "../api/proxy_config.ts";
import type { Balancer } from "./balancer.ts";
import type { OutlierDetector } from "./outlier.ts";
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
import { originationOf } from "./runtime.ts";
import type { RouteHit } from "./route.ts";
import type { RoutedContext } from "./outbound.ts";
import { hopFilter } from "./hop_headers.ts";
import { isOwnListener, VIA_HEADER } from "./loop.ts";
import { acceptUpgrade, offeredUpgrade, upgradeHeaders } from "./upgrade.ts";
import {
  changeHeaderList,
  faultHits,
  NULL_BODY_STATUS,
  shadowAuthority,
  text,
  withHeaders,
} from "./route_actions.ts";

/** How a request's headers go upstream. */
export interface UpstreamHeaderOptions {
  /** An `x-request-id` the proxy made up (sent when the client sent none). */
  requestId?: string;
  /** The client isn't trusted with Envoy's `x-envoy-*` headers (a gateway's clients). */
  untrusted?: boolean;
  /** The `x-mesh-via` value to send (this proxy's id appended; loop detection). */
  via?: string;
}

/**
 * Headers to send upstream: `host` is the request's one authority (absolute-form's wins over
 * the client's `Host`; a route's authority rewrite replaces it); hop-by-hop headers and those
 * `Connection` names, framing, client-sent XFCC (an XFCC a MUTUAL gateway listener set from a
 * verified client certificate is kept) and, from untrusted clients, `x-envoy-*` are dropped.
 */
export function upstreamHeaders(
  req: Request,
  authority: string,
  opts: UpstreamHeaderOptions = {},
): [string, string][] {
  const out: [string, string][] = [];
  let hasRequestId = false;
  const keepXfcc = hasVerifiedXfcc(req);
  const connection = req.headers.get("connection");
  const drop = hopFilter(connection === null ? [] : [connection], opts.untrusted === true);
  req.headers.forEach((v, k) => {
    if (drop(k) || k === "content-length" || k === "host" || k === VIA_HEADER) return;
    if (k === "x-forwarded-client-cert" && !keepXfcc) return;
    if (k === "expect") return; // the client's 100-continue is answered by Deno.serve
    if (k === "x-request-id") hasRequestId = true;
    out.push([k, v]);
  });
  out.push(["host", authority]);
  const upgrade = offeredUpgrade(req); // the one hop-by-hop exchange that goes on (upgrade.ts)
  if (upgrade) out.push(...upgradeHeaders(upgrade));
  if (opts.via) out.push([VIA_HEADER, opts.via]);
  if (!hasRequestId) out.push(["x-request-id", opts.requestId ?? crypto.randomUUID()]);
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
  opts: UpstreamHeaderOptions = {},
): Promise<Response> {
  const cl = req.headers.get("content-length");
  try {
    const res = await ctx.upstreams.request(ep, {
      method: req.method,
      path,
      headers: upstreamHeaders(req, authority, opts),
      body: req.body,
      length: cl !== null ? Number(cl) : undefined,
    });
    onStatus(res.status);
    if (res.upgrade) return acceptUpgrade(req, { ...res, upgrade: res.upgrade });
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
  /** The authority the client asked for, before a rewrite (original-destination clusters). */
  authority?: string;
  /** The `x-mesh-via` to send (loop detection). */
  via?: string;
  /** This proxy's listener ports: an endpoint outside the mesh on one of them is a loop. */
  ownPorts?: readonly number[];
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
  let headers = upstreamHeaders(req, authority, {
    requestId,
    untrusted: extra.gateway,
    via: extra.via,
  });
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
  if (route.mirrors && !(body instanceof ReadableStream) && !offeredUpgrade(req)) {
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
      ? (extra.gateway ? undefined : originalDestination(extra.authority ?? authority, lb.cluster))
      : lb && pickAvoiding(lb, tried, policy.ignorePreviousHosts, ctx.outliers, hash?.key);
    if (!ep || !lb) {
      record(503, undefined, "UH");
      return text(503, "no healthy upstream");
    }
    if (
      !ep.sidecar && !ep.mtls && extra.ownPorts &&
      isOwnListener(ep.address, ep.port, extra.ownPorts)
    ) {
      record(508, ep);
      return loopDetected(`the endpoint ${ep.address}:${ep.port} is this proxy's own listener`);
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
    if (res.upgrade) {
      record(101, ep);
      const changes = [destHeaders?.response, route.headers?.response];
      return acceptUpgrade(req, { ...res, upgrade: res.upgrade }, changes);
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
export async function toResponse(res: H1Response): Promise<Response> {
  const headers = new Headers();
  const drop = hopFilter(res.headers.filter(([k]) => k === "connection").map(([, v]) => v), false);
  for (const [k, v] of res.headers) if (!drop(k)) headers.append(k, v);
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

/**
 * The answer to a request that would loop: 508 Loop Detected (RFC 5842), which says what
 * happened better than a 502 would; the proxy makes no connection for it.
 */
export function loopDetected(why: string): Response {
  return text(508, `loop detected: ${why}`);
}
