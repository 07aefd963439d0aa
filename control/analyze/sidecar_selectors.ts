/**
 * Sidecar workload selectors (Istio's `sidecar.SelectorAnalyzer`):
 *
 * - a Sidecar whose `workloadSelector` matches no workload of its namespace: `IST0101`;
 * - two or more Sidecars selecting the same workload: `IST0110` on each;
 * - two or more Sidecars without a selector in one namespace: `IST0111` on each;
 * - a Sidecar that selects an ambient workload (`ambient.istio.io/redirection: enabled`), or a
 *   namespace-wide one in an ambient namespace (`istio.io/dataplane-mode: ambient`, without
 *   injection labels): `IST0167`, once per Sidecar.
 * @module
 */
import type { Sidecar } from "../../api/resources.ts";
import {
  ConflictingSidecarWorkloadSelectors,
  IneffectivePolicy,
  MultipleSidecarsWithoutWorkloadSelectors,
  ReferencedResourceNotFound,
} from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { type KubeNamespace, selectorMatches, selectorString, type Workload } from "./k8s.ts";

/** Whether a workload runs in ambient mode (Istio's CNI annotation on its pods). */
export function workloadInAmbient(w: Workload): boolean {
  return w.podAnnotations?.["ambient.istio.io/redirection"] === "enabled";
}

/** Whether a namespace is ambient: `istio.io/dataplane-mode: ambient` and no injection label. */
export function namespaceInAmbient(ns: KubeNamespace | undefined): boolean {
  if (!ns) return false;
  if (ns.labels["istio-injection"] === "enabled" || ns.labels["istio.io/rev"]) return false;
  return ns.labels["istio.io/dataplane-mode"] === "ambient";
}

/** The names of `list`, sorted (Istio's `getNames`). */
export function sortedNames(list: readonly { metadata: { name: string } }[]): string[] {
  return list.map((r) => r.metadata.name).sort();
}

/** Checks Sidecar selectors against workloads and against each other. */
export const sidecarSelectorAnalyzer: Analyzer = {
  name: "sidecar.SelectorAnalyzer",
  description: "Validates that sidecars that define a workload selector match at least one " +
    "pod, and that there aren't multiple sidecar resources that select overlapping pods",
  codes: [
    ReferencedResourceNotFound.code,
    ConflictingSidecarWorkloadSelectors.code,
    MultipleSidecarsWithoutWorkloadSelectors.code,
    IneffectivePolicy.code,
  ],
  analyze(ctx: AnalysisContext): void {
    const byWorkload = new Map<Workload, Sidecar[]>();
    const byNamespace = new Map<string, Sidecar[]>();
    for (const sc of ctx.sidecars) {
      const labels = sc.spec.workloadSelector?.labels ?? {};
      const ns = sc.metadata.namespace;
      if (Object.keys(labels).length === 0) {
        byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), sc]);
        continue;
      }
      const selected = ctx.workloads.filter((w) =>
        w.namespace === ns && selectorMatches(labels, w.labels)
      );
      for (const w of selected) byWorkload.set(w, [...(byWorkload.get(w) ?? []), sc]);
      if (selected.length === 0) {
        const first = Object.keys(labels).sort()[0];
        ctx.report(
          ReferencedResourceNotFound,
          ["selector", selectorString(labels)],
          ctx.originOf(sc),
          ["spec", "workloadSelector", "labels", first],
        );
      }
    }

    const ineffective = new Set<Sidecar>();
    for (const [w, list] of byWorkload) {
      const ambient = workloadInAmbient(w);
      if (list.length === 1 && !ambient) continue;
      const names = sortedNames(list);
      for (const sc of list) {
        if (ambient) {
          if (!ineffective.has(sc)) {
            ineffective.add(sc);
            ctx.report(IneffectivePolicy, [
              "selected workload is in ambient mode, the policy has no impact",
            ], ctx.originOf(sc));
          }
          continue;
        }
        ctx.report(
          ConflictingSidecarWorkloadSelectors,
          [names, w.namespace, w.name],
          ctx.originOf(sc),
          ["metadata", "name"],
        );
      }
    }
    for (const [ns, list] of byNamespace) {
      if (namespaceInAmbient(ctx.namespaces.find((n) => n.name === ns))) {
        for (const sc of list) {
          if (ineffective.has(sc)) continue;
          ineffective.add(sc);
          ctx.report(IneffectivePolicy, [
            "namespace is in ambient mode, the policy has no impact",
          ], ctx.originOf(sc));
        }
        continue;
      }
      if (list.length < 2) continue;
      const names = sortedNames(list);
      for (const sc of list) {
        ctx.report(MultipleSidecarsWithoutWorkloadSelectors, [names, ns], ctx.originOf(sc));
      }
    }
  },
};
