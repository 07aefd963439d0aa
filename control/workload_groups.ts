/**
 * WorkloadGroup auto-registration (Istio's `ISTIO_META_AUTO_REGISTER_GROUP`): a proxy started
 * with `--workload-group=NAME` registers its workload as a WorkloadEntry made from the group
 * `NAME` in its namespace:
 *
 * - labels: the template's, then the group's `metadata.labels`, then the proxy's own (later
 *   ones win, as Istio merges them);
 * - ports, weight and locality from the template; the address is the proxy's;
 * - the template's `serviceAccount`, when set, must be the proxy's identity: a proxy of
 *   another service account is not registered (logged), as istiod refuses it;
 * - a group that doesn't exist registers nothing (logged) until it does;
 * - with a `probe`, the entry takes traffic only while its proxy reports the probe passing
 *   (no report yet counts as not ready, as a pod before its first readiness check).
 *
 * Workloads registered without a group are kept as they are.
 *
 * @example
 * ```ts
 * const workloads = groupWorkloads(hub.workloads(), snapshot.workloadGroups);
 * ```
 * @module
 */
import type { HealthProbe } from "../api/proxy_config.ts";
import type { WorkloadGroup } from "../api/resources.ts";
import type { ReadinessProbe } from "../api/schemas/workload_group.ts";
import type { RegisteredWorkload } from "./snapshot.ts";
import { logger } from "../util/log.ts";

const log = logger("registry");

/** Refusals already logged (group/node), so a rebuild doesn't log them again. */
const logged = new Set<string>();

/** The group `name` in `namespace`. */
export function findGroup(
  groups: readonly WorkloadGroup[],
  namespace: string,
  name: string,
): WorkloadGroup | undefined {
  return groups.find((g) => g.metadata.namespace === namespace && g.metadata.name === name);
}

/** Registered workloads with their groups' templates applied; unready and refused ones left out. */
export function groupWorkloads(
  workloads: readonly RegisteredWorkload[],
  groups: readonly WorkloadGroup[],
): RegisteredWorkload[] {
  const out: RegisteredWorkload[] = [];
  for (const w of workloads) {
    if (!w.group) {
      out.push(w);
      continue;
    }
    const g = findGroup(groups, w.namespace, w.group);
    const key = `${w.namespace}/${w.group}/${w.nodeId}`;
    if (!g) {
      refuse(key, "its WorkloadGroup doesn't exist; it registers once the group does", w);
      continue;
    }
    const t = g.spec.template;
    if (t.serviceAccount && t.serviceAccount !== w.serviceAccount) {
      refuse(
        key,
        `the WorkloadGroup's template wants service account ${t.serviceAccount}, the proxy is ` +
          w.serviceAccount,
        w,
      );
      continue;
    }
    logged.delete(key);
    if (g.spec.probe && w.healthy !== true) continue; // not ready: no traffic
    out.push({
      ...w,
      labels: { ...(t.labels ?? {}), ...(g.spec.metadata?.labels ?? {}), ...w.labels },
      // The proxy's own locality first, as istiod takes the bootstrap node's.
      ...(!w.locality && t.locality ? { locality: t.locality } : {}),
    });
  }
  return out;
}

function refuse(key: string, why: string, w: RegisteredWorkload): void {
  if (logged.has(key)) return;
  if (logged.size > 10_000) logged.clear();
  logged.add(key);
  log.warn(`a proxy's workload is not registered: ${why}`, {
    group: `${w.namespace}/${w.group}`,
    node: w.nodeId,
  });
}

/** A group's probe with Istio's defaults (period 10 s, timeout 1 s, thresholds 1 and 3). */
export function healthProbeOf(p: ReadinessProbe | undefined): HealthProbe | undefined {
  if (!p || (!p.httpGet && !p.tcpSocket && !p.exec)) return undefined;
  const positive = (v: number | undefined, d: number) => (v && v > 0 ? v : d);
  return {
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    timeoutSeconds: positive(p.timeoutSeconds, 1),
    periodSeconds: positive(p.periodSeconds, 10),
    successThreshold: positive(p.successThreshold, 1),
    failureThreshold: positive(p.failureThreshold, 3),
    ...(p.httpGet
      ? {
        httpGet: {
          path: p.httpGet.path || "/",
          port: p.httpGet.port,
          ...(p.httpGet.host ? { host: p.httpGet.host } : {}),
          scheme: p.httpGet.scheme?.toUpperCase() === "HTTPS" ? "HTTPS" as const : "HTTP" as const,
          ...(p.httpGet.httpHeaders?.length
            ? {
              headers: p.httpGet.httpHeaders.map((h) => ({
                name: h.name ?? "",
                value: h.value ?? "",
              })),
            }
            : {}),
        },
      }
      : p.tcpSocket
      ? {
        tcpSocket: {
          port: p.tcpSocket.port,
          ...(p.tcpSocket.host ? { host: p.tcpSocket.host } : {}),
        },
      }
      : { exec: { command: [...p.exec!.command] } }),
  };
}
