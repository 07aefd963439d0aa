/**
 * Istio configuration as mesh reads it: zod schemas for every kind of `networking.istio.io`
 * (VirtualService, DestinationRule, Gateway, ServiceEntry, WorkloadEntry, Sidecar,
 * WorkloadGroup; v1, v1beta1, v1alpha3), `security.istio.io` (PeerAuthentication,
 * AuthorizationPolicy, RequestAuthentication; v1, v1beta1), `telemetry.istio.io` (Telemetry;
 * v1, v1alpha1) and mesh's own MeshConfig (`config.mesh.dev/v1alpha1`), plus the semantic checks
 * Istio applies, reported as positioned {@linkcode Diagnostic}s.
 *
 * Fields Istio doesn't know are errors, with a "did you mean" hint. Fields that belong to
 * Istio's API but that mesh does not enforce yet are accepted with a warning (`not supported by
 * mesh yet; ignored`); kinds mesh validates but doesn't enforce at all get one warning each
 * (`<Kind> is validated but not enforced by mesh yet; ignored`). Kubernetes objects in the same
 * file are skipped without comment; other Istio kinds get a warning.
 *
 * @example
 * ```ts
 * import { parseResources, resourceKey } from "./resources.ts";
 * import { formatDiagnostic } from "./diagnostic.ts";
 *
 * const text = await Deno.readTextFile("bookinfo-gateway.yaml");
 * const { resources, diagnostics } = parseResources(text, "bookinfo-gateway.yaml");
 * for (const d of diagnostics) console.error(formatDiagnostic(d));
 * for (const r of resources) {
 *   if (r.kind === "VirtualService") console.log(resourceKey(r), r.spec.hosts);
 * }
 * ```
 * @module
 */

import { z } from "zod";
import {
  DEFAULT_MAX_DOCUMENT_SIZE,
  parseYamlDocuments,
  type YamlPathSegment,
  type YamlPosition,
} from "../util/yaml.ts";
import type { Diagnostic, Severity } from "./diagnostic.ts";
import {
  apiGroups,
  apiVersionOf,
  isKind,
  type Kind,
  KIND_INFO,
  kindOf,
  KINDS,
  NETWORKING,
  UNREAD_KINDS,
  type UnreadKind,
} from "./kinds.ts";
import {
  checkLabels,
  DURATION_SCHEMAS,
  isDns1123Label,
  isDns1123Subdomain,
  labelMap,
  NOT_SUPPORTED,
  notEnforced,
  type Path,
  quote,
  type Reporter,
} from "./schemas/common.ts";
import {
  type DestinationRuleSpec,
  type GatewaySpec,
  type ServiceEntrySpec,
  type SidecarSpec,
  type VirtualServiceSpec,
  type WorkloadEntrySpec,
  type WorkloadGroupSpec,
} from "./schemas/networking.ts";
import {
  type AuthorizationPolicySpec,
  type PeerAuthenticationSpec,
  type RequestAuthenticationSpec,
} from "./schemas/security.ts";
import type { TelemetrySpec } from "./schemas/telemetry.ts";
import type { GatewayApiSpecMap } from "./schemas/gateway_api/kinds.ts";
import { checkDryRunAnnotation } from "./schemas/security_common.ts";
import { MESH_CONFIG_API_VERSION, type MeshConfigSpec } from "./schemas/mesh_config.ts";

