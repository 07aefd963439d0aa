/**
 * Gateway API routes → Istio VirtualServices, as Istio converts them. Each route binds to the
 * listeners its parentRefs name (Gateways) or to the mesh (a Service or ServiceEntry parent:
 * sidecars route requests for that service, GAMMA); HTTP and gRPC routes of every route are
 * merged per listener and hostname (or per namespace, port and service for the mesh) into one
 * VirtualService, in the Gateway API's precedence order. TCPRoutes and TLSRoutes become one
 * VirtualService per parent and hostname (l4_routes.ts).
 * @module
 */

import type { HTTPRoute, Resource, VirtualService } from "../../api/resources.ts";
import { matchesOf } from "../../api/schemas/gateway_api/http_route.ts";
import {
  acceptedParents,
  type BackendError,
  hostnameAllowedByIsolation,
  type ParentInfo,
  parentRefString,
  type References,
  type RouteParentRef,
  routeParents,
} from "./references.ts";
import {
  convertGrpcRule,
  convertHttpRule,
  meshRoutes,
  type RuleContext,
  type RuleResult,
  sortRoutes,
} from "./http_rules.ts";
import type { Note } from "./convert_gateway.ts";
import { l4VirtualServices } from "./l4_routes.ts";
import { routeParentStatuses, type StatusReport } from "./status.ts";

/** Gateway API route kinds. */
export type RouteKind = "HTTPRoute" | "GRPCRoute" | "TCPRoute" | "TLSRoute";
/** A route of any kind. */
export type AnyRoute = Resource<RouteKind>;

/** What the routes become. */
export interface RouteConversion {
  virtualServices: VirtualService[];
  statuses: StatusReport[];
  /** Routes attached to each listener, by `namespace/gateway/listener`. */
  attachments: Map<string, number>;
  notes: Note[];
}

/** Rules converted for one kind of parent. */
export interface ConversionResult<T> {
  routes: T[];
  error?: BackendError;
}

/** Istio's computeRoute loop: a hard error drops every route, a soft one is remembered. */
export function collect<T>(
  results: Iterable<{ route?: T; error?: BackendError }>,
): ConversionResult<T> {
  const out: ConversionResult<T> = { routes: [] };
  for (const r of results) {
    if (r.route === undefined) return { routes: [], ...(r.error ? { error: r.error } : {}) };
    if (r.error) out.error = r.error;
    out.routes.push(r.route);
  }
  return out;
}

/** Sort key of routes: creation time (when given), then namespace/name, as Istio orders them. */
export function creationKey(r: Resource): string {
  const ts = r.metadata.creationTimestamp;
  return `${typeof ts === "string" ? ts : ""}\u0000${r.metadata.namespace}\u0000${r.metadata.name}`;
}

/** The hosts a mesh parent stands for: the Service's FQDN, or the ServiceEntry's hosts. */
export function meshHosts(p: RouteParentRef, refs: References): string[] {
  if (p.parentKind === "ServiceEntry") {
    return [...(refs.serviceEntry(p.parentNamespace, p.parentName)?.spec.hosts ?? [])];
  }
  return [refs.serviceHost(p.parentName, p.parentNamespace)];
}

function* httpRules(
  route: Resource<"HTTPRoute" | "GRPCRoute">,
  ctx: RuleContext,
): Iterable<RuleResult> {
  if (route.kind === "HTTPRoute") {
    const rules = route.spec.rules ?? [{}];
    for (const [i, rule] of rules.entries()) {
      for (const m of matchesOf(rule)) yield convertHttpRule(rule, m, i, ctx);
    }
    return;
  }
  for (const [i, rule] of (route.spec.rules ?? []).entries()) {
    const ms = rule.matches?.length ? rule.matches : [undefined];
    for (const m of ms) yield convertGrpcRule(rule, m, i, ctx);
  }
}

function withPort(routes: readonly HTTPRoute[], port: number | undefined): HTTPRoute[] {
  if (port === undefined) return routes.map((r) => structuredClone(r));
  return routes.map((r) => {
    const c = structuredClone(r);
    c.match = c.match?.length ? c.match.map((m) => ({ ...m, port })) : [{ port }];
    return c;
  });
}

interface Candidate {
  key: string;
  order: string;
  namespace: string;
  host: string;
  gateway: string;
  mesh: boolean;
  exportLocal: boolean;
  parents: string;
  source: { file: string; line: number };
  http: HTTPRoute[];
}

