/**
 * Building blocks of the Gateway API (`gateway.networking.k8s.io`) schemas: the value formats of
 * its CRDs (names, hostnames, header names and values, durations), references (parentRefs,
 * backendRefs, Secret refs), label selectors, the header and mirror filters shared by HTTPRoute
 * and GRPCRoute, and the CRDs' CEL rules that several kinds share.
 *
 * The formats are the CRD's OpenAPI patterns and lengths; the apiserver enforces them before
 * Istio sees an object, so mesh refuses what the apiserver refuses.
 * @module
 */

import { z } from "zod";
import { intRange, isIP, type Path, portNumber, quote, type Reporter } from "../common.ts";

/** The API group of the Gateway API. */
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

const GROUP_RE = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND_RE = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Gateway API hostname: a DNS name, optionally with a `*.` first label. */
export const HOSTNAME_RE =
  /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HEADER_VALUE_RE = /^[!-~]+([\t ]?[!-~]+)*$/;
const DURATION_RE = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

interface Format {
  min?: number;
  max: number;
  re?: RegExp;
  /** What the value is, for messages ("hostname"). */
  what: string;
  /** How a valid value looks, after "; ". */
  hint?: string;
}

/** A string of `f`'s length and pattern, with messages that say what a valid value looks like. */
export function formatString(f: Format) {
  return z.string().check((ctx) => {
    const v = ctx.value;
    const min = f.min ?? 0;
    let problem: string | undefined;
    if (v.length < min) {
      problem = min === 1 ? `${f.what} may not be empty` : `${f.what} is shorter than ${min}`;
    } else if (v.length > f.max) {
      problem = `${f.what} is ${v.length} characters long; the limit is ${f.max}`;
    } else if (f.re && !f.re.test(v)) {
      problem = `invalid ${f.what} ${quote(v)}${f.hint ? `; ${f.hint}` : ""}`;
    }
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: v });
  });
}

const DNS_HINT = "use lowercase letters, digits, '-' and '.', starting and ending with a " +
  "letter or digit";

/** An API group (`""` is the core group). */
export const group = formatString({ max: 253, re: GROUP_RE, what: "group", hint: DNS_HINT });
/** A kind, like `Service`. */
export const kind = formatString({
  min: 1,
  max: 63,
  re: KIND_RE,
  what: "kind",
  hint: "a kind starts with a letter and has letters, digits and '-'",
});
/** An object name (any non-empty string up to 253 characters, as the CRD says). */
export const objectName = formatString({ min: 1, max: 253, what: "name" });
/** A namespace name. */
export const namespace = formatString({
  min: 1,
  max: 63,
  re: NAMESPACE_RE,
  what: "namespace",
  hint: "use lowercase letters, digits and '-' (at most 63)",
});
/** A section name: a listener or rule name (DNS subdomain). */
export const sectionName = formatString({
  min: 1,
  max: 253,
  re: SUBDOMAIN_RE,
  what: "name",
  hint: DNS_HINT,
});
/** A hostname (`*.example.com` allowed). */
export const hostname = formatString({
  min: 1,
  max: 253,
  re: HOSTNAME_RE,
  what: "hostname",
  hint: "use a lowercase DNS name like example.com or *.example.com (no IP addresses)",
});
/** A hostname without wildcard. */
export const preciseHostname = formatString({
  min: 1,
  max: 253,
  re: SUBDOMAIN_RE,
  what: "hostname",
  hint: "use a lowercase DNS name like example.com",
});
/** An HTTP header name (any case). */
export const headerName = formatString({
  min: 1,
  max: 256,
  re: HEADER_NAME_RE,
  what: "header name",
  hint: "use letters, digits and !#$%&'*+-.^_`|~",
});
/** An HTTP header value of a match or filter: visible characters, single inner spaces. */
export const headerValue = formatString({
  min: 1,
  max: 4096,
  re: HEADER_VALUE_RE,
  what: "header value",
  hint: "use visible ASCII characters, with single spaces or tabs between words",
});
/** A Gateway API duration: 1 to 4 groups of up to 5 digits and a unit (h, m, s, ms). */
export const duration = formatString({
  max: 64,
  re: DURATION_RE,
  what: "duration",
  hint: "write it like 10s, 1m30s or 500ms (units h, m, s, ms; at most 5 digits each)",
});
/** A backend weight, 0..1000000. */
export const weight = intRange(0, 1000000);
/** A Kubernetes label selector (`matchLabels`, `matchExpressions`). */
export const labelSelector = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(z.strictObject({
    key: z.string(),
    operator: z.string(),
    values: z.array(z.string()).optional(),
  })).optional(),
});
/** A label selector. */
export type LabelSelector = z.infer<typeof labelSelector>;

