/**
 * An immutable snapshot of everything the control plane knows: validated
 * resources, registered workloads, mesh settings and trust roots. Generators
 * read snapshots; nothing mutates one.
 * @module
 */
import type { AccessLogSettings, PathNormalization } from "../api/proxy_config.ts";
import type {
  HTTPRetry,
  LocalityLoadBalancerSetting,
  TrafficPolicy,
} from "../api/schemas/networking.ts";
import { convertGatewayApi, type GatewayApiResult } from "./gateway_api/convert.ts";
import type {
  AuthorizationPolicy,
  DestinationRule,
  Gateway,
  PeerAuthentication,
  RequestAuthentication,
  Resource,
  ServiceEntry,
  Sidecar,
  Telemetry,
  VirtualService,
  WorkloadEntry,
  WorkloadGroup,
} from "../api/resources.ts";
import { groupWorkloads } from "./workload_groups.ts";

/** A workload that registered itself by opening a push stream (Istio's WorkloadGroup auto-registration). */
export interface RegisteredWorkload {
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  address: string;
  /** The sidecar's mTLS inbound port. */
  inboundPort: number;
  /** The port the application listens on behind the sidecar (for `portLevelMtls`). */
  appPort?: number;
  /** The node id of the proxy that registered it. */
  nodeId: string;
  /** Where it runs, `region/zone/subzone` (its proxy's `--locality`, or its group template's). */
  locality?: string;
  /** The WorkloadGroup it registered under (`--workload-group`); its template applies. */
  group?: string;
  /**
   * Its group's probe result, as its proxy reports it: `false` takes it out of load balancing
   * (and so does no result yet, when the group has a probe).
   */
  healthy?: boolean;
}

/**
 * MeshConfig's defaults, in one place (Istio's values): what applies where neither a flag nor a
 * MeshConfig resource says otherwise.
 */
export const MESH_DEFAULTS = Object.freeze({
  trustDomain: "cluster.local",
  rootNamespace: "istio-system",
  outboundTrafficPolicy: "ALLOW_ANY" as const,
  pathNormalization: "BASE" as const,
});

/** The root namespace in effect: MeshConfig `rootNamespace`, else Istio's `istio-system`. */
export function rootNamespaceOf(mesh: Pick<MeshSettings, "rootNamespace">): string {
  return mesh.rootNamespace ?? MESH_DEFAULTS.rootNamespace;
}

/** Mesh-wide settings (Istio's MeshConfig subset that this slice honours). */
export interface MeshSettings {
  trustDomain: string;
  /** MeshConfig `trustDomainAliases`: trust domains whose identities count as this mesh's. */
  trustDomainAliases?: string[];
  outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
  /** Istio's root namespace (mesh-wide config lives there). Default `istio-system`. */
  rootNamespace?: string;
  /** Envoy-style access logs from every proxy (MeshConfig `accessLogFile`). */
  accessLog?: AccessLogSettings;
  /** MeshConfig `extensionProviders` that mesh can use (zipkin), by name. */
  tracingProviders?: Record<string, ZipkinProvider>;
  /** MeshConfig `defaultProviders.tracing`: used where no Telemetry names a provider. */
  defaultTracingProviders?: string[];
  /** MeshConfig `defaultConfig.tracing.sampling` (percent; Istio's default is 1). */
  defaultSampling?: number;
  /** MeshConfig `envoyFileAccessLog` extension providers, by name. */
  accessLogProviders?: Record<string, AccessLogSettings>;
  /** MeshConfig `defaultProviders.accessLogging`. */
  defaultAccessLogProviders?: string[];
  /** MeshConfig `accessLogEncoding` (for Istio's built-in `envoy` provider). */
  accessLogEncoding?: "TEXT" | "JSON";
  /** MeshConfig `defaultHttpRetryPolicy`: the retries of routes that set none. */
  defaultRetries?: HTTPRetry;
  /** MeshConfig `defaultTrafficPolicy`: what DestinationRules don't set. */
  defaultTrafficPolicy?: Pick<TrafficPolicy, "connectionPool" | "outlierDetection">;
  /** MeshConfig `pathNormalization.normalization` (`DEFAULT` read as `BASE`); BASE when absent. */
  pathNormalization?: PathNormalization;
  /** MeshConfig `h2UpgradePolicy`: HTTP ports go over HTTP/2 unless a DestinationRule says not. */
  h2Upgrade?: boolean;
  /**
   * MeshConfig `localityLbSetting`: where a DestinationRule sets none. Absent: Istio's default,
   * `{enabled: true}` (locality failover wherever outlier detection is set).
   */
  localityLbSetting?: LocalityLoadBalancerSetting;
}

/** A `zipkin` extension provider. */
export interface ZipkinProvider {
  service: string;
  port: number;
  path?: string;
  maxTagLength?: number;
}

/**
 * Mesh settings from the flags, overridden by a MeshConfig resource in the
 * config (the first by namespace/name). The trust domain can't change while
 * the CA runs: a different one is reported and left for a restart.
 */
