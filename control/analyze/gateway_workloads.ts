/**
 * Gateways against the workloads that run them (Istio's `gateway.IngressGatewayPortAnalyzer`):
 *
 * - the Gateway's `selector` must match some workload, in any namespace (`IST0101`,
 *   `Referenced selector not found`). Workloads are Pods, pod templates of controllers,
 *   WorkloadEntries, and mesh's default ingress gateway (`istio=ingressgateway`,
 *   `app=istio-ingressgateway`), which stands in for `mesh start --mode=gateway`;
 * - each server port must be a port of a Kubernetes Service that selects those workloads, or
 *   the `targetPort` one of its ports forwards to (`IST0162`); only TCP ports count. mesh's
 *   gateways listen on the server ports themselves, so this is only checked when the input
 *   has such a Service; istioctl checks against its own default ingress Service.
 * @module
 */
import { GatewayPortNotDefinedOnService, ReferencedResourceNotFound } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches, selectorString } from "./k8s.ts";

/** A `targetPort` as Kubernetes' `IntValue`: a number, a numeric string, else 0. */
function intValue(v: number | string | undefined): number {
  if (typeof v === "number") return v;
  return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : 0;
}

/** Checks that each Gateway's selector and ports are backed by workloads and Services. */
export const gatewayWorkloadAnalyzer: Analyzer = {
  name: "gateway.IngressGatewayPortAnalyzer",
  description: "Checks a gateway's selector and ports against workloads and their Services",
  codes: [ReferencedResourceNotFound.code, GatewayPortNotDefinedOnService.code],
  analyze(ctx: AnalysisContext): void {
    for (const gw of ctx.gateways) {
      const origin = ctx.originOf(gw);
      const selector = gw.spec.selector ?? {};
      const selected = selectorString(selector);
      const workloads = ctx.workloads.filter((w) => selectorMatches(selector, w.labels));
      if (workloads.length === 0) {
        const first = Object.keys(selector).sort()[0];
        ctx.report(
          ReferencedResourceNotFound,
          ["selector", selected],
          origin,
          first !== undefined
            ? ["spec", "selector", first]
            : gw.spec.selector
            ? ["spec", "selector"]
            : ["spec"],
        );
        continue;
      }
      const services = ctx.services.filter((svc) =>
        svc.selector !== undefined && Object.keys(svc.selector).length > 0 &&
        workloads.some((w) =>
          w.namespace === svc.namespace && selectorMatches(svc.selector!, w.labels)
        )
      );
      if (services.length === 0) continue;
      const ports = new Set<number>();
      for (const svc of services) {
        for (const p of svc.ports) {
          if (p.protocol !== "TCP") continue;
          const target = intValue(p.targetPort);
          ports.add(target !== 0 ? target : p.port);
          if (target !== 0) ports.add(p.port); // Istio accepts the Service port too
        }
      }
      // Istio points at the selector's first label.
      const first = Object.keys(selector).sort()[0];
      for (const server of gw.spec.servers) {
        const port = server?.port?.number;
        if (port === undefined || ports.has(port)) continue;
        ctx.report(
          GatewayPortNotDefinedOnService,
          [port, selected],
          origin,
          first !== undefined ? ["spec", "selector", first] : ["spec", "selector"],
        );
      }
    }
  },
};
