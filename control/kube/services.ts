/**
 * Kubernetes Services as mesh services, the way Istio's Kubernetes registry reads them: each
 * Service becomes a ServiceEntry of host `name.namespace.svc.<domain>` (MESH_INTERNAL,
 * `resolution: STATIC`), its ports with Istio's protocol selection (`appProtocol`, else the
 * port name's prefix `http-`, `http2-`, `grpc-`, `tcp-`, `tls-`, ...; a port that says nothing
 * is auto-detected), and its endpoints from the Service's EndpointSlices: every ready address
 * (`conditions.ready` true or unset; serving-but-terminating ones left out, as Istio does by
 * default), with the labels and service account of the Pod it points at, the slice's port
 * numbers by port name, and the zone as locality. `networking.istio.io/exportTo` becomes
 * `exportTo`; an ExternalName Service is a DNS entry for its external name; a headless Service
 * is like any other (its endpoints are its pods).
 *
 * The ServiceEntry is named `kube-service.<name>` and annotated
 * {@linkcode KUBE_SERVICE_ANNOTATION} (the registry then treats an endpoint at the address of
 * a connected mesh proxy as that proxy, over mTLS) and {@linkcode KUBE_SELECTOR_ANNOTATION}
 * (the Service's selector, for the ports that select a workload). Namespaces are read for
 * Istio's per-namespace settings (their labels), not needed here.
 *
 * @example
 * ```ts
 * const entries = serviceEntriesOf({ services, slices, pods, domain: "cluster.local" });
 * ```
 * @module
 */
import type { ResourceInput } from "../store/types.ts";
import type { KubeObject } from "./client.ts";

/** Marks a ServiceEntry made from a Kubernetes Service (its value: `namespace/name`). */
export const KUBE_SERVICE_ANNOTATION = "mesh.dev/kubernetes-service";
/** The Service's pod selector (JSON), on the ServiceEntry made from it. */
export const KUBE_SELECTOR_ANNOTATION = "mesh.dev/kubernetes-selector";

/** The parts of a Service mesh reads. */
export interface KubeService extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    externalName?: string;
    selector?: Record<string, string>;
    ports?: {
      name?: string;
      port: number;
      targetPort?: number | string;
      protocol?: string;
      appProtocol?: string;
    }[];
  };
}

/** The parts of an EndpointSlice (discovery.k8s.io/v1) mesh reads. */
export interface KubeEndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    targetRef?: { kind?: string; name?: string; namespace?: string };
    zone?: string;
    nodeName?: string;
  }[];
  ports?: { name?: string; port?: number; protocol?: string; appProtocol?: string }[];
}

/** The parts of a Pod mesh reads. */
export interface KubePod extends KubeObject {
  spec?: { serviceAccountName?: string; nodeName?: string };
  status?: { podIP?: string; phase?: string };
}

/** What {@linkcode serviceEntriesOf} takes. */
export interface KubeInputs {
  services: readonly KubeService[];
  slices: readonly KubeEndpointSlice[];
  pods: readonly KubePod[];
  /** The cluster's DNS domain (Istio's default `cluster.local`). */
  domain: string;
}

const NAME_PROTOCOLS: Record<string, string> = {
  http: "HTTP",
  http2: "HTTP2",
  grpc: "GRPC",
  "grpc-web": "GRPC-Web",
  https: "HTTPS",
  tls: "TLS",
  tcp: "TCP",
  mongo: "Mongo",
  redis: "Redis",
  mysql: "MySQL",
};
const APP_PROTOCOLS: Record<string, string> = {
  ...NAME_PROTOCOLS,
  "kubernetes.io/h2c": "HTTP2",
  "kubernetes.io/ws": "HTTP",
  "kubernetes.io/wss": "HTTPS",
};

/**
 * The protocol of a Service port, as Istio picks it: `appProtocol`, then the name (`grpc` or
 * `grpc-...`), UDP as UDP; undefined when nothing says (auto-detected).
 */
