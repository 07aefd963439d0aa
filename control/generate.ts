/**
 * Per-proxy config: the snapshot seen from one proxy. Pure: the same snapshot
 * and node always give the same config, so it is tested without I/O.
 *
 * @example
 * ```ts
 * const cfg = generateProxyConfig(snapshot, node);
 * cfg.virtualHosts.map((v) => v.name); // ["reviews.default.svc.cluster.local:9080", ...]
 * ```
 * @module
 */
import type {
  Cluster,
  HealthProbe,
  NameEntry,
  NodeInfo,
  ProxyConfig,
} from "../api/proxy_config.ts";
import { findGroup, healthProbeOf } from "./workload_groups.ts";
import { PART_NAMES, type PartName } from "../api/push_protocol.ts";
import { serviceScope } from "./scope.ts";
import { rootNamespaceOf, type Snapshot } from "./snapshot.ts";
import { ServiceRegistry } from "./registry.ts";
import { sidecarVirtualHosts } from "./routes.ts";
import { authzFor } from "./authz.ts";
import { mtlsModeFor } from "./peer_authn.ts";
import { jwtFor } from "./request_authn.ts";
import { accessLogFor, metricsFor, tracingFor } from "./telemetry.ts";
import { buildClusters } from "./clusters.ts";
import { gatewayListeners } from "./gateways.ts";
import { egressListeners, sidecarFor, sidecarScope } from "./sidecars.ts";
import { nameTable } from "./names.ts";

/** What generating one proxy's parts needs from a snapshot, shared across proxies. */
export interface GenContext {
  snapshot: Snapshot;
  registry: ServiceRegistry;
  /** The clusters (with endpoints) of `node`'s scope; defaults to building them. */
  clusters?: (node: NodeInfo) => Record<string, Cluster>;
}

/** The clusters of `node`'s scope (control/scope.ts), with endpoints. */
export function scopedClusters(ctx: GenContext, node: NodeInfo): Record<string, Cluster> {
  return ctx.clusters?.(node) ??
    buildClusters(ctx.registry, node.namespace, serviceScope(ctx.snapshot, node));
}

/**
 * The fields of one part (api/push_protocol.ts) of `node`'s config. `clusters` and `endpoints`
 * both give the `clusters` field (the split into items separates them).
 */
export function generatePart(
  part: PartName,
  ctx: GenContext,
  node: NodeInfo,
): Partial<ProxyConfig> {
  const { snapshot, registry } = ctx;
  const gateway = node.mode === "gateway";
  switch (part) {
    case "secrets":
      return {
        trustDomain: snapshot.mesh.trustDomain,
        ...(snapshot.mesh.trustDomainAliases?.length
          ? { trustDomainAliases: [...snapshot.mesh.trustDomainAliases] }
          : {}),
        roots: snapshot.roots,
        ...(snapshot.signingRoot !== undefined ? { signingRoot: snapshot.signingRoot } : {}),
      };
    case "clusters":
    case "endpoints":
      return { clusters: scopedClusters(ctx, node) };
    case "routes":
      return {
        virtualHosts: gateway ? [] : sidecarVirtualHosts(
          registry,
          snapshot.virtualServices,
          node.namespace,
          node.labels,
          sidecarScope(snapshot, node),
        ),
      };
    case "policies":
      return { authz: authzFor(snapshot, node), ...jwtOf(snapshot, node) };
    case "listeners": {
      const sidecar = gateway ? undefined : sidecarFor(snapshot, node);
      return {
        outboundTrafficPolicy: (gateway ? undefined : sidecar?.spec.outboundTrafficPolicy?.mode) ??
          snapshot.mesh.outboundTrafficPolicy,
        // BASE, Istio's default, is what a proxy applies without the field.
        ...(snapshot.mesh.pathNormalization && snapshot.mesh.pathNormalization !== "BASE"
          ? { pathNormalization: snapshot.mesh.pathNormalization }
          : {}),
        listeners: gateway
          ? gatewayListeners(
            snapshot.gateways,
            snapshot.virtualServices,
            registry,
            node.labels,
            node.namespace,
          )
          : [],
        egressListeners: gateway ? [] : egressListeners(snapshot, registry, node),
        ...tracingOf(snapshot, node, registry),
        ...metricsOf(snapshot, node),
        ...(gateway ? {} : {
          inboundMtls: mtlsModeFor(
            snapshot.peerAuthentications,
            rootNamespaceOf(snapshot.mesh),
            node,
            node.appPort,
          ),
          ...inboundProtocolOf(registry, node),
        }),
        ...accessLogOf(snapshot, node),
        ...namesOf(ctx, node),
        ...probeOf(ctx, node),
      };
    }
  }
}

