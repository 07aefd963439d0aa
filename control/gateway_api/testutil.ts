/**
 * Helpers of the control/gateway_api tests: YAML in, conversion out, with services as
 * ServiceEntries and short summaries of what came out.
 * @module
 */
import { formatDiagnostic } from "../../api/diagnostic.ts";
import { parseResources, type VirtualService } from "../../api/resources.ts";
import { convertGatewayApi, type ConvertOptions, type GatewayApiResult } from "./convert.ts";
import type { Condition, GatewayStatus, RouteStatus } from "./status.ts";

/** ServiceEntries for `hosts` (`name.namespace.svc.cluster.local` or any host), port 80. */
export function services(hosts: readonly string[]): string {
  return hosts.map((h, i) =>
    `---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: svc-${i}, namespace: default}\n` +
    `spec: {hosts: [${h}], ports: [{number: 80, name: http}], resolution: STATIC}\n`
  ).join("");
}

/** Parses `yaml` (errors throw) and converts it. */
export function convert(
  yaml: string,
  options: ConvertOptions & { hosts?: string[] } = {},
): GatewayApiResult {
  const { hosts = [], ...opts } = options;
  const parsed = parseResources(`${yaml}\n${services(hosts)}`, "test.yaml");
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (errors.length) throw new Error(errors.map(formatDiagnostic).join("\n"));
  return convertGatewayApi(parsed.resources, opts);
}

/** `Type=Status/Reason` of each condition. */
export function conds(cs: readonly Condition[]): string[] {
  return cs.map((c) => `${c.type}=${c.status}/${c.reason}`);
}

/** The status of `Kind/namespace/name`. */
export function statusOf<T extends GatewayStatus | RouteStatus>(
  out: GatewayApiResult,
  key: string,
): T {
  const s = out.statuses.find((s) => `${s.kind}/${s.namespace ?? ""}/${s.name}` === key);
  if (!s) {
    throw new Error(
      `no status for ${key}: ${out.statuses.map((s) => `${s.kind}/${s.namespace}/${s.name}`)}`,
    );
  }
  return s.status as T;
}

/** The VirtualService named `ns/name`. */
export function vs(out: GatewayApiResult, key: string): VirtualService {
  const v = out.virtualServices.find((v) => `${v.metadata.namespace}/${v.metadata.name}` === key);
  if (!v) {
    throw new Error(
      `no VirtualService ${key}: ${
        out.virtualServices.map((v) => `${v.metadata.namespace}/${v.metadata.name}`)
      }`,
    );
  }
  return v;
}

/** The Gateway of Istio's classes: class `istio`, one or more listeners (YAML list items). */
export function gateway(
  listeners: string,
  opts: { name?: string; namespace?: string; extra?: string } = {},
) {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${opts.name ?? "gateway"}, namespace: ${opts.namespace ?? "istio-system"}}
spec:
  gatewayClassName: istio
  listeners:
${listeners.replace(/^\n/, "").split("\n").map((l) => `  ${l}`).join("\n")}
${opts.extra ?? ""}
---
`;
}
