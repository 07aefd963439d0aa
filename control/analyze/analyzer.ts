/**
 * The analyzer contract, and helpers several analyzers share: the destinations of a
 * VirtualService (routes of `http`, `tcp` and `tls`, and HTTP mirrors), read from fields mesh
 * validates as well as from those it only carries along.
 * @module
 */
import type { VirtualService } from "../../api/resources.ts";
import type { YamlPathSegment } from "../../util/yaml.ts";
import type { AnalysisContext } from "./context.ts";

/** One cross-resource check. */
export interface Analyzer {
  /** Istio's analyzer name where there is one, e.g. `virtualservice.GatewayAnalyzer`. */
  readonly name: string;
  readonly description: string;
  /** The message codes it can report. */
  readonly codes: readonly string[];
  /** Reads `ctx` and reports through `ctx.report`. */
  analyze(ctx: AnalysisContext): void;
}

/** A destination named by a VirtualService. */
export interface VsDestination {
  /** As written. */
  host: string;
  subset?: string;
  port?: number;
  /** Whether it is an HTTP mirror rather than a route. */
  mirror: boolean;
  /** Path of its `host` field inside the VirtualService. */
  path: YamlPathSegment[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads `{host, subset, port: {number}}` loosely. A missing destination (or host) is host
 * `""`, as Istio's getters read it; undefined only when `v` is there but not a mapping.
 */
function destinationAt(v: unknown): Omit<VsDestination, "mirror" | "path"> | undefined {
  if (v === undefined || v === null) return { host: "" };
  if (!isRecord(v)) return undefined;
  const out: Omit<VsDestination, "mirror" | "path"> = {
    host: typeof v.host === "string" ? v.host : "",
  };
  if (typeof v.subset === "string" && v.subset !== "") out.subset = v.subset;
  if (isRecord(v.port) && typeof v.port.number === "number") out.port = v.port.number;
  return out;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The route destinations of `vs`: `http`, then `tcp` and `tls` (read loosely). */
export function routeDestinations(vs: VirtualService): VsDestination[] {
  const out: VsDestination[] = [];
  for (const section of ["tcp", "tls", "http"] as const) {
    list(vs.spec[section]).forEach((rule, i) => {
      if (!isRecord(rule)) return;
      list(rule.route).forEach((rd, j) => {
        const d = isRecord(rd) ? destinationAt(rd.destination) : destinationAt(undefined);
        if (d) {
          out.push({
            ...d,
            mirror: false,
            path: ["spec", section, i, "route", j, "destination", "host"],
          });
        }
      });
    });
  }
  return out;
}

/** The HTTP mirror destinations of `vs`: `mirror` and `mirrors[].destination`. */
export function mirrorDestinations(vs: VirtualService): VsDestination[] {
  const out: VsDestination[] = [];
  list(vs.spec.http).forEach((rule, i) => {
    if (!isRecord(rule)) return;
    const m = isRecord(rule.mirror) ? destinationAt(rule.mirror) : undefined;
    if (m) out.push({ ...m, mirror: true, path: ["spec", "http", i, "mirror", "host"] });
    list(rule.mirrors).forEach((entry, k) => {
      const d = isRecord(entry) ? destinationAt(entry.destination) : destinationAt(undefined);
      if (d) {
        out.push({
          ...d,
          mirror: true,
          path: ["spec", "http", i, "mirrors", k, "destination", "host"],
        });
      }
    });
  });
  return out;
}

/** `ns/name` of a resource or object. */
export function fullName(o: { namespace?: string; name: string }): string {
  return o.namespace ? `${o.namespace}/${o.name}` : o.name;
}
