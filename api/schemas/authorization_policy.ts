/**
 * AuthorizationPolicy (`security.istio.io`): action, rules (from, to, when), selector or
 * targetRefs, and the `istio.io/dry-run` annotation, with Istio's rules (its webhook's
 * ValidateAuthorizationPolicy and the CRD's schema). The values of `when` conditions and
 * `to.operation.paths` are checked by authorization_values.ts.
 *
 * Empty lists are unset to Istio's webhook (protobuf has no empty list): `principals: []` alone
 * is an empty source, `rules: []` on a DENY policy is no rules. `from: []` and `to: []` are
 * accepted as unset (mesh warns, since the rule then matches any source or operation).
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  NOT_SUPPORTED,
  type Path,
  policyTargetReference,
  quote,
  type Reporter,
  stringList,
  workloadSelector,
} from "./common.ts";
import { checkPolicyTargetsAsIstio } from "./policy_targets.ts";
import {
  checkDryRunAnnotation,
  has,
  ipBlockProblem,
  isGoPort,
  present,
} from "./security_common.ts";
import {
  conditionProblems,
  pathTemplateProblem,
  serviceAccountProblem,
  trustDomainProblem,
} from "./authorization_values.ts";

const serviceAccount = z.string().max(320, {
  error: "service accounts are at most 320 characters long",
});

const source = z.strictObject({
  principals: stringList.optional(),
  notPrincipals: stringList.optional(),
  requestPrincipals: stringList.optional(),
  notRequestPrincipals: stringList.optional(),
  namespaces: stringList.optional(),
  notNamespaces: stringList.optional(),
  serviceAccounts: z.array(serviceAccount).max(16, { error: "at most 16 serviceAccounts" })
    .optional(),
  notServiceAccounts: z.array(serviceAccount).max(16, { error: "at most 16 notServiceAccounts" })
    .optional(),
  ipBlocks: stringList.optional(),
  notIpBlocks: stringList.optional(),
  remoteIpBlocks: stringList.optional(),
  notRemoteIpBlocks: stringList.optional(),
  trustDomains: stringList.optional(),
  notTrustDomains: stringList.optional(),
});
/** Who a rule matches. */
export type Source = z.infer<typeof source>;

const operation = z.strictObject({
  hosts: stringList.optional(),
  notHosts: stringList.optional(),
  ports: stringList.optional(),
  notPorts: stringList.optional(),
  methods: stringList.optional(),
  notMethods: stringList.optional(),
  paths: stringList.optional(),
  notPaths: stringList.optional(),
});
/** What a rule matches. */
export type Operation = z.infer<typeof operation>;

const condition = z.strictObject({
  key: z.string(),
  values: stringList.optional(),
  notValues: stringList.optional(),
});
/** An extra condition of a rule. */
export type Condition = z.infer<typeof condition>;

const rule = z.strictObject({
  from: z.array(z.strictObject({ source: source.optional() })).max(512).optional(),
  to: z.array(z.strictObject({ operation: operation.optional() })).optional(),
  when: z.array(condition).optional(),
});
/** One rule of an AuthorizationPolicy. */
export type Rule = z.infer<typeof rule>;

/** Actions of an AuthorizationPolicy. */
export const AUTHZ_ACTIONS = ["ALLOW", "DENY", "AUDIT", "CUSTOM"] as const;

/** The schema of an AuthorizationPolicy `spec`. */
export const authorizationPolicySpec = z.strictObject({
  selector: workloadSelector.optional(),
  targetRef: policyTargetReference.optional(),
  targetRefs: z.array(policyTargetReference).optional(),
  rules: z.array(rule).max(512, { error: "at most 512 rules" }).optional(),
  action: z.enum(AUTHZ_ACTIONS).optional(),
  provider: z.strictObject({ name: z.string().optional() }).optional(),
});
/** `spec` of an AuthorizationPolicy. */
export type AuthorizationPolicySpec = z.infer<typeof authorizationPolicySpec>;

/** The fields of an AuthorizationPolicy source. */
export const SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "trustDomains",
  "notTrustDomains",
] as const;
/**
 * Source fields that make a DENY rule apply to TCP too (Istio's list: the request principals
 * and, as Istio has it, the trust domains are not among them).
 */
const TCP_SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "ipBlocks",
  "notIpBlocks",
  "namespaces",
  "notNamespaces",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "serviceAccounts",
  "notServiceAccounts",
] as const;
/** The fields of an AuthorizationPolicy operation. */
export const OPERATION_FIELDS = [
  "hosts",
  "notHosts",
  "ports",
  "notPorts",
  "methods",
  "notMethods",
  "paths",
  "notPaths",
] as const;
/** Source fields a CUSTOM policy can't use (its external authorizer gets no peer identity). */
const CUSTOM_UNSUPPORTED_SOURCE = [
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
] as const;
/** `when` keys a CUSTOM policy can't use (besides every `request.auth.*`). */
const CUSTOM_UNSUPPORTED_KEYS = [
  "source.namespace",
  "source.serviceAccount",
  "source.trustDomain",
  "source.principal",
];
const IP_FIELDS = ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const;
/** Source fields whose values are only checked for emptiness. */
const PLAIN_SOURCE_FIELDS = SOURCE_FIELDS.filter((k) =>
  !k.endsWith("erviceAccounts") && !k.endsWith("rustDomains")
);

