/**
 * `networking.istio.io` kinds: VirtualService, DestinationRule, Gateway, ServiceEntry,
 * WorkloadEntry, Sidecar and WorkloadGroup, one file per kind (plus the HTTP route and traffic
 * policy parts they share); this module re-exports them. Fields mesh doesn't enforce are listed
 * in `unsupported.ts` and warned about.
 * @module
 */

export { PROTOCOLS } from "./common.ts";
export * from "./http_route.ts";
export * from "./virtual_service.ts";
export * from "./traffic_policy.ts";
export * from "./destination_rule.ts";
export * from "./gateway.ts";
export * from "./service_entry.ts";
export * from "./workload_entry.ts";
export * from "./sidecar.ts";
export * from "./workload_group.ts";