export { isDns1123Label, isDns1123Subdomain, MESH_CONFIG_API_VERSION, NOT_SUPPORTED, notEnforced };
export {
  type ClientTLSSettings,
  type ConnectionPoolSettings,
  type ConsistentHashLB,
  type CorsPolicy,
  type Delegate,
  type Destination,
  type DestinationRuleSpec,
  type GatewaySpec,
  type HeaderOperations,
  type HTTPDirectResponse,
  type HTTPFaultInjection,
  type HTTPMatchRequest,
  type HTTPMirrorPolicy,
  type HTTPRedirect,
  type HTTPRetry,
  type HTTPRewrite,
  type HTTPRoute,
  type HTTPRouteDestination,
  type LoadBalancerSettings,
  type LocalityLoadBalancerSetting,
  type OutlierDetection,
  type Percent,
  type Port,
  type PortSelector,
  type Protocol,
  PROTOCOLS,
  type ReadinessProbe,
  type RouteDestination,
  type Server,
  type ServerTLSSettings,
  type ServiceEntryLocation,
  type ServiceEntryResolution,
  type ServiceEntrySpec,
  type ServicePort,
  type SidecarSpec,
  SIMPLE_LB,
  type SimpleLB,
  type StringMatch,
  type Subset,
  type TCPRoute,
  TLS_MODES,
  type TLSMode,
  type TLSRoute,
  type TrafficPolicy,
  type VirtualServiceSpec,
  type WorkloadEntrySpec,
  type WorkloadGroupSpec,
} from "./schemas/networking.ts";
export {
  type AuthorizationPolicySpec,
  AUTHZ_ACTIONS,
  type Condition,
  type JWTRule,
  MTLS_MODES,
  type Operation,
  type PeerAuthenticationSpec,
  type RequestAuthenticationSpec,
  type Rule,
  type Source,
} from "./schemas/security.ts";
export {
  type AccessLogging,
  ISTIO_METRICS,
  type Metrics,
  type TelemetrySpec,
  type Tracing,
} from "./schemas/telemetry.ts";
export {
  type ExtensionProvider,
  MESH_CONFIG_SUPPORTED,
  type MeshConfigSpec,
  type MeshProxyConfig,
  OUTBOUND_TRAFFIC_MODES,
} from "./schemas/mesh_config.ts";
export type { PolicyTargetReference, WorkloadSelector } from "./schemas/common.ts";

// ---------------------------------------------------------------------------------------------
// Kinds and versions

export { type Kind, KIND_INFO, kindOf, KINDS, UNREAD_KINDS } from "./kinds.ts";

/** The API group of the networking kinds. */
export const API_GROUP = NETWORKING;
/** Versions of {@linkcode API_GROUP} accepted for every networking kind. */
export const API_VERSIONS = KIND_INFO.VirtualService.versions;

/** Every API group mesh reads, with the versions it accepts (the first is the newest). */
export const API_GROUPS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  apiGroups(),
);

/** The API group of each kind. */
export const KIND_GROUPS: Readonly<Record<Kind, string>> = Object.fromEntries(
  KINDS.map((k) => [k, KIND_INFO[k].group]),
) as Record<Kind, string>;

/**
 * Kinds whose resources the data plane acts on (each warns about the fields it doesn't
 * honour). Every other kind is ignored with a warning.
 */
export const ENFORCED_KINDS: readonly Kind[] = KINDS.filter((k) =>
  KIND_INFO[k].support === "enforced"
);

/** Largest input {@linkcode parseResources} reads at all, in characters. */
export const MAX_INPUT_SIZE = 64 * 1024 * 1024;
/** Largest single document, in characters. */
export const MAX_DOCUMENT_SIZE = DEFAULT_MAX_DOCUMENT_SIZE;
/** Deepest nesting of mappings and lists accepted in a document. */
export const MAX_DEPTH = 64;
/** Most diagnostics reported for one resource; the rest are counted in one more. */
export const MAX_DIAGNOSTICS = 100;

// ---------------------------------------------------------------------------------------------
// Public types

