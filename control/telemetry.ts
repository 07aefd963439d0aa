/**
 * Telemetry (telemetry.istio.io) → a proxy's {@linkcode TracingSettings}. The
 * Telemetry resources that apply to a workload are merged as Istio merges
 * them: mesh-wide (root namespace, no selector), then namespace-wide (no
 * selector), then workload (a selector, in the workload's namespace), each
 * setting what it sets. The provider is the first one the merged `tracing`
 * names, else MeshConfig `defaultProviders.tracing`; it must be a `zipkin`
 * extension provider. Sampling is `randomSamplingPercentage`, else MeshConfig
 * `defaultConfig.tracing.sampling`, else Istio's default of 1%.
 *
 * @example
 * ```ts
 * const tracing = tracingFor(snapshot, node, registry); // undefined: no tracing for node
 * ```
 * @module
 */
import type {
  AccessLogSettings,
  MetricOverride,
  NodeInfo,
  TracingSettings,
  TracingTag,
} from "../api/proxy_config.ts";
import { clusterName } from "../api/proxy_config.ts";
import type { Telemetry } from "../api/resources.ts";
import type { AccessLogging, Tracing } from "../api/schemas/telemetry.ts";
import { labelsMatch } from "./labels.ts";
import type { ServiceRegistry } from "./registry.ts";
import { rootNamespaceOf, type Snapshot } from "./snapshot.ts";

/** Istio's default share of traces sampled, in percent. */
export const DEFAULT_SAMPLING_PERCENT = 1;
/** Zipkin's span API path. */
export const ZIPKIN_PATH = "/api/v2/spans";

function hasSelector(t: Telemetry): boolean {
  return Object.keys(t.spec.selector?.matchLabels ?? {}).length > 0;
}

/** The Telemetry resources of `node`, least specific first. */
export function telemetriesFor(
  snapshot: Snapshot,
  node: Pick<NodeInfo, "namespace" | "labels">,
): Telemetry[] {
  const root = rootNamespaceOf(snapshot.mesh);
  const usable = snapshot.telemetries.filter((t) => !t.spec.targetRef && !t.spec.targetRefs);
  const mesh = usable.filter((t) => t.metadata.namespace === root && !hasSelector(t));
  const ns = node.namespace === root
    ? []
    : usable.filter((t) => t.metadata.namespace === node.namespace && !hasSelector(t));
  const own = usable.filter((t) =>
    t.metadata.namespace === node.namespace && hasSelector(t) &&
    labelsMatch(t.spec.selector!.matchLabels, node.labels)
  );
  // One of each level, the first by namespace/name (the snapshot's order), as Istio picks.
  return [mesh[0], ns[0], own[0]].filter((t): t is Telemetry => t !== undefined);
}

/** The fields `o` sets (a more specific Telemetry overrides only what it sets). */
function setFields<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The merged `tracing` entry of the Telemetries that apply, if any sets one. */
export function mergedTracing(telemetries: Telemetry[]): Tracing | undefined {
  let out: Tracing | undefined;
  for (const t of telemetries) {
    const tr = t.spec.tracing?.[0];
    if (!tr) continue;
    out = {
      ...out,
      ...setFields(tr),
      customTags: { ...out?.customTags, ...tr.customTags },
    };
  }
  return out;
}

