/**
 * The service registry: services from ServiceEntries and their endpoints from
 * inline endpoints, WorkloadEntries and auto-registered workloads, selected by
 * labels as Kubernetes Services select pods.
 *
 * @example
 * ```ts
 * const reg = new ServiceRegistry(snapshot);
 * reg.service("reviews.default.svc.cluster.local")?.ports; // [{ number: 9080, name: "http", ... }]
 * ```
 * @module
 */
import { type RegisteredWorkload, rootNamespaceOf, type Snapshot } from "./snapshot.ts";
import { KUBE_SELECTOR_ANNOTATION, KUBE_SERVICE_ANNOTATION } from "./kube/services.ts";
import { labelsMatch } from "./labels.ts";
import { exportedTo } from "./visibility.ts";
import { mtlsModeFor } from "./peer_authn.ts";
import type { MtlsMode } from "../api/proxy_config.ts";

export { labelsMatch };
import { spiffeId } from "../ca/spiffe.ts";
import { hostMatches } from "../api/host.ts";
import { declaresProtocol, speaksHttp2 } from "./port_protocol.ts";
import type { DestinationRule, VirtualService } from "../api/resources.ts";

/** A service port. */
export interface ServicePort {
  number: number;
  name: string;
  protocol: string;
  targetPort?: number;
  /** The port speaks HTTP/2 (GRPC or HTTP2, by protocol or name prefix: `port_protocol.ts`). */
  http2?: boolean;
  /**
   * The port declares no protocol (no `protocol`, no known name prefix, no `appProtocol`):
   * Istio auto-detects it, and proxies speak to it the HTTP version the client spoke.
   */
  auto?: boolean;
}

/** A service known to the mesh. */
export interface Service {
  host: string;
  namespace: string;
  ports: ServicePort[];
  /** `<namespace>/<ServiceEntry name>` */
  source: string;
  /**
   * No endpoints and `resolution: NONE`: requests go to the host and port they were sent to
   * (Envoy's original destination), as for a wildcard egress host.
   */
  originalDst?: boolean;
  /** The ServiceEntry's `exportTo` (where the service is visible; everywhere when absent). */
  exportTo?: string[];
  /** Its IP addresses (a ServiceEntry's `addresses` that are single IPs; a Service's cluster IP). */
  addresses?: string[];
}

/** The single IP addresses of a ServiceEntry's `addresses` (`/32` and `/128` count as one). */
export function singleAddresses(addresses: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const a of addresses ?? []) {
    const [ip, bits] = a.split("/");
    if (bits !== undefined && bits !== (ip.includes(":") ? "128" : "32")) continue;
    if (/^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip.includes(":")) out.push(ip.toLowerCase());
  }
  return out;
}

/** An endpoint before port resolution: where a workload lives and how to reach it. */
export interface WorkloadInstance {
  address: string;
  labels: Record<string, string>;
  /** Named ports of a WorkloadEntry (port name → number). */
  ports?: Record<string, number>;
  /** Set for auto-registered sidecars: connect here (mTLS unless its PeerAuthentication says DISABLE). */
  inboundPort?: number;
  identity?: string;
  /** The inbound mTLS mode of an auto-registered sidecar (PeerAuthentication). */
  mtlsMode?: MtlsMode;
  /** Where it runs, `region/zone/subzone` (WorkloadEntry `locality`, a sidecar's `--locality`). */
  locality?: string;
}

/** `{ locality }` when there is one (so instances without one stay as they were). */
function localityOf(locality: string | undefined): { locality?: string } {
  return locality ? { locality } : {};
}

/** The instance of an auto-registered sidecar: its inbound port, identity and mTLS mode. */
function meshInstance(snapshot: Snapshot, w: RegisteredWorkload): WorkloadInstance {
  return {
    address: w.address,
    labels: w.labels,
    inboundPort: w.inboundPort,
    identity: spiffeId(snapshot.mesh.trustDomain, w.namespace, w.serviceAccount),
    mtlsMode: mtlsModeFor(
      snapshot.peerAuthentications,
      rootNamespaceOf(snapshot.mesh),
      w,
      w.appPort,
    ),
    ...localityOf(w.locality),
  };
}