/** Kubernetes object metadata; keys other than these are kept as they are. */
export interface Metadata {
  /** DNS-1123 subdomain. */
  name: string;
  /** Defaults to the caller's default namespace, else `default`. */
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

/** The spec type of each kind (the Gateway API's from {@linkcode GatewayApiSpecMap}). */
export interface SpecMap extends GatewayApiSpecMap {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  Gateway: GatewaySpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  Sidecar: SidecarSpec;
  WorkloadGroup: WorkloadGroupSpec;
  PeerAuthentication: PeerAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  RequestAuthentication: RequestAuthenticationSpec;
  Telemetry: TelemetrySpec;
  MeshConfig: MeshConfigSpec;
}
/** The spec type of kind `K`. */
export type SpecOf<K extends Kind> = SpecMap[K];

/** The fields every resource has, for one kind. */
export interface ResourceOf<K extends Kind> {
  apiVersion: string;
  kind: K;
  metadata: Metadata;
  spec: SpecOf<K>;
  /** Where the resource was read from (line of its first field). */
  source: { file: string; line: number };
}

/**
 * A validated resource. `Resource` alone is the union of all kinds, so checking `kind`
 * narrows `spec`.
 */
export type Resource<K extends Kind = Kind> = K extends Kind ? ResourceOf<K> : never;
/** A validated VirtualService. */
export type VirtualService = Resource<"VirtualService">;
/** A validated DestinationRule. */
export type DestinationRule = Resource<"DestinationRule">;
/** A validated Gateway. */
export type Gateway = Resource<"Gateway">;
/** A validated ServiceEntry. */
export type ServiceEntry = Resource<"ServiceEntry">;
/** A validated WorkloadEntry. */
export type WorkloadEntry = Resource<"WorkloadEntry">;
/** A validated Sidecar. */
export type Sidecar = Resource<"Sidecar">;
/** A WorkloadGroup: the template of the WorkloadEntries its proxies register (`--workload-group`). */
export type WorkloadGroup = Resource<"WorkloadGroup">;
/** A validated PeerAuthentication. */
export type PeerAuthentication = Resource<"PeerAuthentication">;
/** A validated AuthorizationPolicy. */
export type AuthorizationPolicy = Resource<"AuthorizationPolicy">;
/** A validated RequestAuthentication. */
export type RequestAuthentication = Resource<"RequestAuthentication">;
/** A validated Telemetry (not enforced). */
export type Telemetry = Resource<"Telemetry">;
/** A validated MeshConfig. */
export type MeshConfig = Resource<"MeshConfig">;

/** Resources read from some input, and what was wrong with the rest. */
export interface ParseResult {
  /** Only resources without errors; warnings don't drop a resource. */
  resources: Resource[];
  /** Errors and warnings, in source order. */
  diagnostics: Diagnostic[];
  /**
   * Documents of a kind mesh reads that have errors, as written (for the analyzer, which
   * reports them as IST0106 and still resolves references to and from them).
   */
  invalid: InvalidResource[];
  /** Documents mesh doesn't read (Kubernetes objects, other APIs, Istio kinds mesh lacks). */
  skipped: SkippedDocument[];
}

/** A document of a kind mesh reads that failed validation, with its spec as written. */
export interface InvalidResource {
  apiVersion: string;
  kind: Kind;
  /** `name` is "" when missing or not a string; `namespace` is defaulted. */
  metadata: Metadata;
  spec: unknown;
  source: { file: string; line: number };
}

/** A document that mesh doesn't read, and why. */
export interface SkippedDocument {
  apiVersion: string;
  kind: string;
  name?: string;
  namespace: string;
  file: string;
  line: number;
  why: string;
}

/** Options of {@linkcode parseResources}. */
export interface ParseOptions {
  /** Namespace for resources that don't name one (default `default`). */
  defaultNamespace?: string;
}

/** Options of {@linkcode validateResource}. */
export interface ValidateOptions extends ParseOptions {
  /** File name for diagnostics and `source` (default `<input>`). */
  file?: string;
  /** Line of the object in its file (default 1). */
  line?: number;
  /** Maps a path inside the object to a source position; default: `line`, column 1. */
  positionOf?: (path: readonly YamlPathSegment[]) => YamlPosition;
}

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Reads every Istio resource from YAML or JSON `text` (one or more documents; `kind: List` is
 * expanded). Never throws.
 */
export function parseResources(
  text: string,
  file: string,
  options: ParseOptions = {},
): ParseResult {
  const result: ParseResult = { resources: [], diagnostics: [], invalid: [], skipped: [] };
  if (text.length > MAX_INPUT_SIZE) {
    result.diagnostics.push({
      severity: "error",
      file,
      line: 1,
      column: 1,
      path: "",
      message: `input is ${text.length} characters long; the limit is ${MAX_INPUT_SIZE}; ` +
        "split it into several files",
    });
    return result;
  }
  for (const doc of parseYamlDocuments(text, { maxDocumentSize: MAX_DOCUMENT_SIZE })) {
    if (doc.error) {
      result.diagnostics.push({
        severity: "error",
        file,
        line: doc.error.line,
        column: doc.error.column,
        path: "",
        message: `invalid YAML: ${shorten(doc.error.message, 300)}`,
      });
      continue;
    }
    const one = validateResource(doc.value, {
      ...options,
      file,
      line: doc.line,
      positionOf: doc.positionOf,
    });
    result.resources.push(...one.resources);
    result.diagnostics.push(...one.diagnostics);
    result.invalid.push(...one.invalid);
    result.skipped.push(...one.skipped);
  }
  result.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  return result;
}

/**
 * Validates one decoded document: an Istio resource, a `List` of them, or something else
 * (which is skipped). Never throws.
 */
export function validateResource(obj: unknown, options: ValidateOptions = {}): ParseResult {
  const file = options.file ?? "<input>";
  const line = options.line ?? 1;
  const positionOf = options.positionOf ?? (() => ({ line, column: 1 }));
  const result: ParseResult = { resources: [], diagnostics: [], invalid: [], skipped: [] };
  const ctx: DocContext = {
    file,
    positionOf,
    defaultNamespace: options.defaultNamespace ?? "default",
    result,
  };
  try {
    readObject(ctx, obj, [], true);
  } catch (e) {
    // A bug in mesh, not in the input; still never let it escape.
    result.diagnostics.push({
      severity: "error",
      file,
      ...safePosition(positionOf, line),
      path: "",
      message: `internal error while validating (please report it): ${
        e instanceof Error ? e.message : String(e)
      }`,
    });
  }
  return result;
}

/** `file:line:1: note: Kind namespace/name: not read: why`, as `mesh validate` and `analyze` print it. */
export function formatSkipped(s: SkippedDocument): string {
  const name = s.name === undefined ? "" : ` ${s.namespace}/${s.name}`;
  return `${s.file}:${s.line}:1: note: ${s.kind}${name}: not read: ${s.why}`;
}

/**
 * The documents of `result` mesh doesn't read, as warnings (those already warned about, of
 * Istio's kinds, aren't repeated): for a config source, where a document that isn't read is
 * something the user put there in vain.
 */
export function skippedWarnings(
  result: Pick<ParseResult, "diagnostics" | "skipped">,
): Diagnostic[] {
  const warned = new Set(result.diagnostics.map((d) => `${d.file}:${d.line}`));
  return result.skipped.filter((s) => !warned.has(`${s.file}:${s.line}`)).map((s) => ({
    severity: "warning" as const,
    file: s.file,
    line: s.line,
    column: 1,
    path: "",
    kind: s.kind,
    ...(s.name !== undefined ? { name: s.name } : {}),
    namespace: s.namespace,
    message: `not read by mesh: ${s.why}`,
  }));
}

/** `s`, cut to at most `max` characters. */
function shorten(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** `Kind/namespace/name`, e.g. `VirtualService/default/reviews`. */
export function resourceKey(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

/** Renders a field path: `["spec", "http", 0, "route"]` → `spec.http[0].route`. */
export function formatPath(path: readonly YamlPathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment.length > 80 ? `${segment.slice(0, 77)}...` : segment)}]`;
  }
  return out;
}

const metadataSchema = z.looseObject({
  name: z.string().refine(isDns1123Subdomain, {
    error: (issue) =>
      `invalid name ${quote(issue.input)}; use lowercase letters, digits, '-' and '.', ` +
      "starting and ending with a letter or digit (at most 253)",
  }),
  namespace: z.string().refine(isDns1123Label, {
    error: (issue) =>
      `invalid namespace ${quote(issue.input)}; use lowercase letters, digits and '-', ` +
      "starting and ending with a letter or digit (at most 63)",
  }).optional(),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
});

const TOP_LEVEL_KEYS = ["apiVersion", "kind", "metadata", "spec", "status"];

// ---------------------------------------------------------------------------------------------
// Reading documents

interface DocContext {
  file: string;
  positionOf: (path: readonly YamlPathSegment[]) => YamlPosition;
  defaultNamespace: string;
  result: ParseResult;
}

function safePosition(
  positionOf: (path: readonly YamlPathSegment[]) => YamlPosition,
  line: number,
  path: readonly YamlPathSegment[] = [],
): YamlPosition {
  try {
    return positionOf(path);
  } catch {
    return { line, column: 1 };
  }
}

/** A {@linkcode Reporter} that also summarises what it held back. */
interface ResourceReporter extends Reporter {
  /** Adds one diagnostic for the problems beyond {@linkcode MAX_DIAGNOSTICS}, if any. */
  finish(): void;
}

function reporter(
  ctx: DocContext,
  prefix: Path,
  subject: { kind?: string; namespace?: string; name?: string },
): ResourceReporter {
  let errors = 0;
  let shown = 0;
  let heldErrors = 0;
  let heldWarnings = 0;
  const add = (severity: Severity, path: Path, message: string) => {
    if (severity === "error") errors++;
    if (shown >= MAX_DIAGNOSTICS) {
      if (severity === "error") heldErrors++;
      else heldWarnings++;
      return;
    }
    shown++;
    ctx.result.diagnostics.push({
      severity,
      file: ctx.file,
      ...ctx.positionOf([...prefix, ...path]),
      ...subject,
      path: formatPath(path),
      message,
    });
  };
  return {
    error: (path, message) => add("error", path, message),
    warn: (path, message) => add("warning", path, message),
    get errors() {
      return errors;
    },
    finish() {
      if (heldErrors + heldWarnings === 0) return;
      ctx.result.diagnostics.push({
        severity: heldErrors > 0 ? "error" : "warning",
        file: ctx.file,
        ...ctx.positionOf(prefix),
        ...subject,
        path: "",
        message: `${heldErrors} more errors and ${heldWarnings} more warnings not shown; ` +
          "fix the ones above first",
      });
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${quote(v)}`;
  return `${typeof v} ${quote(String(v)).slice(1, -1)}`;
}

