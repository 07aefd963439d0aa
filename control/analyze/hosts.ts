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

// ---------------------------------------------------------------------------------------------
// Istio's analyzer index

/** Istio's analyzers' form of a full name: a short host gets `.<namespace>.svc.cluster.local`. */
export function istioFqdn(host: string, namespace: string): string {
  return host.startsWith("*") || host.includes(".")
    ? host
    : `${host}.${namespace}.svc.${DEFAULT_DOMAIN_SUFFIX}`;
}

/** Istio's `host.Name.Matches`: two hosts overlap (a wildcard covers the other's suffix). */
export function istioHostsMatch(a: string, b: string): boolean {
  const aw = a.startsWith("*");
  const bw = b.startsWith("*");
  if (aw && bw) {
    return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  }
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** What a scoped host stands for: a ServiceEntry, or a Kubernetes Service seen as one. */
export interface ScopedEntry {
  kind: "ServiceEntry" | "Service";
  namespace: string;
  name: string;
  ports: HostPort[];
  /** The ServiceEntry's `workloadSelector.labels` (Services have none here). */
  workloadSelector?: Record<string, string>;
}

/**
 * Hosts keyed as Istio's analyzers key them: `<scope>/<fqdn>`, where the scope is `*` (every
 * namespace) or the one namespace the host is exported to. ServiceEntries come first, then
 * Kubernetes Services (a Service replaces a ServiceEntry with the same key); later entries
 * replace earlier ones.
 */
export class ScopedHosts {
  readonly #map = new Map<string, ScopedEntry>();

  constructor(serviceEntries: readonly ServiceEntry[], services: readonly KubeService[]) {
    for (const se of serviceEntries) {
      const ns = se.metadata.namespace;
      const entry: ScopedEntry = {
        kind: "ServiceEntry",
        namespace: ns,
        name: se.metadata.name,
        ports: (se.spec.ports ?? []).map((p) => ({
          number: p.number,
          name: p.name,
          ...(p.protocol ? { protocol: p.protocol } : {}),
        })),
        ...(se.spec.workloadSelector?.labels
          ? { workloadSelector: se.spec.workloadSelector.labels }
          : {}),
      };
      const exportTo = se.spec.exportTo ?? [];
      let toAll = false;
      for (const h of se.spec.hosts) {
        if (exportTo.length === 0 || toAll) {
          this.#set("*", ns, h, entry);
          continue;
        }
        for (const e of exportTo) {
          if (e === "*") {
            this.#set("*", ns, h, entry);
            toAll = true;
            break;
          }
          this.#set(e === "." ? ns : e, ns, h, entry);
        }
      }
    }
    for (const svc of services) {
      const entry: ScopedEntry = {
        kind: "Service",
        namespace: svc.namespace,
        name: svc.name,
        ports: svc.ports.map((p) => ({
          number: p.port,
          ...(p.name !== undefined ? { name: p.name } : {}),
          protocol: p.protocol,
        })),
      };
      const annotation = svc.annotations[EXPORT_TO_ANNOTATION] ?? "";
      const scopes = annotation === ""
        ? ["*"]
        : annotation.split(",").map((s) => s.trim()).map((s) => (s === "." ? svc.namespace : s));
      for (const scope of scopes) this.#set(scope, svc.namespace, svc.name, entry);
    }
  }

  #set(scope: string, namespace: string, host: string, entry: ScopedEntry): void {
    const key = `${scope}/${istioFqdn(host, namespace)}`;
    this.#map.delete(key); // a replacement goes last, as a new map entry would
    this.#map.set(key, entry);
  }

  /**
   * Istio's `GetDestinationHost`: the entry a destination `host`, written in a resource of
   * `namespace` exported to `exportTo`, refers to. Hosts exported everywhere first, then to the
   * resource's own namespace (no `exportTo`) or to its `exportTo` namespaces, then wildcard
   * hosts visible in its namespace.
   */
  lookup(namespace: string, exportTo: readonly string[], host: string): ScopedEntry | undefined {
    const all = this.#map.get(`*/${istioFqdn(host, namespace)}`);
    if (all) return all;
    const scopes = exportTo.length === 0
      ? [namespace]
      : exportTo.map((e) => (e === "." ? namespace : e));
    for (const scope of scopes) {
      const e = this.#map.get(`${scope}/${istioFqdn(host, namespace)}`);
      if (e) return e;
    }
    const bare = host.startsWith("*") ? host.slice(1) : host;
    for (const [key, entry] of this.#map) {
      const slash = key.indexOf("/");
      const scope = key.slice(0, slash);
      const seHost = key.slice(slash + 1);
      if (!seHost.startsWith("*")) continue;
      if (scope !== "*" && scope !== namespace) continue;
      if (bare.endsWith(seHost.slice(1))) return entry;
    }
    return undefined;
  }
}
