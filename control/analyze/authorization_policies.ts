/**
 * AuthorizationPolicies that name namespaces that don't exist (Istio's
 * `auth.AuthorizationPoliciesAnalyzer`, `IST0101` with `Referenced namespace not found`).
 * Entries of `rules[].from[].source.namespaces` and `notNamespaces` may use a `*` prefix or
 * suffix, or be `*`.
 *
 * A namespace exists when a Namespace object for it is in the input, or when any object in
 * the input lives in it (and the default namespace and `istio-system` always do): istioctl
 * knows only Namespace objects, which local files rarely carry.
 * @module
 */
import { ReferencedResourceNotFound } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

/** Whether the namespace pattern `exp` (`*`, `*suffix`, `prefix*`, or a name) matches `ns`. */
export function namespaceMatches(ns: string, exp: string): boolean {
  if (exp === "*") return true;
  if (exp.startsWith("*")) return ns.endsWith(exp.slice(1));
  if (exp.endsWith("*")) return ns.startsWith(exp.slice(0, -1));
  return ns.toLowerCase() === exp.toLowerCase();
}

/** Checks the namespaces AuthorizationPolicies refer to. */
export const authorizationPolicyAnalyzer: Analyzer = {
  name: "auth.AuthorizationPoliciesAnalyzer",
  description: "Checks the validity of authorization policies",
  codes: [ReferencedResourceNotFound.code],
  analyze(ctx: AnalysisContext): void {
    const known = [...ctx.knownNamespaces()];
    for (const ap of ctx.authorizationPolicies) {
      ap.rules.forEach((rule, i) => {
        rule.from.forEach((source, j) => {
          for (const field of ["namespaces", "notNamespaces"] as const) {
            source[field].forEach((ns, k) => {
              if (known.some((n) => namespaceMatches(n, ns))) return;
              ctx.report(ReferencedResourceNotFound, ["namespace", ns], ap.origin, [
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
