/**
 * `telemetry.istio.io` Telemetry: metrics, tracing and access logging per workload, with
 * Istio's semantic rules. mesh enforces `tracing` (with a zipkin provider), `accessLogging`
 * and `metrics` overrides; the fields it can't honour are warned about.
 * @module
 */

import { z } from "zod";
import {
  checkOneOf,
  checkPolicyTargets,
  duration,
  NOT_SUPPORTED,
  numberRange,
  type Path,
  policyTargetReference,
  type Reporter,
  SIMPLE_HEADER_NAME,
  workloadSelector,
} from "./common.ts";

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
/** Tracing fields mesh doesn't honour (warned about). */
const UNSUPPORTED_TRACING = [
  "match",
  "useRequestIdForTraceSampling",
  "enableIstioTags",
  "disableContextPropagation",
] as const;

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
  reportingInterval: duration().optional(),
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
  checkPolicyTargets(spec, r);
  const base: Path = ["spec"];
  for (const k of ["targetRef", "targetRefs"] as const) {
    if (spec[k] !== undefined) r.warn([...base, k], NOT_SUPPORTED);
  }
  spec.metrics?.forEach((m, i) => {
    const path = [...base, "metrics", i];
    m.providers?.forEach((p, j) => {
      if (p.name !== "prometheus") {
        r.warn(
          [...path, "providers", j],
          `${NOT_SUPPORTED}: mesh exports metrics to Prometheus only (the prometheus provider)`,
        );
      }
    });
    if (m.reportingInterval !== undefined) r.warn([...path, "reportingInterval"], NOT_SUPPORTED);
    m.overrides?.forEach((o, j) => {
      const at = [...path, "overrides", j];
      if (o.match?.customMetric !== undefined) {
        r.warn([...at, "match", "customMetric"], NOT_SUPPORTED);
      }
      for (const [tag, t] of Object.entries(o.tagOverrides ?? {})) {
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(tag)) {
          r.error(
            [...at, "tagOverrides", tag],
            `invalid tag name ${JSON.stringify(tag)}; use letters, digits and '_' (a Prometheus ` +
              "label name)",
          );
        }
        const v = t.value?.trim();
        if ((t.operation ?? "UPSERT") === "UPSERT" && v && !/^(['"]).*\1$/s.test(v)) {
          r.warn(
            [...at, "tagOverrides", tag, "value"],
            "only string literals ('value') are supported by mesh yet; this tag is left as is",
          );
        }
      }
    });
  });
  spec.accessLogging?.forEach((a, i) => {
    if (a.match !== undefined) r.warn([...base, "accessLogging", i, "match"], NOT_SUPPORTED);
    if (a.filter !== undefined) {
      r.warn(
        [...base, "accessLogging", i, "filter"],
        "filter expressions are not supported by mesh yet: every request is logged",
      );
    }
  });
  spec.tracing?.forEach((t, i) => {
    for (const k of UNSUPPORTED_TRACING) {
      if (t[k] !== undefined) r.warn([...base, "tracing", i, k], NOT_SUPPORTED);
    }
    for (const [name, tag] of Object.entries(t.customTags ?? {})) {
      if (tag.formatter) {
        r.warn([...base, "tracing", i, "customTags", name, "formatter"], NOT_SUPPORTED);
      }
    }
  });
  if ((spec.tracing?.length ?? 0) > 1) {
    r.warn([...base, "tracing"], "Istio uses only one tracing entry; merge them into one");
  }
  spec.tracing?.forEach((t, i) => {
    const path = [...base, "tracing", i];
    checkProviders(t.providers, [...path, "providers"], r);
    if ((t.providers?.length ?? 0) > 1) {
      r.warn([...path, "providers"], "Istio sends traces to one provider; keep one");
    }
    for (const [name, tag] of Object.entries(t.customTags ?? {})) {
      const at = [...path, "customTags", name];
      if (name === "") r.error(at, "tag names may not be empty");
      checkOneOf(tag, ["literal", "environment", "header", "formatter"], at, r, true);
      if (tag.literal?.value === "") r.error([...at, "literal", "value"], "value may not be empty");
      if (tag.environment?.name === "") {
        r.error([...at, "environment", "name"], "name may not be empty");
      }
      if (tag.header?.name === "") r.error([...at, "header", "name"], "name may not be empty");
      else if (tag.header && !SIMPLE_HEADER_NAME.test(tag.header.name)) {
        r.error(
          [...at, "header", "name"],
          `invalid header name ${JSON.stringify(tag.header.name)}; use letters, digits and '-'`,
        );
      }
      if (tag.formatter?.value === "") {
        r.error([...at, "formatter", "value"], "value may not be empty");
      }
    }
  });
  spec.metrics?.forEach((m, i) => {
    const path = [...base, "metrics", i];
    checkProviders(m.providers, [...path, "providers"], r);
    m.overrides?.forEach((o, j) => {
      const at = [...path, "overrides", j];
      if (o.match) {
        checkOneOf(o.match, ["metric", "customMetric"], [...at, "match"], r);
        if (o.match.customMetric === "") {
          r.error([...at, "match", "customMetric"], "customMetric may not be empty");
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
        }
      }
    });
  });
  spec.accessLogging?.forEach((a, i) => {
    checkProviders(a.providers, [...base, "accessLogging", i, "providers"], r);
  });
}

function checkProviders(providers: { name: string }[] | undefined, path: Path, r: Reporter): void {
  providers?.forEach((p, i) => {
    if (p.name === "") {
      r.error([...path, i, "name"], "provider names may not be empty; name an extension provider");
    }
  });
}
