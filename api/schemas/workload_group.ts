/**
 * WorkloadGroup (`networking.istio.io`): template, metadata and readiness probe, validated as
 * Istio's ValidateWorkloadGroup and the CRD do (the template is not validated as a
 * WorkloadEntry: its address is filled in when a workload joins).
 * @module
 */

import { z } from "zod";
import {
  countSet,
  labelMap,
  nonNegativeInt32,
  type Path,
  portNumber,
  quote,
  type Reporter,
} from "./common.ts";
import { checkEntryShape, checkIstioLabels, workloadEntryShape } from "./workload_entry.ts";

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
    command: z.array(z.string().min(1, { error: "exec commands may not be empty strings" })),
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
    labels: labelMap.optional(),
    annotations: labelMap.optional(),
  }).optional(),
  template: z.strictObject(workloadEntryShape()),
  probe: readinessProbe.optional(),
});
/** `spec` of a WorkloadGroup (validated, not enforced). */
export type WorkloadGroupSpec = z.infer<typeof workloadGroupSpec>;

/** Checks a WorkloadGroup spec. */
export function checkWorkloadGroup(spec: WorkloadGroupSpec, r: Reporter): void {
  const meta = spec.metadata;
  checkIstioLabels(meta?.labels, ["spec", "metadata", "labels"], r);
  for (const [field, map] of [["labels", meta?.labels], ["annotations", meta?.annotations]]) {
    if (typeof map === "object" && Object.keys(map).length > 256) {
      r.error(["spec", "metadata", field as string], `at most 256 ${field}`);
    }
  }
  checkEntryShape(spec.template, ["spec", "template"], r);
  if (spec.probe) checkProbe(spec.probe, ["spec", "probe"], r);
}

/** Probe header names as Istio's webhook takes them (the Kubernetes rule: no `_`). */
const PROBE_HEADER_NAME = /^[-A-Za-z0-9]+$/;

/**
 * Checks a readiness probe as validateReadinessProbe does: one of httpGet, tcpSocket and exec
 * (Istio's webhook refuses grpc, which the API has), HTTP or HTTPS, header names.
 */
export function checkProbe(probe: ReadinessProbe, path: Path, r: Reporter): void {
  const methods = countSet(probe, ["httpGet", "tcpSocket", "exec", "grpc"]);
  if (methods.length > 1) {
    r.error([...path, methods[1]], `${methods.join(" and ")} can't both be set; keep one`);
  } else if (methods.length === 0) {
    r.error(path, "a probe needs a method: set one of httpGet, tcpSocket or exec");
  } else if (methods[0] === "grpc") {
    r.error(
      [...path, "grpc"],
      "grpc probes are refused by Istio's webhook (unknown health check method); use " +
        "httpGet, tcpSocket or exec",
    );
  }
  const http = probe.httpGet;
  if (http) {
    if (http.scheme !== undefined && !["", "HTTP", "HTTPS"].includes(http.scheme)) {
      r.error(
        [...path, "httpGet", "scheme"],
        `scheme must be HTTP or HTTPS; got ${quote(http.scheme)}`,
      );
    }
    http.httpHeaders?.forEach((h, i) => {
      if (!h.name || !PROBE_HEADER_NAME.test(h.name)) {
        r.error(
          [...path, "httpGet", "httpHeaders", i, "name"],
          `invalid header name ${quote(h.name ?? "")}; use letters, digits and '-'`,
        );
      }
    });
  }
  if (probe.exec && probe.exec.command.length === 0) {
    r.error([...path, "exec", "command"], "exec needs a command");
  }
}