/** Reads `obj` at `prefix` of the document: a resource, a List, or something skipped. */
function readObject(ctx: DocContext, obj: unknown, prefix: Path, allowList: boolean): void {
  const docReport = reporter(ctx, prefix, {});
  if (!isRecord(obj)) {
    docReport.error(
      [],
      `expected a mapping with apiVersion and kind, got ${describe(obj)}`,
    );
    return;
  }
  const { apiVersion, kind } = obj;
  let missing = false;
  for (const [field, value] of [["apiVersion", apiVersion], ["kind", kind]] as const) {
    if (value === undefined || value === null) {
      docReport.error([field], `missing required field "${field}"`);
      missing = true;
    } else if (typeof value !== "string") {
      docReport.error([field], `expected a string, got ${describe(value)}`);
      missing = true;
    }
  }
  if (missing) return;
  const version = apiVersion as string;
  const kindName = kind as string;
  const slash = version.lastIndexOf("/");
  const group = slash < 0 ? "" : version.slice(0, slash);
  const groupVersion = slash < 0 ? version : version.slice(slash + 1);
  const groupKnown = Object.hasOwn(API_GROUPS, group);

  const listOf = kindName.endsWith("List") ? kindName.slice(0, -4) : "";
  if (kindName === "List" || (groupKnown && kindOf(group, listOf) !== undefined)) {
    readList(ctx, obj, prefix, allowList);
    return;
  }

  const meta = isRecord(obj.metadata) ? obj.metadata : {};
  const subject = {
    kind: kindName,
    namespace: typeof meta.namespace === "string" ? meta.namespace : ctx.defaultNamespace,
    name: typeof meta.name === "string" ? meta.name : undefined,
  };
  const r = reporter(ctx, prefix, subject);
  const skip = (why: string) =>
    ctx.result.skipped.push({
      apiVersion: version,
      kind: kindName,
      ...(subject.name !== undefined ? { name: subject.name } : {}),
      namespace: subject.namespace,
      file: ctx.file,
      line: ctx.positionOf(prefix).line,
      why,
    });
  const unread = UNREAD_KINDS.find((k) => k.group === group && k.kind === kindName);
  if (unread?.versions && !unread.versions.includes(groupVersion)) {
    r.error(
      ["apiVersion"],
      `${unread.kind} is served only as ${
        unread.versions.map((v) => `${unread.group}/${v}`).join(", ")
      }; use apiVersion ${unread.group}/${unread.versions[0]}`,
    );
    return;
  }
  if (unread) {
    readUnread(ctx, obj, unread, r);
    skip(`${kindName} resources are not supported by mesh: ${unread.why}`);
    r.finish();
    return;
  }
  const id = kindOf(group, kindName);
  if (!groupKnown || id === undefined) {
    const elsewhere = KINDS.filter((k) => KIND_INFO[k].kind === kindName);
    if (groupKnown && elsewhere.length === 0) {
      const kinds = KINDS.filter((k) => KIND_INFO[k].group === group).map((k) => KIND_INFO[k].kind);
      const guess = suggest(kindName, kinds);
      r.error(
        ["kind"],
        `unknown kind ${quote(kindName)} in ${group}${
          guess ? ` (did you mean ${quote(guess)}?)` : ""
        }; mesh reads ${kinds.join(", ")}`,
      );
      return;
    }
    if (elsewhere.length > 0 && (groupKnown || isIstioGroup(group))) {
      const homes = elsewhere.map(apiVersionOf);
      r.error(
        ["apiVersion"],
        `${kindName} belongs to ${
          elsewhere.map((k) => KIND_INFO[k].group).join(" or ")
        }, not ${group}; use apiVersion ${homes.join(" or ")}`,
      );
      return;
    }
    if (isIstioGroup(group)) {
      // Istio configuration mesh doesn't read: say so, as a warning.
      r.warn([], `${kindName} resources are ${NOT_SUPPORTED}`);
      skip(`${kindName} resources are not supported by mesh`);
      return;
    }
    // Kubernetes objects and other APIs: not configuration mesh reads from files; named in
    // the result so that callers can say so.
    skip(
      group === "" || !group.includes(".")
        ? `a Kubernetes ${kindName} is not configuration mesh reads`
        : `${group} is not an API mesh reads`,
    );
    return;
  }
  const versions = KIND_INFO[id].versions;
  if (!versions.includes(groupVersion)) {
    r.error(
      ["apiVersion"],
      `apiVersion ${quote(version)} is not accepted for ${kindName}; use one of ` +
        versions.map((v) => `${group}/${v}`).join(", "),
    );
    return;
  }
  readResource(ctx, obj, prefix, id, version, r);
  r.finish();
}

