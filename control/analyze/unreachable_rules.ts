/**
 * Rules of a VirtualService that can never be used, as Istio's VirtualService validation
 * reports them (`IST0130`, `IST0131`), for `http`, `tcp` and `tls` routes alike:
 *
 * - a rule after a rule without matches (that one takes every request, reported once per
 *   match), or a second rule without matches: `IST0130`;
 * - a match identical (ignoring an HTTP match's `name`) to a match of an earlier rule:
 *   `IST0131`, and `IST0130` when every match of the rule is such a duplicate;
 * - HTTP only: a `uri.prefix` match covered by an earlier match's shorter prefix, in an
 *   earlier rule or the same one, with the same port and covering method, authority,
 *   headers, query parameters and `withoutHeaders` (Istio compares only those): `IST0131`.
 *
 * HTTP rules and matches are named by their `name` in quotes, else `#<index>`; TCP and TLS
 * ones by index, as Istio names them.
 * @module
 */
import { VirtualServiceIneffectiveMatch, VirtualServiceUnreachableRule } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import type { YamlPathSegment } from "../../util/yaml.ts";

/** A finding about one rule, before it becomes a message. */
export type RuleFinding =
  | { kind: "unreachable"; rule: number; ruleName: string; reason: string }
  | {
    kind: "ineffective";
    rule: number;
    match: number;
    ruleName: string;
    matchName: string;
    dup: string;
  };

/** Which route list: HTTP rules have names and prefix overlap; TCP and TLS don't. */
export type RouteKind = "http" | "tcp" | "tls";

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nameOf(kind: RouteKind, v: unknown, i: number): string {
  if (kind === "http" && isRecord(v) && typeof v.name === "string" && v.name !== "") {
    return JSON.stringify(v.name);
  }
  return `#${i}`;
}

function isZero(v: unknown): boolean {
  return v === undefined || v === null || v === false || v === 0 || v === "" ||
    (Array.isArray(v) && v.length === 0);
}

/** JSON with sorted keys and zero values left out, as Go's `omitempty` serializes a match. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isRecord(v)) {
    const entries = Object.entries(v)
      .filter(([, x]) => !isZero(x))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

function matchKey(kind: RouteKind, m: unknown): string {
  if (kind === "http" && isRecord(m)) {
    const { name: _name, ...rest } = m;
    return canonical(rest);
  }
  return canonical(m);
}

/** `exact:v` / `prefix:v` for a string match (regex and presence give ""), as Istio compares. */
function exactOrPrefix(sm: unknown): string {
  if (!isRecord(sm)) return "";
  if (typeof sm.exact === "string" && sm.exact) return `exact:${sm.exact}`;
  if (typeof sm.prefix === "string" && sm.prefix) return `prefix:${sm.prefix}`;
  return "";
}

function stringMatches(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) { for (const [k, sm] of Object.entries(v)) out[k] = exactOrPrefix(sm); }
  return out;
}

interface PrefixMatch {
  rule: number;
  match: number;
  ruleName: string;
  matchName: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Record<string, string>;
  queryParams: Record<string, string>;
  withoutHeaders: Record<string, string>;
}

function prefixMatch(route: unknown, i: number, m: unknown, j: number): PrefixMatch | undefined {
  if (!isRecord(m) || !isRecord(m.uri)) return undefined;
  const prefix = m.uri.prefix;
  if (typeof prefix !== "string" || prefix === "") return undefined;
  return {
    rule: i,
    match: j,
    ruleName: nameOf("http", route, i),
    matchName: nameOf("http", m, j),
    prefix,
    port: typeof m.port === "number" ? m.port : 0,
    method: exactOrPrefix(m.method) || "exact:GET",
    authority: exactOrPrefix(m.authority),
    headers: stringMatches(m.headers),
    queryParams: stringMatches(m.queryParams),
    withoutHeaders: stringMatches(m.withoutHeaders),
  };
}

