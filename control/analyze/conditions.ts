/**
 * Status conditions that report a problem (Istio's `conditions.ConditionAnalyzer`,
 * `IST0171`), read from the `status` of the resources in the input (as `kubectl get -o yaml`
 * writes it): `istio.io/WaypointBound` False on a Service, ServiceEntry or WorkloadEntry;
 * `ZtunnelAccepted` or `WaypointAccepted` False on an AuthorizationPolicy (and
 * `WaypointAccepted` with reason `PartiallyInvalid`, whatever its status); `Accepted`,
 * `Programmed` or `ResolvedRefs` False on a Gateway API Gateway, or on a parent of an
 * HTTPRoute or GRPCRoute.
 * @module
 */
import { NegativeConditionStatus } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { type Condition, conditionsOf, type ObjectOrigin } from "./k8s.ts";

const WAYPOINT = ["istio.io/WaypointBound"];
const GATEWAY_API = ["Accepted", "Programmed", "ResolvedRefs"];

/** Checks status conditions for negative statuses. */
export const conditionAnalyzer: Analyzer = {
  name: "conditions.ConditionAnalyzer",
  description: "Checks for negative status conditions on resources",
  codes: [NegativeConditionStatus.code],
  analyze(ctx: AnalysisContext): void {
    const check = (
      origin: ObjectOrigin,
      conditions: Condition[],
      negative: string[],
      authz = false,
    ) => {
      for (const c of conditions) {
        const partial = authz && c.type === "WaypointAccepted" && c.reason === "PartiallyInvalid";
        if (negative.includes(c.type) && c.status === "False") {
          ctx.report(NegativeConditionStatus, [c.type, c.reason, c.message], origin);
        }
        if (partial) ctx.report(NegativeConditionStatus, [c.type, c.reason, c.message], origin);
      }
    };
    for (const svc of ctx.services) check(svc.origin, svc.conditions, WAYPOINT);
    for (const r of [...ctx.serviceEntries, ...ctx.workloadEntries]) {
      check(ctx.originOf(r), conditionsOf(ctx.rawOf(r.source).status), WAYPOINT);
    }
    for (const ap of ctx.authorizationPolicies) {
      check(
        ctx.originOf(ap),
        conditionsOf(ctx.rawOf(ap.source).status),
        ["ZtunnelAccepted", "WaypointAccepted"],
        true,
      );
    }
    for (const gw of ctx.kubernetesGateways) check(gw.origin, gw.conditions, GATEWAY_API);
    for (const route of ctx.gatewayRoutes) check(route.origin, route.conditions, GATEWAY_API);
  },
};
