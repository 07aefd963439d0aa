/**
 * Services, DestinationRules and workloads → clusters with endpoints.
 * One cluster per service port, plus one per DestinationRule subset.
 * @module
 */
import type {
  Cluster,
  ClusterLimits,
  Endpoint,
  HashPolicy,
  LocalityLbPolicy,
  OutlierPolicy,
  UpstreamTls,
} from "../api/proxy_config.ts";
import { clusterName } from "../api/proxy_config.ts";
import { fqdn } from "../api/host.ts";
import {
  labelsMatch,
  type Service,
  type ServicePort,
  type ServiceRegistry,
  type WorkloadInstance,
} from "./registry.ts";
import type {
  LocalityLoadBalancerSetting,
  Subset,
  TrafficPolicy,
} from "../api/schemas/networking.ts";
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
      ...(inst.locality ? { locality: inst.locality } : {}),
    };
  }
  const target = inst.ports?.[port.name] ?? port.targetPort ?? port.number;
  return {
    address: inst.address,
    port: target,
    mtls: tlsMode === "ISTIO_MUTUAL",
    labels: inst.labels,
    ...(inst.locality ? { locality: inst.locality } : {}),
  };
}

/**
 * The locality load balancing of a cluster, resolved as istiod does (GetLocalityLbSetting,
 * ApplyLocalityLoadBalancer): the DestinationRule's `localityLbSetting` (of the cluster's merged
 * policy) wins whole, else MeshConfig's, else Istio's default `{enabled: true}`; `enabled: false`
 * turns it off. `distribute` applies as it is; failover (`failover`, `failoverPriority`, or the
 * default region/zone/subzone order) only when the cluster has outlier detection, since
 * without it no endpoint is ever unhealthy and traffic would never move on. The per-proxy part
 * (which endpoints are close to whom) is the proxy's: see proxy/locality.ts.
 */
export function localityLbOf(
  tp: PortPolicy | undefined,
  mesh: LocalityLoadBalancerSetting | undefined,
  hasOutlier: boolean,
): LocalityLbPolicy | undefined {
  const s = tp?.loadBalancer?.localityLbSetting ?? mesh ?? { enabled: true };
  if (s.enabled === false) return undefined;
  if (s.distribute?.length) {
    return { distribute: s.distribute.map((d) => ({ from: d.from ?? "", to: { ...d.to } })) };
  }
  if (!hasOutlier) return undefined;
  const out: LocalityLbPolicy = {};
  if (s.failover?.length) {
    out.failover = s.failover.map((f) => ({ from: f.from ?? "", to: f.to ?? "" }));
  }
  if (s.failoverPriority?.length) out.failoverPriority = [...s.failoverPriority];
  return out;
}

function lbOf(tp: PortPolicy | undefined): Cluster["lb"] {
  const simple = tp?.loadBalancer?.simple;
  if (simple === "RANDOM") return "RANDOM";
  // LEAST_CONN is Istio's deprecated name for LEAST_REQUEST.
  if (simple === "LEAST_REQUEST" || simple === "LEAST_CONN") return "LEAST_REQUEST";
  return "ROUND_ROBIN";
}

/**
 * The HTTP version to a cluster's endpoints, as Istio's cluster builder picks it: HTTP/2 for a
 * GRPC or HTTP2 port; for an HTTP port, HTTP/2 when `h2UpgradePolicy` is UPGRADE (or DEFAULT
 * or unset with MeshConfig's UPGRADE) and not DO_NOT_UPGRADE, the client's version with
 * `useClientProtocol`; the client's version for a port that declares no protocol.
 */
function protocolOf(
  port: ServicePort,
  tp: PortPolicy | undefined,
  meshUpgrade: boolean,
): Cluster["protocol"] {
  if (port.http2) return "HTTP2";
  if (port.auto) return "CLIENT";
  if (port.protocol !== "HTTP") return undefined;
  const http = tp?.connectionPool?.http;
  const policy = http?.h2UpgradePolicy;
  if (policy === "UPGRADE" || (policy !== "DO_NOT_UPGRADE" && meshUpgrade)) return "HTTP2";
  if (http?.useClientProtocol) return "CLIENT";
  return undefined;
}

/** DestinationRule `connectionPool` → {@linkcode ClusterLimits}; undefined when nothing is set. */
function limitsOf(tp: PortPolicy | undefined): ClusterLimits | undefined {
  const cp = tp?.connectionPool;
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
  const streams = positive(cp.http?.maxConcurrentStreams);
  if (streams) out.maxConcurrentStreams = streams;
  return Object.keys(out).length ? out : undefined;
}

/**
 * DestinationRule `outlierDetection` → {@linkcode OutlierPolicy}, with
 * Envoy's defaults as Istio leaves them: 5 consecutive 5xx, gateway errors
 * off unless set (the deprecated `consecutiveErrors` counts gateway errors),
 * 30 s base ejection, at most 10% ejected.
 */
