/**
 * Building blocks shared by the schemas of every kind: value formats (names, hosts, addresses,
 * labels, durations, RE2 regular expressions), zod schema builders, and the checks that several
 * kinds run (label selectors, `exportTo`, header operations, string matches).
 *
 * Everything here is pure and never throws on user input.
 * @module
 */

import { z } from "zod";
import { translateRe2 } from "../re2.ts";

// ---------------------------------------------------------------------------------------------
// Reporting

/** A path inside a resource: mapping keys and list indexes. */
export type Path = (string | number)[];

/** Reports diagnostics about one resource, with paths relative to the resource. */
export interface Reporter {
  error(path: Path, message: string): void;
  warn(path: Path, message: string): void;
  /** Errors reported so far. */
  readonly errors: number;
}

/** What a semantic check knows about the resource besides its spec. */
export interface CheckContext {
  /** The resource's namespace (after defaulting). */
  namespace: string;
  /** The resource's name. */
  name: string;
  /** The document's `apiVersion` (for kinds whose rules differ by version). */
  apiVersion?: string;
  /** The resource's annotations (`metadata.annotations`), when it has any. */
  annotations?: Readonly<Record<string, string>>;
  /** The resource's labels (`metadata.labels`), when it has any. */
  labels?: Readonly<Record<string, string>>;
}

/** The message of every "known to Istio, not enforced by mesh" warning. */
export const NOT_SUPPORTED = "not supported by mesh yet; ignored";

/** The warning for a whole resource of a kind that mesh validates but doesn't enforce. */
export function notEnforced(kind: string): string {
  return `${kind} is validated but not enforced by mesh yet; ignored`;
}

/** Warns about each of `keys` that is set on `obj`. */
export function warnUnsupported(
  obj: object,
  keys: readonly string[],
  path: Path,
  r: Reporter,
): void {
  const fields = obj as Record<string, unknown>;
  for (const key of keys) {
    if (fields[key] !== undefined) r.warn([...path, key], NOT_SUPPORTED);
  }
}

/** Renders a value for a message, shortened: `"abc"`. */
export function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

/** Reports the second and later occurrences of the same key among `items`. */
export function checkUnique<T>(
  items: readonly T[] | undefined,
  keyOf: (item: T) => string | number | undefined,
  pathOf: (index: number) => Path,
  what: string,
  r: Reporter,
): void {
  const first = new Map<string | number, number>();
  items?.forEach((item, i) => {
    const key = keyOf(item);
    if (key === undefined || key === "") return;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else {
      r.error(
        pathOf(i),
        `duplicate ${what} ${quote(key)} (also at index ${earlier}); ${what}s must be unique`,
      );
    }
  });
}

/** How many of `keys` are set on `obj`. */
export function countSet(obj: object, keys: readonly string[]): string[] {
  const fields = obj as Record<string, unknown>;
  return keys.filter((k) => fields[k] !== undefined);
}

