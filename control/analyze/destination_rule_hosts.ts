/**
 * DestinationRules against the registry and the workloads (Istio's
 * `destinationrule.SubsetSelectPodAnalyzer`):
 *
 * - `IST0174` when the rule's host is no service visible to it: looked up as Istio looks up a
 *   destination (the rule's namespace and `exportTo`; see `ScopedHosts.lookup`). A wildcard
 *   host such as `*.default.svc.cluster.local` is also known when it covers at least one
 *   visible host (istioctl would warn about it);
 * - `IST0173` for each subset whose labels (with the ServiceEntry's `workloadSelector`)
 *   select no workload in any namespace. A Pod's labels are completed with the topology labels
 *   of its Node (`topology.kubernetes.io/region`, `zone`, `topology.istio.io/subzone`,
 *   `kubernetes.io/hostname`), as Istio's registry does. Workloads are Pods, pod templates,
 *   WorkloadEntries and the default gateway.
 * @module
 */
import { DestinationRuleSubsetNotSelectPods, UnknownDestinationRuleHost } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches, type Workload } from "./k8s.ts";

/** Pod labels plus the topology labels of its Node, as Istio's `AugmentLabels`. */
export function augmentedLabels(ctx: AnalysisContext, w: Workload): Record<string, string> {
  const out = { ...w.labels };
  if (!w.nodeName) return out;
  const node = ctx.nodes.find((n) => n.name === w.nodeName);
  if (node) {
    const region = node.labels["topology.kubernetes.io/region"] ?? "";
    const zone = node.labels["topology.kubernetes.io/zone"] ?? "";
    const subzone = node.labels["topology.istio.io/subzone"] ?? "";
    // Istio joins region/zone/subzone (dropping what follows an empty zone), then splits it.
    if (region) out["topology.kubernetes.io/region"] = region;
    if (zone) {
      out["topology.kubernetes.io/zone"] = zone;
      if (subzone) out["topology.istio.io/subzone"] = subzone;
    }
  }
  out["kubernetes.io/hostname"] = w.nodeName;
  return out;
}

/** Checks DestinationRule hosts and whether their subsets select workloads. */
export const destinationRuleHostAnalyzer: Analyzer = {
  name: "destinationrule.SubsetSelectPodAnalyzer",
  description: "Checks if pods are selected by subsets in destination rules.",
  codes: [UnknownDestinationRuleHost.code, DestinationRuleSubsetNotSelectPods.code],
  analyze(ctx: AnalysisContext): void {
    const labels = ctx.workloads.map((w) => augmentedLabels(ctx, w));
    for (const dr of ctx.destinationRules) {
      const host = dr.spec.host ?? "";
      const ns = dr.metadata.namespace;
      const origin = ctx.originOf(dr);
      const entry = ctx.scopedHosts.lookup(ns, dr.spec.exportTo ?? [], host);
      const known = entry !== undefined ||
        (host.startsWith("*") && ctx.hosts.matching(host, ns).length > 0);
      if (!known) {
        ctx.report(UnknownDestinationRuleHost, [host], origin, ["spec", "host"]);
        continue;
      }
      (dr.spec.subsets ?? []).forEach((subset, i) => {
        const selector = { ...(entry?.workloadSelector ?? {}), ...(subset?.labels ?? {}) };
        if (labels.some((l) => selectorMatches(selector, l))) return;
        ctx.report(DestinationRuleSubsetNotSelectPods, [subset?.name ?? ""], origin, [
          "spec",
          "subsets",
          i,
          "name",
        ]);
      });
    }
  },
};