/** A reference from a route to its parent (a Gateway, or a Service for mesh routing). */
export const parentReference = z.strictObject({
  group: group.optional(),
  kind: kind.optional(),
  namespace: namespace.optional(),
  name: objectName,
  sectionName: sectionName.optional(),
  port: portNumber.optional(),
});
/** A parentRef of a route. */
export type ParentReference = z.infer<typeof parentReference>;

const backendObjectShape = {
  group: group.optional(),
  kind: kind.optional(),
  name: objectName,
  namespace: namespace.optional(),
  port: portNumber.optional(),
};
/** A reference to a backend (a Service by default). */
export const backendObjectReference = z.strictObject(backendObjectShape);
/** A backend reference without weight. */
export type BackendObjectReference = z.infer<typeof backendObjectReference>;
/** A weighted backend reference (TCPRoute, TLSRoute). */
export const backendRef = z.strictObject({ ...backendObjectShape, weight: weight.optional() });
/** A weighted backend reference. */
export type BackendRef = z.infer<typeof backendRef>;

/** A reference to a Secret (or another certificate holder). */
export const secretObjectReference = z.strictObject({
  group: group.optional(),
  kind: kind.optional(),
  name: objectName,
  namespace: namespace.optional(),
});
/** A certificate reference. */
export type SecretObjectReference = z.infer<typeof secretObjectReference>;

/** A reference to an object of any kind: group, kind and name required. */
export const objectReference = z.strictObject({
  group,
  kind,
  name: objectName,
  namespace: namespace.optional(),
});
/** A reference to an object in the same namespace: group, kind and name required. */
export const localObjectReference = z.strictObject({ group, kind, name: objectName });

const httpHeader = z.strictObject({ name: headerName, value: headerValue });
/** `set`, `add` and `remove` of a RequestHeaderModifier or ResponseHeaderModifier filter. */
export const headerFilter = z.strictObject({
  set: z.array(httpHeader).max(16, { error: "at most 16 headers to set" }).optional(),
  add: z.array(httpHeader).max(16, { error: "at most 16 headers to add" }).optional(),
  remove: z.array(z.string()).max(16, { error: "at most 16 headers to remove" }).optional(),
});
/** A header modifier filter. */
export type HeaderFilter = z.infer<typeof headerFilter>;

/** A RequestMirror filter: a copy of requests to a backend. */
export const requestMirrorFilter = z.strictObject({
  backendRef: backendObjectReference,
  percent: intRange(0, 100).optional(),
  fraction: z.strictObject({
    numerator: intRange(0, 2147483647),
    denominator: intRange(1, 2147483647).optional(),
  }).optional(),
});
/** A RequestMirror filter. */
export type RequestMirrorFilter = z.infer<typeof requestMirrorFilter>;

/** An ExtensionRef filter (implementation-specific; Istio supports none). */
export const extensionRefFilter = localObjectReference;

// ---------------------------------------------------------------------------------------------
// Checks the CRDs' CEL rules make

/** The group and kind a reference names, with the CRD's defaults. */
export function refGroupKind(
  ref: { group?: string; kind?: string },
  defaults: { group: string; kind: string },
): { group: string; kind: string } {
  return { group: ref.group ?? defaults.group, kind: ref.kind ?? defaults.kind };
}

/**
 * The two CEL rules on `parentRefs`: several references to one parent each name a different
 * `sectionName` or `port`, and all of them name one.
 */
