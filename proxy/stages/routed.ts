/**
 * A routed HTTP listener's handler, composed from the stages: the edge (a config to serve
 * by, loop detection by the `x-mesh-via` marker, the request's one authority), the
 * listener's admission steps (`admission.ts`), the logical stage (route and filters), the
 * concrete stage (the cluster's endpoints) and the endpoint stage (the connection), with a
 * fallback for hosts no virtual host covers. Every request is observed once
 * (`observe.ts`) and every failure answered by `errors.ts`. The sidecar's outbound listeners
 * (`outbound.ts`) and the gateway's (`gateway.ts`) are two compositions of it.
 *
 * @example
 * ```ts
 * const handler = routedHandler(ctx, {
 *   table: (rt) => rt.outbound,
 *   defaultPort: 80,
 *   admission: [],
 *   edge: { untrusted: false, forwardedProto: false, originalDst: true },
 *   fallback: passthroughOrBlackHole(ctx.endpoints),
 * });
 * ```
 * @module
 */
import { splitHostPort } from "../../api/host.ts";
import type { AccessLog } from "../access_log.ts";
import type { Tracer } from "../tracing.ts";
import type { Runtime } from "../runtime.ts";
import type { RouteTable } from "../route.ts";
import type { Stats } from "../stats.ts";
import type { ServeHandler } from "../listener.ts";
import { requestAuthority } from "../authority.ts";
import { newProxyId, VIA_HEADER, viaLoop, withVia } from "../loop.ts";
import { errorResponse, type Failure } from "../errors.ts";
import type { EndpointClient } from "./endpoint.ts";
import type { ClusterStates } from "./clusters.ts";
import { type Clock, realClock } from "../../util/clock.ts";
import { ConcreteStage } from "./concrete.ts";
import { type EdgePolicy, type LogicalRequest, LogicalStage } from "./logical.ts";
import { Exchange, type Telemetry } from "./observe.ts";
import { type Admission, type AdmissionStep, runSteps } from "./admission.ts";
import type { Fallback } from "./passthrough.ts";

/** Where a routed listener gets its state. */
export interface RoutedContext {
  runtime(): Runtime | undefined;
  /** The endpoint stage: connections to endpoints. */
  endpoints: EndpointClient;
  /** Per-cluster state across config pushes (breakers, outlier ejections). */
  clusters: ClusterStates;
  stats: Stats;
  /** Access log (off unless the mesh config turns it on). */
  accessLog?: AccessLog;
  /** The tracer, while the config turns tracing on. */
  tracer?: () => Tracer | undefined;
  /**
   * The ports of this proxy's listeners that the config doesn't list (outbound, inbound,
   * admin); gateway and egress ports come from the config. A request is never sent to one.
   */
  ownPorts?: () => readonly (number | undefined)[];
  /** The clock (tests: a fake one). */
  clock?: Clock;
  /** Random draws in [0, 1) (tests: a seeded one). */
  random?: () => number;
}

/** One routed listener's composition. */
export interface RoutedStack {
  /** The route table the listener routes by. */
  table: (rt: Runtime) => RouteTable | undefined;
  /** The port assumed when the authority names none. */
  defaultPort: number;
  /** Steps before routing (a gateway's path normalization, authentication, authorization). */
  admission: readonly AdmissionStep[];
  /** What the listener trusts and adds. */
  edge: EdgePolicy;
  /** A request for a host no virtual host covers. */
  fallback: Fallback;
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

/** The handler of a routed listener composed as `stack` says. */
export function routedHandler(ctx: RoutedContext, stack: RoutedStack): ServeHandler {
  const clock = ctx.clock ?? realClock;
  const telemetry: Telemetry = { stats: ctx.stats, accessLog: ctx.accessLog, clock };
  const concrete = new ConcreteStage({
    endpoints: ctx.endpoints,
    clusters: ctx.clusters,
    clock,
    random: ctx.random,
    balancer: (name) => ctx.runtime()?.balancers.get(name),
  });
  const logical = new LogicalStage({ concrete, clock, random: ctx.random, tracer: ctx.tracer });

  const route = (a: Admission, via: string): Promise<Response> | Response => {
    const { rt, ex, authority } = a;
    // No authority (no Host, an empty one): a route to nowhere, never a passthrough.
    if (authority === "") return ex.fail({ kind: "no_authority" });
    const hp = splitHostPort(authority);
    const lr: LogicalRequest = {
      ex,
      clientIp: () => a.sourceIp || undefined,
      authority,
      host: hp.host,
      port: hp.port ?? stack.defaultPort,
      path: a.path,
      scheme: a.scheme,
      via,
      ownPorts: ownPortsOf(ctx, rt),
      authHeaders: a.authHeaders,
      edge: stack.edge,
    };
    const hit = logical.match(stack.table(rt), lr);
    if (hit === undefined) return stack.fallback(lr, rt);
    if (hit === null) return ex.fail({ kind: "no_route" });
    return logical.serve(hit, lr, rt.balancers.get(hit.cluster));
  };

  return (req, info) => {
    const rt = ctx.runtime();
    if (!rt) return errorResponse({ kind: "no_config" });
    if (req.method === "CONNECT") return errorResponse({ kind: "connect_method" });
    const ex = new Exchange(telemetry, req);
    // Loop detection by marker: a request this proxy already forwarded is not sent on again.
    const via = req.headers.get(VIA_HEADER);
    const id = proxyIdOf(ctx);
    const loop = viaLoop(via, id);
    if (loop) return ex.fail({ kind: "loop", why: loop });
    // One authority, decided once: routing, authorization and the upstream Host all use it.
    const authority = requestAuthority(req.url, req.headers.get("host"));
    if (authority.reject !== undefined) {
      return ex.fail({ kind: "bad_request", why: authority.reject });
    }
    ex.authority = authority.authority;
    // With access logs on, an id the proxy makes up is logged and sent upstream alike.
    if (ctx.accessLog?.enabled && !req.headers.has("x-request-id")) {
      ex.requestId = crypto.randomUUID();
    }
    const a: Admission = {
      rt,
      ex,
      sourceIp: (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? "",
      authority: authority.authority,
      path: ex.path,
      port: stack.defaultPort,
      // The listener's scheme (an HTTPS listener's requests arrive as `https://...`).
      scheme: req.url.startsWith("https:") ? "https" : "http",
    };
    const next = withVia(via, id);
    const refused = runSteps(stack.admission, a);
    const go = (f: Failure | undefined) => f ? ex.fail(f) : route(a, next);
    return refused instanceof Promise ? refused.then(go) : go(refused);
  };
}