function isIstioGroup(group: string): boolean {
  return group === "istio.io" || group.endsWith(".istio.io");
}

/** Validates a document of a kind mesh recognizes but doesn't read, where a schema exists. */
function readUnread(
  ctx: DocContext,
  raw: Record<string, unknown>,
  unread: UnreadKind,
  r: Reporter,
): void {
  r.warn([], `${unread.kind} resources are not supported by mesh (${unread.why}); ignored`);
  if (!unread.schema) return;
  const rawSpec = normalize(raw.spec, unread.schema, 1);
  if (rawSpec === TOO_DEEP) {
    r.error([], `nesting deeper than ${MAX_DEPTH} levels; no Istio resource needs that`);
    return;
  }
  if (rawSpec === undefined || rawSpec === null) {
    r.error(["spec"], `missing required field "spec"`);
    return;
  }
  const parsed = unread.schema.safeParse(rawSpec);
  if (!parsed.success) {
    reportIssues(parsed.error.issues, rawSpec, ["spec"], unread.schema, unread.kind, r);
    return;
  }
  const meta = isRecord(raw.metadata) ? raw.metadata : {};
  unread.check?.(parsed.data, r, {
    namespace: typeof meta.namespace === "string" ? meta.namespace : ctx.defaultNamespace,
    name: typeof meta.name === "string" ? meta.name : "",
  });
}

