/**
 * The Gateway API in mesh: Gateways, GatewayClasses, HTTPRoutes, GRPCRoutes, TCPRoutes,
 * TLSRoutes and ReferenceGrants converted into Istio Gateways and VirtualServices, as istiod
 * converts them (pilot/pkg/config/kube/gateway), with the status Istio would write. The control
 * plane puts the converted resources into its snapshot beside the user's (control/snapshot.ts).
 *
 * @example
 * ```ts
 * import { parseResources } from "../../api/resources.ts";
 * import { convertGatewayApi } from "./convert.ts";
 *
 * const { resources } = parseResources(await Deno.readTextFile("gateway.yaml"), "gateway.yaml");
 * const out = convertGatewayApi(resources);
 * out.gateways; // Istio Gateways, one per listener
 * out.virtualServices; // one per listener and hostname
 * out.diagnostics; // routes and listeners that aren't accepted, and what mesh does differently
 * ```
 * @module
 */

import type { Diagnostic } from "../../api/diagnostic.ts";
import type { Gateway, Resource, VirtualService } from "../../api/resources.ts";
import { convertGateways, type Note } from "./convert_gateway.ts";
import { convertRoutes } from "./convert_routes.ts";
import { type ConvertOptions, References } from "./references.ts";
import { type GatewayStatus, statusDiagnostics, type StatusReport } from "./status.ts";

export type { ConvertOptions } from "./references.ts";
export type { StatusReport } from "./status.ts";
export { GATEWAY_NAME_LABEL, GATEWAY_SEMANTICS } from "./convert_gateway.ts";

/** What the Gateway API resources of a config become. */
export interface GatewayApiResult {
  /** Istio Gateways, one per listener, selecting `gateway.networking.k8s.io/gateway-name`. */
  gateways: Gateway[];
  virtualServices: VirtualService[];
  /** The status Istio would write on each Gateway API object it handles. */
  statuses: StatusReport[];
  /**
   * Warnings: every condition that isn't healthy (a route a parent refuses, a listener that
   * isn't programmed, ...), and what mesh does differently or leaves out.
   */
  diagnostics: Diagnostic[];
}

const EMPTY: GatewayApiResult = Object.freeze({
  gateways: [],
  virtualServices: [],
  statuses: [],
  diagnostics: [],
}) as GatewayApiResult;

function noteDiagnostic(n: Note): Diagnostic {
  return {
    severity: "warning",
    file: n.source.file,
    line: n.source.line,
    column: 1,
    path: n.path,
    kind: n.kind,
    ...(n.namespace !== undefined ? { namespace: n.namespace } : {}),
    name: n.name,
    message: n.message,
  };
}

/** Converts the Gateway API resources among `resources`. Pure; never throws on valid input. */
export function convertGatewayApi(
  resources: readonly Resource[],
  options: ConvertOptions = {},
): GatewayApiResult {
  if (!resources.some((r) => r.metadata && isGatewayApi(r.kind))) return EMPTY;
  const refs = new References(resources, options);
  const gws = convertGateways(resources, refs);
  const routes = convertRoutes(resources, gws.listeners, refs);
  // Attached routes are known once the routes are.
  for (const [key, rep] of gws.statuses) {
    if (!key.startsWith("Gateway/")) continue;
    const s = rep.status as GatewayStatus;
    for (const l of s.listeners) {
      l.attachedRoutes = routes.attachments.get(`${rep.namespace}/${rep.name}/${l.name}`) ?? 0;
    }
  }
  const statuses = [...gws.statuses.values(), ...routes.statuses];
  return {
    gateways: gws.gateways,
    virtualServices: routes.virtualServices,
    statuses,
    diagnostics: [
      ...statusDiagnostics(statuses),
      ...gws.notes.map(noteDiagnostic),
      ...routes.notes.map(noteDiagnostic),
    ].sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line),
  };
}

const KINDS = new Set([
  "KubernetesGateway",
  "GatewayClass",
  "HTTPRoute",
  "GRPCRoute",
  "TCPRoute",
  "TLSRoute",
  "ReferenceGrant",
]);

/** Whether a kind id is one of the Gateway API's. */
export function isGatewayApi(kind: string): boolean {
  return KINDS.has(kind);
}
