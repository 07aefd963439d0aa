/**
 * The values of an AuthorizationPolicy as Istio checks them (pkg/config/security): `when`
 * condition keys and their values, path templates (`{*}`, `{**}`), service accounts and trust
 * domains.
 *
 * @example
 * ```ts
 * pathTemplateProblem("/api/{*}/items"); // undefined: valid
 * pathTemplateProblem("/api/{id}"); // "invalid path ..."
 * conditionProblems({ key: "source.ip", values: ["a.b.c.d"] }); // one problem at ["values", 0]
 * ```
 * @module
 */

import { type Path, quote } from "./common.ts";
import { ipBlockProblem, isGoPort } from "./security_common.ts";

/** One problem with a condition, at a path relative to the condition. */
export interface ConditionProblem {
  path: Path;
  message: string;
}

/** The most serviceAccounts entries (and characters in one) Istio takes. */
const MAX_ACCOUNTS = 16;
const MAX_ACCOUNT_LENGTH = 320;

/**
 * Problems with a `serviceAccounts` entry: `name` or `namespace/name`, no `*`, at most 320
 * characters, neither part empty.
 */
export function serviceAccountProblem(v: string): string | undefined {
  if (v === "") return "empty values are not allowed";
  if (v.includes("*")) return `wildcards are not allowed in service accounts (${quote(v)})`;
  const slashes = v.split("/").length - 1;
  const [ns, sa] = v.split("/");
  if (slashes > 1 || (slashes === 1 && (ns === "" || sa === ""))) {
    return `invalid service account ${quote(v)}; write it as name or namespace/name`;
  }
  if (v.length > MAX_ACCOUNT_LENGTH) {
    return `service accounts are at most ${MAX_ACCOUNT_LENGTH} characters long`;
  }
  return undefined;
}

/** Problems with a value that may hold one `*`, at its start or its end (or be `*`). */
export function wildcardProblem(v: string): string | undefined {
  if (v === "") return "empty values are not allowed";
  const stars = v.split("*").length - 1;
  if (stars > 1) return `at most one * is allowed (${quote(v)})`;
  if (stars === 1 && !v.startsWith("*") && !v.endsWith("*")) {
    return `a * may only begin or end the value, as in foo* or *foo (${quote(v)})`;
  }
  return undefined;
}

/** Problems with a `trustDomains` entry: a wildcard value without `/`. */
export function trustDomainProblem(v: string): string | undefined {
  return wildcardProblem(v) ??
    (v.includes("/")
      ? `a trust domain has no '/' (${quote(v)}); write the domain alone, like cluster.local`
      : undefined);
}

/** The segments a path template may hold besides `{*}` and `{**}` (RFC 3986 pchar). */
const LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/**
 * Problems with an operation path: `{` and `}` only in whole `{*}` or `{**}` segments, `{**}` at
 * most once and last among the templates, and, in a templated path, every other segment a
 * plain literal (no `*`, `?`, `#` or empty segments).
 */
export function pathTemplateProblem(path: string): string | undefined {
  const templated = path.includes("{*}") || path.includes("{**}");
  let anySeen = false;
  for (const glob of path.replace(/^\/+|\/+$/g, "").split("/")) {
    if ((glob === "{*}" || glob === "{**}") && !anySeen) {
      if (glob === "{**}") anySeen = true;
      continue;
    }
    if (glob === "{*}" || glob === "{**}") {
      return `invalid path template ${quote(path)}: {**} must be the last template in the path`;
    }
    if (glob.includes("{") || glob.includes("}")) {
      return `invalid path ${quote(path)}: '{' and '}' are only allowed in whole {*} and ` +
        "{**} segments";
    }
    if (templated && !LITERAL.test(glob)) {
      return `invalid path template ${quote(path)}: segment ${
        quote(glob)
      } isn't a plain literal; ` +
        "use {*} for one segment and {**} for the rest";
    }
  }
  return undefined;
}

/** Keys that take any value. */
const PLAIN_KEYS = new Set([
  "source.namespace",
  "source.principal",
  "request.auth.principal",
  "request.auth.audiences",
  "request.auth.presenter",
  "connection.sni",
]);
const IP_KEYS = new Set(["source.ip", "remote.ip", "destination.ip"]);
/** Keys written `name[x]`, by prefix. */
const MAP_PREFIXES = ["request.headers", "request.auth.claims", "experimental.envoy.filters."];

/** Problems with a condition's key, or undefined when Istio knows it. */
function keyProblem(key: string): string | undefined {
  const prefix = MAP_PREFIXES.find((p) => key.startsWith(p));
  if (prefix !== undefined) {
    const open = key.indexOf("[");
    if (key.endsWith("]") && open > 0 && open < key.length - 2) return undefined;
    return `invalid key ${quote(key)}; write it as ${prefix.replace(/\.$/, "")}[name]`;
  }
  if (PLAIN_KEYS.has(key) || IP_KEYS.has(key)) return undefined;
  if (["destination.port", "source.serviceAccount", "source.trustDomain"].includes(key)) {
    return undefined;
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

/** Problems with one value of a known key. */
function valueProblem(key: string, v: string): string | undefined {
  if (v === "") return "empty values are not allowed";
  if (IP_KEYS.has(key)) return ipBlockProblem(v);
  if (key === "destination.port" && !isGoPort(v)) {
    return `invalid port ${quote(v)}; use a number from 0 to 65535`;
  }
  if (key === "source.serviceAccount") return serviceAccountProblem(v);
  if (key === "source.trustDomain") return wildcardProblem(v);
  return undefined;
}

/**
 * Problems with a `when` condition that has a key and values (Istio's ValidateAttribute, run on
 * `values` and on `notValues`): the key must be an attribute Istio knows, and the values fit it.
 */
export function conditionProblems(
  c: { key: string; values?: string[]; notValues?: string[] },
): ConditionProblem[] {
  const problem = keyProblem(c.key);
  if (problem) return [{ path: ["key"], message: problem }];
  const out: ConditionProblem[] = [];
  for (const field of ["values", "notValues"] as const) {
    const list = c[field] ?? [];
    if (c.key === "source.serviceAccount" && list.length > MAX_ACCOUNTS) {
      out.push({ path: [field], message: `at most ${MAX_ACCOUNTS} service accounts` });
    }
    list.forEach((v, k) => {
      const p = valueProblem(c.key, v);
      if (p) out.push({ path: [field, k], message: p });
    });
  }
  return out;
}
