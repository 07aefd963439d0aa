/**
 * The routed side of the proxy: a sidecar's outbound listener (apps send to it
 * by Host header, or with absolute-form requests as to an HTTP proxy) and a
 * gateway's listeners, both on `Deno.serve`. Logical service (virtual host +
 * route) → concrete backend (cluster) → endpoint.
 * @module
 */
import { splitHostPort } from "../api/host.ts";
import type { Endpoint, RouteFault } from "../api/proxy_config.ts";
import { HOP_BY_HOP } from "./h1_codec.ts";
import type { Runtime } from "./runtime.ts";
import type { RequestView, RouteTable } from "./route.ts";
import type { Upstreams } from "./forward.ts";
import type { Stats } from "./stats.ts";

/** Where a routed listener gets its state. */
export interface RoutedContext {
  runtime(): Runtime | undefined;
  upstreams: Upstreams;
  stats: Stats;
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
  #headers: Headers;
  constructor(req: Request, authority: string, host: string, path: string, port: number) {
    this.method = req.method;
    this.path = path;
    this.authority = authority;
    this.host = host;
    this.port = port;
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

/** Headers to send upstream: hop-by-hop, framing and client-sent XFCC dropped. */
function upstreamHeaders(req: Request, authority: string): [string, string][] {
  const out: [string, string][] = [];
  let hasHost = false;
  let hasRequestId = false;
  req.headers.forEach((v, k) => {
    if (HOP_BY_HOP.has(k) || k === "content-length" || k === "x-forwarded-client-cert") return;
    if (k === "expect") return; // the client's 100-continue is answered by Deno.serve
    if (k === "host") hasHost = true;
    else if (k === "x-request-id") hasRequestId = true;
    out.push([k, v]);
  });
  if (!hasHost) out.push(["host", authority]);
  if (!hasRequestId) out.push(["x-request-id", crypto.randomUUID()]);
  return out;
}

/**
 * Sends the request to `ep` and turns the upstream answer into a Response.
 * With `timeoutMs`, an upstream that hasn't sent its response head by then
 * is cut off and the caller gets 504, as Envoy answers a route timeout.
 */
export async function proxyTo(
  ctx: RoutedContext,
  ep: Endpoint,
  req: Request,
  path: string,
  authority: string,
  onStatus: (status: number) => void,
  timeoutMs?: number,
): Promise<Response> {
  const cl = req.headers.get("content-length");
  const abort = timeoutMs !== undefined ? new AbortController() : undefined;
  const timer = abort ? setTimeout(() => abort.abort(), timeoutMs) : undefined;
  try {
    const res = await ctx.upstreams.request(ep, {
      method: req.method,
      path,
      headers: upstreamHeaders(req, authority),
      body: req.body,
      length: cl !== null ? Number(cl) : undefined,
      signal: abort?.signal,
    });
    clearTimeout(timer);
    onStatus(res.status);
    const headers = new Headers();
    for (const [k, v] of res.headers) if (!HOP_BY_HOP.has(k)) headers.append(k, v);
    if (NULL_BODY_STATUS.has(res.status)) {
      await res.body.cancel();
      return new Response(null, { status: res.status, headers });
    }
    return new Response((res.full as Uint8Array<ArrayBuffer> | undefined) ?? res.body, {
      status: res.status,
      statusText: res.statusText,
      headers,
    });
  } catch (err) {
    clearTimeout(timer);
    if (abort?.signal.aborted) {
      onStatus(504);
      return text(504, "upstream request timeout");
    }
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
): (req: Request) => Promise<Response> | Response {
  return (req) => {
    const start = performance.now();
    const rt = ctx.runtime();
    if (!rt) return text(503, "proxy has no configuration yet");
    if (req.method === "CONNECT") {
      return text(501, "CONNECT tunnels are not supported yet; send plain HTTP");
    }
    const { authority, path } = splitUrl(req.url);
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
          (code) =>
            ctx.stats.record(
              "source",
              { service: "PassthroughCluster" },
              code,
              performance.now() - start,
            ),
        );
      }
      ctx.stats.record("source", { service: "BlackHoleCluster" }, 502, 0);
      return text(passthrough ? 502 : 404, "");
    }
    if (hit === null) {
      ctx.stats.record("source", { service: "unknown" }, 404, 0);
      return text(404, "");
    }
    const lb = rt.balancers.get(hit.cluster);
    const service = lb?.cluster.host ?? hit.cluster.split("|")[3] ?? "unknown";
    const forward = (): Promise<Response> | Response => {
      const ep = lb?.pick();
      if (!ep) {
        ctx.stats.record("source", { service }, 503, performance.now() - start);
        return text(503, "no healthy upstream");
      }
      return proxyTo(
        ctx,
        ep,
        req,
        path,
        authority,
        (code) =>
          ctx.stats.record("source", { service, mtls: ep.mtls }, code, performance.now() - start),
        hit.route.timeoutMs,
      );
    };
    const fault = hit.route.fault;
    if (!fault) return forward();
    return injectFault(fault, forward, (status) => {
      ctx.stats.record("source", { service }, status, performance.now() - start);
      return text(status, "fault filter abort");
    });
  };
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
): Promise<Response> | Response {
  const aborted = fault.abort && faultHits(fault.abort.percent, rand)
    ? fault.abort.status
    : undefined;
  const next = () => aborted !== undefined ? abort(aborted) : forward();
  if (fault.delay && faultHits(fault.delay.percent, rand)) {
    return new Promise<void>((resolve) => setTimeout(resolve, fault.delay!.ms)).then(next);
  }
  return next();
}