/** Converts every route of `resources` against the listeners of the converted Gateways. */
export function convertRoutes(
  resources: readonly Resource[],
  listeners: ReadonlyMap<string, readonly ParentInfo[]>,
  refs: References,
): RouteConversion {
  const out: RouteConversion = {
    virtualServices: [],
    statuses: [],
    attachments: new Map(),
    notes: [],
  };
  const routes = resources.filter((r): r is AnyRoute =>
    r.kind === "HTTPRoute" || r.kind === "GRPCRoute" || r.kind === "TCPRoute" ||
    r.kind === "TLSRoute"
  ).sort((a, b) => (creationKey(a) < creationKey(b) ? -1 : 1));
  const candidates: Candidate[] = [];
  for (const route of routes) {
    const ns = route.metadata.namespace;
    const hostnames = "hostnames" in route.spec ? route.spec.hostnames ?? [] : [];
    const { parents, ignored } = routeParents(
      { kind: route.kind, namespace: ns, parentRefs: route.spec.parentRefs ?? [], hostnames },
      listeners,
      refs,
    );
    for (const ig of ignored) {
      out.notes.push({
        kind: route.kind,
        namespace: ns,
        name: route.metadata.name,
        source: route.source,
        path: `spec.parentRefs[${ig.index}]`,
        message: ig.why,
      });
    }
    const needMesh = parents.some((p) => p.internalName === "mesh");
    const needGw = parents.some((p) => p.internalName !== "mesh");
    const convert = (mesh: boolean) => {
      const ctx = {
        kind: route.kind,
        namespace: ns,
        name: route.metadata.name,
        enforceGrant: !mesh,
        refs,
      };
      return route.kind === "HTTPRoute" || route.kind === "GRPCRoute"
        ? collect(httpRules(route as Resource<"HTTPRoute" | "GRPCRoute">, ctx as RuleContext))
        : undefined;
    };
    const l4 = route.kind === "TCPRoute" || route.kind === "TLSRoute";
    const meshResult = needMesh ? (l4 ? undefined : convert(true)) : undefined;
    const gwResult = needGw ? (l4 ? undefined : convert(false)) : undefined;
    let meshError = meshResult?.error;
    let gwError = gwResult?.error;
    if (l4) {
      const res = l4VirtualServices(route as Resource<"TCPRoute" | "TLSRoute">, parents, refs, {
        needMesh,
        needGw,
      });
      out.virtualServices.push(...res.virtualServices);
      meshError = res.meshError;
      gwError = res.gwError;
    }
    out.statuses.push({
      kind: route.kind,
      apiVersion: route.apiVersion,
      namespace: ns,
      name: route.metadata.name,
      source: route.source,
      status: {
        parents: routeParentStatuses(
          parents.map((p) => {
            const routeError = p.internalName === "mesh" ? meshError : gwError;
            return {
              original: p.original,
              ...(p.denied ? { denied: p.denied } : {}),
              ...(routeError
                ? { routeError: { reason: routeError.reason, message: routeError.message } }
                : {}),
            };
          }),
          ns,
          parentRefString,
        ),
      },
    });
    const accepted = acceptedParents(parents);
    for (const p of accepted) {
      if (p.parentKind !== "Gateway") continue;
      const key = `${p.parentNamespace}/${p.parentName}/${p.sectionName}`;
      out.attachments.set(key, (out.attachments.get(key) ?? 0) + 1);
    }
    if (l4) continue;
    for (const p of accepted) {
      const mesh = p.internalName === "mesh";
      let key = p.internalName;
      let hosts = hostnames.length ? [...hostnames] : ["*"];
      let http = (mesh ? meshResult : gwResult)?.routes ?? [];
      if (mesh) {
        key = ns;
        http = withPort(http, p.original.port);
        if (p.original.port !== undefined) key += `/${p.original.port}`;
        hosts = meshHosts(p, refs);
      } else http = withPort(http, undefined);
      if (http.length === 0) continue;
      for (const h of hosts) {
        if (!hostnameAllowedByIsolation(p, h)) continue;
        candidates.push({
          key: `${key}/${h}`,
          order: creationKey(route),
          namespace: ns,
          host: h,
          gateway: p.internalName,
          mesh,
          exportLocal: mesh && p.parentNamespace !== ns,
          parents: `${route.kind}/${route.metadata.name}.${ns}`,
          source: route.source,
          http: sortRoutes(http),
        });
      }
    }
  }
  out.virtualServices.push(...mergeCandidates(candidates, refs.istioForm));
  return out;
}

/** Istio's mergeHTTPRoutes: one VirtualService per key, routes in precedence order. */
function mergeCandidates(candidates: readonly Candidate[], istioForm: boolean): VirtualService[] {
  const byKey = new Map<string, Candidate[]>();
  for (const c of candidates) {
    if (!byKey.has(c.key)) byKey.set(c.key, []);
    byKey.get(c.key)!.push(c);
  }
  const out: VirtualService[] = [];
  for (const [key, list] of byKey) {
    list.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const base = list[0];
    const http = sortRoutes(list.flatMap((c) => c.http));
    out.push({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: {
        name: key.replaceAll("/", "~"),
        namespace: base.namespace,
        annotations: {
          "internal.istio.io/route-semantics": "gateway",
          "internal.istio.io/parents": list.map((c) => c.parents).join(","),
        },
      },
      spec: {
        hosts: [base.host],
        gateways: [base.gateway],
        http: istioForm ? http : meshRoutes(http),
        ...(base.exportLocal && !istioForm ? { exportTo: ["."] } : {}),
      },
      source: base.source,
    });
  }
  return out;
}