/** Errors when more than one of `keys` is set on `obj` (a protobuf `oneof`). */
export function checkOneOf(
  obj: object,
  keys: readonly string[],
  path: Path,
  r: Reporter,
  required = false,
): void {
  const set = countSet(obj, keys);
  if (set.length > 1) {
    r.error(
      [...path, set[1]],
      `${set.join(" and ")} can't both be set; keep one of ${keys.join(", ")}`,
    );
  } else if (required && set.length === 0) {
    r.error(path, `set one of ${keys.join(", ")}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Names, hosts and addresses

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOST_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/** A Kubernetes DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters. */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** A Kubernetes DNS-1123 subdomain: dot-separated labels, at most 253 characters. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every(isDns1123Label);
}

/** A host name: dot-separated labels, the last not all digits. */
export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split(".");
  if (!labels.every((l) => l.length <= 63 && HOST_LABEL.test(l))) return false;
  // No top-level domain is numeric: "1.2.3.999" is a broken address, not a name.
  return !/^\d+$/.test(labels[labels.length - 1]);
}

/** A dotted-quad IPv4 address. */
export function isIPv4(s: string): boolean {
  if (s.length > 15) return false;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

/** An IPv6 address. */
export function isIPv6(s: string): boolean {
  if (s.length > 45 || !s.includes(":") || !/^[0-9a-f:.]+$/i.test(s)) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 or IPv6 address. */
export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

/** An IP address or a CIDR block such as `10.0.0.0/16`. */
export function isIPOrCIDR(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return isIP(s);
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return (isIPv4(ip) && Number(bits) <= 32) || (isIPv6(ip) && Number(bits) <= 128);
}

/** `*`, `*.example.com`, a short name or an FQDN. */
export function isWildcardHost(s: string): boolean {
  return s === "*" || (s.startsWith("*.") && isHostname(s.slice(2))) || isHostname(s);
}

/** A `unix://` address: an absolute path or an abstract socket (`@name`), not a directory. */
export function unixAddressProblem(address: string): string | undefined {
  const path = address.slice("unix://".length);
  if (path.startsWith("@") && path.length > 1) return undefined;
  if (!path.startsWith("/")) return "a unix address must be an absolute path or @abstract";
  if (path.endsWith("/")) return "a unix address must name a file, not a directory";
  return undefined;
}

/** The hint that follows an invalid host. */
export const HOST_HINT =
  "use a short name like reviews, an FQDN like reviews.default.svc.cluster.local, " +
  "a wildcard like *.example.com, or *";

// ---------------------------------------------------------------------------------------------
// Labels and selectors

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Problems with a Kubernetes label key (`[prefix/]name`). */
export function labelKeyProblem(key: string): string | undefined {
  if (key === "") return "label keys may not be empty";
  if (key.includes("*")) return `wildcards are not allowed in label keys (${quote(key)})`;
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) {
    return `invalid label key ${quote(key)}: the prefix must be a DNS subdomain like example.com`;
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) {
    return `invalid label key ${quote(key)}: use at most 63 letters, digits, '-', '_' and '.', ` +
      "starting and ending with a letter or digit";
  }
  return undefined;
}

/** Problems with a Kubernetes label value. */
export function labelValueProblem(value: string): string | undefined {
  if (value.includes("*")) return `wildcards are not allowed in label values (${quote(value)})`;
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return `invalid label value ${quote(value)}: use at most 63 letters, digits, '-', '_' and ` +
      "'.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Checks every key and value of a label map at `path`. */
export function checkLabels(
  labels: Record<string, string> | undefined,
  path: Path,
  r: Reporter,
): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) r.error([...path, key], problem);
  }
}

/**
 * Checks a workload selector's label map: valid labels, and a warning when it is empty (it then
 * selects every workload in the namespace).
 */
export function checkSelectorLabels(
  labels: Record<string, string> | undefined,
  path: Path,
  r: Reporter,
): void {
  if (labels === undefined || Object.keys(labels).length === 0) {
    r.warn(path, "a selector without labels selects every workload in the namespace");
    return;
  }
  checkLabels(labels, path, r);
}

// ---------------------------------------------------------------------------------------------
// exportTo

/** Checks `exportTo`: `.`, `*`, namespace names (and `~` for a ServiceEntry), no duplicates. */
export function checkExportTo(
  exportTo: readonly string[] | undefined,
  path: Path,
  ctx: CheckContext,
  r: Reporter,
  allowNone: boolean,
): void {
  if (!exportTo?.length) return;
  const seen = new Map<string, number>();
  exportTo.forEach((entry, i) => {
    const at = [...path, i];
    // Istio's labels.IsDNS1123Label takes upper case too.
    const valid = entry === "." || entry === "*" || (allowNone && entry === "~") ||
      isDns1123Label(entry.toLowerCase());
    if (!valid) {
      r.error(
        at,
        `invalid exportTo entry ${quote(entry)}; use ".", "*"${allowNone ? ', "~"' : ""} ` +
          "or a namespace name",
      );
      return;
    }
    const key = entry === "." ? ctx.namespace : entry;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      r.error(at, `duplicate exportTo entry ${quote(entry)} (same as index ${earlier})`);
    } else seen.set(key, i);
  });
  if (exportTo.length > 1 && (seen.has("*") || seen.has("~"))) {
    const which = seen.has("*") ? "*" : "~";
    r.error(path, `${quote(which)} can't be combined with other exportTo entries; keep only it`);
  }
}

