/**
 * HTTP rules of a VirtualService that can never be used (Istio reports these from its
 * VirtualService validation as `IST0130` and `IST0131`):
 *
 * - a rule after a rule without matches (that one takes every request), or a second rule
 *   without matches: `IST0130`;
 * - a match identical (ignoring its `name`) to a match of an earlier rule: `IST0131`, and
 *   `IST0130` when every match of the rule is such a duplicate;
 * - a `uri.prefix` match covered by an earlier rule's shorter prefix with the same other
 *   conditions (port, method, authority, headers): `IST0131`.
 *
 * Rules are named `#<index>`, or by their `name` in quotes, as Istio names them.
 * @module
 */
import type { HTTPMatchRequest, HTTPRoute } from "../../api/resources.ts";
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

function ruleName(route: HTTPRoute, i: number): string {
  return route.name ? JSON.stringify(route.name) : `#${i}`;
}

function matchName(m: HTTPMatchRequest, j: number): string {
  return m.name ? JSON.stringify(m.name) : `#${j}`;
}

/** JSON with sorted keys, for comparing matches regardless of field order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** A match's conditions without its name. */
function matchKey(m: HTTPMatchRequest): string {
  const { name: _name, ...rest } = m;
  return canonical(rest);
}

/** `exact:v` / `prefix:v` for a string match (regex and presence give ""), as Istio compares. */
function exactOrPrefix(sm: { exact?: string; prefix?: string } | undefined): string {
  if (sm?.exact) return `exact:${sm.exact}`;
  if (sm?.prefix) return `prefix:${sm.prefix}`;
  return "";
}

interface PrefixMatch {
  rule: number;
  match: number;
  ruleName: string;
  matchName: string;
  prefix: string;
  port?: number;
  method: string;
  authority: string;
  headers: Record<string, string>;
  /** Conditions compared only for equality (query parameters, withoutHeaders, ...). */
  rest: string;
}

function prefixMatch(route: HTTPRoute, i: number, m: HTTPMatchRequest, j: number) {
  const prefix = m.uri?.prefix;
  if (!prefix) return undefined;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = exactOrPrefix(v);
  const {
    name: _n,
    uri: _u,
    port: _p,
    method: _m,
    authority: _a,
    headers: _h,
    ...rest
  } = m;
  const out: PrefixMatch = {
    rule: i,
    match: j,
    ruleName: ruleName(route, i),
    matchName: matchName(m, j),
    prefix,
    method: exactOrPrefix(m.method) || "exact:GET",
    authority: exactOrPrefix(m.authority),
    headers,
    rest: canonical(rest),
  };
  if (m.port !== undefined) out.port = m.port;
  return out;
}

/** Whether the earlier prefix match `a` takes every request the later `b` would. */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port || a.rest !== b.rest) return false;
  const within = (x: string, y: string) => x === y || x.startsWith(y);
  if (!within(a.method, b.method) || !within(a.authority, b.authority)) return false;
  const ak = Object.keys(a.headers);
  if (ak.length !== Object.keys(b.headers).length) return false;
  return ak.every((k) => k in b.headers && within(a.headers[k], b.headers[k]));
}

/** Finds the unreachable rules and ineffective matches of a list of HTTP routes. */
export function unreachableRules(routes: readonly HTTPRoute[]): RuleFinding[] {
  const out: RuleFinding[] = [];
  const seen = new Map<string, number>();
  const prefixes: PrefixMatch[] = [];
  let catchAll = -1;
  routes.forEach((route, i) => {
    const matches = route.match ?? [];
    if (matches.length === 0) {
      if (catchAll >= 0) {
        out.push({
          kind: "unreachable",
          rule: i,
          ruleName: ruleName(route, i),
          reason: "only the last rule can have no matches",
        });
      }
      catchAll = i;
      return;
    }
    if (catchAll >= 0) {
      out.push({
        kind: "unreachable",
        rule: i,
        ruleName: ruleName(route, i),
        reason: "route without matches defined before",
      });
      return;
    }
    let duplicates = 0;
    matches.forEach((m, j) => {
      const key = matchKey(m);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        duplicates++;
        out.push({
          kind: "ineffective",
          rule: i,
          match: j,
          ruleName: ruleName(route, i),
          matchName: matchName(m, j),
          dup: ruleName(routes[earlier], earlier),
        });
        return;
      }
      seen.set(key, i);
      const p = prefixMatch(route, i, m, j);
      if (p) prefixes.push(p);
    });
    if (duplicates === matches.length) {
      out.push({
        kind: "unreachable",
        rule: i,
        ruleName: ruleName(route, i),
        reason: "all matches used by prior rules",
      });
    }
  });
  for (let a = 0; a < prefixes.length; a++) {
    for (let b = a + 1; b < prefixes.length; b++) {
      const [pa, pb] = [prefixes[a], prefixes[b]];
      if (pa.prefix === pb.prefix || pa.rule === pb.rule) continue;
      if (!covers(pa, pb)) continue;
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

/** Reports HTTP rules and matches of VirtualServices that can never be used. */
export const unreachableRulesAnalyzer: Analyzer = {
  name: "virtualservice.UnreachableRulesAnalyzer",
  description: "Checks for VirtualService rules and matches that earlier rules make unusable",
  codes: [VirtualServiceUnreachableRule.code, VirtualServiceIneffectiveMatch.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      const origin = ctx.originOf(vs);
      for (const f of unreachableRules(vs.spec.http ?? [])) {
        const path: YamlPathSegment[] = ["spec", "http", f.rule];
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
  },
};
