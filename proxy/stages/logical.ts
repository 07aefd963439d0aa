/**
 * The logical stage: a request to a service as the client named it. It matches the virtual
 * host and route (`route.ts`), runs the route's filters in Envoy's order (fault injection:
 * delay, then abort; CORS; a direct response or a redirect answered here; URI and authority
 * rewrite; request header changes: the request's own, the listener's, the destination's,
 * the route's) and hands the request to the concrete stage for the cluster the route picked.
 * The concrete stage's answer comes back here for the response header changes (and a
 * consistent-hash cookie), or, for an upgrade, the hand-over of the connection.
 *
 * @example
 * ```ts
 * const logical = new LogicalStage({ concrete, clock: realClock });
 * const hit = logical.match(rt.outbound, lr);
 * if (hit) return logical.serve(hit, lr, rt.balancers.get(hit.cluster));
 * ```
 * @module
 */
import type { HeaderChanges, Route } from "../../api/proxy_config.ts";
import type { Balancer } from "../balancer.ts";
import type { RequestView, RouteHit, RouteTable } from "../route.ts";
import { type Tracer, withTraceHeaders } from "../tracing.ts";
import { sendable } from "../header_ops.ts";
import { acceptUpgrade, offeredUpgrade } from "../upgrade.ts";
import { cameOverHttp2 } from "../h2_serve.ts";
import { clientGone } from "../client_gone.ts";
import { grpcTimeoutMs } from "../grpc.ts";
import {
  changeHeaderList,
  corsFor,
  directResponse,
  injectFault,
  redirectLocation,
  redirectResponse,
  rewritePath,
  withHeaders,
} from "../route_actions.ts";
import type { Exchange } from "./observe.ts";
import type { ConcreteStage } from "./concrete.ts";
import { type Clock, sleep } from "../../util/clock.ts";
import { hashKeyOf } from "./pick.ts";
import { upstreamHeaders } from "./upstream_headers.ts";
import { responseOf } from "./endpoint.ts";

/** What the listener that took a request trusts and adds (the composition decides it). */
export interface EdgePolicy {
  /** Clients aren't trusted with Envoy's `x-envoy-*` headers (a gateway's clients). */
  untrusted: boolean;
  /** The listener says which scheme requests came in with (`x-forwarded-proto`). */
  forwardedProto: boolean;
  /** Original-destination clusters are served (a gateway's clients pick no hosts). */
  originalDst: boolean;
}

/** A request as the logical stage sees it: its one authority and path decided. */
export interface LogicalRequest {
  ex: Exchange;
  /** The client's address (consistent hashing on `useSourceIp`). */
  clientIp(): string | undefined;
  /** The request's one authority (Host or absolute-form). */
  authority: string;
  /** Its host, lowercase, without the port. */
  host: string;
  /** The port the client addressed (the authority's, or the listener's default). */
  port: number;
  path: string;
  scheme: "http" | "https";
  /** The `x-mesh-via` to send (loop detection). */
  via: string;
  /** This proxy's listener ports. */
  ownPorts: readonly number[];
  /** Header changes of a verified token (RequestAuthentication). */
  authHeaders?: HeaderChanges;
  edge: EdgePolicy;
}

/** What the logical stage works with. */
export interface LogicalContext {
  concrete: ConcreteStage;
  clock: Clock;
  random?: () => number;
  /** The tracer, while the config turns tracing on. */
  tracer?: () => Tracer | undefined;
}

class RequestHeadersView implements RequestView {
  method: string;
  path: string;
  authority: string;
  host: string;
  port: number;
  scheme: string;
  #headers: Headers;
  constructor(lr: LogicalRequest) {
    this.method = lr.ex.req.method;
    this.path = lr.path;
    this.authority = lr.authority;
    this.host = lr.host;
    this.port = lr.port;
    this.scheme = lr.scheme;
    this.#headers = lr.ex.req.headers;
  }
  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }
}

/** Route matching and the per-route filters. */
export class LogicalStage {
  #c: LogicalContext;
  constructor(ctx: LogicalContext) {
    this.#c = ctx;
  }

  /** The route for `lr`: undefined without a virtual host for it, null without a route. */
  match(table: RouteTable | undefined, lr: LogicalRequest): RouteHit | null | undefined {
    return table?.match(new RequestHeadersView(lr));
  }