// ---------------------------------------------------------------------------------------------
// Durations (google.protobuf.Duration as Istio reads it: Go duration strings)

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const DURATION_PART = /(\d*)(?:\.(\d*))?([a-zµμ]*)/y;
const MAX_DURATION_NS = 315_576_000_000n * 1_000_000_000n; // protobuf's limit: 10,000 years

/** Parses a Go/protobuf duration (`1.5s`, `100ms`, `1h30m`) into nanoseconds, or explains. */
export function parseDuration(s: string): bigint | string {
  const hint = "write a number with a unit, like 1.5s, 100ms, 1m or 1h";
  if (s.length === 0) return `empty duration; ${hint}`;
  if (s.length > 64) return `duration is ${s.length} characters long; ${hint}`;
  if (s.startsWith("-")) return `negative duration ${quote(s)}; durations must be positive`;
  let total = 0n;
  let pos = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m || m[0] === "") return `invalid duration ${quote(s)}; ${hint}`;
    const [whole, int, frac = "", unit] = m;
    if (int === "" && frac === "") return `invalid duration ${quote(s)}; ${hint}`;
    if (unit === "") return `duration ${quote(s)} has no unit; ${hint}`;
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) {
      const extra = unit === "d" ? " (1d is 24h)" : "";
      return `unknown unit ${quote(unit)} in duration ${quote(s)}${extra}; ` +
        "use h, m, s, ms, us or ns";
    }
    total += BigInt(int || "0") * scale;
    if (frac !== "") total += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
    if (total > MAX_DURATION_NS) return `duration ${quote(s)} is too long`;
    pos += whole.length;
  }
  return total;
}

/** Options of {@linkcode duration}. */
export interface DurationOptions {
  /** Smallest accepted duration: `1ms` (Istio's default rule) or `0`. */
  min?: "1ms" | "0";
  /** Finest accepted precision (Istio: milliseconds; some fields seconds; `ns`: any). */
  precision?: "ms" | "s" | "ns";
}

/** A valid duration in milliseconds (fractions kept); undefined when unset or invalid. */
export function durationMs(d: string | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ns = parseDuration(d);
  return typeof ns === "bigint" ? Number(ns) / 1e6 : undefined;
}

/** Problems with a duration string, or undefined. */
export function durationProblem(s: string, options: DurationOptions = {}): string | undefined {
  const ns = parseDuration(s);
  if (typeof ns === "string") return ns;
  const { min = "1ms", precision = "ms" } = options;
  if (min === "1ms" && ns < 1_000_000n) {
    return `duration ${quote(s)} is too short; it must be at least 1ms`;
  }
  const step = precision === "s" ? 1_000_000_000n : precision === "ns" ? 1n : 1_000_000n;
  if (ns % step !== 0n) {
    return `duration ${quote(s)} is finer than ${
      precision === "s" ? "a second" : "a millisecond"
    }; round it to whole ${precision === "s" ? "seconds" : "milliseconds"}`;
  }
  return undefined;
}

/** The schemas made by {@linkcode duration}, so that messages can say "duration". */
export const DURATION_SCHEMAS: WeakSet<object> = new WeakSet();

/** A google.protobuf.Duration field. */
export function duration(options: DurationOptions = {}) {
  const schema = z.string().check((ctx) => {
    const problem = durationProblem(ctx.value, options);
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
  });
  DURATION_SCHEMAS.add(schema);
  return schema;
}

// ---------------------------------------------------------------------------------------------
// Regular expressions (RE2, as Envoy and Istio read them)

