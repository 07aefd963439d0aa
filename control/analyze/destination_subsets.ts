/**
 * Subsets of VirtualService destinations (Istio's `virtualservice.DestinationRuleAnalyzer`):
 * a destination's `subset` must be defined by the DestinationRule that applies to its host
 * (`IST0101`, `host+subset in destinationrule`). The rule that applies is the one for the
 * exact host, else the most specific wildcard one, as the control plane picks it.
 * @module
 */
import { fqdn, hostMatches } from "../../api/host.ts";
import type { DestinationRule } from "../../api/resources.ts";
import { ReferencedResourceNotFound } from "./messages.ts";
import { type Analyzer, mirrorDestinations, routeDestinations } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

/** The DestinationRules that apply to the full host name `host`. */
export function rulesFor(rules: readonly DestinationRule[], host: string): DestinationRule[] {
  const exact = rules.filter((dr) => fqdn(dr.spec.host, dr.metadata.namespace) === host);
  if (exact.length) return exact;
  let best: DestinationRule[] = [];
  let bestLength = -1;
  for (const dr of rules) {
    const pattern = fqdn(dr.spec.host, dr.metadata.namespace);
    if (!hostMatches(pattern, host)) continue;
    if (pattern.length > bestLength) [best, bestLength] = [[dr], pattern.length];
    else if (pattern.length === bestLength) best.push(dr);
  }
  return best;
}

/** Checks that every subset a VirtualService routes to is defined. */
export const destinationSubsetAnalyzer: Analyzer = {
  name: "virtualservice.DestinationRuleAnalyzer",
  description: "Checks the destination rules associated with each virtual service",
  codes: [ReferencedResourceNotFound.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      const ns = vs.metadata.namespace;
      for (const d of [...routeDestinations(vs), ...mirrorDestinations(vs)]) {
        if (d.subset === undefined) continue;
        const rules = rulesFor(ctx.destinationRules, fqdn(d.host, ns));
        if (rules.some((dr) => (dr.spec.subsets ?? []).some((s) => s.name === d.subset))) continue;
        ctx.report(
          ReferencedResourceNotFound,
          [
            d.mirror ? "mirror+subset in destinationrule" : "host+subset in destinationrule",
            `${d.host}+${d.subset}`,
          ],
          ctx.originOf(vs),
          d.path,
        );
      }
    }
  },
};
