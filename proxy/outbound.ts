/**
 * The routed side of the proxy: a sidecar's outbound listener (apps send to it
 * by Host header, or with absolute-form requests as to an HTTP proxy) and a
 * gateway's listeners, both on `Deno.serve`. Logical service (virtual host +
 * route) → concrete backend (cluster) → endpoint.
 * @module
 */
import { splitHostPort } from "../api/host.ts";
import type { Endpoint, HeaderChanges, Route } from "../api/proxy_config.ts";
import type { CircuitBreakers } from "./circuit.ts";
import type { OutlierDetector } from "./outlier.ts";
import type { AccessLog } from "./access_log.ts";
import { jwtDenied, type RequestAuth } from "./jwt.ts";
import { type Tracer, withTraceHeaders } from "./tracing.ts";
import type { Runtime } from "./runtime.ts";
import type { RequestView, RouteTable } from "./route.ts";
import type { Upstreams } from "./forward.ts";
import type { Stats } from "./stats.ts";
import { forwardRouted, loopDetected, proxyTo } from "./forward_routed.ts";
import { requestAuthority } from "./authority.ts";
import { normalizePath } from "./path_normalize.ts";
import { isOwnListener, newProxyId, VIA_HEADER, viaLoop, withVia } from "./loop.ts";
import { sendable } from "./header_ops.ts";
import {
  corsFor,
  directResponse,
  injectFault,
  redirectLocation,
  redirectResponse,
  rewritePath,
  text,
  withDelayFlag,
  withHeaders,
} from "./route_actions.ts";

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
  /**
   * The ports of this proxy's listeners that the config doesn't list (outbound, inbound,
   * admin); gateway and egress ports come from the config. A request is never sent to one.
   */
  ownPorts?: () => readonly (number | undefined)[];
}

const proxyIds = new WeakMap<RoutedContext, string>();

/** The id this proxy's routed listeners put in `x-mesh-via` (one per context). */
export function proxyIdOf(ctx: RoutedContext): string {
  let id = proxyIds.get(ctx);
  if (!id) proxyIds.set(ctx, id = newProxyId());
  return id;
}

/** Every port this proxy listens on: its own listeners and those of the config. */
export function ownPortsOf(ctx: RoutedContext, rt: Runtime): number[] {
  const out: number[] = [];
  for (const p of ctx.ownPorts?.() ?? []) if (p) out.push(p);
  for (const l of rt.config.listeners) out.push(l.port);
  for (const l of rt.config.egressListeners ?? []) out.push(l.port);
  return out;
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
    // Loop detection by marker: a request this proxy already forwarded is not sent on again.
    const via = req.headers.get(VIA_HEADER);
    const id = proxyIdOf(ctx);
    const loop = viaLoop(via, id);
    if (loop) {
      ctx.stats.record("source", { service: "unknown" }, 508, performance.now() - start);
      logAccess(ctx, req, splitUrl(req.url).path, req.headers.get("host") ?? "", start, 508);
      return loopDetected(loop);
    }
    // One authority, decided once: routing, authorization and the upstream Host all use it.
    const a = requestAuthority(req.url, req.headers.get("host"));
    let path = splitUrl(req.url).path;
    if (a.reject !== undefined) return badRequest(req, path, start, a.reject);
    const authority = a.authority;
    // A gateway normalizes the path (MeshConfig pathNormalization) once, before routing and
    // authorization; upstream gets the same path.
    if (gateway) {
      const n = normalizePath(path, rt.config.pathNormalization);
      if (n.reject !== undefined) return badRequest(req, path, start, n.reject);
      path = n.path;
    }
    const hop = { via: withVia(via, id), ownPorts: ownPortsOf(ctx, rt) };
    if (gateway && rt.jwt) {
      return rt.jwt.authenticate({ path, header: (n) => req.headers.get(n) ?? undefined })
        .then((out) => {
          if (out.ok) {
            return serve(req, info, rt, start, authority, path, hop, out.auth, out.headers);
          }
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
    return serve(req, info, rt, start, authority, path, hop);
  };

  function badRequest(req: Request, path: string, start: number, why: string): Response {
    ctx.stats.record("source", { service: "unknown" }, 400, performance.now() - start);
    logAccess(ctx, req, path, req.headers.get("host") ?? "", start, 400, { flags: "DPE" });
    return text(400, `bad request: ${why}`);
  }

  function serve(
    req: Request,
    info: Deno.ServeHandlerInfo | undefined,
    rt: Runtime,
    start: number,
    authority: string,
    path: string,
    hop: { via: string; ownPorts: number[] },
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
        header: (name) => name === "host" ? authority : req.headers.get(name) ?? undefined,
        auth,
      });
      if (!decision.allowed) {
        ctx.stats.record("source", { service: "unknown" }, 403, performance.now() - start);
        logAccess(ctx, req, path, authority, start, 403, { flags: "RBAC" }, requestId);
        return text(403, "RBAC: access denied");
      }
    }
    // No authority (no Host, an empty one): a route to nowhere, never a passthrough.
    if (authority === "") {
      ctx.stats.record("source", { service: "unknown" }, 404, 0);
      logAccess(ctx, req, path, authority, start, 404, { flags: "NR" }, requestId);
      return text(404, "no authority (Host header) in the request: no route");
    }
    // The authority is parsed once per request; the route table reuses the host.
    const hp = splitHostPort(authority);
    const port = hp.port ?? defaultPort;
    const hit = table(rt)?.match(new RequestHeadersView(req, authority, hp.host, path, port));
    if (hit === undefined) {
      if (passthrough && rt.config.outboundTrafficPolicy === "ALLOW_ANY") {
        const address = hp.host.replace(/^\[|\]$/g, "");
        const ep: Endpoint = { address, port, mtls: false, labels: {} };
        // Loop detection by address: this proxy's own listeners are never a passthrough target.
        if (isOwnListener(address, port, hop.ownPorts)) {
          ctx.stats.record("source", { service: "PassthroughCluster" }, 508, 0);
          logAccess(ctx, req, path, authority, start, 508, {
            ep,
            cluster: "PassthroughCluster",
          }, requestId);
          return loopDetected(`${authority} is this proxy's own listener`);
        }
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
          { requestId, via: hop.via },
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
          redirectResponse(
            route.redirect.code,
            redirectLocation(
              route.redirect,
              path,
              authority,
              port,
              hit.matched,
              req.url.startsWith("https:") ? "https" : "http",
            ),
          ),
          route.headers?.response,
        );
      }
      let upPath = path;
      let upAuthority = authority;
      if (route.rewrite) {
        upPath = rewritePath(path, route.rewrite, hit.matched);
        // An authority that can't be a `host` value (a CR or LF from config) isn't rewritten to.
        const rw = route.rewrite.authority;
        if (rw !== undefined && sendable("host", rw)) upAuthority = rw;
      }
      return forwardRouted(ctx, lb, hit, req, upPath, upAuthority, record, {
        requestId,
        extraHeaders,
        info,
        gateway,
        authority,
        via: hop.via,
        ownPorts: hop.ownPorts,
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
