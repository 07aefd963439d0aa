/**
 * WorkloadGroup (`networking.istio.io`): template, metadata and readiness probe.
 * @module
 */

import { z } from "zod";
import {
  checkLabels,
  checkOneOf,
  labelMap,
  nonEmptyList,
  nonNegativeInt32,
  type Path,
  portNumber,
  quote,
  type Reporter,
  SIMPLE_HEADER_NAME,
} from "./common.ts";
import { labels } from "./http_route.ts";
import { checkWorkloadEntry, workloadEntryShape } from "./workload_entry.ts";

const readinessProbe = z.strictObject({
  initialDelaySeconds: nonNegativeInt32.optional(),
  timeoutSeconds: nonNegativeInt32.optional(),
  periodSeconds: nonNegativeInt32.optional(),
  successThreshold: nonNegativeInt32.optional(),
  failureThreshold: nonNegativeInt32.optional(),
  httpGet: z.strictObject({
    path: z.string().optional(),
    port: portNumber,
    host: z.string().optional(),
    scheme: z.string().optional(),
    httpHeaders: z.array(z.strictObject({
      name: z.string().optional(),
      value: z.string().optional(),
    })).optional(),
  }).optional(),
  tcpSocket: z.strictObject({ host: z.string().optional(), port: portNumber }).optional(),
  exec: z.strictObject({
    command: nonEmptyList(z.string().min(1), "exec needs a command"),
  }).optional(),
  grpc: z.strictObject({ port: portNumber.optional(), service: z.string().optional() })
    .optional(),
});
/** How a WorkloadGroup's instances are probed for readiness. */
export type ReadinessProbe = z.infer<typeof readinessProbe>;
/** The readiness probe schema (shared with MeshConfig's proxy config). */
export const readinessProbeSchema = readinessProbe;

/** The schema of a WorkloadGroup `spec`. */
export const workloadGroupSpec = z.strictObject({
  metadata: z.strictObject({
    labels: labels.optional(),
    annotations: labelMap.optional(),
  }).optional(),
  template: z.strictObject(workloadEntryShape()),
  probe: readinessProbe.optional(),
});
/** `spec` of a WorkloadGroup (validated, not enforced). */
export type WorkloadGroupSpec = z.infer<typeof workloadGroupSpec>;

/** Checks a WorkloadGroup spec. */
export function checkWorkloadGroup(spec: WorkloadGroupSpec, r: Reporter): void {
  checkLabels(spec.metadata?.labels, ["spec", "metadata", "labels"], r);
  checkWorkloadEntry(spec.template, ["spec", "template"], r, undefined, true);
  if (spec.probe) checkProbe(spec.probe, ["spec", "probe"], r);
}

/** Checks a readiness probe. */
export function checkProbe(probe: ReadinessProbe, path: Path, r: Reporter): void {
  checkOneOf(probe, ["httpGet", "tcpSocket", "exec", "grpc"], path, r, true);
  const http = probe.httpGet;
  if (http) {
    if (
      http.scheme !== undefined && http.scheme !== "" && http.scheme !== "HTTP" &&
      http.scheme !== "HTTPS"
    ) {
      r.error(
        [...path, "httpGet", "scheme"],
        `scheme must be HTTP or HTTPS; got ${quote(http.scheme)}`,
      );
    }
    http.httpHeaders?.forEach((h, i) => {
      if (!h.name || !SIMPLE_HEADER_NAME.test(h.name)) {
        r.error(
          [...path, "httpGet", "httpHeaders", i, "name"],
          `invalid header name ${quote(h.name ?? "")}; use letters, digits, '-' and '_'`,
        );
      }
    });
  }
}