/** Longest regex Istio accepts. */
export const MAX_REGEX_LENGTH = 1024;

/**
 * Problems with `re` as an RE2 regular expression, or undefined. What RE2 refuses (lookaround,
 * backreferences, atomic groups, possessive quantifiers, repeat counts over 1000) is reported
 * by name; the check is {@linkcode translateRe2}'s, the translation the proxy matches with.
 */
export function regexProblem(re: string): string | undefined {
  if (re.length === 0) return "empty regular expression; omit the field or write a pattern";
  if (re.length > MAX_REGEX_LENGTH) {
    return `regular expression is ${re.length} characters long; the limit is ${MAX_REGEX_LENGTH}`;
  }
  const t = translateRe2(re);
  return "error" in t ? t.error : undefined;
}

/** A regular expression field (RE2 syntax). */
export function regex() {
  return z.string().check((ctx) => {
    const problem = regexProblem(ctx.value);
    if (problem) {
      ctx.issues.push({
        code: "custom",
        message: `invalid regular expression: ${problem}; Istio uses RE2 syntax`,
        input: ctx.value,
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP headers

/** A header name as Istio matches it: lowercase token characters, or a `:pseudo` header. */
export const HEADER_NAME = /^:?[a-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Header names Istio accepts in probes and JWT outputs. */
export const SIMPLE_HEADER_NAME = /^[-_A-Za-z0-9]+$/;

/** Problems with a header name used in a match, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  if (name.length > 0 && HEADER_NAME.test(name)) return undefined;
  if (name === "") return "header names may not be empty";
  const lower = name.toLowerCase();
  return HEADER_NAME.test(lower)
    ? `header names must be lowercase; write ${quote(lower)}`
    : `invalid header name ${quote(name)}; use letters, digits and !#$%&'*+-.^_\`|~`;
}

/**
 * Problems with a header value Envoy would add: no control characters, and `%` only as `%%` or
 * around a variable (`%HOSTNAME%`, `%REQ(x-id)%`).
 */
export function headerValueProblem(value: string): string | undefined {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
    return "header values may not contain control characters";
  }
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== "%") continue;
    if (value[i + 1] === "%") {
      i++;
      continue;
    }
    const close = value.indexOf("%", i + 1);
    if (close < 0 || close === i + 1 || /\s/.test(value.slice(i + 1, close))) {
      return `invalid % in header value ${quote(value)}; write %% for a literal percent sign ` +
        "or %VARIABLE% for an Envoy variable";
    }
    i = close;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Schema builders

/** An integer from `min` to `max` (explains the range on error). */
export function intRange(min: number, max: number) {
  const error = (issue: { input?: unknown }) =>
    `must be an integer from ${min} to ${max}; got ${String(issue.input)}`;
  return z.number().refine((n) => Number.isInteger(n) && n >= min && n <= max, { error });
}

/** A number from `min` to `max`. */
export function numberRange(min: number, max: number) {
  const range = max === Number.MAX_VALUE ? `of at least ${min}` : `from ${min} to ${max}`;
  const error = (issue: { input?: unknown }) =>
    `must be a number ${range}; got ${String(issue.input)}`;
  return z.number().refine((n) => Number.isFinite(n) && n >= min && n <= max, { error });
}

/** A string that passes `test`, with `explain` giving the error message. */
export function formatted(test: (s: string) => boolean, explain: (value: string) => string) {
  return z.string().refine(test, { error: (issue) => explain(String(issue.input)) });
}

/** A list with at least one element. */
export function nonEmptyList<T extends z.ZodType>(item: T, error: string) {
  return z.array(item).min(1, { error });
}

/** protobuf int32. */
export const int32 = intRange(-2147483648, 2147483647);
/** protobuf uint32. */
export const uint32 = intRange(0, 4294967295);
/** protobuf int32 that Istio requires to be non-negative. */
export const nonNegativeInt32 = intRange(0, 2147483647);
/** protobuf uint64 (as far as JSON numbers go). */
export const uint64 = intRange(0, Number.MAX_SAFE_INTEGER);
/** A port number, 1..65535. */
export const portNumber = intRange(1, 65535);
/** A map of strings. */
export const labelMap = z.record(z.string(), z.string());
/** A list of strings. */
export const stringList = z.array(z.string());
/** A percentage, 0..100 (protobuf double). */
export const percentValue = numberRange(0, 100);

/** Port protocols Istio knows (matched case-insensitively, stored upper case). */
export const PROTOCOLS = [
  "HTTP",
  "HTTPS",
  "GRPC",
  "GRPC-WEB",
  "HTTP2",
  "MONGO",
  "REDIS",
  "MYSQL",
  "TCP",
  "TLS",
  "UDP",
  "HTTP_PROXY",
] as const;

/** A port protocol; case-insensitive in Istio, stored upper case. */
export const protocol = z.preprocess(
  (v) => (typeof v === "string" ? v.toUpperCase() : v),
  z.enum(PROTOCOLS),
);

/** Protocols that carry HTTP. */
export function isHttpProtocol(p: string | undefined): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB" || p === "HTTP_PROXY";
}

/** Protocols that carry TLS. */
export function isTlsProtocol(p: string | undefined): boolean {
  return p === "HTTPS" || p === "TLS";
}

/** `istio.type.v1beta1.WorkloadSelector`: `{matchLabels}`. */
export const workloadSelector = z.strictObject({
  matchLabels: labelMap.optional(),
});
/** A label selector of the security and telemetry kinds. */
export type WorkloadSelector = z.infer<typeof workloadSelector>;

/** `istio.type.v1beta1.PolicyTargetReference`. */
export const policyTargetReference = z.strictObject({
  group: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
});
/** What a policy attaches to instead of a selector (a Service, ServiceEntry or Gateway). */
export type PolicyTargetReference = z.infer<typeof policyTargetReference>;

const TARGET_KINDS = [
  { group: "", kind: "Service" },
  { group: "networking.istio.io", kind: "ServiceEntry" },
  { group: "gateway.networking.k8s.io", kind: "Gateway" },
];

/** Checks `selector`, `targetRef` and `targetRefs` of a policy. */
export function checkPolicyTargets(
  spec: {
    selector?: WorkloadSelector;
    targetRef?: PolicyTargetReference;
    targetRefs?: PolicyTargetReference[];
  },
  r: Reporter,
): void {
  const set = countSet(spec, ["selector", "targetRef", "targetRefs"]);
  if (set.length > 1) {
    r.error(["spec", set[1]], `${set.join(" and ")} can't both be set; keep one`);
  }
  if (spec.selector) {
    checkSelectorLabels(spec.selector.matchLabels, ["spec", "selector", "matchLabels"], r);
  }
  const refs: [PolicyTargetReference, Path][] = [];
  if (spec.targetRef) refs.push([spec.targetRef, ["spec", "targetRef"]]);
  spec.targetRefs?.forEach((ref, i) => refs.push([ref, ["spec", "targetRefs", i]]));
  if (spec.targetRefs !== undefined && spec.targetRefs.length > 16) {
    r.error(["spec", "targetRefs"], "at most 16 targetRefs are allowed");
  }
  for (const [ref, path] of refs) {
    if (ref.name === "") r.error([...path, "name"], "name may not be empty");
    if (ref.namespace) {
      r.error(
        [...path, "namespace"],
        "cross-namespace references are not supported; remove namespace",
      );
    }
    const group = ref.group === "core" ? "" : ref.group ?? "";
    if (!TARGET_KINDS.some((t) => t.group === group && t.kind === ref.kind)) {
      r.error(
        [...path, "kind"],
        `a policy can target a Service, a ServiceEntry (group networking.istio.io) or a ` +
          `Gateway (group gateway.networking.k8s.io); got ${ref.group ? `${ref.group}/` : ""}` +
          ref.kind,
      );
    }
  }
}