  /** Serves a matched request; `lb` is its cluster's balancer. */
  serve(hit: RouteHit, lr: LogicalRequest, lb: Balancer | undefined): Promise<Response> | Response {
    const ex = lr.ex;
    const req = ex.req;
    ex.service = lb?.cluster.host ?? hit.cluster.split("|")[3] ?? "unknown";
    ex.cluster = hit.cluster;
    ex.route = hit.route.name;
    // A CLIENT span (B3 headers onward; a sampled one is reported when the request ends).
    const span = this.#c.tracer?.()?.start("CLIENT", (n) => req.headers.get(n) ?? undefined);
    let authHeaders = lr.authHeaders;
    if (span) {
      authHeaders = withTraceHeaders(authHeaders, span);
      ex.span = {
        span,
        name: `${ex.service}:${lr.port}/*`,
        url: `http://${lr.authority}${lr.path}`,
      };
    }
    const fault = hit.route.fault;
    if (!fault) return this.#cors(hit, lr, lb, authHeaders);
    return injectFault(fault, {
      forward: () => this.#cors(hit, lr, lb, authHeaders),
      abort: (a) => ex.fail({ kind: "fault_abort", status: a.status, grpcStatus: a.grpcStatus }),
      random: this.#c.random,
      onDelay: () => ex.delayed = true,
      sleep: (ms) => sleep(this.#c.clock, ms),
    });
  }

  /** Envoy's CORS filter, then the route's action. */
  #cors(
    hit: RouteHit,
    lr: LogicalRequest,
    lb: Balancer | undefined,
    authHeaders: HeaderChanges | undefined,
  ): Promise<Response> | Response {
    const cors = hit.route.cors;
    const req = lr.ex.req;
    const origin = cors ? req.headers.get("origin") : null;
    if (cors && origin !== null) {
      const c = corsFor(cors, req, origin);
      if (c instanceof Response) {
        lr.ex.finish(c.status);
        return c;
      }
      if (c) {
        const res = this.#action(hit, lr, lb, authHeaders);
        return res instanceof Response ? withHeaders(res, c) : res.then((r) => withHeaders(r, c));
      }
    }
    return this.#action(hit, lr, lb, authHeaders);
  }

  /** A direct response or redirect, answered here; anything else goes on, rewritten. */
  #action(
    hit: RouteHit,
    lr: LogicalRequest,
    lb: Balancer | undefined,
    authHeaders: HeaderChanges | undefined,
  ): Promise<Response> | Response {
    const route = hit.route;
    if (route.directResponse) {
      lr.ex.finish(route.directResponse.status);
      return directResponse(route);
    }
    if (route.redirect) {
      lr.ex.finish(route.redirect.code);
      const location = redirectLocation(
        route.redirect,
        lr.path,
        lr.authority,
        lr.port,
        hit.matched,
        lr.scheme,
      );
      return withHeaders(redirectResponse(route.redirect.code, location), route.headers?.response);
    }
    let path = lr.path;
    let authority = lr.authority;
    if (route.rewrite) {
      path = rewritePath(lr.path, route.rewrite, hit.matched);
      // An authority that can't be a `host` value (a CR or LF from config) isn't rewritten to.
      const rw = route.rewrite.authority;
      if (rw !== undefined && sendable("host", rw)) authority = rw;
    }
    return this.#forward(hit, lr, lb, { path, authority, authHeaders });
  }

  async #forward(
    hit: RouteHit,
    lr: LogicalRequest,
    lb: Balancer | undefined,
    up: { path: string; authority: string; authHeaders?: HeaderChanges },
  ): Promise<Response> {
    const { ex, edge } = lr;
    const req = ex.req;
    const route: Route = hit.route;
    let headers = upstreamHeaders(req, up.authority, {
      requestId: ex.requestId,
      untrusted: edge.untrusted,
      via: lr.via,
    });
    // The request's own changes (a verified token removed, claims and trace headers added)
    // come first, then the listener's, then Envoy's default order: the more specific
    // (destination) before the route's, so the route's `set` wins.
    if (up.authHeaders) headers = changeHeaderList(headers, up.authHeaders);
    if (edge.forwardedProto) {
      headers = changeHeaderList(headers, { set: { "x-forwarded-proto": lr.scheme } });
    }
    const dest = hit.destination?.headers;
    if (dest?.request) headers = changeHeaderList(headers, dest.request);
    if (route.headers?.request) headers = changeHeaderList(headers, route.headers.request);
    const hash = lb?.cluster.hash
      ? hashKeyOf(lb.cluster.hash, {
        header: (n) => req.headers.get(n) ?? undefined,
        path: up.path,
        clientIp: lr.clientIp,
      })
      : undefined;
    const cl = req.headers.get("content-length");
    const upgrade = offeredUpgrade(req) !== undefined;
    const out = await this.#c.concrete.send({
      lb,
      route,
      method: req.method,
      path: up.path,
      headers,
      body: req.body,
      length: cl !== null ? Number(cl) : undefined,
      hashKey: hash?.key,
      originalAuthority: edge.originalDst ? lr.authority : undefined,
      ownPorts: lr.ownPorts,
      upgrade,
      downstreamHttp2: cameOverHttp2(req),
      grpcTimeoutMs: ex.grpc ? grpcTimeoutMs(req.headers.get("grpc-timeout")) : undefined,
      signal: clientGone(req),
    });
    if (!out.ok) return ex.fail(out.failure, out.ep);
    const { res, ep } = out;
    if (res.upgrade) {
      ex.finish(101, { ep });
      return acceptUpgrade(req, { ...res, upgrade: res.upgrade }, [
        dest?.response,
        route.headers?.response,
      ]);
    }
    let answer: Response;
    try {
      answer = await responseOf(res);
    } catch (err) {
      // A status or header the HTTP layer can't pass on (e.g. status 600): a bad upstream answer.
      if (!res.full) await res.body.cancel().catch(() => {});
      return ex.fail({ kind: "bad_upstream_response", detail: (err as Error).message }, ep);
    }
    ex.finishResponse(answer, { ep });
    if (dest?.response) answer = withHeaders(answer, dest.response);
    if (route.headers?.response) answer = withHeaders(answer, route.headers.response);
    if (hash?.setCookie) answer = withHeaders(answer, { add: { "set-cookie": hash.setCookie } });
    return answer;
  }
}