/** The readiness probe of the WorkloadGroup a sidecar registers under, if it has one. */
function probeOf(ctx: GenContext, node: NodeInfo): { healthProbe?: HealthProbe } {
  if (node.mode === "gateway" || !node.workloadGroup) return {};
  const g = findGroup(ctx.snapshot.workloadGroups, node.namespace, node.workloadGroup);
  const healthProbe = healthProbeOf(g?.spec.probe);
  return healthProbe ? { healthProbe } : {};
}

/** A sidecar's name table (none for a gateway, or when it would be empty). */
function namesOf(ctx: GenContext, node: NodeInfo): { names?: NameEntry[] } {
  if (node.mode === "gateway") return {};
  const names = nameTable({
    registry: ctx.registry,
    include: serviceScope(ctx.snapshot, node),
    virtualServices: ctx.snapshot.virtualServices,
    node,
  });
  return names.length ? { names } : {};
}

/** Generates the config of `node` from `snapshot` (every part). Pass `ctx` to share work across proxies. */
export function generateProxyConfig(
  snapshot: Snapshot,
  node: NodeInfo,
  ctx: GenContext = { snapshot, registry: new ServiceRegistry(snapshot) },
): ProxyConfig {
  const parts = PART_NAMES.filter((p) => p !== "endpoints").map((p) => generatePart(p, ctx, node));
  return Object.assign({ version: String(snapshot.revision) }, ...parts) as ProxyConfig;
}

/**
 * What the inbound side speaks to the app: from the ports of the services that select the
 * workload, those that reach the app port (`targetPort`, else the port number) or, when none
 * does, all of them. HTTP/2 if one speaks it; the peer's version if none declares a protocol.
 */
function inboundProtocolOf(
  registry: ServiceRegistry,
  node: NodeInfo,
): { inboundProtocol?: ProxyConfig["inboundProtocol"] } {
  const all = registry.portsSelecting(node.namespace, node.labels);
  const atApp = all.filter((p) => (p.targetPort ?? p.number) === node.appPort);
  const ports = atApp.length ? atApp : all;
  if (ports.some((p) => p.http2)) return { inboundProtocol: "HTTP2" };
  if (ports.length && ports.every((p) => p.auto)) return { inboundProtocol: "CLIENT" };
  return {};
}

function jwtOf(snapshot: Snapshot, node: NodeInfo): { jwt?: ProxyConfig["jwt"] } {
  const jwt = jwtFor(snapshot, node);
  return jwt.length ? { jwt } : {};
}

function tracingOf(
  snapshot: Snapshot,
  node: NodeInfo,
  registry: ServiceRegistry,
): { tracing?: ProxyConfig["tracing"] } {
  const tracing = tracingFor(snapshot, node, registry);
  return tracing ? { tracing } : {};
}

function accessLogOf(snapshot: Snapshot, node: NodeInfo): { accessLog?: ProxyConfig["accessLog"] } {
  const accessLog = accessLogFor(snapshot, node);
  return accessLog ? { accessLog } : {};
}

function metricsOf(snapshot: Snapshot, node: NodeInfo): { metrics?: ProxyConfig["metrics"] } {
  const metrics = metricsFor(snapshot, node);
  return metrics.length ? { metrics } : {};
}