/** The connected sidecar of namespace `ns` at `address`, if any. */
function sidecarAt(
  snapshot: Snapshot,
  ns: string,
  address: string,
): RegisteredWorkload | undefined {
  return snapshot.workloads.find((w) => w.namespace === ns && w.address === address);
}

/** A Kubernetes Service's selector, from its ServiceEntry's annotation. */
function selectorOf(annotations: Record<string, string> | undefined) {
  const raw = annotations?.[KUBE_SELECTOR_ANNOTATION];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw);
    return v && typeof v === "object" ? v as Record<string, string> : undefined;
  } catch {
    return undefined;
  }
}

/** Services and endpoints derived from one snapshot. */
export class ServiceRegistry {
  readonly services = new Map<string, Service>();
  #instances = new Map<string, WorkloadInstance[]>();
  /** The ports of ServiceEntries with a workload selector, by namespace. */
  #selecting: { namespace: string; selector: Record<string, string>; ports: ServicePort[] }[] = [];
  #snapshot: Snapshot;

  constructor(snapshot: Snapshot) {
    this.#snapshot = snapshot;
    for (const se of snapshot.serviceEntries) {
      const ns = se.metadata.namespace;
      const ports: ServicePort[] = (se.spec.ports ?? []).map((p) => ({
        number: p.number,
        name: p.name ?? `port-${p.number}`,
        protocol: (p.protocol ?? "HTTP").toUpperCase(),
        targetPort: p.targetPort,
        ...(speaksHttp2(p) ? { http2: true } : {}),
        ...(declaresProtocol(p) ? {} : { auto: true }),
      }));
      const instances: WorkloadInstance[] = [];
      // A Kubernetes Service's endpoint at the address of a connected mesh proxy is that
      // proxy (its pod's sidecar): reached on its inbound port over mTLS (control/kube/services.ts).
      const kube = se.metadata.annotations?.[KUBE_SERVICE_ANNOTATION] !== undefined;
      for (const ep of se.spec.endpoints ?? []) {
        if (!ep.address) continue;
        const w = kube ? sidecarAt(snapshot, ns, ep.address) : undefined;
        if (w) {
          instances.push({
            ...localityOf(ep.locality),
            ...meshInstance(snapshot, w),
            labels: { ...(ep.labels ?? {}), ...w.labels },
            ports: ep.ports,
          });
        } else {
          instances.push({
            address: ep.address,
            labels: ep.labels ?? {},
            ports: ep.ports,
            ...localityOf(ep.locality),
          });
        }
      }
      const kubeSelector = kube ? selectorOf(se.metadata.annotations) : undefined;
      if (kubeSelector) {
        this.#selecting.push({ namespace: ns, selector: kubeSelector, ports });
        // A Service selects WorkloadEntries (VMs) by its selector too, as in Istio.
        for (const we of snapshot.workloadEntries) {
          if (we.metadata.namespace !== ns || !we.spec.address) continue;
          const labels = { ...(we.metadata.labels ?? {}), ...(we.spec.labels ?? {}) };
          if (!labelsMatch(kubeSelector, labels)) continue;
          if (instances.some((i) => i.address === we.spec.address)) continue;
          instances.push({
            address: we.spec.address,
            labels,
            ports: we.spec.ports,
            ...localityOf(we.spec.locality),
          });
        }
      }
      const selector = se.spec.workloadSelector?.labels;
      if (selector) {
        this.#selecting.push({ namespace: ns, selector, ports });
        for (const we of snapshot.workloadEntries) {
          if (we.metadata.namespace !== ns || !we.spec.address) continue;
          const labels = { ...(we.metadata.labels ?? {}), ...(we.spec.labels ?? {}) };
          if (labelsMatch(selector, labels)) {
            instances.push({
              address: we.spec.address,
              labels,
              ports: we.spec.ports,
              ...localityOf(we.spec.locality),
            });
          }
        }
        for (const w of snapshot.workloads) {
          if (w.namespace !== ns || !labelsMatch(selector, w.labels)) continue;
          instances.push(meshInstance(snapshot, w));
        }
      }
      // Without endpoints or a selector, DNS resolution means the host name itself (resolved
      // when connecting), and NONE means wherever the request was sent.
      const resolution = se.spec.resolution ?? "NONE";
      const addresses = singleAddresses(se.spec.addresses);
      const bare = instances.length === 0 && !selector && !se.spec.endpoints?.length;
      for (const host of se.spec.hosts) {
        const h = host.toLowerCase();
        if (this.services.has(h)) continue; // first by namespace/name wins
        const dns = bare && (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") &&
          !h.startsWith("*");
        this.services.set(h, {
          host: h,
          namespace: ns,
          ports,
          source: `${ns}/${se.metadata.name}`,
          ...(bare && resolution === "NONE" ? { originalDst: true } : {}),
          ...(se.spec.exportTo?.length ? { exportTo: [...se.spec.exportTo] } : {}),
          ...(addresses.length ? { addresses } : {}),
        });
        this.#instances.set(h, dns ? [{ address: h, labels: {} }] : instances);
      }
    }
  }

  /** The mesh settings of the snapshot the registry was built from. */
  get mesh(): Snapshot["mesh"] {
    return this.#snapshot.mesh;
  }

  /** The VirtualService `namespace/name`, if there is one. */
  virtualService(name: string, namespace: string): VirtualService | undefined {
    return this.#snapshot.virtualServices.find((vs) =>
      vs.metadata.name === name && vs.metadata.namespace === namespace
    );
  }

