/**
 * The data plane: sidecar and gateway proxy.
 * @module
 */
export * from "./proxy.ts";
export * from "./route.ts";
export * from "./balancer.ts";
export * from "./runtime.ts";