/** Istio's test: `x` is the same as `y` or starts with it. */
function within(x: string, y: string): boolean {
  return x === y || x.startsWith(y);
}

function mapCovered(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && within(a[k], b[k]));
}

/** Whether the earlier prefix match `a` takes every request the later `b` would. */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  return b.prefix.startsWith(a.prefix) && a.port === b.port &&
    within(a.method, b.method) && within(a.authority, b.authority) &&
    mapCovered(a.headers, b.headers) && mapCovered(a.queryParams, b.queryParams) &&
    mapCovered(a.withoutHeaders, b.withoutHeaders);
}

/** Finds the unreachable rules and ineffective matches of one route list (read loosely). */
export function unreachableRules(routes: readonly unknown[], kind: RouteKind = "http") {
  const out: RuleFinding[] = [];
  const seen = new Map<string, number>();
  const prefixes: PrefixMatch[] = [];
  let catchAll = -1;
  routes.forEach((route, i) => {
    if (!isRecord(route)) return;
    const ruleName = nameOf(kind, route, i);
    const matches = Array.isArray(route.match) ? route.match : [];
    if (matches.length === 0) {
      if (catchAll >= 0) {
        out.push({
          kind: "unreachable",
          rule: i,
          ruleName,
          reason: "only the last rule can have no matches",
        });
      }
      catchAll = i;
      return;
    }
    let duplicates = 0;
    matches.forEach((m, j) => {
      if (catchAll >= 0) {
        out.push({
          kind: "unreachable",
          rule: i,
          ruleName,
          reason: "route without matches defined before",
        });
        return;
      }
      const key = matchKey(kind, m);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        duplicates++;
        out.push({
          kind: "ineffective",
          rule: i,
          match: j,
          ruleName,
          matchName: nameOf(kind, m, j),
          dup: nameOf(kind, routes[earlier], earlier),
        });
        return;
      }
      seen.set(key, i);
      const p = kind === "http" ? prefixMatch(route, i, m, j) : undefined;
      if (p) prefixes.push(p);
    });
    if (duplicates === matches.length) {
      out.push({
        kind: "unreachable",
        rule: i,
        ruleName,
        reason: "all matches used by prior rules",
      });
    }
  });
  for (let a = 0; a < prefixes.length; a++) {
    for (let b = a + 1; b < prefixes.length; b++) {
      const [pa, pb] = [prefixes[a], prefixes[b]];
      if (pa.prefix === pb.prefix || !covers(pa, pb)) continue;
      out.push({
        kind: "ineffective",
        rule: pb.rule,
        match: pb.match,
        ruleName: pb.ruleName,
        matchName: `${pb.matchName} of prefix ${pb.prefix}`,
        dup: `${pa.matchName} of prefix ${pa.prefix} on ${pa.ruleName}`,
      });
    }
  }
  return out;
}

/** Reports rules and matches of VirtualServices that can never be used. */
export const unreachableRulesAnalyzer: Analyzer = {
  name: "virtualservice.UnreachableRulesAnalyzer",
  description: "Checks for VirtualService rules and matches that earlier rules make unusable",
  codes: [VirtualServiceUnreachableRule.code, VirtualServiceIneffectiveMatch.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      const origin = ctx.originOf(vs);
      for (const kind of ["http", "tcp", "tls"] as const) {
        const routes: unknown = vs.spec[kind];
        if (!Array.isArray(routes)) continue;
        for (const f of unreachableRules(routes, kind)) {
          const path: YamlPathSegment[] = ["spec", kind, f.rule];
          if (f.kind === "unreachable") {
            ctx.report(VirtualServiceUnreachableRule, [f.ruleName, f.reason], origin, path);
          } else {
            ctx.report(
              VirtualServiceIneffectiveMatch,
              [f.ruleName, f.matchName, f.dup],
              origin,
              [...path, "match", f.match],
            );
          }
        }
      }
    }
  },
};
