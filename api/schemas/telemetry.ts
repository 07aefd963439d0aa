/**
 * `telemetry.istio.io` Telemetry: metrics, tracing and access logging per workload, with
 * Istio's rules (ValidateTelemetry, the CEL syntax of access log filters, the CRD's schema).
 * mesh enforces `tracing` (with a zipkin provider), `accessLogging` and `metrics` overrides;
 * the fields it can't honour are warned about.
 * @module
 */

import { z } from "zod";
import { celProblem } from "./cel.ts";
import {
  checkOneOf,
  duration,
  NOT_SUPPORTED,
  numberRange,
  type Path,
  policyTargetReference,
  quote,
  type Reporter,
  warnUnsupported,
  workloadSelector,
} from "./common.ts";
import { checkPolicyTargetsAsIstio } from "./policy_targets.ts";
import {
  UNSUPPORTED_TELEMETRY_ACCESS_LOGGING,
  UNSUPPORTED_TELEMETRY_METRICS,
  UNSUPPORTED_TELEMETRY_TRACING,
} from "./unsupported.ts";

const providerRef = z.strictObject({ name: z.string() });
const workloadMode = z.enum(["CLIENT_AND_SERVER", "CLIENT", "SERVER"]);
const modeSelector = z.strictObject({ mode: workloadMode.optional() });

const customTag = z.strictObject({
  literal: z.strictObject({ value: z.string() }).optional(),
  environment: z.strictObject({ name: z.string(), defaultValue: z.string().optional() })
    .optional(),
  header: z.strictObject({ name: z.string(), defaultValue: z.string().optional() }).optional(),
  formatter: z.strictObject({ value: z.string() }).optional(),
});

const tracing = z.strictObject({
  match: modeSelector.optional(),
  providers: z.array(providerRef).optional(),
  randomSamplingPercentage: numberRange(0, 100).optional(),
  disableSpanReporting: z.boolean().optional(),
  customTags: z.record(z.string(), customTag).optional(),
  useRequestIdForTraceSampling: z.boolean().optional(),
  enableIstioTags: z.boolean().optional(),
  disableContextPropagation: z.boolean().optional(),
});

/** Tracing settings of a Telemetry. */
export type Tracing = z.infer<typeof tracing>;

/** Istio's standard metrics, as named in `MetricSelector.metric`. */
export const ISTIO_METRICS = [
  "ALL_METRICS",
  "REQUEST_COUNT",
  "REQUEST_DURATION",
  "REQUEST_SIZE",
  "RESPONSE_SIZE",
  "TCP_OPENED_CONNECTIONS",
  "TCP_CLOSED_CONNECTIONS",
  "TCP_SENT_BYTES",
  "TCP_RECEIVED_BYTES",
  "GRPC_REQUEST_MESSAGES",
  "GRPC_RESPONSE_MESSAGES",
] as const;

const metricsOverrides = z.strictObject({
  match: z.strictObject({
    metric: z.enum(ISTIO_METRICS).optional(),
    customMetric: z.string().optional(),
    mode: workloadMode.optional(),
  }).optional(),
  disabled: z.boolean().optional(),
  tagOverrides: z.record(
    z.string(),
    z.strictObject({
      operation: z.enum(["UPSERT", "REMOVE"]).optional(),
      value: z.string().optional(),
    }),
  ).optional(),
});

const metrics = z.strictObject({
  providers: z.array(providerRef).optional(),
  overrides: z.array(metricsOverrides).optional(),
  // The CRD asks for at least 1ms and nothing about precision.
  reportingInterval: duration({ precision: "ns" }).optional(),
});
/** Metrics settings of a Telemetry. */
export type Metrics = z.infer<typeof metrics>;

const accessLogging = z.strictObject({
  match: modeSelector.optional(),
  providers: z.array(providerRef).optional(),
  disabled: z.boolean().optional(),
  filter: z.strictObject({ expression: z.string().optional() }).optional(),
});
/** Access log settings of a Telemetry. */
export type AccessLogging = z.infer<typeof accessLogging>;

/** The schema of a Telemetry `spec`. */
export const telemetrySpec = z.strictObject({
  selector: workloadSelector.optional(),
  targetRef: policyTargetReference.optional(),
  targetRefs: z.array(policyTargetReference).optional(),
  tracing: z.array(tracing).optional(),
  metrics: z.array(metrics).optional(),
  accessLogging: z.array(accessLogging).optional(),
});
/** `spec` of a Telemetry. */
export type TelemetrySpec = z.infer<typeof telemetrySpec>;

