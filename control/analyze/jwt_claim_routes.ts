/**
 * JWT claim routing without JWT verification (Istio's `virtualservice.JWTClaimRouteAnalyzer`,
 * `IST0149`): a VirtualService that matches on a `@request.auth.claims.<name>` (or
 * `@request.auth.claims[<name>]`) header, bound to a Gateway, needs a RequestAuthentication
 * for each workload of that Gateway, in `istio-system` or the workload's namespace (one
 * without selector applies to every workload there). Gateways that don't exist are left to
 * `virtualservice.GatewayAnalyzer`.
 * @module
 */
import { JwtClaimBasedRoutingWithoutRequestAuthN } from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches } from "./k8s.ts";
import { resolveGateway } from "./vs_gateways.ts";
import type { VirtualService } from "../../api/resources.ts";

const CLAIM = "@request.auth.claims";

/** Whether a header name routes on a JWT claim (Istio's `ToRoutingClaim(...).Match`). */
export function isClaimHeader(name: string): boolean {
  if (!name.toLowerCase().startsWith(CLAIM)) return false;
  const rest = name.slice(CLAIM.length);
  return (rest.startsWith(".") && rest.length > 1) ||
    (rest.startsWith("[") && rest.endsWith("]") && rest.length > 2);
}

/** The first claim header a VirtualService's HTTP matches use, if any. */
export function claimKey(vs: VirtualService): string | undefined {
  for (const route of vs.spec.http ?? []) {
    for (const m of route?.match ?? []) {
      for (const field of [m?.headers, m?.withoutHeaders]) {
        const key = Object.keys(field ?? {}).find(isClaimHeader);
        if (key !== undefined) return key;
      }
    }
  }
  return undefined;
}

/** Checks that JWT claim routing on gateways has RequestAuthentication behind it. */
export const jwtClaimRouteAnalyzer: Analyzer = {
  name: "virtualservice.JWTClaimRouteAnalyzer",
  description:
    "Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication",
  codes: [JwtClaimBasedRoutingWithoutRequestAuthN.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      const key = claimKey(vs);
      if (key === undefined) continue;
      for (const ref of vs.spec.gateways ?? []) {
        if (ref === "mesh") continue;
        const gw = resolveGateway(ref, vs.metadata.namespace, ctx.gateways);
        if (!gw) continue;
        const labels = gw.spec.selector ?? {};
        for (const w of ctx.workloads) {
          if (!selectorMatches(labels, w.labels)) continue;
          const covered = ctx.requestAuthentications.some((ra) =>
            (ra.metadata.namespace === "istio-system" || ra.metadata.namespace === w.namespace) &&
            selectorMatches(ra.spec.selector?.matchLabels ?? {}, w.labels)
          );
          if (covered) continue;
          ctx.report(
            JwtClaimBasedRoutingWithoutRequestAuthN,
            [key, fullName(gw.metadata), w.name],
            ctx.originOf(vs),
          );
        }
      }
    }
  },
};
