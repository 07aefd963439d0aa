/**
 * Contracts shared by the control plane and the proxy: Istio resource schemas,
 * diagnostics, host names and the pushed proxy config.
 * @module
 */
export * from "./resources.ts";
export * from "./diagnostic.ts";
export * from "./host.ts";
export {
  type Cluster,
  clusterName,
  type Endpoint,
  type GatewayListener,
  type NodeInfo,
  type ProxyConfig,
  type ProxyMessage,
  type PushMessage,
  type Route,
  type RouteMatch,
  type VirtualHost,
  type WeightedCluster,
} from "./proxy_config.ts";