/** Source fields mesh doesn't evaluate (remote IPs, account shorthands). */
export const UNENFORCED_SOURCE = [
  "remoteIpBlocks",
  "notRemoteIpBlocks",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
] as const;

/** Source fields mesh evaluates: every other one. */
export const ENFORCED_SOURCE = SOURCE_FIELDS.filter((
  k,
): k is Exclude<typeof SOURCE_FIELDS[number], typeof UNENFORCED_SOURCE[number]> =>
  !(UNENFORCED_SOURCE as readonly string[]).includes(k)
);

/**
 * Whether mesh evaluates a `when` key: the peer, its IP, the port, request headers, and the
 * request's JWT identity (`request.auth.*`).
 */
export function supportedConditionKey(key: string): boolean {
  return [
    "source.principal",
    "source.namespace",
    "source.ip",
    "destination.port",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
  ].includes(key) ||
    /^request\.headers\[[^\]]+\]$/.test(key) ||
    /^request\.auth\.claims\[[^\]]+\](\[[^\]]+\])*$/.test(key);
}

/** Checks an AuthorizationPolicy spec (and its `istio.io/dry-run` annotation). */
export function checkAuthorizationPolicy(
  spec: AuthorizationPolicySpec,
  r: Reporter,
  ctx?: CheckContext,
): void {
  const action = spec.action ?? "ALLOW";
  checkDryRunAnnotation(ctx?.annotations, { kind: "AuthorizationPolicy", action }, r);
  checkPolicyTargetsAsIstio(spec, r);
  const base: Path = ["spec"];
  if (action === "AUDIT") r.warn([...base, "action"], `AUDIT is ${NOT_SUPPORTED}`);
  if (action === "CUSTOM") {
    r.warn(
      [...base, "action"],
      "CUSTOM (external authorization) is not supported by mesh yet: its rules deny " +
        "(fail closed)",
    );
  }
  for (const k of ["targetRef", "targetRefs"] as const) {
    if (spec[k] !== undefined) r.warn([...base, k], `${NOT_SUPPORTED} (the policy is skipped)`);
  }
  if (action === "CUSTOM") {
    if (!has(spec.rules)) {
      r.error(
        [...base, "rules"],
        "a CUSTOM policy without rules never applies; add rules (an empty rule {} matches " +
          "every request)",
      );
    } else if (!spec.provider?.name) {
      r.error(
        [...base, "provider", "name"],
        "action CUSTOM needs provider.name, naming an extension provider of the MeshConfig",
      );
    }
  } else if (spec.provider !== undefined) {
    r.error(
      [...base, "provider"],
      `provider is only for action CUSTOM; remove it or set action: CUSTOM (action is ${action})`,
    );
  }
  if (action === "DENY" && !has(spec.rules)) {
    r.error(
      [...base, "rules"],
      "a DENY policy without rules never applies; add rules (an empty rule {} matches every " +
        "request)",
    );
  }
  spec.rules?.forEach((rl, i) => checkRule(rl, { path: [...base, "rules", i], action, r }));
}

/** Where a rule is and what its policy does. */
interface RuleContext {
  path: Path;
  action: string;
  r: Reporter;
}

function checkRule(rl: Rule, ctx: RuleContext): void {
  const { path, action, r } = ctx;
  let fromExists = false;
  let fromTcp = false;
  if (rl.from !== undefined && rl.from.length === 0) {
    r.warn(
      [...path, "from"],
      "from is empty, which Istio reads as unset: this rule matches any source; remove from, " +
        "or list sources",
    );
  }
  rl.from?.forEach((f, j) => {
    const at = [...path, "from", j, "source"];
    if (!f.source) {
      r.error(at, `missing required field "source"`);
      return;
    }
    fromExists = true;
    if (TCP_SOURCE_FIELDS.some((k) => has(f.source![k]))) fromTcp = true;
    checkSource(f.source, at, ctx);
  });
  let toExists = false;
  let toTcp = false;
  if (rl.to !== undefined && rl.to.length === 0) {
    r.warn(
      [...path, "to"],
      "to is empty, which Istio reads as unset: this rule matches any operation; remove to, " +
        "or list operations",
    );
  }
  rl.to?.forEach((t, j) => {
    const at = [...path, "to", j, "operation"];
    if (!t.operation) {
      r.error(at, `missing required field "operation"`);
      return;
    }
    toExists = true;
    if (has(t.operation.ports) || has(t.operation.notPorts)) toTcp = true;
    checkOperation(t.operation, at, r);
  });
  rl.when?.forEach((c, j) => checkCondition(c, [...path, "when", j], ctx));
  if (action === "DENY" && ((fromExists && !toExists && !fromTcp) || (toExists && !toTcp))) {
    r.warn(
      path,
      "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports it " +
        "covers; add ports to scope it",
    );
  }
}

