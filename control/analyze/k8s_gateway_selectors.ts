/**
 * Policies whose workload selector picks Gateway API gateway pods (Istio's
 * `k8sgateway.SelectorAnalyzer`, `IST0166`): an AuthorizationPolicy, RequestAuthentication,
 * Telemetry or WasmPlugin without `targetRef` whose `selector` matches a workload of its
 * namespace labelled `gateway.networking.k8s.io/gateway-name`: such gateways are meant to be
 * targeted with `targetRef`.
 * @module
 */
import { IneffectiveSelector } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { type ObjectOrigin, selectorMatches } from "./k8s.ts";

const GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name";

interface Policy {
  origin: ObjectOrigin;
  namespace: string;
  selector?: Record<string, string>;
  targeted: boolean;
}

/** Checks for workload selectors that match Gateway API gateways. */
export const k8sGatewaySelectorAnalyzer: Analyzer = {
  name: "k8sgateway.SelectorAnalyzer",
  description: "Check that selectors are effective for Kubernetes gateway",
  codes: [IneffectiveSelector.code],
  analyze(ctx: AnalysisContext): void {
    const policies: Policy[] = [];
    for (
      const r of [...ctx.authorizationPolicies, ...ctx.requestAuthentications, ...ctx.telemetries]
    ) {
      const spec = r.spec as {
        selector?: { matchLabels?: Record<string, string> };
        targetRef?: unknown;
      };
      policies.push({
        origin: ctx.originOf(r),
        namespace: r.metadata.namespace,
        ...(spec.selector ? { selector: spec.selector.matchLabels ?? {} } : {}),
        targeted: spec.targetRef !== undefined,
      });
    }
    for (const w of ctx.wasmPlugins) policies.push({ ...w, origin: w.origin });
    const gateways = ctx.workloads.filter((w) => GATEWAY_NAME in w.labels);
    for (const p of policies) {
      if (p.targeted || p.selector === undefined) continue;
      for (const w of gateways) {
        if (w.namespace !== p.namespace || !selectorMatches(p.selector, w.labels)) continue;
        ctx.report(IneffectiveSelector, [w.labels[GATEWAY_NAME]], p.origin);
      }
    }
  },
};
