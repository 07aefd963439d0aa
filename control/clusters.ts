/**
 * Services, DestinationRules and workloads → clusters with endpoints.
 * One cluster per service port, plus one per DestinationRule subset.
 * @module
 */
import type { Cluster, ClusterLimits, Endpoint, OutlierPolicy } from "../api/proxy_config.ts";
import { clusterName } from "../api/proxy_config.ts";
import { fqdn } from "../api/host.ts";
import {
  labelsMatch,
  type ServicePort,
  type ServiceRegistry,
  type WorkloadInstance,
} from "./registry.ts";
import type { DestinationRule } from "../api/resources.ts";
import { durationMs } from "../api/schemas/common.ts";

function endpointOf(
  inst: WorkloadInstance,
  port: ServicePort,
  tlsMode: string | undefined,
): Endpoint {
  if (inst.inboundPort !== undefined) {
    // A sidecar: always its inbound port. mTLS unless the DestinationRule says DISABLE, or,
    // with no TLS mode there (Istio's auto mTLS), the workload's PeerAuthentication does.
    const mtls = tlsMode === "DISABLE"
      ? false
      : tlsMode === "ISTIO_MUTUAL" || inst.mtlsMode !== "DISABLE";
    return {
      address: inst.address,
      port: inst.inboundPort,
      mtls,
      sidecar: true,
      ...(mtls ? { identity: inst.identity } : {}),
      labels: inst.labels,
    };
  }
  const target = inst.ports?.[port.name] ?? port.targetPort ?? port.number;
  return {
    address: inst.address,
    port: target,
    mtls: tlsMode === "ISTIO_MUTUAL",
    labels: inst.labels,
  };
}

function lbOf(dr: DestinationRule | undefined): Cluster["lb"] {
  const simple = dr?.spec.trafficPolicy?.loadBalancer?.simple;
  if (simple === "RANDOM") return "RANDOM";
  // LEAST_CONN is Istio's deprecated name for LEAST_REQUEST.
  if (simple === "LEAST_REQUEST" || simple === "LEAST_CONN") return "LEAST_REQUEST";
  return "ROUND_ROBIN";
}

/** DestinationRule `connectionPool` → {@linkcode ClusterLimits}; undefined when nothing is set. */
function limitsOf(dr: DestinationRule | undefined): ClusterLimits | undefined {
  const cp = dr?.spec.trafficPolicy?.connectionPool;
  if (!cp) return undefined;
  const out: ClusterLimits = {};
  const positive = (v: number | undefined) => v !== undefined && v > 0 ? v : undefined;
  const c = positive(cp.tcp?.maxConnections);
  if (c) out.maxConnections = c;
  const p = positive(cp.http?.http1MaxPendingRequests);
  if (p) out.maxPendingRequests = p;
  const r = positive(cp.http?.http2MaxRequests);
  if (r) out.maxRequests = r;
  const per = positive(cp.http?.maxRequestsPerConnection);
  if (per) out.maxRequestsPerConnection = per;
  return Object.keys(out).length ? out : undefined;
}

/**
 * DestinationRule `outlierDetection` → {@linkcode OutlierPolicy}, with
 * Envoy's defaults as Istio leaves them: 5 consecutive 5xx, gateway errors
 * off unless set (the deprecated `consecutiveErrors` counts gateway errors),
 * 30 s base ejection, at most 10% ejected.
 */
function outlierOf(dr: DestinationRule | undefined): OutlierPolicy | undefined {
  const od = dr?.spec.trafficPolicy?.outlierDetection;
  if (!od) return undefined;
  return {
    consecutive5xx: od.consecutive5xxErrors ?? (od.consecutiveErrors !== undefined ? 0 : 5),
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? od.consecutiveErrors ?? 0,
    baseEjectionMs: durationMs(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
  };
}

/** All clusters of the registry, keyed by name. */
export function buildClusters(registry: ServiceRegistry): Record<string, Cluster> {
  const out: Record<string, Cluster> = {};
  for (const svc of registry.services.values()) {
    const dr = registry.destinationRule(svc.host, fqdn);
    const tlsMode = dr?.spec.trafficPolicy?.tls?.mode;
    const instances = registry.instances(svc.host);
    for (const port of svc.ports) {
      const all = instances.map((i) => endpointOf(i, port, tlsMode));
      const name = clusterName(port.number, undefined, svc.host);
      const limits = limitsOf(dr);
      const outlier = outlierOf(dr);
      const policy = (c: Cluster): Cluster => {
        if (limits) c.limits = limits;
        if (outlier) c.outlier = outlier;
        return c;
      };
      out[name] = policy({ name, host: svc.host, port: port.number, lb: lbOf(dr), endpoints: all });
      for (const subset of dr?.spec.subsets ?? []) {
        const sname = clusterName(port.number, subset.name, svc.host);
        out[sname] = policy({
          name: sname,
          host: svc.host,
          port: port.number,
          subset: subset.name,
          lb: lbOf(dr),
          endpoints: all.filter((e) => labelsMatch(subset.labels, e.labels)),
        });
      }
    }
  }
  return out;
}
