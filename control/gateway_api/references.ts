/**
 * References between Gateway API objects as Istio resolves them: ReferenceGrants (cross-namespace
 * backendRefs and certificateRefs), backendRefs to Services and hostnames, the namespaces a
 * listener admits, and a route's parentRefs bound to Gateway listeners or to Services (mesh
 * routing, GAMMA), with Istio's reasons when a parent refuses a route.
 * @module
 */

import { hostMatches } from "../../api/host.ts";
import type { Resource, ServiceEntry } from "../../api/resources.ts";
import {
  GATEWAY_API_GROUP,
  type LabelSelector,
  type ParentReference,
  selectorMatches,
} from "../../api/schemas/gateway_api/common.ts";
import type { ConditionError, RouteGroupKind } from "./status.ts";

/** The label every Kubernetes namespace carries with its own name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** Options of the conversion that say what mesh can't read from its config. */
export interface ConvertOptions {
  /** The cluster's DNS suffix (default `cluster.local`). */
  domainSuffix?: string;
  /**
   * The namespaces and their labels, as Kubernetes Namespace objects would give them, for
   * `allowedRoutes.namespaces.selector`. Namespace objects are not configuration mesh reads, so
   * by default every namespace of the config is known, with only its
   * `kubernetes.io/metadata.name` label.
   */
  namespaceLabels?: Readonly<Record<string, Record<string, string>>>;
  /**
   * Keep the routes as Istio writes them (`PathPrefix` as a plain prefix, invalid backends as
   * `destination: {}` with host ""), for comparing with Istio's output; mesh's proxies need the
   * default form.
   */
  istioForm?: boolean;
}

interface Grant {
  fromKind: string;
  fromNamespace: string;
  /** `group/kind` of the target. */
  to: string;
  toNamespace: string;
  /** Undefined: every name. */
  name?: string;
}

const GRANT_FROM = new Set([
  "Gateway",
  "HTTPRoute",
  "GRPCRoute",
  "TLSRoute",
  "TCPRoute",
  "ListenerSet",
]);
const GRANT_TO = new Set([
  "/ConfigMap",
  "/Secret",
  "/Service",
  "gateway.networking.x-k8s.io/XBackend",
  "inference.networking.k8s.io/InferencePool",
]);

/** A reference to check against the ReferenceGrants. */
export interface GrantQuery {
  /** The kind referring (`HTTPRoute`, `Gateway`, ...) and its namespace. */
  fromKind: string;
  fromNamespace: string;
  /** `group/kind` of the object referred to (`/Service`, `/Secret`). */
  to: string;
  name: string;
  toNamespace: string;
}

/** What the conversion looks things up in: grants, services, namespaces. */
export class References {
  /** The cluster's DNS suffix. */
  readonly suffix: string;
  /** See {@linkcode ConvertOptions.istioForm}. */
  readonly istioForm: boolean;
  readonly #grants: Grant[] = [];
  readonly #hosts = new Set<string>();
  readonly #serviceEntries = new Map<string, ServiceEntry>();
  readonly #namespaces = new Map<string, Record<string, string>>();