function readList(
  ctx: DocContext,
  obj: Record<string, unknown>,
  prefix: Path,
  allowList: boolean,
): void {
  const r = reporter(ctx, prefix, { kind: String(obj.kind) });
  if (!allowList) {
    r.error(["kind"], "a List may not contain another List; put the items in the outer List");
    return;
  }
  const items = obj.items ?? [];
  if (!Array.isArray(items)) {
    r.error(["items"], `expected a list of resources, got ${describe(items)}`);
    return;
  }
  items.forEach((item, i) => readObject(ctx, item, [...prefix, "items", i], false));
}

function readResource(
  ctx: DocContext,
  raw: Record<string, unknown>,
  prefix: Path,
  kind: Kind,
  apiVersion: string,
  r: Reporter,
): void {
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.includes(key)) r.error([key], unknownField(key, TOP_LEVEL_KEYS, kind));
  }
  const def = KIND_INFO[kind];
  if (def.support !== "enforced") r.warn(["spec"], notEnforced(def.kind));
  const rawMetadata = normalize(raw.metadata, metadataSchema, 1);
  const rawSpec = normalize(raw.spec, def.schema, 1);
  if (rawMetadata === TOO_DEEP || rawSpec === TOO_DEEP) {
    r.error([], `nesting deeper than ${MAX_DEPTH} levels; no Istio resource needs that`);
    return;
  }

  let metadata: Metadata | undefined;
  if (rawMetadata === undefined || rawMetadata === null) {
    r.error(["metadata"], `missing required field "metadata"; give the resource a name`);
  } else {
    const parsed = metadataSchema.safeParse(rawMetadata);
    if (parsed.success) {
      metadata = { ...parsed.data, namespace: parsed.data.namespace ?? ctx.defaultNamespace };
      checkLabels(metadata.labels, ["metadata", "labels"], r);
    } else {
      reportIssues(parsed.error.issues, rawMetadata, ["metadata"], metadataSchema, kind, r);
    }
  }

  // No spec is an empty one, as the API server stores it, where the CRD doesn't require spec:
  // the kind's own rules decide (an AuthorizationPolicy without one denies all; a Gateway
  // without servers is refused).
  let spec: SpecOf<Kind> | undefined;
  const noSpec = rawSpec === undefined || rawSpec === null;
  if (noSpec && def.specRequired) {
    r.error(["spec"], `missing required field "spec"; ${def.kind}'s CRD requires it`);
  } else {
    const specIn = noSpec ? {} : rawSpec;
    const parsed = def.schema.safeParse(specIn);
    if (parsed.success) spec = parsed.data;
    else reportIssues(parsed.error.issues, specIn, ["spec"], def.schema, kind, r);
  }

  const source = { file: ctx.file, line: ctx.positionOf(prefix).line };
  const keepInvalid = () => {
    const m = isRecord(raw.metadata) ? raw.metadata : {};
    ctx.result.invalid.push({
      apiVersion,
      kind,
      metadata: {
        ...m,
        name: typeof m.name === "string" ? m.name : "",
        namespace: typeof m.namespace === "string" ? m.namespace : ctx.defaultNamespace,
      },
      spec: rawSpec,
      source,
    });
  };
  if (!metadata || spec === undefined || r.errors > 0) return keepInvalid();
  // Istio's webhook refuses istio.io/dry-run on every kind but AuthorizationPolicy (whose
  // check looks at it with the action).
  if (kind !== "AuthorizationPolicy" && isIstioGroup(def.group)) {
    checkDryRunAnnotation(metadata.annotations, { kind: def.kind }, r);
  }
  def.check(spec, r, {
    namespace: metadata.namespace,
    name: metadata.name,
    annotations: metadata.annotations,
    labels: metadata.labels,
    apiVersion,
  });
  if (r.errors > 0) return keepInvalid();
  ctx.result.resources.push(
    {
      apiVersion,
      kind,
      metadata,
      spec,
      source,
    } as Resource,
  );
}

