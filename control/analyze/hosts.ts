/**
 * The service registry as analysis sees it: every host a destination may name, from
 * Kubernetes Services (`reviews` in `default` is `reviews.default.svc.cluster.local`) and from
 * ServiceEntries, with their ports and the namespaces they are visible in (`exportTo`, or the
 * `networking.istio.io/exportTo` annotation of a Service).
 *
 * Lookups follow Istio's analyzers: a short name is made a full name in the namespace of the
 * resource that wrote it; exact hosts win over wildcard ServiceEntry hosts, and Services over
 * ServiceEntries for the same host.
 *
 * @example
 * ```ts
 * const index = HostIndex.build(services, serviceEntries, originOf);
 * index.lookup("reviews", "default")?.ports; // [{ number: 9080, name: "http", protocol: "TCP" }]
 * ```
 * @module
 */
import { DEFAULT_DOMAIN_SUFFIX, fqdn, hostMatches } from "../../api/host.ts";
import type { ServiceEntry } from "../../api/resources.ts";
import type { KubeService, ObjectOrigin } from "./k8s.ts";

/** A port of a registered host. */
export interface HostPort {
  number: number;
  name?: string;
  /** Upper case; unset when the ServiceEntry names none. */
  protocol?: string;
  targetPort?: number | string;
}

/** A host in the registry. */
export interface HostEntry {
  /** Lowercase full name, or a `*.suffix` wildcard (ServiceEntries only). */
  host: string;
  /** Namespace of the Service or ServiceEntry. */
  namespace: string;
  ports: HostPort[];
  /** Namespaces it is visible in: `*` all, `.` its own; undefined means all. */
  exportTo?: string[];
  kind: "Service" | "ServiceEntry";
  origin: ObjectOrigin;
}

/** The annotation that scopes a Kubernetes Service's visibility, as in Istio. */
export const EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo";

/** `exportTo` values as strings, or undefined when unset or malformed. */
export function exportToOf(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out = v.filter((s): s is string => typeof s === "string").map((s) => s.trim());
  return out.length ? out : undefined;
}

/** Whether something in `ownNamespace` exported to `exportTo` is visible from `namespace`. */
export function visibleIn(
  exportTo: readonly string[] | undefined,
  ownNamespace: string,
  namespace: string,
): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) =>
    e === "*" || e === namespace || (e === "." && ownNamespace === namespace)
  );
}

/** Hosts by name, with the lookups the analyzers need. */
export class HostIndex {
  readonly entries: readonly HostEntry[];
  #exact = new Map<string, HostEntry[]>();
  #wildcards: HostEntry[] = [];

  constructor(entries: readonly HostEntry[]) {
    this.entries = entries;
    for (const e of entries) {
      if (e.host.startsWith("*")) this.#wildcards.push(e);
      else {
        const list = this.#exact.get(e.host) ?? [];
        list.push(e);
        this.#exact.set(e.host, list);
      }
    }
    // Services first, as Istio lets a Service replace a ServiceEntry with the same host.
    for (const list of this.#exact.values()) {
      list.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "Service" ? -1 : 1));
    }
  }

  /** Builds the index from Kubernetes Services and ServiceEntries. */
  static build(
    services: readonly KubeService[],
    serviceEntries: readonly ServiceEntry[],
    originOf: (se: ServiceEntry) => ObjectOrigin,
  ): HostIndex {
    const entries: HostEntry[] = [];
    for (const se of serviceEntries) {
      const ns = se.metadata.namespace;
      const ports: HostPort[] = (se.spec.ports ?? []).map((p) => ({
        number: p.number,
        name: p.name,
        ...(p.protocol ? { protocol: p.protocol.toUpperCase() } : {}),
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      }));
      const exportTo = exportToOf(se.spec.exportTo);
      for (const h of se.spec.hosts) {
        entries.push({
          host: h.toLowerCase(),
          namespace: ns,
          ports,
          ...(exportTo ? { exportTo } : {}),
          kind: "ServiceEntry",
          origin: originOf(se),
        });
      }
    }
    for (const svc of services) {
      const annotation = svc.annotations[EXPORT_TO_ANNOTATION];
      const exportTo = annotation
        ? annotation.split(",").map((s) => s.trim()).filter(Boolean)
        : undefined;
      entries.push({
        host: `${svc.name}.${svc.namespace}.svc.${DEFAULT_DOMAIN_SUFFIX}`.toLowerCase(),
        namespace: svc.namespace,
        ports: svc.ports.map((p) => ({
          number: p.port,
          ...(p.name !== undefined ? { name: p.name } : {}),
          protocol: p.protocol,
          ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
        })),
        ...(exportTo?.length ? { exportTo } : {}),
        kind: "Service",
        origin: svc.origin,
      });
    }
    return new HostIndex(entries);
  }

  /**
   * The host a destination written as `host` in a resource of `namespace` refers to: the
   * exact full name first, then a wildcard ServiceEntry host that covers it.
   */
  lookup(host: string, namespace: string): HostEntry | undefined {
    const name = fqdn(host, namespace);
    const exact = (this.#exact.get(name) ?? []).find((e) =>
      visibleIn(e.exportTo, e.namespace, namespace)
    );
    if (exact) return exact;
    const bare = name.startsWith("*") ? name.slice(1) : name;
    return this.#wildcards.find((e) =>
      visibleIn(e.exportTo, e.namespace, namespace) && bare.endsWith(e.host.slice(1))
    );
  }

  /** Every visible host that `pattern` (exact or `*.suffix`, written in `namespace`) covers. */
  matching(pattern: string, namespace: string): HostEntry[] {
    const p = fqdn(pattern, namespace);
    return this.entries.filter((e) =>
      visibleIn(e.exportTo, e.namespace, namespace) &&
      (hostMatches(p, e.host) || hostMatches(e.host, p))
    );
  }
}
