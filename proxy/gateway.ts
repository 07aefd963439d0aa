/**
 * A gateway's HTTP and HTTPS listeners: the routed stack (`stages/routed.ts`) composed for the
 * edge. Routing is by the listener's own server table (the Gateway's servers and the
 * VirtualServices bound to them), requests are admitted first (path normalized, JWTs
 * verified, the gateway's AuthorizationPolicies enforced), clients aren't trusted with
 * `x-envoy-*` headers, upstreams learn the scheme (`x-forwarded-proto`), original-destination
 * clusters aren't served, and a host no server covers is a 404, never a passthrough.
 *
 * @example
 * ```ts
 * const handler = gatewayHandler(ctx, 8080);
 * ```
 * @module
 */
import type { ServeHandler } from "./listener.ts";
import { type RoutedContext, routedHandler } from "./stages/routed.ts";
import { authenticateStep, authorizeStep, normalizePathStep } from "./stages/admission.ts";
import { blackHole } from "./stages/passthrough.ts";

/** The handler of the gateway listener on `port`. */
export function gatewayHandler(ctx: RoutedContext, port: number): ServeHandler {
  return routedHandler(ctx, {
    table: (rt) => rt.gateway.get(port),
    defaultPort: port,
    admission: [normalizePathStep, authenticateStep, authorizeStep],
    edge: { untrusted: true, forwardedProto: true, originalDst: false },
    fallback: blackHole(404),
  });
}
