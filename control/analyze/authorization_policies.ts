/**
 * AuthorizationPolicies (Istio's `auth.AuthorizationPoliciesAnalyzer`):
 *
 * - `IST0127` when a policy applies to no workload: one with a `selector` that matches no
 *   workload of its namespace (of any namespace, for a policy in the root namespace), or a
 *   namespace-wide one in a namespace without workloads (root-namespace policies without a
 *   selector apply to the whole mesh and are never reported);
 * - `IST0101` (`Referenced namespace not found`) for each `rules[].from[].source.namespaces`
 *   or `notNamespaces` entry that matches no namespace. Entries may use a `*` prefix or
 *   suffix, or be `*`.
 *
 * mesh has no sidecar injection: a workload counts as in the mesh unless it opts out (see
 * `inMesh` in `deployments.ts`), where istioctl counts only pods with a sidecar (or injection
 * enabled); ambient workloads count too, as in istioctl. A namespace exists when a
 * Namespace object for it is in the input, or when any object in the input lives in it (and
 * the default namespace and `istio-system` always do): istioctl knows only Namespace objects,
 * which local files rarely carry.
 * @module
 */
import { NoMatchingWorkloadsFound, ReferencedResourceNotFound } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches, selectorString } from "./k8s.ts";
import { inMesh } from "./deployments.ts";
import { workloadInAmbient } from "./sidecar_selectors.ts";

/** Whether the namespace pattern `exp` (`*`, `*suffix`, `prefix*`, or a name) matches `ns`. */
export function namespaceMatches(ns: string, exp: string): boolean {
  if (exp === "*") return true;
  if (exp.startsWith("*")) return ns.endsWith(exp.slice(1));
  if (exp.endsWith("*")) return ns.startsWith(exp.slice(0, -1));
  return ns.toLowerCase() === exp.toLowerCase();
}

/** The root namespace in effect: MeshConfig `rootNamespace`, else Istio's `istio-system`. */
export function rootNamespace(ctx: AnalysisContext): string {
  return ctx.meshConfig?.spec.rootNamespace || "istio-system";
}

/** Checks the workloads and namespaces AuthorizationPolicies refer to. */
export const authorizationPolicyAnalyzer: Analyzer = {
  name: "auth.AuthorizationPoliciesAnalyzer",
  description: "Checks the validity of authorization policies",
  codes: [NoMatchingWorkloadsFound.code, ReferencedResourceNotFound.code],
  analyze(ctx: AnalysisContext): void {
    const known = [...ctx.knownNamespaces()];
    const root = rootNamespace(ctx);
    const workloads = ctx.workloads.filter((w) => inMesh(ctx, w) || workloadInAmbient(w));
    for (const ap of ctx.authorizationPolicies) {
      const ns = ap.metadata.namespace;
      const origin = ctx.originOf(ap);
      const matchLabels = ap.spec.selector ? ap.spec.selector.matchLabels ?? {} : undefined;
      const candidates = ns === root ? workloads : workloads.filter((w) => w.namespace === ns);
      if (matchLabels !== undefined) {
        if (!candidates.some((w) => selectorMatches(matchLabels, w.labels))) {
          ctx.report(NoMatchingWorkloadsFound, [selectorString(matchLabels)], origin);
        }
      } else if (ns !== root && candidates.length === 0) {
        ctx.report(NoMatchingWorkloadsFound, [""], origin);
      }

      (ap.spec.rules ?? []).forEach((rule, i) => {
        (rule.from ?? []).forEach((from, j) => {
          for (const field of ["namespaces", "notNamespaces"] as const) {
            (from.source?.[field] ?? []).forEach((exp, k) => {
              if (known.some((n) => namespaceMatches(n, exp))) return;
              ctx.report(ReferencedResourceNotFound, ["namespace", exp], origin, [
                "spec",
                "rules",
                i,
                "from",
                j,
                "source",
                field,
                k,
              ]);
            });
          }
        });
      });
    }
  },
};
