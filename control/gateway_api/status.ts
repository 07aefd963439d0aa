/**
 * Status of Gateway API objects as Istio computes it: conditions (Accepted, Programmed,
 * ResolvedRefs, Conflicted) with Istio's reasons and messages, per Gateway and listener, per
 * route parent, per GatewayClass. The file source has nowhere to write status, so mesh shows it
 * as diagnostics ({@linkcode statusDiagnostics}: `mesh validate`, the control plane's
 * `/debug/configz`) and keeps the status objects ({@linkcode StatusReport}) for a Kubernetes
 * source to write.
 * @module
 */

import type { Diagnostic } from "../../api/diagnostic.ts";
import type { ParentReference } from "../../api/schemas/gateway_api/common.ts";

/** The controller name Istio reports in route status. */
export const CONTROLLER_NAME = "istio.io/gateway-controller";

/** One status condition (without the timestamps and generation Kubernetes adds). */
export interface Condition {
  type: string;
  status: "True" | "False";
  reason: string;
  message: string;
}

/** A problem that turns a condition around (its status inverted, its reason and message). */
export interface ConditionError {
  reason: string;
  message: string;
}

/** A condition as computed: the success state, and an error that overrides it. */
export interface ConditionSpec {
  reason: string;
  message: string;
  /** The status on success (default True; Conflicted is False when all is well). */
  status?: "True" | "False";
  error?: ConditionError;
}

/** Conditions from specs, sorted by type as Istio sets them. */
export function conditionsOf(specs: Record<string, ConditionSpec>): Condition[] {
  return Object.keys(specs).sort().map((type) => {
    const c = specs[type];
    const ok = c.status ?? "True";
    if (c.error) {
      return {
        type,
        status: ok === "True" ? "False" : "True",
        reason: c.error.reason,
        message: c.error.message,
      };
    }
    return { type, status: ok, reason: c.reason, message: c.message };
  });
}

/** A route kind a listener supports. */
export interface RouteGroupKind {
  group: string;
  kind: string;
}

/** Status of one listener of a Gateway. */
export interface ListenerStatus {
  name: string;
  attachedRoutes: number;
  supportedKinds: RouteGroupKind[];
  conditions: Condition[];
}

/** Status of a Gateway. */
export interface GatewayStatus {
  conditions: Condition[];
  listeners: ListenerStatus[];
}

/** Status of a route for one of its parents. */
export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

/** Status of a route. */
export interface RouteStatus {
  parents: RouteParentStatus[];
}

/** Status of a GatewayClass. */
export interface GatewayClassStatus {
  conditions: Condition[];
}

/** The status of one Gateway API object, with what it belongs to. */
export interface StatusReport {
  /** The document kind (`Gateway`, `HTTPRoute`, ...). */
  kind: string;
  apiVersion: string;
  namespace?: string;
  name: string;
  /** Where the object was read from, for diagnostics. */
  source?: { file: string; line: number };
  status: GatewayStatus | RouteStatus | GatewayClassStatus;
}

/** The conditions that are healthy when True (Conflicted is healthy when False). */
const HEALTHY_FALSE = new Set(["Conflicted"]);

function unhealthy(c: Condition): boolean {
  return HEALTHY_FALSE.has(c.type) ? c.status === "True" : c.status === "False";
}

/**
 * One warning per unhealthy condition of each report: a route parent that wasn't accepted or
 * whose references didn't resolve, a listener or Gateway that isn't accepted or programmed.
 */