  /** The ports of the services that select a workload (by its namespace and labels). */
  portsSelecting(namespace: string, labels: Record<string, string>): ServicePort[] {
    return this.#selecting
      .filter((s) => s.namespace === namespace && labelsMatch(s.selector, labels))
      .flatMap((s) => s.ports);
  }

  /** The service with this exact host. */
  service(host: string): Service | undefined {
    return this.services.get(host);
  }

  /** Workload instances of a service. */
  instances(host: string): WorkloadInstance[] {
    return this.#instances.get(host) ?? [];
  }

  /** The DestinationRule that applies to `host` (exact host first, then the longest wildcard). */
  destinationRule(
    host: string,
    fqdnOf: (h: string, ns: string) => string,
    clientNamespace?: string,
  ): DestinationRule | undefined {
    // Istio's lookup path: rules in the client's namespace (unless that is the root
    // namespace), then the service's, then the root namespace's, each only if exported to
    // the client; rules elsewhere never apply. In each, the exact host before the longest
    // wildcard.
    const svcNs = this.services.get(host)?.namespace;
    const root = rootNamespaceOf(this.#snapshot.mesh);
    const rank = (ns: string) =>
      ns === clientNamespace && ns !== root ? 0 : ns === svcNs ? 1 : ns === root ? 2 : 3;
    let best: DestinationRule | undefined;
    let bestScore: [number, number] = [3, 0];
    for (const dr of this.#snapshot.destinationRules) {
      const ns = dr.metadata.namespace;
      if (clientNamespace !== undefined && rank(ns) === 3) continue; // off the lookup path
      if (clientNamespace !== undefined && !exportedTo(dr.spec.exportTo, ns, clientNamespace)) {
        continue;
      }
      const pattern = fqdnOf(dr.spec.host, ns);
      if (!hostMatches(pattern, host)) continue;
      const score: [number, number] = [rank(ns), pattern === host ? -Infinity : -pattern.length];
      if (score[0] < bestScore[0] || (score[0] === bestScore[0] && score[1] < bestScore[1])) {
        best = dr;
        bestScore = score;
      }
    }
    return best;
  }
}