function outlierOf(tp: PortPolicy | undefined): OutlierPolicy | undefined {
  const od = tp?.outlierDetection;
  if (!od) return undefined;
  return {
    consecutive5xx: od.consecutive5xxErrors ?? (od.consecutiveErrors !== undefined ? 0 : 5),
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? od.consecutiveErrors ?? 0,
    baseEjectionMs: durationMs(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
    ...(od.minHealthPercent ? { minHealthPercent: od.minHealthPercent } : {}),
  };
}

/** DestinationRule `tls` SIMPLE or MUTUAL → TLS origination settings (credentialName: warned). */
function upstreamTlsOf(tp: PortPolicy | undefined): UpstreamTls | undefined {
  const t = tp?.tls;
  if (!t || (t.mode !== "SIMPLE" && t.mode !== "MUTUAL")) return undefined;
  const out: UpstreamTls = { mode: t.mode };
  if (t.sni) out.sni = t.sni;
  if (t.caCertificates) out.caCertificates = t.caCertificates;
  if (t.subjectAltNames?.length) out.subjectAltNames = [...t.subjectAltNames];
  if (t.insecureSkipVerify) out.insecureSkipVerify = true;
  if (t.clientCertificate) out.clientCertificate = t.clientCertificate;
  if (t.privateKey) out.privateKey = t.privateKey;
  return out;
}

/** DestinationRule `loadBalancer.consistentHash` → what the cluster hashes. */
function hashOf(tp: PortPolicy | undefined): HashPolicy | undefined {
  const ch = tp?.loadBalancer?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return { header: ch.httpHeaderName.toLowerCase() };
  if (ch.httpCookie) {
    const ttl = durationMs(ch.httpCookie.ttl);
    return {
      cookie: {
        name: ch.httpCookie.name,
        ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}),
        ...(ttl ? { ttlSeconds: Math.ceil(ttl / 1000) } : {}),
      },
    };
  }
  if (ch.useSourceIp) return { sourceIp: true };
  if (ch.httpQueryParameterName) return { queryParameter: ch.httpQueryParameterName };
  return undefined;
}

/** MeshConfig `defaultTrafficPolicy` under a cluster's policy: what the rules leave unset. */
function withMeshDefaults(
  tp: PortPolicy | undefined,
  defaults: Pick<TrafficPolicy, "connectionPool" | "outlierDetection"> | undefined,
): PortPolicy | undefined {
  if (!defaults) return tp;
  return {
    ...tp,
    connectionPool: tp?.connectionPool ?? defaults.connectionPool,
    outlierDetection: tp?.outlierDetection ?? defaults.outlierDetection,
  };
}

/** The parts of a traffic policy that apply to one cluster. */
export type PortPolicy = Pick<
  TrafficPolicy,
  "loadBalancer" | "connectionPool" | "outlierDetection" | "tls"
>;

/** The `portLevelSettings` entry of `tp` for `port`: it replaces all four parts, as in Istio. */
function atPort(tp: TrafficPolicy, port: number): PortPolicy {
  const p = tp.portLevelSettings?.find((s) => s.port?.number === port);
  if (!p) return tp;
  return {
    loadBalancer: p.loadBalancer,
    connectionPool: p.connectionPool,
    outlierDetection: p.outlierDetection,
    tls: p.tls,
  };
}

/**
 * The policy of one cluster, merged as Istio does: the DestinationRule's policy (its
 * `portLevelSettings` entry for the port replacing it), then each part the subset's policy
 * sets, then the subset's own entry for the port (replacing all four parts).
 */
export function effectivePolicy(
  top: TrafficPolicy | undefined,
  subset: TrafficPolicy | undefined,
  port: number,
): PortPolicy | undefined {
  const base = top ? atPort(top, port) : undefined;
  if (!subset) return base;
  const merged: PortPolicy = {
    loadBalancer: subset.loadBalancer ?? base?.loadBalancer,
    connectionPool: subset.connectionPool ?? base?.connectionPool,
    outlierDetection: subset.outlierDetection ?? base?.outlierDetection,
    tls: subset.tls ?? base?.tls,
  };
  return atPort({ ...merged, portLevelSettings: subset.portLevelSettings }, port);
}

/**
 * All clusters of the registry (or of the services `include` admits: control/scope.ts), keyed by
 * name, as seen from `clientNamespace` (which DestinationRule applies depends on it: see
 * {@linkcode ServiceRegistry.destinationRule}).
 */
export function buildClusters(
  registry: ServiceRegistry,
  clientNamespace?: string,
  include?: (svc: Service) => boolean,
): Record<string, Cluster> {
  const out: Record<string, Cluster> = {};
  for (const svc of registry.services.values()) {
    if (include && !include(svc)) continue;
    const dr = registry.destinationRule(svc.host, fqdn, clientNamespace);
    const instances = registry.instances(svc.host);
    for (const port of svc.ports) {
      const make = (subset: Subset | undefined): Cluster => {
        const tp = withMeshDefaults(
          effectivePolicy(dr?.spec.trafficPolicy, subset?.trafficPolicy, port.number),
          registry.mesh.defaultTrafficPolicy,
        );
        const selected = subset
          ? instances.filter((i) => labelsMatch(subset.labels, i.labels))
          : instances;
        const c: Cluster = {
          name: clusterName(port.number, subset?.name, svc.host),
          host: svc.host,
          port: port.number,
          ...(subset ? { subset: subset.name } : {}),
          lb: lbOf(tp),
          endpoints: selected.map((i) => endpointOf(i, port, tp?.tls?.mode)),
        };
        if (svc.originalDst) c.originalDst = true;
        const protocol = protocolOf(port, tp, registry.mesh.h2Upgrade === true);
        if (protocol) c.protocol = protocol;
        const tls = upstreamTlsOf(tp);
        if (tls) c.tls = tls;
        const hash = hashOf(tp);
        if (hash) c.hash = hash;
        const connectTimeout = durationMs(tp?.connectionPool?.tcp?.connectTimeout);
        if (connectTimeout) c.connectTimeoutMs = connectTimeout;
        const limits = limitsOf(tp);
        if (limits) c.limits = limits;
        const outlier = outlierOf(tp);
        if (outlier) c.outlier = outlier;
        const locality = localityLbOf(tp, registry.mesh.localityLbSetting, outlier !== undefined);
        if (locality && !svc.originalDst) c.locality = locality;
        return c;
      };
      const main = make(undefined);
      out[main.name] = main;
      for (const subset of dr?.spec.subsets ?? []) {
        const c = make(subset);
        out[c.name] = c;
      }
    }
  }
  return out;
}
