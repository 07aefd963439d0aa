/**
 * DestinationRules for hosts the registry doesn't have (Istio's check in
 * `destinationrule.SubsetSelectPodAnalyzer`, `IST0174`). A wildcard host such as
 * `*.default.svc.cluster.local` is fine when it covers at least one visible host.
 * @module
 */
import { UnknownDestinationRuleHost } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

/** Checks that each DestinationRule's host is a known service. */
export const destinationRuleHostAnalyzer: Analyzer = {
  name: "destinationrule.UnknownHostAnalyzer",
  description: "Checks that the host of each destination rule matches a service in the mesh",
  codes: [UnknownDestinationRuleHost.code],
  analyze(ctx: AnalysisContext): void {
    for (const dr of ctx.destinationRules) {
      const { host } = dr.spec;
      const ns = dr.metadata.namespace;
      const known = host.startsWith("*")
        ? ctx.hosts.matching(host, ns).length > 0
        : ctx.hosts.lookup(host, ns) !== undefined;
      if (!known) {
        ctx.report(UnknownDestinationRuleHost, [host], ctx.originOf(dr), ["spec", "host"]);
      }
    }
  },
};
