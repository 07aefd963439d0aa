/**
 * AuthorizationPolicy (`security.istio.io`): action, rules (from, to, when), selector or
 * targetRefs, with Istio's rules.
 * @module
 */

import { z } from "zod";
import {
  checkPolicyTargets,
  isIPOrCIDR,
  NOT_SUPPORTED,
  type Path,
  policyTargetReference,
  quote,
  type Reporter,
  stringList,
  workloadSelector,
} from "./common.ts";
const source = z.strictObject({
  principals: stringList.optional(),
  notPrincipals: stringList.optional(),
  requestPrincipals: stringList.optional(),
  notRequestPrincipals: stringList.optional(),
  namespaces: stringList.optional(),
  notNamespaces: stringList.optional(),
  serviceAccounts: z.array(z.string().max(320)).max(16, { error: "at most 16 serviceAccounts" })
    .optional(),
  notServiceAccounts: z.array(z.string().max(320)).max(16, {
    error: "at most 16 notServiceAccounts",
  }).optional(),
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
/** Source fields a request's JWT gives: only HTTP requests have them. */
const REQUEST_SOURCE_FIELDS: readonly string[] = ["requestPrincipals", "notRequestPrincipals"];
/** Source fields that tell TCP connections apart too. */
const TCP_SOURCE_FIELDS = SOURCE_FIELDS.filter((k) => !REQUEST_SOURCE_FIELDS.includes(k));
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
const CUSTOM_UNSUPPORTED_SOURCE = [
  "namespaces",
  "notNamespaces",
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
] as const;
const IP_FIELDS = ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const;

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

/** Checks an AuthorizationPolicy spec. */
export function checkAuthorizationPolicy(spec: AuthorizationPolicySpec, r: Reporter): void {
  checkPolicyTargets(spec, r);
  const action = spec.action ?? "ALLOW";
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
    if (spec.rules === undefined) {
      r.error(
        [...base, "rules"],
        "a CUSTOM policy without rules never applies; add rules (an empty rule {} matches " +
          "every request)",
      );
    }
    if (!spec.provider?.name) {
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
  if (action === "DENY" && spec.rules === undefined) {
    r.error(
      [...base, "rules"],
      "a DENY policy without rules never applies; add rules (an empty rule {} matches every " +
        "request)",
    );
  }
  spec.rules?.forEach((rl, i) => checkRule(rl, [...base, "rules", i], action, r));
}

function checkRule(rl: Rule, path: Path, action: string, r: Reporter): void {
  let fromHttpOnly = false;
  let fromTcp = false;
  if (rl.from !== undefined && rl.from.length === 0) {
    r.error([...path, "from"], "from is empty; add a source, or remove from to match anyone");
  }
  rl.from?.forEach((f, j) => {
    const at = [...path, "from", j, "source"];
    const src = f.source;
    if (!src) {
      r.error(at, `missing required field "source"`);
      return;
    }
    const set = SOURCE_FIELDS.filter((k) => src[k] !== undefined);
    if (set.length === 0) {
      r.error(at, "empty source; set principals, namespaces, ipBlocks or another field");
    }
    if (TCP_SOURCE_FIELDS.some((k) => src[k] !== undefined)) fromTcp = true;
    else fromHttpOnly = true;
    for (const field of set) {
      src[field]?.forEach((v, k) => {
        if (v === "") r.error([...at, field, k], "empty values are not allowed");
      });
    }
    for (const field of IP_FIELDS) {
      src[field]?.forEach((v, k) => {
        if (v !== "" && !isIPOrCIDR(v)) {
          r.error([...at, field, k], `invalid IP address or CIDR block ${quote(v)}`);
        }
      });
    }
    const accounts = ["serviceAccounts", "notServiceAccounts"].filter((k) =>
      src[k as keyof Source] !== undefined
    );
    const identities = ["principals", "notPrincipals", "namespaces", "notNamespaces"].filter((k) =>
      src[k as keyof Source] !== undefined
    );
    if (accounts.length && identities.length) {
      r.error(
        [...at, accounts[0]],
        `${accounts[0]} can't be combined with ${identities.join(", ")}; keep one kind`,
      );
    }
    for (const field of UNENFORCED_SOURCE) {
      if (src[field] !== undefined) {
        r.warn(
          [...at, field],
          "not supported by mesh yet: an ALLOW rule with it never matches, a DENY rule " +
            "ignores it",
        );
      }
    }
    if (action === "CUSTOM") {
      for (const field of CUSTOM_UNSUPPORTED_SOURCE) {
        if (src[field] !== undefined) {
          r.error([...at, field], `${field} is not supported with action CUSTOM`);
        }
      }
    }
  });
  let toHttpOnly = false;
  let toTcp = false;
  if (rl.to !== undefined && rl.to.length === 0) {
    r.error([...path, "to"], "to is empty; add an operation, or remove to to match anything");
  }
  rl.to?.forEach((t, j) => {
    const at = [...path, "to", j, "operation"];
    const op = t.operation;
    if (!op) {
      r.error(at, `missing required field "operation"`);
      return;
    }
    const set = OPERATION_FIELDS.filter((k) => op[k] !== undefined);
    if (set.length === 0) r.error(at, "empty operation; set paths, methods, ports or hosts");
    if (op.ports !== undefined || op.notPorts !== undefined) toTcp = true;
    else toHttpOnly = true;
    for (const field of set) {
      op[field]?.forEach((v, k) => {
        if (v === "") r.error([...at, field, k], "empty values are not allowed");
      });
    }
    for (const field of ["ports", "notPorts"] as const) {
      op[field]?.forEach((v, k) => {
        if (v !== "" && !isPort(v)) {
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
  });
  rl.when?.forEach((c, j) => {
    const at = [...path, "when", j];
    if (c.key === "") {
      r.error([...at, "key"], "key may not be empty");
      return;
    }
    if (c.values === undefined && c.notValues === undefined) {
      r.error(at, `set values or notValues for key ${quote(c.key)}`);
    } else if (!c.values?.length && !c.notValues?.length) {
      r.error(at, `values and notValues are both empty for key ${quote(c.key)}`);
    }
    const keyProblem = conditionKeyProblem(c.key);
    if (keyProblem) {
      r.error([...at, "key"], keyProblem);
    } else {
      if (!supportedConditionKey(c.key)) {
        r.warn(
          [...at, "key"],
          `${quote(c.key)} is not supported by mesh yet: an ALLOW rule with it never matches, ` +
            "a DENY rule ignores it",
        );
      }
      for (const field of ["values", "notValues"] as const) {
        c[field]?.forEach((v, k) => {
          const problem = conditionValueProblem(c.key, v);
          if (problem) r.error([...at, field, k], problem);
        });
      }
    }
    if (
      action === "CUSTOM" &&
      (c.key === "source.namespace" || c.key === "source.principal" ||
        c.key.startsWith("request.auth."))
    ) {
      r.error([...at, "key"], `${c.key} is not supported with action CUSTOM`);
    }
  });
  if (
    action === "DENY" &&
    ((fromHttpOnly && !fromTcp && rl.to === undefined) || (toHttpOnly && !toTcp))
  ) {
    r.warn(
      path,
      "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports it " +
        "covers; add ports to scope it",
    );
  }
}

function isPort(v: string): boolean {
  return /^\d{1,5}$/.test(v) && Number(v) <= 65535;
}

/** `{*}` and `{**}` path templates: only whole segments, no named variables. */
function pathTemplateProblem(path: string): string | undefined {
  if (!path.includes("{*}") && !path.includes("{**}")) return undefined;
  if (/\/\{\w+=\*\*?\}|\{\w*\}|\/\*\*?|\*\*?\//.test(path)) {
    return `invalid path template ${quote(path)}; use {*} for one segment and {**} for the rest`;
  }
  return undefined;
}

/** The attribute names a `when` condition may use. */
const CONDITION_KEYS = new Set([
  "source.ip",
  "remote.ip",
  "source.namespace",
  "source.principal",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "destination.ip",
  "destination.port",
  "connection.sni",
]);
const MAP_KEYS = ["request.headers", "request.auth.claims", "experimental.envoy.filters."];

function conditionKeyProblem(key: string): string | undefined {
  if (CONDITION_KEYS.has(key)) return undefined;
  const prefix = MAP_KEYS.find((p) => key.startsWith(p));
  if (prefix !== undefined) {
    const open = key.indexOf("[");
    if (key.endsWith("]") && open > 0 && open < key.length - 2) return undefined;
    return `invalid key ${quote(key)}; write it as ${prefix.replace(/\.$/, "")}[name]`;
  }
  if (key === "destination.namespace") {
    return "destination.namespace is replaced by the policy's own namespace";
  }
  if (key.startsWith("destination.labels")) return "destination.labels is replaced by selector";
  if (key === "destination.name" || key === "destination.user") {
    return `${key} is no longer supported (it was in v1alpha1)`;
  }
  return `unknown key ${quote(key)}; use e.g. request.headers[name], source.ip, ` +
    "source.namespace, source.principal, request.auth.claims[name], destination.port";
}

function conditionValueProblem(key: string, value: string): string | undefined {
  if (value === "") return "empty values are not allowed";
  if (
    (key === "source.ip" || key === "remote.ip" || key === "destination.ip") && !isIPOrCIDR(value)
  ) {
    return `invalid IP address or CIDR block ${quote(value)}`;
  }
  if (key === "destination.port" && !isPort(value)) {
    return `invalid port ${quote(value)}; use a number from 0 to 65535`;
  }
  return undefined;
}