  constructor(resources: readonly Resource[], options: ConvertOptions = {}) {
    this.suffix = options.domainSuffix ?? "cluster.local";
    this.istioForm = options.istioForm ?? false;
    for (const r of resources) {
      if (!options.namespaceLabels) this.#namespaces.set(r.metadata.namespace, {});
      if (r.kind === "ServiceEntry") {
        this.#serviceEntries.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
        for (const h of r.spec.hosts) this.#hosts.add(h.toLowerCase());
      }
      if (r.kind !== "ReferenceGrant") continue;
      for (const from of r.spec.from) {
        if (from.group !== GATEWAY_API_GROUP || !GRANT_FROM.has(from.kind)) continue;
        for (const to of r.spec.to) {
          const target = `${to.group}/${to.kind}`;
          if (!GRANT_TO.has(target)) continue;
          this.#grants.push({
            fromKind: from.kind,
            fromNamespace: from.namespace,
            to: target,
            toNamespace: r.metadata.namespace,
            ...(to.name !== undefined ? { name: to.name } : {}),
          });
        }
      }
    }
    for (const [ns, labels] of Object.entries(options.namespaceLabels ?? {})) {
      this.#namespaces.set(ns, { ...labels });
    }
  }

  /**
   * Whether a ReferenceGrant in `ref.toNamespace` lets a `fromKind` in `fromNamespace` refer to
   * the `group/kind` (`to`) object `name` there.
   */
  allowed(ref: GrantQuery): boolean {
    return this.#grants.some((g) =>
      g.fromKind === ref.fromKind && g.fromNamespace === ref.fromNamespace && g.to === ref.to &&
      g.toNamespace === ref.toNamespace && (g.name === undefined || g.name === ref.name)
    );
  }

  /** Whether a service with exactly this host is known (a ServiceEntry host). */
  hasHost(host: string): boolean {
    return this.#hosts.has(host.toLowerCase());
  }

  /** The ServiceEntry `namespace/name`, if any. */
  serviceEntry(namespace: string, name: string): ServiceEntry | undefined {
    return this.#serviceEntries.get(`${namespace}/${name}`);
  }

  /** The FQDN of Service `name` in `namespace`. */
  serviceHost(name: string, namespace: string): string {
    return `${name}.${namespace}.svc.${this.suffix}`;
  }

  /** Known namespaces whose labels match `selector`, sorted. */
  namespacesMatching(selector: LabelSelector): string[] {
    const out: string[] = [];
    for (const [ns, labels] of this.#namespaces) {
      if (selectorMatches(selector, { ...labels, [NAMESPACE_NAME_LABEL]: ns })) out.push(ns);
    }
    return out.sort();
  }
}

// ---------------------------------------------------------------------------------------------
// Backends

/** Why a backend can't be used; `soft` ones keep the route (their share gets 500s). */
export interface BackendError extends ConditionError {
  soft: boolean;
}

/** A resolved backend: a host and port, or the error. */
export interface ResolvedBackend {
  /** Empty when the backend is invalid. */
  host: string;
  port?: number;
  error?: BackendError;
}

