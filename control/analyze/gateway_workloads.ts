/**
 * Gateways against the workloads that run them (Istio's `gateway.IngressGatewayPortAnalyzer`):
 *
 * - the Gateway's `selector` must match some workload, in any namespace (`IST0101`,
 *   `Referenced selector not found`). Workloads are Pods, pod templates of controllers,
 *   WorkloadEntries, and mesh's default ingress gateway (`istio=ingressgateway`,
 *   `app=istio-ingressgateway`), which stands in for `mesh start --mode=gateway`;
 * - each server port must be a (target) port of a Kubernetes Service that selects those
 *   workloads (`IST0162`). mesh's gateways listen on the server ports themselves, so this is
 *   only checked when the input has such a Service; istioctl checks against its own default
 *   ingress Service.
 * @module
 */
import { GatewayPortNotDefinedOnService, ReferencedResourceNotFound } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches, selectorString } from "./k8s.ts";

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
          ports.add(typeof p.targetPort === "number" && p.targetPort !== 0 ? p.targetPort : p.port);
        }
      }
      gw.spec.servers.forEach((server, i) => {
        if (ports.has(server.port.number)) return;
        ctx.report(GatewayPortNotDefinedOnService, [server.port.number, selected], origin, [
          "spec",
          "servers",
          i,
          "port",
          "number",
        ]);
      });
    }
  },
};