export function meshSettingsFrom(
  defaults: MeshSettings,
  resources: readonly Resource[],
  onTrustDomainMismatch?: (wanted: string) => void,
): MeshSettings {
  const mc = resources.filter((r) => r.kind === "MeshConfig").sort(byKey)[0] as
    | Resource<"MeshConfig">
    | undefined;
  if (!mc) return defaults;
  const spec = mc.spec;
  const out: MeshSettings = { ...defaults };
  const mode = spec.outboundTrafficPolicy?.mode;
  if (mode === "ALLOW_ANY" || mode === "REGISTRY_ONLY") out.outboundTrafficPolicy = mode;
  if (spec.rootNamespace) out.rootNamespace = spec.rootNamespace;
  const normalization = spec.pathNormalization?.normalization;
  if (normalization) {
    out.pathNormalization = normalization === "DEFAULT" ? "BASE" : normalization;
  }
  if (spec.trustDomainAliases?.length) out.trustDomainAliases = [...spec.trustDomainAliases];
  if (spec.h2UpgradePolicy === "UPGRADE") out.h2Upgrade = true;
  if (spec.localityLbSetting) out.localityLbSetting = spec.localityLbSetting;
  if (spec.accessLogFile) {
    out.accessLog = { path: spec.accessLogFile, encoding: spec.accessLogEncoding ?? "TEXT" };
  }
  if (spec.accessLogEncoding) out.accessLogEncoding = spec.accessLogEncoding;
  if (spec.defaultHttpRetryPolicy) out.defaultRetries = spec.defaultHttpRetryPolicy as HTTPRetry;
  if (spec.defaultTrafficPolicy) {
    out.defaultTrafficPolicy = spec.defaultTrafficPolicy as MeshSettings["defaultTrafficPolicy"];
  }
  if (spec.defaultProviders?.accessLogging?.length) {
    out.defaultAccessLogProviders = [...spec.defaultProviders.accessLogging];
  }
  // As Istio merges them, a provider defined twice is its last definition.
  const providers = new Map((spec.extensionProviders ?? []).map((p) => [p.name, p]));
  for (const p of providers.values()) {
    const f = p.envoyFileAccessLog;
    if (f) {
      out.accessLogProviders ??= {};
      out.accessLogProviders[p.name] = {
        path: f.path || "/dev/stdout",
        encoding: f.logFormat?.labels ? "JSON" : "TEXT",
      };
    }
    const z = p.zipkin;
    if (!z?.service || !z.port) continue; // warned at validation
    out.tracingProviders ??= {};
    out.tracingProviders[p.name] = {
      service: z.service,
      port: z.port,
      ...(z.path ? { path: z.path } : {}),
      ...(z.maxTagLength ? { maxTagLength: z.maxTagLength } : {}),
    };
  }
  if (spec.defaultProviders?.tracing?.length) {
    out.defaultTracingProviders = [...spec.defaultProviders.tracing];
  }
  if (spec.defaultConfig?.tracing?.sampling !== undefined) {
    out.defaultSampling = spec.defaultConfig.tracing.sampling;
  }
  if (spec.trustDomain && spec.trustDomain !== defaults.trustDomain) {
    onTrustDomainMismatch?.(spec.trustDomain);
  }
  return out;
}

/** Everything generators need, frozen at one revision. */
export interface Snapshot {
  readonly revision: number;
  readonly virtualServices: readonly VirtualService[];
  readonly destinationRules: readonly DestinationRule[];
  readonly gateways: readonly Gateway[];
  readonly serviceEntries: readonly ServiceEntry[];
  readonly workloadEntries: readonly WorkloadEntry[];
  readonly sidecars: readonly Sidecar[];
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly peerAuthentications: readonly PeerAuthentication[];
  readonly requestAuthentications: readonly RequestAuthentication[];
  readonly telemetries: readonly Telemetry[];
  readonly workloadGroups: readonly WorkloadGroup[];
  /** Key sets fetched from RequestAuthentication `jwksUri`s, by URI (JSON text). */
  readonly jwks: ReadonlyMap<string, string>;
  readonly workloads: readonly RegisteredWorkload[];
  readonly mesh: MeshSettings;
  readonly roots: string;
  /** SHA-256 (hex) of the root the CA signs under. */
  readonly signingRoot?: string;
  /**
   * The Gateway API resources converted (their Gateways and VirtualServices are in `gateways`
   * and `virtualServices`), with their status and diagnostics.
   */
  readonly gatewayApi?: GatewayApiResult;
}

function byKey<T extends Resource>(a: T, b: T): number {
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Builds a frozen snapshot from resources (sorted by namespace/name for stable output). */
export function buildSnapshot(input: {
  revision: number;
  resources: readonly Resource[];
  workloads: readonly RegisteredWorkload[];
  mesh: MeshSettings;
  roots: string;
  signingRoot?: string;
  /** Key sets fetched for `jwksUri`s so far. */
  jwks?: ReadonlyMap<string, string>;
}): Snapshot {
  // Gateway API resources become Istio Gateways and VirtualServices beside the user's.
  const gatewayApi = convertGatewayApi(input.resources);
  const resources = gatewayApi.gateways.length + gatewayApi.virtualServices.length
    ? [...input.resources, ...gatewayApi.gateways, ...gatewayApi.virtualServices]
    : input.resources;
  const of = <K extends Resource["kind"]>(kind: K) =>
    Object.freeze(
      resources.filter((r) => r.kind === kind).sort(byKey) as Resource<K>[],
    );
  return Object.freeze({
    revision: input.revision,
    virtualServices: of("VirtualService"),
    destinationRules: of("DestinationRule"),
    gateways: of("Gateway"),
    serviceEntries: of("ServiceEntry"),
    workloadEntries: of("WorkloadEntry"),
    sidecars: of("Sidecar"),
    authorizationPolicies: of("AuthorizationPolicy"),
    peerAuthentications: of("PeerAuthentication"),
    requestAuthentications: of("RequestAuthentication"),
    telemetries: of("Telemetry"),
    workloadGroups: of("WorkloadGroup"),
    jwks: input.jwks ?? new Map(),
    workloads: Object.freeze(
      groupWorkloads(input.workloads, of("WorkloadGroup"))
        .sort((a, b) => a.name < b.name ? -1 : 1),
    ),
    mesh: input.mesh,
    roots: input.roots,
    signingRoot: input.signingRoot,
    ...(gatewayApi.statuses.length ? { gatewayApi } : {}),
  });
}