/** A backendRef of any route kind. */
export interface BackendInput {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

/**
 * Resolves a backendRef of a `routeKind` in `routeNamespace` as Istio's buildDestination does.
 * `enforceGrant` is false for mesh routes (Istio checks ReferenceGrants on Gateways only).
 */
export function resolveBackend(
  to: BackendInput,
  route: { kind: string; namespace: string; enforceGrant: boolean },
  refs: References,
): ResolvedBackend {
  const group = to.group ?? "";
  const kind = to.kind ?? "Service";
  const ns = to.namespace ?? route.namespace;
  const invalid = (reason: string, message: string, soft = true): ResolvedBackend => ({
    host: "",
    error: { reason, message, soft },
  });
  if (route.enforceGrant && to.namespace !== undefined && to.namespace !== route.namespace) {
    if (
      !refs.allowed({
        fromKind: route.kind,
        fromNamespace: route.namespace,
        to: `${group}/${kind}`,
        name: to.name,
        toNamespace: to.namespace,
      })
    ) {
      return invalid(
        "RefNotPermitted",
        `backendRef ${to.name}/${to.namespace} not accessible to a ${route.kind} in namespace ` +
          `"${route.namespace}" (missing a ReferenceGrant?)`,
      );
    }
  }
  let host: string;
  let error: BackendError | undefined;
  if (group === "" && kind === "Service") {
    if (to.name.includes(".")) {
      return invalid(
        "InvalidDestination",
        "service name invalid; the name of the Service must be used, not the hostname.",
        false,
      );
    }
    host = refs.serviceHost(to.name, ns);
  } else if (group === "networking.istio.io" && kind === "Hostname") {
    if (to.namespace !== undefined) {
      return invalid("InvalidDestination", "namespace may not be set with Hostname type", false);
    }
    host = to.name;
  } else if (group === "multicluster.x-k8s.io" && kind === "ServiceImport") {
    host = refs.serviceHost(to.name, ns); // Istio without MCS hosts: the Service itself
  } else if (kind === "InferencePool" || kind === "XBackend") {
    return invalid("InvalidKind", `${kind} backends are not supported by mesh yet`);
  } else {
    return invalid(
      "InvalidKind",
      `referencing unsupported backendRef: group "${to.group ?? ""}" kind "${to.kind ?? ""}"`,
    );
  }
  if (!refs.hasHost(host)) {
    error = { reason: "BackendNotFound", message: `backend(${host}) not found`, soft: true };
  }
  if (to.port === undefined) {
    return invalid("InvalidDestination", "port is required in backendRef", false);
  }
  return { host, port: to.port, ...(error ? { error } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Parents

/** Something a route can attach to: one listener of a Gateway, or the mesh. */
export interface ParentInfo {
  /** `namespace/<gateway>~istio-autogenerated-k8s-gateway~<listener>`, or `mesh`. */
  internalName: string;
  allowedKinds: RouteGroupKind[];
  /** The listener's server hosts (`namespace/hostname`); empty for the mesh. */
  hostnames: string[];
  /** The listener's hostname as written ("" when unset). */
  originalHostname: string;
  sectionName: string;
  port: number;
  protocol: string;
}

/** A route's reference to one parent (one listener of a Gateway, or the mesh). */
export interface RouteParentRef {
  internalName: string;
  /** The kind the parentRef names: `Gateway`, `Service` or `ServiceEntry`. */
  parentKind: string;
  parentNamespace: string;
  parentName: string;
  /** Why the parent refuses the route; undefined when it accepts it. */
  denied?: ConditionError;
  original: ParentReference;
  /** The listener's hostname ("" for none or the mesh). */
  hostname: string;
  /** Hostnames of the Gateway's other listeners on the same port and protocol. */
  banned: Set<string>;
  sectionName: string;
}

/** A parentRef mesh leaves alone, and why. */
export interface IgnoredParentRef {
  index: number;
  why: string;
}

const MESH_KINDS: RouteGroupKind[] = ["HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute"].map((
  kind,
) => ({ group: GATEWAY_API_GROUP, kind }));

const MESH_PARENT: ParentInfo = {
  internalName: "mesh",
  allowedKinds: MESH_KINDS,
  hostnames: [],
  originalHostname: "",
  sectionName: "",
  port: 0,
  protocol: "",
};

/** Istio's `host.Name.Matches`: whether two hostnames (either may be a wildcard) overlap. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/** `group/kind/name/section/port.namespace`, the order Istio sorts parentRefs in. */
export function parentRefString(ref: ParentReference, namespace: string): string {
  return `${ref.group ?? GATEWAY_API_GROUP}/${ref.kind ?? "Gateway"}/${ref.name}/` +
    `${ref.sectionName ?? ""}/${ref.port ?? 0}.${ref.namespace ?? namespace}`;
}

/** A route as far as parents are concerned. */
export interface RouteForParents {
  kind: string;
  namespace: string;
  parentRefs: readonly ParentReference[];
  hostnames: readonly string[];
}

/**
 * The parents of a route: one entry per listener of each referenced Gateway (refused ones with
 * their reason) and one per referenced Service or ServiceEntry (the mesh).
 */
export function routeParents(
  route: RouteForParents,
  gatewayListeners: ReadonlyMap<string, readonly ParentInfo[]>,
  refs: References,
): { parents: RouteParentRef[]; ignored: IgnoredParentRef[] } {
  const parents: RouteParentRef[] = [];
  const ignored: IgnoredParentRef[] = [];
  route.parentRefs.forEach((ref, index) => {
    const group = ref.group ?? GATEWAY_API_GROUP;
    const kind = ref.kind ?? "Gateway";
    const ns = ref.namespace ?? route.namespace;
    let kindName: string;
    if (group === GATEWAY_API_GROUP && kind === "Gateway") kindName = "Gateway";
    else if (group === "" && kind === "Service") kindName = "Service";
    else if (group === "networking.istio.io" && kind === "ServiceEntry") kindName = "ServiceEntry";
    else if (group === GATEWAY_API_GROUP && kind === "ListenerSet") {
      ignored.push({ index, why: "ListenerSet parents are not supported by mesh yet; ignored" });
      return;
    } else {
      ignored.push({
        index,
        why:
          `parent ${group}/${kind} is not one Istio handles (maybe another controller's); ignored`,
      });
      return;
    }
    const candidates = kindName === "Gateway"
      ? gatewayListeners.get(`${ns}/${ref.name}`) ?? []
      : [MESH_PARENT];
    if (candidates.length === 0) {
      ignored.push({
        index,
        why: `Gateway ${ns}/${ref.name} not found, or not of a GatewayClass Istio handles; ` +
          "the route has no status for it",
      });
    }
    for (const p of candidates) {
      const banned = new Set<string>();
      for (const other of candidates) {
        if (other !== p && other.port === p.port && other.protocol === p.protocol) {
          banned.add(other.originalHostname);
        }
      }
      banned.delete(p.originalHostname);
      parents.push({
        internalName: p.internalName,
        parentKind: kindName,
        parentNamespace: ns,
        parentName: ref.name,
        original: ref,
        hostname: p.originalHostname,
        banned,
        sectionName: p.sectionName,
        ...deniedField(referenceDenied(p, { kindName, ref, namespace: ns, route, refs })),
      });
    }
  });
  parents.sort((a, b) => {
    const ka = parentRefString(a.original, route.namespace);
    const kb = parentRefString(b.original, route.namespace);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return { parents, ignored };
}

function deniedField(denied: ConditionError | undefined): { denied?: ConditionError } {
  return denied ? { denied } : {};
}

/** Istio's referenceAllowed: why parent `p` refuses the route, or undefined. */
function referenceDenied(
  p: ParentInfo,
  at: {
    kindName: string;
    ref: ParentReference;
    namespace: string;
    route: RouteForParents;
    refs: References;
  },
): ConditionError | undefined {
  const { kindName, ref, namespace: ns, route, refs } = at;
  if (kindName === "Service" && !refs.hasHost(refs.serviceHost(ref.name, ns))) {
    return { reason: "NoMatchingParent", message: `parent service: "${ref.name}" not found` };
  }
  if (kindName === "ServiceEntry" && !refs.serviceEntry(ns, ref.name)) {
    return {
      reason: "NoMatchingParent",
      message: `parent service entry: "${ref.name}" not found`,
    };
  }
  if (kindName === "Gateway") {
    if (ref.port !== undefined && ref.port !== p.port) {
      return { reason: "NoMatchingParent", message: `port ${ref.port} not found` };
    }
    if (ref.sectionName !== undefined && ref.sectionName !== p.sectionName) {
      return { reason: "NoMatchingParent", message: `sectionName "${ref.sectionName}" not found` };
    }
    const hostnames = route.hostnames.length ? route.hostnames : ["*"];
    if (p.hostnames.length > 0) {
      let matched = false;
      let hostMatched = false;
      for (const rh of hostnames) {
        for (const entry of p.hostnames) {
          const slash = entry.indexOf("/");
          const pns = slash < 0 ? "*" : entry.slice(0, slash);
          const ph = slash < 0 ? entry : entry.slice(slash + 1);
          const hostMatch = hostsOverlap(ph, rh);
          hostMatched ||= hostMatch;
          if (hostMatch && (pns === "*" || pns === route.namespace)) matched = true;
        }
      }
      if (!matched) {
        return hostMatched
          ? {
            reason: "NotAllowedByListeners",
            message: `hostnames matched parent hostname "${p.originalHostname}", but namespace ` +
              `"${route.namespace}" is not allowed by the parent`,
          }
          : {
            reason: "NoMatchingListenerHostname",
            message: `no hostnames matched parent hostname "${p.originalHostname}"`,
          };
      }
    }
  }
  if (!p.allowedKinds.some((k) => k.kind === route.kind && k.group === GATEWAY_API_GROUP)) {
    return {
      reason: "NotAllowedByListeners",
      message: `kind ${GATEWAY_API_GROUP}/v1/${route.kind} is not allowed`,
    };
  }
  return undefined;
}

/** The accepted parents, sorted by internal name (Istio's filteredReferences). */
export function acceptedParents(parents: readonly RouteParentRef[]): RouteParentRef[] {
  return parents.filter((p) => !p.denied).sort((a, b) =>
    a.internalName < b.internalName ? -1 : a.internalName > b.internalName ? 1 : 0
  );
}

/**
 * Whether a route host bound to a wildcard listener belongs to it rather than to a more
 * specific listener of the same Gateway, port and protocol (Istio's hostname isolation).
 */
export function hostnameAllowedByIsolation(parent: RouteParentRef, routeHost: string): boolean {
  const ours = parent.hostname;
  if (ours !== "" && !ours.startsWith("*")) return true;
  if (ours !== "" && !hostsOverlap(routeHost, ours)) return false;
  for (const other of parent.banned) {
    if (ours.length > other.length) continue;
    if (hostMatches(other, routeHost)) return false;
  }
  return true;
}