function checkSource(src: Source, at: Path, ctx: RuleContext): void {
  const { action, r } = ctx;
  if (!SOURCE_FIELDS.some((k) => has(src[k]))) {
    r.error(at, "empty source; set principals, namespaces, ipBlocks or another field");
  }
  // The CRD's rule counts a field written at all, even as [].
  const accounts = ["serviceAccounts", "notServiceAccounts"].filter((k) =>
    present(src[k as keyof Source])
  );
  const identities = ["principals", "notPrincipals", "namespaces", "notNamespaces"].filter((k) =>
    present(src[k as keyof Source])
  );
  if (accounts.length && identities.length) {
    r.error(
      [...at, accounts[0]],
      `${accounts[0]} can't be combined with ${identities.join(", ")}; keep one kind`,
    );
  }
  for (const field of PLAIN_SOURCE_FIELDS) {
    src[field]?.forEach((v, k) => {
      if (v === "") r.error([...at, field, k], "empty values are not allowed");
    });
  }
  for (const field of IP_FIELDS) {
    src[field]?.forEach((v, k) => {
      const problem = v === "" ? undefined : ipBlockProblem(v);
      if (problem) r.error([...at, field, k], problem);
    });
  }
  for (const field of ["serviceAccounts", "notServiceAccounts"] as const) {
    src[field]?.forEach((v, k) => {
      const problem = serviceAccountProblem(v);
      if (problem) r.error([...at, field, k], problem);
    });
  }
  for (const field of ["trustDomains", "notTrustDomains"] as const) {
    src[field]?.forEach((v, k) => {
      const problem = trustDomainProblem(v);
      if (problem) r.error([...at, field, k], problem);
    });
  }
  for (const field of UNENFORCED_SOURCE) {
    if (has(src[field])) {
      r.warn(
        [...at, field],
        "not supported by mesh yet: an ALLOW rule with it never matches, a DENY rule " +
          "ignores it",
      );
    }
  }
  if (action === "CUSTOM") {
    for (const field of CUSTOM_UNSUPPORTED_SOURCE) {
      if (has(src[field])) r.error([...at, field], `${field} is not supported with action CUSTOM`);
    }
  }
}

function checkOperation(op: Operation, at: Path, r: Reporter): void {
  if (!OPERATION_FIELDS.some((k) => has(op[k]))) {
    r.error(at, "empty operation; set paths, methods, ports or hosts");
  }
  for (const field of OPERATION_FIELDS) {
    op[field]?.forEach((v, k) => {
      if (v === "") r.error([...at, field, k], "empty values are not allowed");
    });
  }
  for (const field of ["ports", "notPorts"] as const) {
    op[field]?.forEach((v, k) => {
      if (v !== "" && !isGoPort(v)) {
        r.error([...at, field, k], `invalid port ${quote(v)}; use a number from 0 to 65535`);
      }
    });
  }
  for (const field of ["paths", "notPaths"] as const) {
    op[field]?.forEach((v, k) => {
      const problem = pathTemplateProblem(v);
      if (problem) r.error([...at, field, k], problem);
      else if (v.includes("{")) {
        r.warn(
          [...at, field, k],
          "path templates are not supported by mesh yet: an ALLOW rule with one never matches, " +
            "a DENY rule treats it as any path",
        );
      }
    });
  }
}

function checkCondition(c: Condition, at: Path, ctx: RuleContext): void {
  const { action, r } = ctx;
  if (action === "CUSTOM") {
    if (CUSTOM_UNSUPPORTED_KEYS.includes(c.key) || c.key.startsWith("request.auth.")) {
      r.error([...at, "key"], `${c.key} is not supported with action CUSTOM`);
    }
  }
  if (c.key === "") {
    r.error([...at, "key"], "key may not be empty");
    return;
  }
  if (!has(c.values) && !has(c.notValues)) {
    r.error(at, `set values or notValues for key ${quote(c.key)}`);
    return;
  }
  const problems = conditionProblems(c);
  for (const p of problems) r.error([...at, ...p.path], p.message);
  if (problems.length === 0 && !supportedConditionKey(c.key)) {
    r.warn(
      [...at, "key"],
      `${quote(c.key)} is not supported by mesh yet: an ALLOW rule with it never matches, ` +
        "a DENY rule ignores it",
    );
  }
}
