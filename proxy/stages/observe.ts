/**
 * The one observe step of the request path: a finished request is counted (Istio's
 * `istio_requests_total` and duration), written to the access log when the mesh config asks
 * and its span ended, the same way for the sidecar's outbound and inbound listeners and the
 * gateway. {@linkcode Exchange} is a routed request's record on its way through the stages:
 * each stage fills in what it learns (route, cluster, endpoint, an injected delay) and the
 * request is observed once, when it ends.
 *
 * @example
 * ```ts
 * const ex = new Exchange(telemetry, req);
 * ex.cluster = hit.cluster;
 * return ex.fail({ kind: "no_healthy_upstream" }); // counted, logged (UH), answered 503
 * ```
 * @module
 */
import type { Endpoint } from "../../api/proxy_config.ts";
import type { AccessLog } from "../access_log.ts";
import type { Reporter, RequestLabels, Stats } from "../stats.ts";
import type { Span } from "../tracing.ts";
import { answerResponse, type Failure, failureAnswer } from "../errors.ts";
import { isGrpc } from "../grpc.ts";
import { trailersOf } from "../trailers.ts";
import { cameOverHttp2 } from "../h2_serve.ts";
import { withDelayFlag } from "../route_actions.ts";
import { type Clock, realClock } from "../../util/clock.ts";

/** Where observations go. */
export interface Telemetry {
  stats: Stats;
  /** Access log (off unless the mesh config turns it on). */
  accessLog?: AccessLog;
  clock?: Clock;
}

/** A span to end with the request. */
export interface SpanObservation {
  span: Span;
  /** The operation, e.g. `reviews.default.svc.cluster.local:9080/*`. */
  name: string;
  url: string;
  peerAddress?: string;
}

/** One finished request. */
export interface Observation {
  reporter: Reporter;
  labels: RequestLabels;
  status: number;
  /** Envoy's response flags. */
  flags?: string;
  /** A gRPC request's `grpc-status` (response headers or trailers; "" when none came). */
  grpcStatus?: string;
  /** When it started, on the telemetry's clock. */
  start: number;
  method: string;
  path: string;
  authority?: string;
  /** The request's HTTP version as Envoy's `%PROTOCOL%` logs it (`HTTP/1.1` when unset). */
  protocol?: "HTTP/1.1" | "HTTP/2";
  /** A request header by lowercase name. */
  header(name: string): string | undefined;
  /** The request id (the client's, or the one the proxy made up). */
  requestId?: string;
  upstreamHost?: string;
  upstreamCluster?: string;
  routeName?: string;
  span?: SpanObservation;
}

/** Counts, logs and ends the span of a finished request. */
export function observe(t: Telemetry, o: Observation): void {
  const durationMs = (t.clock ?? realClock).now() - o.start;
  t.stats.record(o.reporter, o.labels, o.status, durationMs, o.grpcStatus);
  const requestId = o.requestId ?? o.header("x-request-id");
  if (t.accessLog?.enabled) {
    t.accessLog.write({
      start: Date.now() - durationMs,
      method: o.method,
      path: o.path,
      protocol: o.protocol,
      status: o.status,
      flags: o.flags,
      bytesReceived: Number(o.header("content-length") ?? 0) || 0,
      durationMs,
      forwardedFor: o.header("x-forwarded-for"),
      userAgent: o.header("user-agent"),
      requestId,
      authority: o.authority,
      upstreamHost: o.upstreamHost,
      upstreamCluster: o.upstreamCluster,
      routeName: o.routeName,
    });
  }
  o.span?.span.end({
    name: o.span.name,
    status: o.status,
    method: o.method,
    url: o.span.url,
    upstreamCluster: o.upstreamCluster,
    responseFlags: o.flags,
    requestId,
    userAgent: o.header("user-agent"),
    peerAddress: o.span.peerAddress,
  });
}

/** How an exchange ended, besides its status. */
export interface Ending {
  flags?: string;
  /** A gRPC request's `grpc-status`. */
  grpcStatus?: string;
  /** The endpoint the request went to. */
  ep?: Endpoint;
}

/** A routed request (outbound or gateway listener) through the stages, observed once. */
export class Exchange {
  readonly req: Request;
  readonly start: number;
  #t: Telemetry;
  #done = false;
  /** The path as logged (normalized once decided). */
  path: string;
  /** The authority as logged (the request's one authority once decided). */
  authority: string;
  /** An `x-request-id` the proxy made up (sent upstream and logged). */
  requestId?: string;
  /** The destination service, as `destination_service` (`unknown` until routed). */
  service = "unknown";
  cluster?: string;
  route?: string;
  /** The CLIENT span and its operation name, once routed. */
  span?: { span: Span; name: string; url: string };
  /** A fault delay was injected (Envoy's `DI`). */
  delayed = false;
  /** The request is gRPC (its failures answered gRPC's way, its status counted). */
  readonly grpc: boolean;

  constructor(t: Telemetry, req: Request) {
    this.#t = t;
    this.req = req;
    this.start = (t.clock ?? realClock).now();
    const url = req.url;
    const from = url.indexOf("://") + 3;
    const slash = url.indexOf("/", from);
    this.path = slash < 0 ? "/" : url.slice(slash);
    this.authority = req.headers.get("host") ?? "";
    this.grpc = isGrpc(req.headers.get("content-type"));
  }

  /** Observes the request as ended with `status` (only the first call counts). */
  finish(status: number, e: Ending = {}): void {
    if (this.#done) return;
    this.#done = true;
    const flags = this.delayed ? withDelayFlag(e.flags) : e.flags;
    const h = this.req.headers;
    observe(this.#t, {
      reporter: "source",
      labels: { service: this.service, mtls: e.ep?.mtls },
      status,
      flags,
      grpcStatus: e.grpcStatus ?? (this.grpc ? "" : undefined),
      start: this.start,
      method: this.req.method,
      path: this.path,
      authority: this.authority,
      protocol: cameOverHttp2(this.req) ? "HTTP/2" : "HTTP/1.1",
      header: (n) => h.get(n) ?? undefined,
      requestId: this.requestId,
      upstreamHost: e.ep ? `${e.ep.address}:${e.ep.port}` : undefined,
      upstreamCluster: this.cluster || undefined,
      routeName: this.route,
      span: this.span && { ...this.span, peerAddress: e.ep?.address },
    });
  }

  /** Observes the request as failed with `f`, and answers it. */
  fail(f: Failure, ep?: Endpoint): Response {
    const a = failureAnswer(f, { grpc: this.grpc });
    this.finish(a.status, { flags: a.flags, ep, grpcStatus: a.grpcStatus });
    return answerResponse(a);
  }

  /**
   * Observes a proxied response: at once, or for a gRPC response without `grpc-status` in its
   * head, once its trailers (which carry it) are in.
   */
  finishResponse(res: Response, e: Ending): void {
    if (!this.grpc) return this.finish(res.status, e);
    const inHead = res.headers.get("grpc-status");
    if (inHead !== null) return this.finish(res.status, { ...e, grpcStatus: inHead });
    trailersOf(res).then((t) =>
      this.finish(res.status, { ...e, grpcStatus: t.find(([k]) => k === "grpc-status")?.[1] })
    );
  }
}
