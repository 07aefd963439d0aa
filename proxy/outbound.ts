/**
 * The sidecar's outbound listeners (the one apps send to by Host header or absolute-form, as
 * to an HTTP proxy, and Sidecar HTTP egress ports): the routed stack (`stages/routed.ts`)
 * with no admission steps (the destination's inbound side authenticates and authorizes),
 * trusted clients (the app may steer its own sidecar with `x-envoy-*`), original-destination
 * clusters, and a catch-all for hosts outside the registry (PassthroughCluster under
 * ALLOW_ANY, else BlackHoleCluster).
 *
 * @example
 * ```ts
 * const handler = outboundHandler(ctx, { table: (rt) => rt.outbound, port: 80 });
 * ```
 * @module
 */
import type { Runtime } from "./runtime.ts";
import type { RouteTable } from "./route.ts";
import type { ServeHandler } from "./listener.ts";
import { type RoutedContext, routedHandler } from "./stages/routed.ts";
import { passthroughOrBlackHole } from "./stages/passthrough.ts";

/** Which outbound listener. */
export interface OutboundListener {
  /** Its route table (the sidecar's, or an egress port's). */
  table: (rt: Runtime) => RouteTable | undefined;
  /** The port assumed when the authority names none. */
  port: number;
}

/** The handler of a sidecar outbound listener. */
export function outboundHandler(ctx: RoutedContext, l: OutboundListener): ServeHandler {
  return routedHandler(ctx, {
    table: l.table,
    defaultPort: l.port,
    admission: [],
    edge: { untrusted: false, forwardedProto: false, originalDst: true },
    fallback: passthroughOrBlackHole(ctx.endpoints),
  });
}