export function kubePortProtocol(
  p: { name?: string; protocol?: string; appProtocol?: string },
): string | undefined {
  if (p.protocol?.toUpperCase() === "UDP") return "UDP";
  const lookup = (table: Record<string, string>, k: string) =>
    Object.hasOwn(table, k) ? table[k] : undefined; // `constructor` is a valid port name
  if (p.appProtocol) {
    const a = lookup(APP_PROTOCOLS, p.appProtocol.toLowerCase());
    if (a) return a;
  }
  const name = p.name?.toLowerCase() ?? "";
  const byName = lookup(NAME_PROTOCOLS, name);
  if (byName) return byName;
  const dash = name.indexOf("-");
  if (dash > 0) {
    // `grpc-web` is a protocol of its own; `grpc-web-x` too.
    if (name.startsWith("grpc-web")) return "GRPC-Web";
    return lookup(NAME_PROTOCOLS, name.slice(0, dash));
  }
  return undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The ServiceEntries of the Services (sorted by namespace and name). */
export function serviceEntriesOf(input: KubeInputs): ResourceInput[] {
  const pods = new Map<string, KubePod>();
  for (const p of input.pods) pods.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
  const slicesOf = new Map<string, KubeEndpointSlice[]>();
  for (const s of input.slices) {
    const svc = s.metadata.labels?.["kubernetes.io/service-name"];
    if (!svc) continue;
    const k = `${s.metadata.namespace}/${svc}`;
    const list = slicesOf.get(k) ?? [];
    list.push(s);
    slicesOf.set(k, list);
  }
  const out: ResourceInput[] = [];
  const sorted = [...input.services].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}`
      ? -1
      : 1
  );
  for (const svc of sorted) {
    const ns = svc.metadata.namespace ?? "default";
    const name = svc.metadata.name;
    if (!DNS_LABEL.test(name)) continue;
    const host = `${name}.${ns}.svc.${input.domain}`;
    const spec = svc.spec ?? {};
    const ports = (spec.ports ?? []).filter((p) => p.protocol?.toUpperCase() !== "SCTP").map(
      (p) => {
        const protocol = kubePortProtocol(p);
        return {
          number: p.port,
          name: p.name || `port-${p.port}`,
          ...(protocol ? { protocol } : {}),
          ...(typeof p.targetPort === "number" ? { targetPort: p.targetPort } : {}),
        };
      },
    );
    if (ports.length === 0) continue;
    const annotations: Record<string, string> = { [KUBE_SERVICE_ANNOTATION]: `${ns}/${name}` };
    if (spec.selector && Object.keys(spec.selector).length) {
      annotations[KUBE_SELECTOR_ANNOTATION] = JSON.stringify(spec.selector);
    }
    const exportTo = svc.metadata.annotations?.["networking.istio.io/exportTo"]
      ?.split(",").map((s) => s.trim()).filter(Boolean);
    const base = {
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: `kube-service.${name}`, namespace: ns, annotations },
      source: { file: `kube:Service/${ns}/${name}`, line: 1 },
    };
    if (spec.type === "ExternalName" && spec.externalName) {
      out.push({
        ...base,
        spec: {
          hosts: [host],
          location: "MESH_EXTERNAL",
          resolution: "DNS",
          ports,
          endpoints: [{ address: spec.externalName }],
          ...(exportTo?.length ? { exportTo } : {}),
        },
      });
      continue;
    }
    const endpoints = endpointsOf(slicesOf.get(`${ns}/${name}`) ?? [], pods, ports);
    // A headless Service ("None") has no cluster IP: its name resolves to its pods.
    const clusterIP = spec.clusterIP && spec.clusterIP !== "None" ? spec.clusterIP : undefined;
    out.push({
      ...base,
      spec: {
        hosts: [host],
        ...(clusterIP ? { addresses: [clusterIP] } : {}),
        location: "MESH_INTERNAL",
        resolution: "STATIC",
        ports,
        ...(endpoints.length ? { endpoints } : {}),
        ...(exportTo?.length ? { exportTo } : {}),
      },
    });
  }
  return out;
}

/** The ready endpoints of a Service's slices, one per address. */
function endpointsOf(
  slices: readonly KubeEndpointSlice[],
  pods: Map<string, KubePod>,
  servicePorts: { number: number; name: string; targetPort?: number }[],
) {
  const out: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const s of slices) {
    if (s.addressType && s.addressType !== "IPv4" && s.addressType !== "IPv6") continue;
    // Slice ports are the target ports, by the Service port's name.
    const ports: Record<string, number> = {};
    for (const p of s.ports ?? []) {
      if (p.port === undefined) continue;
      const sp = servicePorts.find((x) => x.name === (p.name || x.name));
      if (sp) ports[sp.name] = p.port;
    }
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      const ref = ep.targetRef;
      const pod = ref?.kind === "Pod"
        ? pods.get(`${ref.namespace ?? s.metadata.namespace}/${ref.name}`)
        : undefined;
      for (const address of ep.addresses) {
        if (seen.has(address)) continue;
        seen.add(address);
        out.push({
          address,
          ...(Object.keys(ports).length ? { ports } : {}),
          ...(pod?.metadata.labels ? { labels: pod.metadata.labels } : {}),
          ...(pod?.spec?.serviceAccountName ? { serviceAccount: pod.spec.serviceAccountName } : {}),
          ...(ep.zone ? { locality: ep.zone } : {}),
        });
      }
    }
  }
  return out;
}