/** Checks a Telemetry spec. */
export function checkTelemetry(spec: TelemetrySpec, r: Reporter): void {
  checkPolicyTargetsAsIstio(spec, r);
  const base: Path = ["spec"];
  warnUnsupported(spec, ["targetRef", "targetRefs"], base, r);
  spec.metrics?.forEach((m, i) => checkMetrics(m, [...base, "metrics", i], r));
  if ((spec.tracing?.length ?? 0) > 1) {
    r.warn([...base, "tracing"], "Istio uses only one tracing entry; merge them into one");
  }
  spec.tracing?.forEach((t, i) => checkTracing(t, [...base, "tracing", i], r));
  spec.accessLogging?.forEach((a, i) => {
    const path = [...base, "accessLogging", i];
    checkProviders(a.providers, [...path, "providers"], r);
    warnUnsupported(a, UNSUPPORTED_TELEMETRY_ACCESS_LOGGING, path, r);
    if (a.filter !== undefined) {
      // Istio parses the expression (an empty one too) and refuses it if it isn't CEL.
      const problem = celProblem(a.filter.expression ?? "");
      if (problem) {
        r.error([...path, "filter", "expression"], `must be a valid CEL expression: ${problem}`);
      }
      r.warn(
        [...path, "filter"],
        "filter expressions are not supported by mesh yet: every request is logged",
      );
    }
  });
}

function checkMetrics(m: Metrics, path: Path, r: Reporter): void {
  checkProviders(m.providers, [...path, "providers"], r);
  m.providers?.forEach((p, j) => {
    if (p.name !== "prometheus" && p.name !== "") {
      r.warn(
        [...path, "providers", j],
        `${NOT_SUPPORTED}: mesh exports metrics to Prometheus only (the prometheus provider)`,
      );
    }
  });
  warnUnsupported(m, UNSUPPORTED_TELEMETRY_METRICS, path, r);
  m.overrides?.forEach((o, j) => {
    const at = [...path, "overrides", j];
    if (o.match) {
      checkOneOf(o.match, ["metric", "customMetric"], [...at, "match"], r);
      if (o.match.customMetric === "") {
        r.error([...at, "match", "customMetric"], "customMetric may not be empty");
      } else if (o.match.customMetric !== undefined) {
        r.warn([...at, "match", "customMetric"], NOT_SUPPORTED);
      }
    }
    for (const [tag, override] of Object.entries(o.tagOverrides ?? {})) {
      const tAt = [...at, "tagOverrides", tag];
      if (tag === "") r.warn(tAt, "tag names should not be empty");
      const op = override.operation ?? "UPSERT";
      if (op === "UPSERT" && !override.value) {
        r.error(tAt, "operation UPSERT needs a value (a CEL expression)");
      } else if (op === "REMOVE" && override.value !== undefined) {
        r.error([...tAt, "value"], "operation REMOVE takes no value; remove it");
      } else if (op === "UPSERT" && !isStringLiteral(override.value!)) {
        r.warn(
          [...tAt, "value"],
          "CEL expressions other than string literals ('value') are not supported by mesh yet; " +
            "this tag is left as is",
        );
      }
    }
  });
}

function isStringLiteral(expr: string): boolean {
  return /^(['"]).*\1$/s.test(expr.trim());
}

function checkTracing(t: Tracing, path: Path, r: Reporter): void {
  checkProviders(t.providers, [...path, "providers"], r);
  if ((t.providers?.length ?? 0) > 1) {
    r.warn([...path, "providers"], "Istio sends traces to one provider; keep one");
  }
  warnUnsupported(t, UNSUPPORTED_TELEMETRY_TRACING, path, r);
  for (const [name, tag] of Object.entries(t.customTags ?? {})) {
    const at = [...path, "customTags", name];
    if (name === "") r.error(at, "tag names may not be empty");
    // At most one source; a tag with none is accepted (and sets nothing).
    checkOneOf(tag, ["literal", "environment", "header", "formatter"], at, r);
    const empty = (field: Path, what: string) =>
      r.error([...at, ...field], `${what} may not be empty`);
    if (tag.literal?.value === "") empty(["literal", "value"], "a literal tag's value");
    if (tag.environment?.name === "") empty(["environment", "name"], "an environment tag's name");
    if (tag.header?.name === "") empty(["header", "name"], "a header tag's name");
    if (tag.formatter?.value === "") empty(["formatter", "value"], "a formatter tag's value");
    if (tag.formatter) r.warn([...at, "formatter"], NOT_SUPPORTED);
  }
}

function checkProviders(providers: { name: string }[] | undefined, path: Path, r: Reporter): void {
  providers?.forEach((p, i) => {
    if (p.name === "") {
      r.error(
        [...path, i, "name"],
        `provider names may not be empty; name an extension provider (got ${quote(p.name)})`,
      );
    }
  });
}