function tagsOf(tags: Tracing["customTags"]): Record<string, TracingTag> | undefined {
  const out: Record<string, TracingTag> = {};
  for (const [name, t] of Object.entries(tags ?? {})) {
    if (t.literal) out[name] = { literal: t.literal.value };
    else if (t.header) {
      out[name] = { header: t.header.name.toLowerCase(), defaultValue: t.header.defaultValue };
    } else if (t.environment) {
      out[name] = { environment: t.environment.name, defaultValue: t.environment.defaultValue };
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** The tracing settings of `node`, or undefined when nothing turns tracing on for it. */
export function tracingFor(
  snapshot: Snapshot,
  node: NodeInfo,
  registry: ServiceRegistry,
): TracingSettings | undefined {
  const tracing = mergedTracing(telemetriesFor(snapshot, node));
  const name = tracing?.providers?.[0]?.name ?? snapshot.mesh.defaultTracingProviders?.[0];
  const provider = name !== undefined ? snapshot.mesh.tracingProviders?.[name] : undefined;
  if (!provider) return undefined;
  // `[<namespace>/]<hostname>`, as Istio writes provider services.
  const host = provider.service.slice(provider.service.indexOf("/") + 1).toLowerCase();
  const svc = registry.service(host);
  const out: TracingSettings = {
    collector: svc?.ports.some((p) => p.number === provider.port)
      ? { cluster: clusterName(provider.port, undefined, host) }
      : { address: host, port: provider.port },
    path: provider.path ?? ZIPKIN_PATH,
    samplingPercent: tracing?.randomSamplingPercentage ?? snapshot.mesh.defaultSampling ??
      DEFAULT_SAMPLING_PERCENT,
    serviceName: `${node.labels.app ?? node.workloadName ?? node.serviceAccount}.${node.namespace}`,
    maxTagLength: provider.maxTagLength ?? 256,
  };
  const tags = tagsOf(tracing?.customTags);
  if (tags) out.customTags = tags;
  if (tracing?.disableSpanReporting) out.disableSpanReporting = true;
  return out;
}

/** The merged `accessLogging` entry of the Telemetries that apply, if any sets one. */
export function mergedAccessLogging(telemetries: Telemetry[]): AccessLogging | undefined {
  let out: AccessLogging | undefined;
  for (const t of telemetries) {
    const a = t.spec.accessLogging?.[0];
    if (!a) continue;
    out = { ...out, ...setFields(a) };
  }
  return out;
}

/**
 * Where `node` writes access logs: a Telemetry's `accessLogging` (its provider: Istio's
 * built-in `envoy`, to standard output, or an `envoyFileAccessLog` extension provider;
 * `disabled` turns logging off), else MeshConfig `defaultProviders.accessLogging`, else
 * MeshConfig `accessLogFile`.
 */
export function accessLogFor(
  snapshot: Snapshot,
  node: Pick<NodeInfo, "namespace" | "labels">,
): AccessLogSettings | undefined {
  const mesh = snapshot.mesh;
  const merged = mergedAccessLogging(telemetriesFor(snapshot, node));
  if (merged?.disabled) return undefined;
  const names = merged?.providers?.map((p) => p.name) ?? mesh.defaultAccessLogProviders;
  if (!names?.length) return mesh.accessLog;
  for (const name of names) {
    if (name === "envoy") {
      return mesh.accessLog ?? { path: "/dev/stdout", encoding: mesh.accessLogEncoding ?? "TEXT" };
    }
    const p = mesh.accessLogProviders?.[name];
    if (p) return p;
  }
  return undefined; // only providers mesh can't write to (warned at validation)
}

/**
 * A tag name as a Prometheus label: characters other than letters, digits and `_` become `_`
 * (as Envoy's Prometheus output does), a leading digit gets a `_` before it; undefined for "".
 */
export function prometheusLabel(tag: string): string | undefined {
  if (tag === "") return undefined;
  const label = tag.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(label) ? `_${label}` : label;
}

/** A CEL string literal (`'x'` or `"x"`): the only tag values mesh can set. */
export function celStringLiteral(expr: string): string | undefined {
  const m = expr.trim().match(/^(['"])(.*)\1$/s);
  return m && !m[2].includes(m[1]) ? m[2] : undefined;
}

/**
 * The metrics overrides of `node`: those of every Telemetry that applies (mesh-wide, then
 * namespace, then workload, so the more specific come later and win), for the Prometheus
 * provider (or none named).
 */
export function metricsFor(
  snapshot: Snapshot,
  node: Pick<NodeInfo, "namespace" | "labels">,
): MetricOverride[] {
  const out: MetricOverride[] = [];
  for (const t of telemetriesFor(snapshot, node)) {
    for (const m of t.spec.metrics ?? []) {
      if (m.providers?.length && !m.providers.some((p) => p.name === "prometheus")) continue;
      for (const o of m.overrides ?? []) {
        if (o.match?.customMetric) continue; // warned: mesh has no custom metrics
        const override: MetricOverride = {
          metric: o.match?.metric ?? "ALL_METRICS",
          mode: o.match?.mode ?? "CLIENT_AND_SERVER",
        };
        if (o.disabled !== undefined) override.disabled = o.disabled;
        const tags: NonNullable<MetricOverride["tags"]> = {};
        for (const [name, change] of Object.entries(o.tagOverrides ?? {})) {
          const tag = prometheusLabel(name);
          if (tag === undefined) continue;
          if (change.operation === "REMOVE") tags[tag] = { remove: true };
          else {
            const value = change.value !== undefined ? celStringLiteral(change.value) : undefined;
            if (value !== undefined) tags[tag] = { value };
          }
        }
        if (Object.keys(tags).length) override.tags = tags;
        out.push(override);
      }
    }
  }
  return out;
}
