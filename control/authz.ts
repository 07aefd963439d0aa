/**
 * AuthorizationPolicy → the {@linkcode AuthzPolicy} list of one workload:
 * the policies in the mesh's root namespace, and those in the workload's
 * namespace, that select it (no selector selects every workload there), as
 * Istio applies them. Fields mesh doesn't enforce were warned about at
 * validation; here they fail closed, as Istio treats fields a proxy can't
 * evaluate: an ALLOW rule that relies on one never matches, and a DENY rule
 * ignores it (so it denies more, never less).
 *
 * A policy annotated `istio.io/dry-run: "true"` (Go's booleans) is sent marked `dryRun`: the
 * proxy evaluates it beside the enforced ones and logs what it would have decided, never
 * letting it allow or deny (Istio's shadow rules). Empty lists are read as unset, as Istio's
 * protobuf decoding does (`from: []` is no `from`, `principals: []` no principals).
 * @module
 */
import type {
  AuthzCondition,
  AuthzOperation,
  AuthzPolicy,
  AuthzRule,
  AuthzSource,
  NodeInfo,
} from "../api/proxy_config.ts";
import type { AuthorizationPolicy } from "../api/resources.ts";
import {
  ENFORCED_SOURCE,
  OPERATION_FIELDS,
  supportedConditionKey,
  UNENFORCED_SOURCE,
} from "../api/schemas/security.ts";
import { isDryRun } from "../api/schemas/security_common.ts";
import { labelsMatch } from "./labels.ts";
import { rootNamespaceOf, type Snapshot } from "./snapshot.ts";

/** The AuthorizationPolicies of `snapshot` that apply to the proxy `node`, translated. */
export function authzFor(snapshot: Snapshot, node: NodeInfo): AuthzPolicy[] {
  const root = rootNamespaceOf(snapshot.mesh);
  const out: AuthzPolicy[] = [];
  for (const p of snapshot.authorizationPolicies) {
    const ns = p.metadata.namespace;
    if (ns !== root && ns !== node.namespace) continue;
    if (p.spec.targetRef || p.spec.targetRefs?.length) continue; // warned: not supported
    const selector = p.spec.selector?.matchLabels;
    if (selector && !labelsMatch(selector, node.labels)) continue;
    const t = translate(p);
    if (t) out.push(expandTrustDomains(t, snapshot.mesh));
  }
  return out;
}

/**
 * Istio's trust domain migration: a principal whose trust domain is the mesh's,
 * one of its `trustDomainAliases`, or `cluster.local` (a policy's name for "this
 * mesh") stands for that identity under the mesh's trust domain and every alias.
 * Principals of other trust domains, and wildcards, are left as written.
 *
 * @example
 * ```ts
 * expandPrincipal("cluster.local/ns/a/sa/b", ["new-td", "old-td"]);
 * // ["new-td/ns/a/sa/b", "old-td/ns/a/sa/b"]
 * ```
 */
export function expandPrincipal(principal: string, domains: readonly string[]): string[] {
  const at = principal.indexOf("/ns/");
  if (at <= 0) return [principal];
  const td = principal.slice(0, at);
  if (td !== "cluster.local" && !domains.includes(td)) return [principal];
  const rest = principal.slice(at);
  return domains.map((d) => d + rest);
}

function expandTrustDomains(
  policy: AuthzPolicy,
  mesh: { trustDomain: string; trustDomainAliases?: string[] },
): AuthzPolicy {
  const domains = [mesh.trustDomain, ...(mesh.trustDomainAliases ?? [])];
  if (domains.length === 1 && domains[0] === "cluster.local") return policy;
  const expand = (list?: string[]) =>
    list && [...new Set(list.flatMap((p) => expandPrincipal(p, domains)))];
  for (const rule of policy.rules) {
    for (const src of rule.from ?? []) {
      if (src.principals) src.principals = expand(src.principals);
      if (src.notPrincipals) src.notPrincipals = expand(src.notPrincipals);
    }
    for (const c of rule.when ?? []) {
      if (c.key !== "source.principal") continue;
      if (c.values) c.values = expand(c.values);
      if (c.notValues) c.notValues = expand(c.notValues);
    }
  }
  return policy;
}

function translate(p: AuthorizationPolicy): AuthzPolicy | undefined {
  const declared = p.spec.action ?? "ALLOW";
  if (declared === "AUDIT") return undefined; // logging only: warned
  // CUSTOM needs an external authorizer mesh doesn't have: its rules deny (fail closed).
  const action = declared === "CUSTOM" ? "DENY" : declared;
  const rules: AuthzRule[] = [];
  for (const r of p.spec.rules ?? []) {
    const rule = translateRule(r, action === "DENY");
    if (rule) rules.push(rule);
  }
  const out: AuthzPolicy = { name: `${p.metadata.namespace}/${p.metadata.name}`, action, rules };
  // Validation allows the annotation only on ALLOW and DENY policies.
  if (isDryRun(p.metadata.annotations) && declared !== "CUSTOM") out.dryRun = true;
  return out;
}

/** A list, or undefined when it is empty (protobuf has no empty lists). */
function nonEmpty<T>(list: readonly T[] | undefined): T[] | undefined {
  return list?.length ? [...list] : undefined;
}

type RawRule = NonNullable<AuthorizationPolicy["spec"]["rules"]>[number];

/**
 * A rule, or undefined when an ALLOW rule depends on something mesh can't
 * evaluate (it never matches); a DENY rule drops that part instead.
 */
function translateRule(r: RawRule, deny: boolean): AuthzRule | undefined {
  const out: AuthzRule = {};
  if (r.from?.length) {
    const from: AuthzSource[] = [];
    for (const f of r.from) {
      const s = f.source ?? {};
      if (unsupportedSource(s) && !deny) continue;
      const src: AuthzSource = {};
      for (const k of ENFORCED_SOURCE) {
        const list = nonEmpty(s[k]);
        if (list) src[k] = list;
      }
      from.push(src);
    }
    if (from.length === 0) return undefined;
    out.from = from;
  }
  if (r.to?.length) {
    const to: AuthzOperation[] = [];
    for (const t of r.to) {
      const op: AuthzOperation = {};
      for (const k of OPERATION_FIELDS) {
        const list = nonEmpty(t.operation?.[k]);
        if (list) op[k] = list;
      }
      // Path templates ({*}, {**}) can't be evaluated: an ALLOW operation with one never
      // matches; a DENY operation treats it as any path (and drops a templated notPaths).
      const templated = (list?: string[]) => list?.some((p) => p.includes("{")) ?? false;
      if (templated(op.paths) || templated(op.notPaths)) {
        if (!deny) continue;
        if (templated(op.paths)) op.paths = ["*"];
        if (templated(op.notPaths)) delete op.notPaths;
      }
      to.push(op);
    }
    if (to.length === 0) return undefined;
    out.to = to;
  }
  if (r.when?.length) {
    if (!deny && r.when.some((c) => !supportedConditionKey(c.key))) return undefined;
    out.when = r.when.filter((c) => supportedConditionKey(c.key)).map((c) => {
      const cond: AuthzCondition = { key: c.key };
      const values = nonEmpty(c.values);
      const notValues = nonEmpty(c.notValues);
      if (values) cond.values = values;
      if (notValues) cond.notValues = notValues;
      return cond;
    });
  }
  return out;
}

function unsupportedSource(s: Record<string, unknown>): boolean {
  return UNENFORCED_SOURCE.some((k) => (s[k] as unknown[] | undefined)?.length);
}