export function checkParentRefs(
  refs: readonly ParentReference[] | undefined,
  path: Path,
  r: Reporter,
): void {
  if (!refs) return;
  const parentKey = (p: ParentReference) =>
    `${p.group ?? GATEWAY_API_GROUP}/${p.kind ?? "Gateway"}/${p.namespace ?? ""}/${p.name}`;
  const seen = new Map<string, number>();
  refs.forEach((p, i) => {
    const same = refs.filter((q) => parentKey(q) === parentKey(p));
    if (same.length < 2) return;
    const hasSection = (q: ParentReference) => (q.sectionName ?? "") !== "";
    const hasPort = (q: ParentReference) => (q.port ?? 0) !== 0;
    if (same.some((q) => hasSection(q) !== hasSection(p) || hasPort(q) !== hasPort(p))) {
      r.error(
        [...path, i],
        "sectionName or port must be specified when parentRefs includes 2 or more references " +
          "to the same parent",
      );
      return;
    }
    const key = `${parentKey(p)}/${p.sectionName ?? ""}/${p.port ?? 0}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      r.error(
        [...path, i],
        `sectionName or port must be unique when parentRefs includes 2 or more references to ` +
          `the same parent (same as parentRefs[${earlier}])`,
      );
    } else seen.set(key, i);
  });
}

/** The CEL rule of a backendRef: a Service (the default) needs a port. */
export function checkBackendPort(
  ref: BackendObjectReference,
  path: Path,
  r: Reporter,
): void {
  if ((ref.group ?? "") === "" && (ref.kind ?? "Service") === "Service" && ref.port === undefined) {
    r.error([...path, "port"], "Must have port for Service reference");
  }
}

/** Header names of `set` and `add` are list-map keys and `remove` is a set: no repeats. */
export function checkHeaderFilter(f: HeaderFilter, path: Path, r: Reporter): void {
  for (const op of ["set", "add"] as const) {
    const first = new Map<string, number>();
    f[op]?.forEach((h, i) => {
      const earlier = first.get(h.name);
      if (earlier !== undefined) {
        r.error(
          [...path, op, i, "name"],
          `duplicate header ${quote(h.name)} (also at ${op}[${earlier}])`,
        );
      } else first.set(h.name, i);
    });
  }
  const removed = new Set<string>();
  f.remove?.forEach((h, i) => {
    if (removed.has(h)) r.error([...path, "remove", i], `duplicate header ${quote(h)} to remove`);
    removed.add(h);
  });
}

/** The CEL rules of a RequestMirror filter. */
export function checkMirrorFilter(f: RequestMirrorFilter, path: Path, r: Reporter): void {
  checkBackendPort(f.backendRef, [...path, "backendRef"], r);
  if (f.percent !== undefined && f.fraction !== undefined) {
    r.error(path, "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter");
  }
  if (f.fraction && f.fraction.numerator > (f.fraction.denominator ?? 100)) {
    r.error([...path, "fraction"], "numerator must be less than or equal to denominator");
  }
}

/**
 * The filter-type CEL rules: the field named by `type` is set and no other filter field is, for
 * each of `fields` (type name → field name).
 */
export function checkFilterFields(
  filter: Record<string, unknown> & { type: string },
  fields: Readonly<Record<string, string>>,
  path: Path,
  r: Reporter,
): void {
  for (const [type, field] of Object.entries(fields)) {
    if (filter[field] !== undefined && filter.type !== type) {
      r.error([...path, field], `filter.${field} must be nil if the filter.type is not ${type}`);
    } else if (filter[field] === undefined && filter.type === type) {
      r.error(path, `filter.${field} must be specified for ${type} filter.type`);
    }
  }
}

/** The CEL rule "<Type> filter cannot be repeated" for each of `types`. */
export function checkFilterRepeats(
  filters: readonly { type: string }[] | undefined,
  types: readonly string[],
  path: Path,
  r: Reporter,
): void {
  for (const t of types) {
    const at = (filters ?? []).flatMap((f, i) => f.type === t ? [i] : []);
    if (at.length > 1) r.error([...path, at[1]], `${t} filter cannot be repeated`);
  }
}

/** Rule names are unique within a route (a CEL rule). */
export function checkRuleNames(
  rules: readonly { name?: string }[] | undefined,
  path: Path,
  r: Reporter,
): void {
  const first = new Map<string, number>();
  rules?.forEach((rule, i) => {
    if (rule.name === undefined) return;
    const earlier = first.get(rule.name);
    if (earlier !== undefined) {
      r.error(
        [...path, i, "name"],
        `Rule name must be unique within the route (also rules[${earlier}])`,
      );
    } else first.set(rule.name, i);
  });
}

/** TLSRoute v1's hostname rules: no IP addresses, a wildcard only as the whole first label. */
export function checkNoIPHostnames(
  hostnames: readonly string[] | undefined,
  path: Path,
  r: Reporter,
): void {
  hostnames?.forEach((h, i) => {
    if (isIP(h)) r.error([...path, i], "Hostnames cannot contain an IP");
  });
}

/** The label selector operators Kubernetes knows. */
export const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;

/**
 * Problems Kubernetes finds when it turns a label selector into a matcher (Istio then admits no
 * namespace): unknown operators, values with Exists/DoesNotExist, none with In/NotIn.
 */
export function selectorProblem(s: LabelSelector): string | undefined {
  for (const e of s.matchExpressions ?? []) {
    if (!(SELECTOR_OPERATORS as readonly string[]).includes(e.operator)) {
      return `unknown selector operator ${quote(e.operator)}; use ${SELECTOR_OPERATORS.join(", ")}`;
    }
    const n = e.values?.length ?? 0;
    if ((e.operator === "In" || e.operator === "NotIn") && n === 0) {
      return `operator ${e.operator} needs values`;
    }
    if ((e.operator === "Exists" || e.operator === "DoesNotExist") && n > 0) {
      return `operator ${e.operator} takes no values`;
    }
  }
  return undefined;
}

/** Whether `labels` match selector `s` (Kubernetes semantics); false when `s` is invalid. */
export function selectorMatches(s: LabelSelector, labels: Record<string, string>): boolean {
  if (selectorProblem(s)) return false;
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}