export function statusDiagnostics(reports: readonly StatusReport[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rep of reports) {
    const where = {
      severity: "warning" as const,
      file: rep.source?.file ?? "<gateway-api>",
      line: rep.source?.line ?? 1,
      column: 1,
      kind: rep.kind,
      ...(rep.namespace !== undefined ? { namespace: rep.namespace } : {}),
      name: rep.name,
    };
    const add = (path: string, what: string, c: Condition) =>
      out.push({
        ...where,
        path,
        message: `${what}${c.type} ${c.status} (${c.reason}): ${c.message}`,
      });
    const s = rep.status;
    if ("parents" in s) {
      s.parents.forEach((p, i) => {
        const ref = `${p.parentRef.kind ?? "Gateway"} ${p.parentRef.namespace ?? rep.namespace}/` +
          `${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ""}` +
          `${p.parentRef.port ? `:${p.parentRef.port}` : ""}`;
        for (const c of p.conditions) {
          if (unhealthy(c)) add(`status.parents[${i}]`, `parent ${ref}: `, c);
        }
      });
      continue;
    }
    for (const c of s.conditions) if (unhealthy(c)) add("status", "", c);
    if ("listeners" in s) {
      s.listeners.forEach((l, i) => {
        for (const c of l.conditions) {
          if (unhealthy(c)) add(`status.listeners[${i}]`, `listener ${l.name}: `, c);
        }
      });
    }
  }
  return out;
}

/** How a route fared with one parent (one listener, or the mesh). */
export interface RouteParentResult {
  original: ParentReference;
  /** Why the parent refused the route. */
  denied?: ConditionError;
  /** Why the route's references didn't all resolve (or its rules failed). */
  routeError?: ConditionError;
}

const DENIAL_RANK: Record<string, number> = {
  NotAllowedByListeners: 1,
  NoMatchingListenerHostname: 2,
  ParentRefConflict: 3,
  NoMatchingParent: 4,
};

/**
 * Istio's route status: one entry per parentRef (its listeners' results merged: accepted if any
 * listener accepted it, else the mildest refusal, same-rank messages joined), in Istio's order.
 */
export function routeParentStatuses(
  results: readonly RouteParentResult[],
  namespace: string,
  refString: (ref: ParentReference, namespace: string) => string,
): RouteParentStatus[] {
  const byRef = new Map<string, RouteParentResult[]>();
  const success = new Map<string, number>();
  for (const r of results) {
    const key = JSON.stringify(r.original, Object.keys(r.original).sort());
    if (!byRef.has(key)) byRef.set(key, []);
    byRef.get(key)!.push(r);
    if (!r.denied) success.set(key, (success.get(key) ?? 0) + 1);
  }
  const rank = (r: RouteParentResult) => (r.denied ? DENIAL_RANK[r.denied.reason] ?? 0 : 0);
  const out: RouteParentStatus[] = [];
  for (const [key, list] of byRef) {
    let pick: RouteParentResult = {
      ...list[0],
      ...(list[0].denied ? { denied: { ...list[0].denied } } : {}),
    };
    for (const r of list.slice(1)) {
      if (rank(r) < rank(pick)) pick = { ...r, ...(r.denied ? { denied: { ...r.denied } } : {}) };
      else if (rank(r) === rank(pick) && r.denied) {
        pick.denied = pick.denied
          ? { ...pick.denied, message: `${pick.denied.message}; ${r.denied.message}` }
          : r.denied;
      }
    }
    const n = success.get(key) ?? 0;
    const specs: Record<string, ConditionSpec> = {
      Accepted: {
        reason: "Accepted",
        message: n > 1 ? `Route was valid, bound to ${n} parents` : "Route was valid",
      },
      ResolvedRefs: { reason: "ResolvedRefs", message: "All references resolved" },
    };
    if (pick.routeError) specs.ResolvedRefs.error = pick.routeError;
    if (pick.denied) specs.Accepted.error = pick.denied;
    out.push({
      parentRef: pick.original,
      controllerName: CONTROLLER_NAME,
      conditions: conditionsOf(specs),
    });
  }
  return out.sort((a, b) => {
    const ka = refString(a.parentRef, namespace);
    const kb = refString(b.parentRef, namespace);
    return ka > kb ? -1 : ka < kb ? 1 : 0;
  });
}
