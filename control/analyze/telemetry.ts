/**
 * Telemetry resources (Istio's `telemetry.*` analyzers):
 *
 * - `telemetry.ProviderAnalyzer`: when the MeshConfig names no default access-log provider,
 *   an `accessLogging` entry without providers (and not `disabled`) is `IST0157`;
 * - `telemetry.SelectorAnalyzer`: a `selector` that matches no workload of the namespace is
 *   `IST0101`; Telemetries selecting the same workload are `IST0159` on each;
 * - `telemetry.DefaultSelectorAnalyzer`: two or more Telemetries without `selector` in one
 *   namespace are `IST0160` on each;
 * - `telemetry.LightstepAnalyzer`: tracing to a MeshConfig `lightstep` provider is `IST0002`.
 *
 * The MeshConfig is mesh's own (`config.mesh.dev` MeshConfig) when the input has one, else
 * Istio's defaults.
 * @module
 */
import type { Telemetry } from "../../api/resources.ts";
import {
  ConflictingTelemetryWorkloadSelectors,
  Deprecated,
  InvalidTelemetryProvider,
  MultipleTelemetriesWithoutWorkloadSelectors,
  ReferencedResourceNotFound,
} from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { selectorMatches, selectorString, type Workload } from "./k8s.ts";
import { sortedNames } from "./sidecar_selectors.ts";

/** Access logging entries without providers, when no default provider is configured. */
export const telemetryProviderAnalyzer: Analyzer = {
  name: "telemetry.ProviderAnalyzer",
  description: "Validates that providers in telemetry resource is valid",
  codes: [InvalidTelemetryProvider.code],
  analyze(ctx: AnalysisContext): void {
    const defaults = ctx.meshConfig?.spec.defaultProviders as
      | { accessLogging?: string[] }
      | undefined;
    if ((defaults?.accessLogging?.length ?? 0) > 0) return;
    for (const t of ctx.telemetries) {
      for (const l of t.spec.accessLogging ?? []) {
        if (l?.disabled === true) continue;
        if ((l?.providers?.length ?? 0) > 0) continue;
        ctx.report(
          InvalidTelemetryProvider,
          [t.metadata.name, t.metadata.namespace],
          ctx.originOf(t),
        );
      }
    }
  },
};

/** Telemetry selectors against workloads and each other. */
export const telemetrySelectorAnalyzer: Analyzer = {
  name: "telemetry.SelectorAnalyzer",
  description: "Validates that telemetries that define a selector match at least one pod, " +
    "and that there aren't multiple telemetry resources that select overlapping pods",
  codes: [ReferencedResourceNotFound.code, ConflictingTelemetryWorkloadSelectors.code],
  analyze(ctx: AnalysisContext): void {
    const byWorkload = new Map<Workload, Telemetry[]>();
    for (const t of ctx.telemetries) {
      const labels = t.spec.selector?.matchLabels ?? {};
      if (Object.keys(labels).length === 0) continue;
      const ns = t.metadata.namespace;
      const selected = ctx.workloads.filter((w) =>
        w.namespace === ns && selectorMatches(labels, w.labels)
      );
      for (const w of selected) byWorkload.set(w, [...(byWorkload.get(w) ?? []), t]);
      if (selected.length === 0) {
        const first = Object.keys(labels).sort()[0];
        ctx.report(
          ReferencedResourceNotFound,
          ["selector", selectorString(labels)],
          ctx.originOf(t),
          [
            "spec",
            "selector",
            "matchLabels",
            first,
          ],
        );
      }
    }
    for (const [w, list] of byWorkload) {
      if (list.length < 2) continue;
      const names = sortedNames(list);
      for (const t of list) {
        ctx.report(
          ConflictingTelemetryWorkloadSelectors,
          [names, w.namespace, w.name],
          ctx.originOf(t),
          ["metadata", "name"],
        );
      }
    }
  },
};

/** More than one namespace-wide Telemetry in a namespace. */
export const telemetryDefaultSelectorAnalyzer: Analyzer = {
  name: "telemetry.DefaultSelectorAnalyzer",
  description: "Validates that there aren't multiple telemetry resources that have no selector",
  codes: [MultipleTelemetriesWithoutWorkloadSelectors.code],
  analyze(ctx: AnalysisContext): void {
    const byNamespace = new Map<string, Telemetry[]>();
    for (const t of ctx.telemetries) {
      if (t.spec.selector !== undefined) continue;
      const ns = t.metadata.namespace;
      byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), t]);
    }
    for (const [ns, list] of byNamespace) {
      if (list.length < 2) continue;
      const names = sortedNames(list);
      for (const t of list) {
        ctx.report(MultipleTelemetriesWithoutWorkloadSelectors, [names, ns], ctx.originOf(t));
      }
    }
  },
};

/** Tracing to a deprecated Lightstep provider. */
export const telemetryLightstepAnalyzer: Analyzer = {
  name: "telemetry.LightstepAnalyzer",
  description: "Validates that lightstep provider is still used",
  codes: [Deprecated.code],
  analyze(ctx: AnalysisContext): void {
    const providers = (ctx.meshConfig?.spec.extensionProviders ?? []) as {
      name: string;
      lightstep?: unknown;
    }[];
    const lightstep = new Set(
      providers.filter((p) => p.lightstep !== undefined).map((p) => p.name),
    );
    if (lightstep.size === 0) return;
    for (const t of ctx.telemetries) {
      for (const tracing of t.spec.tracing ?? []) {
        for (const p of tracing?.providers ?? []) {
          if (!lightstep.has(p.name)) continue;
          ctx.report(Deprecated, [
            `The Lightstep provider ${p.name} is deprecated, please migrate to OpenTelemetry ` +
            "provider.",
          ], ctx.originOf(t));
        }
      }
    }
  },
};