const TOO_DEEP = Symbol("too deep");

/**
 * Copies a decoded value for validation against `schema`. `null` values of object fields are
 * dropped, as Kubernetes reads them as unset; `null` in maps and lists is kept, so that it is
 * reported (an empty header match is `{}`, not `null`). Returns {@linkcode TOO_DEEP} when
 * nesting exceeds {@linkcode MAX_DEPTH}.
 */
function normalize(v: unknown, schema: unknown, depth: number): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  const s = unwrapSchema(schema);
  if (Array.isArray(v)) {
    const element = s instanceof z.ZodArray ? s.element : undefined;
    const out: unknown[] = [];
    for (const item of v) {
      const n = normalize(item, element, depth + 1);
      if (n === TOO_DEEP) return TOO_DEEP;
      out.push(n);
    }
    return out;
  }
  const shape: Record<string, unknown> | undefined = s instanceof z.ZodObject ? s.shape : undefined;
  const values = s instanceof z.ZodRecord ? s.valueType : undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) {
    const field = shape && Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (value === null && field !== undefined) continue;
    const n = normalize(value, field ?? values, depth + 1);
    if (n === TOO_DEEP) return TOO_DEEP;
    // An own property even for "__proto__", so that it is reported as an unknown field.
    Object.defineProperty(out, key, {
      value: n,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Looks through `optional`, defaults and pipes (preprocessing) to the schema of a value. */
function unwrapSchema(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 8; i++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap();
    else if (s instanceof z.ZodPipe) s = s.out;
    else break;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// zod issues → diagnostics

function reportIssues(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  base: Path,
  schema: z.ZodType,
  kind: string,
  r: Reporter,
): void {
  const seen = new Set<string>();
  for (const issue of issues) {
    const path: Path = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) {
        r.error([...base, ...path, key], unknownField(key, known, kind));
      }
      continue;
    }
    const key = formatPath(path);
    if (seen.has(key)) continue; // the first problem with a field is enough
    seen.add(key);
    r.error([...base, ...path], issueMessage(issue, path, root, schemaAt(schema, path)));
  }
}

function issueMessage(
  issue: z.core.$ZodIssue,
  path: Path,
  root: unknown,
  schema: unknown,
): string {
  const value = valueAt(root, path);
  switch (issue.code) {
    case "invalid_type": {
      if (value === undefined) {
        const field = path[path.length - 1];
        return `missing required field ${quote(field)}`;
      }
      if (typeof schema === "object" && schema !== null && DURATION_SCHEMAS.has(schema)) {
        const example = typeof value === "number" ? `${value}s` : "1.5s";
        return `expected a duration like ${example}, got ${describe(value)}; ` +
          "write a number with a unit (h, m, s or ms)";
      }
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      let hint = "";
      if (
        (issue.expected === "number" || issue.expected === "int") && typeof value === "string" &&
        value.trim() !== "" && !Number.isNaN(Number(value))
      ) {
        hint = "; write the number without quotes";
      } else if (issue.expected === "boolean" && (value === "true" || value === "false")) {
        hint = "; write true or false without quotes";
      } else if (
        issue.expected === "string" && (typeof value === "number" || typeof value === "boolean")
      ) {
        hint = "; put the value in quotes";
      } else if (issue.expected === "array" && !Array.isArray(value) && value !== null) {
        hint = "; write a list, like [a] or one '- a' per line";
      }
      return `expected ${expected}, got ${describe(value)}${hint}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map(String).join(", ")}; got ${describe(value)}`;
    case "too_small":
      if (issue.origin === "string" && issue.minimum === 1) return "may not be empty";
      return issue.message;
    default:
      return issue.message;
  }
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const segment of path) {
    if (Array.isArray(v) && typeof segment === "number") v = v[segment];
    else if (isRecord(v)) v = Object.hasOwn(v, segment) ? v[segment] : undefined;
    else return undefined;
  }
  return v;
}

/** The schema of the value at `path` inside `schema` (looking through optional and pipes). */
function schemaAt(schema: z.ZodType, path: Path): unknown {
  let s = unwrapSchema(schema);
  for (const segment of path) {
    if (s instanceof z.ZodObject) {
      s = Object.hasOwn(s.shape, segment) ? s.shape[segment] : undefined;
    } else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodRecord) s = s.valueType;
    else return undefined;
    s = unwrapSchema(s);
  }
  return s;
}

/** The field names of the object schema found at `path` inside `schema`. */
function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  const s = schemaAt(schema, path);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unknownField(key: string, known: readonly string[], kind: string): string {
  const guess = suggest(key, known);
  return `unknown field ${quote(key)}${guess ? ` (did you mean ${quote(guess)}?)` : ""}; ` +
    `check the spelling against ${referenceName(kind)}`;
}

/** The reference documentation a kind's fields are spelled in, e.g. "Istio's VirtualService reference". */
function referenceName(kind: string): string {
  const def = isKind(kind) ? KIND_INFO[kind] : undefined;
  if (def?.group === "gateway.networking.k8s.io") return `the Gateway API's ${def.kind} reference`;
  return `Istio's ${def?.kind ?? kind} reference`;
}

/** The known name `key` was most likely meant to be, if any is close. */
function suggest(key: string, known: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const folded = key.replace(/[_-]/g, "").toLowerCase();
  const same = known.find((k) => k.toLowerCase() === folded);
  if (same) return same;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 4)) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3 || a.length > 64 || b.length > 64) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
