/**
 * Istio networking resources as mesh reads them: zod schemas for VirtualService,
 * DestinationRule, Gateway, ServiceEntry and WorkloadEntry (`networking.istio.io` v1, v1beta1
 * and v1alpha3), plus the semantic checks Istio applies, reported as positioned
 * {@linkcode Diagnostic}s.
 *
 * Fields that belong to Istio's API but that mesh does not enforce yet are accepted with a
 * warning (`not supported by mesh yet; ignored`); fields Istio doesn't know are errors. Other
 * documents in the same file (Kubernetes Services, Deployments, other Istio groups) are skipped
 * without comment.
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

// ---------------------------------------------------------------------------------------------
// Kinds and versions

/** The resource kinds mesh reads. */
export const KINDS = [
  "VirtualService",
  "DestinationRule",
  "Gateway",
  "ServiceEntry",
  "WorkloadEntry",
] as const;
/** One of {@linkcode KINDS}. */
export type Kind = typeof KINDS[number];

/** The API group of every kind in {@linkcode KINDS}. */
export const API_GROUP = "networking.istio.io";
/** Versions of {@linkcode API_GROUP} accepted for every kind. */
export const API_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;

/** Istio networking kinds that exist but that mesh doesn't read; they get a warning. */
const OTHER_NETWORKING_KINDS = ["Sidecar", "EnvoyFilter", "WorkloadGroup", "ProxyConfig"];

/** The message of every "known to Istio, not enforced by mesh" warning. */
export const NOT_SUPPORTED = "not supported by mesh yet; ignored";

/** Largest input {@linkcode parseResources} reads at all, in characters. */
export const MAX_INPUT_SIZE = 64 * 1024 * 1024;
/** Largest single document, in characters. */
export const MAX_DOCUMENT_SIZE = DEFAULT_MAX_DOCUMENT_SIZE;
/** Deepest nesting of mappings and lists accepted in a document. */
export const MAX_DEPTH = 64;

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

/** Match on a string: exactly one of the three is set (none for a header presence match). */
export interface StringMatch {
  /** Exact string match. */
  exact?: string;
  /** Prefix match. */
  prefix?: string;
  /** Regular expression match (the whole value must match). */
  regex?: string;
}

/** A port on the destination host. */
export interface PortSelector {
  /** 1..65535. */
  number: number;
}

/** Where traffic goes: a service host, optionally a subset and a port. */
export interface Destination {
  /** Service host name (short name, or FQDN). */
  host: string;
  /** Name of a subset declared in the host's DestinationRule. */
  subset?: string;
  /** Port on the host; needed only when the service exposes several ports. */
  port?: PortSelector;
}

/** A weighted destination of an HTTP route. */
export interface HTTPRouteDestination {
  destination: Destination;
  /** Share of traffic, 0..100; the weights of one route sum to 100. */
  weight?: number;
  /** Header manipulation — {@linkcode NOT_SUPPORTED}. */
  headers?: unknown;
}

/** Conditions of an HTTP route; all set fields must match (the match entries of a route OR). */
export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  /** Keyed by lowercase header name; an empty match tests for presence. */
  headers?: Record<string, StringMatch>;
  method?: StringMatch;
  authority?: StringMatch;
  /** Port the request arrived on. */
  port?: number;
  queryParams?: unknown;
  scheme?: unknown;
  ignoreUriCase?: unknown;
  withoutHeaders?: unknown;
  sourceLabels?: unknown;
  sourceNamespace?: unknown;
  gateways?: unknown;
  statPrefix?: unknown;
}

/** One HTTP route of a VirtualService; the first route whose match matches wins. */
export interface HTTPRoute {
  name?: string;
  /** Absent means "match everything". */
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: unknown;
  directResponse?: unknown;
  delegate?: unknown;
  rewrite?: unknown;
  timeout?: unknown;
  retries?: unknown;
  fault?: unknown;
  mirror?: unknown;
  mirrors?: unknown;
  mirrorPercentage?: unknown;
  mirrorPercent?: unknown;
  mirror_percent?: unknown;
  corsPolicy?: unknown;
  headers?: unknown;
}

/** `spec` of a VirtualService. */
export interface VirtualServiceSpec {
  /** Hosts the routes apply to. */
  hosts: string[];
  /** Gateways (`name` or `namespace/name`) and/or `mesh`; absent means `mesh` only. */
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: unknown;
  tcp?: unknown;
  exportTo?: unknown;
}

/** TLS modes of a DestinationRule. */
export const TLS_MODES = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] as const;
/** One of {@linkcode TLS_MODES}; mesh enforces `DISABLE` and `ISTIO_MUTUAL`. */
export type TLSMode = typeof TLS_MODES[number];

/** Client-side TLS of a DestinationRule. */
export interface ClientTLSSettings {
  mode?: TLSMode;
  clientCertificate?: unknown;
  privateKey?: unknown;
  caCertificates?: unknown;
  credentialName?: unknown;
  subjectAltNames?: unknown;
  sni?: unknown;
  insecureSkipVerify?: unknown;
  caCrl?: unknown;
}

/** Simple load-balancing algorithms. */
export const SIMPLE_LB = [
  "UNSPECIFIED",
  "LEAST_CONN",
  "RANDOM",
  "PASSTHROUGH",
  "ROUND_ROBIN",
  "LEAST_REQUEST",
] as const;
/** One of {@linkcode SIMPLE_LB}; mesh enforces `ROUND_ROBIN` and `RANDOM`. */
export type SimpleLB = typeof SIMPLE_LB[number];

/** Load balancing of a DestinationRule. */
export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: unknown;
  localityLbSetting?: unknown;
  zoneAwareLbSetting?: unknown;
  warmupDurationSecs?: unknown;
  warmup?: unknown;
}

/** Traffic policy of a DestinationRule. */
export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  tls?: ClientTLSSettings;
  connectionPool?: unknown;
  outlierDetection?: unknown;
  portLevelSettings?: unknown;
  tunnel?: unknown;
  proxyProtocol?: unknown;
  retryBudget?: unknown;
}

/** A named set of a service's endpoints, selected by labels. */
export interface Subset {
  /** DNS-1123 label, unique within the rule. */
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: unknown;
}

/** `spec` of a DestinationRule. */
export interface DestinationRuleSpec {
  /** The service the rule applies to. */
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: unknown;
  workloadSelector?: unknown;
}

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
] as const;
/** One of {@linkcode PROTOCOLS}; mesh enforces `HTTP`. */
export type Protocol = typeof PROTOCOLS[number];

/** A port a Gateway server listens on. */
export interface Port {
  number: number;
  protocol: Protocol;
  name: string;
  /** Deprecated in Istio; 1..65535. */
  targetPort?: number;
}

/** One listener of a Gateway. */
export interface Server {
  port: Port;
  /** `host`, `*.domain`, `*`, each optionally as `namespace/host`. */
  hosts: string[];
  name?: string;
  tls?: unknown;
  bind?: unknown;
  defaultEndpoint?: unknown;
}

/** `spec` of a Gateway. */
export interface GatewaySpec {
  /** Labels of the gateway workloads this configuration applies to. */
  selector?: Record<string, string>;
  servers: Server[];
}

/** A port of a ServiceEntry. */
export interface ServicePort {
  number: number;
  protocol?: Protocol;
  /** Unique within the entry. */
  name: string;
  targetPort?: number;
}

/** `spec` of a WorkloadEntry, and an endpoint of a ServiceEntry. */
export interface WorkloadEntrySpec {
  /** IP address, DNS name, or `unix:///absolute/path`. */
  address?: string;
  /** Service port name to workload port. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  serviceAccount?: string;
  weight?: number;
  network?: unknown;
  locality?: unknown;
}

/** Where a ServiceEntry's service lives. Istio's default is `MESH_EXTERNAL`. */
export type ServiceEntryLocation = "MESH_EXTERNAL" | "MESH_INTERNAL";
/** How a ServiceEntry's endpoints are found. Istio's default is `NONE`. */
export type ServiceEntryResolution = "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN";

/** `spec` of a ServiceEntry. */
export interface ServiceEntrySpec {
  hosts: string[];
  /** Virtual IPs or CIDR blocks. */
  addresses?: string[];
  ports?: ServicePort[];
  location?: ServiceEntryLocation;
  resolution?: ServiceEntryResolution;
  endpoints?: WorkloadEntrySpec[];
  /** Selects WorkloadEntries (and pods) by label instead of listing endpoints. */
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: unknown;
  subjectAltNames?: unknown;
}

/** The spec type of each kind. */
export interface SpecMap {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  Gateway: GatewaySpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
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

/** Resources read from some input, and what was wrong with the rest. */
export interface ParseResult {
  /** Only resources without errors; warnings don't drop a resource. */
  resources: Resource[];
  /** Errors and warnings, in source order. */
  diagnostics: Diagnostic[];
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
 * Reads every Istio networking resource from YAML or JSON `text` (one or more documents;
 * `kind: List` is expanded). Never throws.
 */
export function parseResources(
  text: string,
  file: string,
  options: ParseOptions = {},
): ParseResult {
  const result: ParseResult = { resources: [], diagnostics: [] };
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
        message: `invalid YAML: ${doc.error.message}`,
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
  }
  result.diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  return result;
}

/**
 * Validates one decoded document: an Istio networking resource, a `List` of them, or something
 * else (which is skipped). Never throws.
 */
export function validateResource(obj: unknown, options: ValidateOptions = {}): ParseResult {
  const file = options.file ?? "<input>";
  const line = options.line ?? 1;
  const positionOf = options.positionOf ?? (() => ({ line, column: 1 }));
  const result: ParseResult = { resources: [], diagnostics: [] };
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
      ...positionOf([]),
      path: "",
      message: `internal error while validating (please report it): ${
        e instanceof Error ? e.message : String(e)
      }`,
    });
  }
  return result;
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
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formats

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOST_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;
const HEADER_NAME = /^:?[a-z0-9!#$%&'*+\-.^_`|~]+$/;

/** A Kubernetes DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters. */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** A Kubernetes DNS-1123 subdomain: dot-separated labels, at most 253 characters. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every(isDns1123Label);
}

function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split(".");
  if (!labels.every((l) => l.length <= 63 && HOST_LABEL.test(l))) return false;
  // No top-level domain is numeric: "1.2.3.999" is a broken address, not a name.
  return !/^\d+$/.test(labels[labels.length - 1]);
}

function isIPv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

function isIPv6(s: string): boolean {
  if (!s.includes(":") || !/^[0-9a-f:.]+$/i.test(s)) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

function isIPOrCIDR(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return isIP(s);
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return (isIPv4(ip) && Number(bits) <= 32) || (isIPv6(ip) && Number(bits) <= 128);
}

/** `*`, `*.example.com`, a short name or an FQDN. */
function isWildcardHost(s: string): boolean {
  return s === "*" || (s.startsWith("*.") && isHostname(s.slice(2))) || isHostname(s);
}

function isVirtualServiceHost(s: string): boolean {
  return isWildcardHost(s) || isIP(s);
}

/** Gateway server hosts: `host` or `namespace/host`, namespace being `*`, `.` or a name. */
function isGatewayHost(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return isWildcardHost(s);
  const ns = s.slice(0, slash);
  const host = s.slice(slash + 1);
  return (ns === "*" || ns === "." || isDns1123Label(ns)) && isWildcardHost(host);
}

/** VirtualService `gateways` entries: `mesh`, `name` or `namespace/name`. */
function isGatewayRef(s: string): boolean {
  if (s === "mesh") return true;
  const slash = s.indexOf("/");
  if (slash < 0) return isDns1123Subdomain(s);
  return isDns1123Label(s.slice(0, slash)) && isDns1123Subdomain(s.slice(slash + 1));
}

function isEndpointAddress(s: string): boolean {
  if (s.startsWith("unix://")) return s.length > "unix://".length && s[7] === "/";
  return isIP(s) || isHostname(s);
}

function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

const HOST_HINT =
  "use a short name like reviews, an FQDN like reviews.default.svc.cluster.local, " +
  "a wildcard like *.example.com, or *";

// ---------------------------------------------------------------------------------------------
// Schemas

const UNSUPPORTED_VS = ["exportTo", "tls", "tcp"] as const;
const UNSUPPORTED_HTTP_ROUTE = [
  "redirect",
  "directResponse",
  "delegate",
  "rewrite",
  "timeout",
  "retries",
  "fault",
  "mirror",
  "mirrors",
  "mirrorPercentage",
  "mirrorPercent",
  "mirror_percent",
  "corsPolicy",
  "headers",
] as const;
const UNSUPPORTED_MATCH = [
  "queryParams",
  "scheme",
  "ignoreUriCase",
  "withoutHeaders",
  "sourceLabels",
  "sourceNamespace",
  "gateways",
  "statPrefix",
] as const;
const UNSUPPORTED_ROUTE_DESTINATION = ["headers"] as const;
const UNSUPPORTED_DR = ["exportTo", "workloadSelector"] as const;
const UNSUPPORTED_TRAFFIC_POLICY = [
  "connectionPool",
  "outlierDetection",
  "portLevelSettings",
  "tunnel",
  "proxyProtocol",
  "retryBudget",
] as const;
const UNSUPPORTED_LB = [
  "consistentHash",
  "localityLbSetting",
  "zoneAwareLbSetting",
  "warmupDurationSecs",
  "warmup",
] as const;
const UNSUPPORTED_TLS = [
  "clientCertificate",
  "privateKey",
  "caCertificates",
  "credentialName",
  "subjectAltNames",
  "sni",
  "insecureSkipVerify",
  "caCrl",
] as const;
const UNSUPPORTED_SUBSET = ["trafficPolicy"] as const;
const UNSUPPORTED_SERVER = ["tls", "bind", "defaultEndpoint"] as const;
const UNSUPPORTED_SE = ["exportTo", "subjectAltNames"] as const;
const UNSUPPORTED_WE = ["network", "locality"] as const;

/** A strict object whose `unsupported` keys are accepted as anything (and warned about later). */
function strictWith<S extends z.ZodRawShape, const U extends readonly string[]>(
  shape: S,
  unsupported: U,
) {
  const loose = Object.fromEntries(unsupported.map((k) => [k, z.unknown().optional()])) as {
    [P in U[number]]: z.ZodOptional<z.ZodUnknown>;
  };
  return z.strictObject({ ...shape, ...loose });
}

function intRange(min: number, max: number) {
  const error = (issue: { input?: unknown }) =>
    `must be an integer from ${min} to ${max}; got ${String(issue.input)}`;
  return z.number().refine((n) => Number.isInteger(n) && n >= min && n <= max, { error });
}

function formatted(test: (s: string) => boolean, explain: (value: string) => string) {
  return z.string().refine(test, { error: (issue) => explain(String(issue.input)) });
}

function nonEmptyList<T extends z.ZodType>(item: T, error: string) {
  return z.array(item).min(1, { error });
}

const portNumber = intRange(1, 65535);
const labelMap = z.record(z.string(), z.string());
/** Protocol names are case-insensitive in Istio; they are stored upper case. */
const protocol = z.preprocess(
  (v) => (typeof v === "string" ? v.toUpperCase() : v),
  z.enum(PROTOCOLS),
);

const stringMatch: z.ZodType<StringMatch> = z.strictObject({
  exact: z.string().optional(),
  prefix: z.string().optional(),
  regex: z.string().optional(),
});

const destination: z.ZodType<Destination> = z.strictObject({
  host: formatted(
    isHostname,
    (v) => `invalid destination host ${quote(v)}; use a service name like reviews or an FQDN`,
  ),
  subset: z.string().optional(),
  port: z.strictObject({ number: portNumber }).optional(),
});

const httpRouteDestination: z.ZodType<HTTPRouteDestination> = strictWith({
  destination,
  weight: intRange(0, 100).optional(),
}, UNSUPPORTED_ROUTE_DESTINATION);

const httpMatchRequest: z.ZodType<HTTPMatchRequest> = strictWith({
  name: z.string().optional(),
  uri: stringMatch.optional(),
  headers: z.record(z.string(), stringMatch).optional(),
  method: stringMatch.optional(),
  authority: stringMatch.optional(),
  port: portNumber.optional(),
}, UNSUPPORTED_MATCH);

const httpRoute: z.ZodType<HTTPRoute> = strictWith({
  name: z.string().optional(),
  match: z.array(httpMatchRequest).optional(),
  route: z.array(httpRouteDestination).optional(),
}, UNSUPPORTED_HTTP_ROUTE);

const virtualServiceSpec: z.ZodType<VirtualServiceSpec> = strictWith({
  hosts: nonEmptyList(
    formatted(isVirtualServiceHost, (v) => `invalid host ${quote(v)}; ${HOST_HINT}`),
    "hosts must list at least one host",
  ),
  gateways: z.array(formatted(
    isGatewayRef,
    (v) => `invalid gateway ${quote(v)}; use a Gateway name, namespace/name, or mesh`,
  )).optional(),
  http: z.array(httpRoute).optional(),
}, UNSUPPORTED_VS);

const clientTls: z.ZodType<ClientTLSSettings> = strictWith({
  mode: z.enum(TLS_MODES).optional(),
}, UNSUPPORTED_TLS);

const loadBalancer: z.ZodType<LoadBalancerSettings> = strictWith({
  simple: z.enum(SIMPLE_LB).optional(),
}, UNSUPPORTED_LB);

const trafficPolicy: z.ZodType<TrafficPolicy> = strictWith({
  loadBalancer: loadBalancer.optional(),
  tls: clientTls.optional(),
}, UNSUPPORTED_TRAFFIC_POLICY);

const subset: z.ZodType<Subset> = strictWith({
  name: formatted(
    isDns1123Label,
    (v) =>
      `invalid subset name ${quote(v)}; use lowercase letters, digits and '-' ` +
      "(at most 63, starting and ending with a letter or digit)",
  ),
  labels: labelMap.optional(),
}, UNSUPPORTED_SUBSET);

const destinationRuleSpec: z.ZodType<DestinationRuleSpec> = strictWith({
  host: formatted(isWildcardHost, (v) => `invalid host ${quote(v)}; ${HOST_HINT}`),
  trafficPolicy: trafficPolicy.optional(),
  subsets: z.array(subset).optional(),
}, UNSUPPORTED_DR);

const gatewayPort: z.ZodType<Port> = z.strictObject({
  number: portNumber,
  protocol,
  name: z.string(),
  targetPort: portNumber.optional(),
});

const server: z.ZodType<Server> = strictWith({
  port: gatewayPort,
  hosts: nonEmptyList(
    formatted(
      isGatewayHost,
      (v) => `invalid host ${quote(v)}; ${HOST_HINT}, optionally as namespace/host`,
    ),
    `hosts must list at least one host; use "*" to accept any`,
  ),
  name: z.string().optional(),
}, UNSUPPORTED_SERVER);

const gatewaySpec: z.ZodType<GatewaySpec> = z.strictObject({
  selector: labelMap.optional(),
  servers: nonEmptyList(server, "servers must list at least one server"),
});

const servicePort: z.ZodType<ServicePort> = z.strictObject({
  number: portNumber,
  protocol: protocol.optional(),
  name: z.string(),
  targetPort: portNumber.optional(),
});

const workloadEntrySpec: z.ZodType<WorkloadEntrySpec> = strictWith({
  address: formatted(
    isEndpointAddress,
    (v) => `invalid address ${quote(v)}; use an IP address, a DNS name or unix:///path`,
  ).optional(),
  ports: z.record(z.string(), portNumber).optional(),
  labels: labelMap.optional(),
  serviceAccount: z.string().optional(),
  weight: intRange(0, 4294967295).optional(),
}, UNSUPPORTED_WE);

const serviceEntrySpec: z.ZodType<ServiceEntrySpec> = strictWith({
  hosts: nonEmptyList(
    formatted(
      (s) => s !== "*" && isWildcardHost(s),
      (v) =>
        v === "*"
          ? `"*" is not allowed in a ServiceEntry; name the hosts, e.g. *.example.com`
          : `invalid host ${quote(v)}; use a DNS name like api.example.com or *.example.com`,
    ),
    "hosts must list at least one host",
  ),
  addresses: z.array(formatted(
    isIPOrCIDR,
    (v) => `invalid address ${quote(v)}; use an IP address or CIDR block like 10.0.0.0/16`,
  )).optional(),
  ports: z.array(servicePort).optional(),
  location: z.enum(["MESH_EXTERNAL", "MESH_INTERNAL"]).optional(),
  resolution: z.enum(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"]).optional(),
  endpoints: z.array(workloadEntrySpec).optional(),
  workloadSelector: z.strictObject({ labels: labelMap.optional() }).optional(),
}, UNSUPPORTED_SE);

const SPEC_SCHEMAS: { [K in Kind]: z.ZodType<SpecOf<K>> } = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  Gateway: gatewaySpec,
  ServiceEntry: serviceEntrySpec,
  WorkloadEntry: workloadEntrySpec,
};

const metadataSchema = z.looseObject({
  name: formatted(
    isDns1123Subdomain,
    (v) =>
      `invalid name ${quote(v)}; use lowercase letters, digits, '-' and '.', ` +
      "starting and ending with a letter or digit (at most 253)",
  ),
  namespace: formatted(
    isDns1123Label,
    (v) =>
      `invalid namespace ${quote(v)}; use lowercase letters, digits and '-', ` +
      "starting and ending with a letter or digit (at most 63)",
  ).optional(),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
});

const TOP_LEVEL_KEYS = ["apiVersion", "kind", "metadata", "spec", "status"];

// ---------------------------------------------------------------------------------------------
// Reading documents

type Path = YamlPathSegment[];

interface DocContext {
  file: string;
  positionOf: (path: readonly YamlPathSegment[]) => YamlPosition;
  defaultNamespace: string;
  result: ParseResult;
}

/** Reports diagnostics about one resource, with paths relative to it. */
interface Reporter {
  error(path: Path, message: string): void;
  warn(path: Path, message: string): void;
  readonly errors: number;
}

function reporter(
  ctx: DocContext,
  prefix: Path,
  subject: { kind?: string; namespace?: string; name?: string },
): Reporter {
  let errors = 0;
  const add = (severity: Severity, path: Path, message: string) => {
    if (severity === "error") errors++;
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
  return `${typeof v} ${String(v)}`;
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

  const listOf = group === API_GROUP && kindName.endsWith("List") ? kindName.slice(0, -4) : "";
  if (kindName === "List" || (KINDS as readonly string[]).includes(listOf)) {
    readList(ctx, obj, prefix, allowList);
    return;
  }
  if (group !== API_GROUP) return; // Kubernetes objects and other Istio groups: not ours.

  const meta = isRecord(obj.metadata) ? obj.metadata : {};
  const subject = {
    kind: kindName,
    namespace: typeof meta.namespace === "string" ? meta.namespace : ctx.defaultNamespace,
    name: typeof meta.name === "string" ? meta.name : undefined,
  };
  const r = reporter(ctx, prefix, subject);
  if (!(KINDS as readonly string[]).includes(kindName)) {
    if (OTHER_NETWORKING_KINDS.includes(kindName)) {
      r.warn([], `${kindName} resources are ${NOT_SUPPORTED}`);
    } else {
      r.error(
        ["kind"],
        `unknown kind ${quote(kindName)} in ${API_GROUP}; mesh reads ${KINDS.join(", ")}`,
      );
    }
    return;
  }
  if (!(API_VERSIONS as readonly string[]).includes(groupVersion)) {
    r.error(
      ["apiVersion"],
      `apiVersion ${quote(version)} is not accepted for ${kindName}; use one of ` +
        API_VERSIONS.map((v) => `${API_GROUP}/${v}`).join(", "),
    );
    return;
  }
  readResource(ctx, obj, prefix, kindName as Kind, version, r);
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

  const schema = SPEC_SCHEMAS[kind];
  const rawMetadata = normalize(raw.metadata, metadataSchema, 1);
  const rawSpec = normalize(raw.spec, schema, 1);
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
    } else {
      reportIssues(parsed.error.issues, rawMetadata, ["metadata"], metadataSchema, kind, r);
    }
  }

  let spec: SpecOf<Kind> | undefined;
  if (rawSpec === undefined || rawSpec === null) {
    r.error(["spec"], `missing required field "spec"`);
  } else {
    const parsed = schema.safeParse(rawSpec);
    if (parsed.success) spec = parsed.data;
    else reportIssues(parsed.error.issues, rawSpec, ["spec"], schema, kind, r);
  }

  if (!metadata || spec === undefined || r.errors > 0) return;
  CHECKS[kind](spec as never, r);
  if (r.errors > 0) return;
  ctx.result.resources.push(
    {
      apiVersion,
      kind,
      metadata,
      spec,
      source: { file: ctx.file, line: ctx.positionOf(prefix).line },
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
    out[key] = n;
  }
  return out;
}

/** Looks through `optional` and pipes (preprocessing) to the schema that shapes a value. */
function unwrapSchema(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 8; i++) {
    if (s instanceof z.ZodOptional) s = s.unwrap();
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
  kind: Kind,
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
    r.error([...base, ...path], issueMessage(issue, path, root));
  }
}

function issueMessage(issue: z.core.$ZodIssue, path: Path, root: unknown): string {
  const value = valueAt(root, path);
  switch (issue.code) {
    case "invalid_type": {
      if (value === undefined) {
        const field = path[path.length - 1];
        return `missing required field ${quote(field)}`;
      }
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      let hint = "";
      if (
        (issue.expected === "number" || issue.expected === "int") && typeof value === "string" &&
        value.trim() !== "" && !Number.isNaN(Number(value))
      ) {
        hint = "; write the number without quotes";
      } else if (
        issue.expected === "string" && (typeof value === "number" || typeof value === "boolean")
      ) {
        hint = "; put the value in quotes";
      }
      return `expected ${expected}, got ${describe(value)}${hint}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map(String).join(", ")}; got ${describe(value)}`;
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

/** The field names of the object schema found at `path` inside `schema`. */
function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  let s = unwrapSchema(schema);
  for (const segment of path) {
    if (s instanceof z.ZodObject) s = s.shape[segment];
    else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodRecord) s = s.valueType;
    else return [];
    s = unwrapSchema(s);
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unknownField(key: string, known: readonly string[], kind: Kind): string {
  const guess = suggest(key, known);
  return `unknown field ${quote(key)}${guess ? ` (did you mean ${quote(guess)}?)` : ""}; ` +
    `check the spelling against Istio's ${kind} reference`;
}

/** The known name `key` was most likely meant to be, if any is close. */
function suggest(key: string, known: readonly string[]): string | undefined {
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

// ---------------------------------------------------------------------------------------------
// Semantic checks (run once the structure is valid)

const CHECKS: { [K in Kind]: (spec: SpecOf<K>, r: Reporter) => void } = {
  VirtualService: checkVirtualService,
  DestinationRule: checkDestinationRule,
  Gateway: checkGateway,
  ServiceEntry: checkServiceEntry,
  WorkloadEntry: (spec, r) => checkWorkloadEntry(spec, ["spec"], r),
};

/** Warns about each `keys` field set on `obj`. */
function warnUnsupported(
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

function checkVirtualService(spec: VirtualServiceSpec, r: Reporter): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_VS, base, r);
  const gateways = spec.gateways ?? [];
  const appliesToMesh = gateways.length === 0 || gateways.includes("mesh");
  spec.hosts.forEach((host, i) => {
    if (host === "*" && appliesToMesh) {
      r.error(
        [...base, "hosts", i],
        `"*" is only allowed when the VirtualService is bound to gateways; ` +
          "list the service's hosts, or set gateways",
      );
    }
  });
  if (!spec.http?.length && spec.tcp === undefined && spec.tls === undefined) {
    r.error(base, "no routes; add at least one entry under http");
  }
  spec.http?.forEach((route, i) => checkHttpRoute(route, [...base, "http", i], r));
}

function checkHttpRoute(route: HTTPRoute, path: Path, r: Reporter): void {
  warnUnsupported(route, UNSUPPORTED_HTTP_ROUTE, path, r);
  route.match?.forEach((m, i) => checkMatch(m, [...path, "match", i], r));

  const destinations = route.route ?? [];
  if (destinations.length === 0) {
    if (
      route.redirect === undefined && route.directResponse === undefined &&
      route.delegate === undefined
    ) {
      r.error([...path, "route"], "no destination; add at least one entry under route");
    }
    return;
  }
  for (const other of ["redirect", "directResponse"] as const) {
    if (route[other] !== undefined) {
      r.error([...path, other], `route and ${other} can't both be set; keep one`);
    }
  }
  destinations.forEach((d, i) => {
    warnUnsupported(d, UNSUPPORTED_ROUTE_DESTINATION, [...path, "route", i], r);
  });
  const weighted = destinations.some((d) => d.weight !== undefined);
  if (destinations.length > 1 || weighted) {
    const sum = destinations.reduce((total, d) => total + (d.weight ?? 0), 0);
    if (!weighted) {
      r.error(
        [...path, "route"],
        `${destinations.length} destinations but no weights; give each a weight so they sum to 100`,
      );
    } else if (sum !== 100) {
      r.error([...path, "route"], `weights sum to ${sum}; they must sum to 100`);
    }
  }
}

function checkMatch(m: HTTPMatchRequest, path: Path, r: Reporter): void {
  warnUnsupported(m, UNSUPPORTED_MATCH, path, r);
  for (const field of ["uri", "method", "authority"] as const) {
    const sm = m[field];
    if (sm) checkStringMatch(sm, [...path, field], false, r);
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const at = [...path, "headers", name];
    if (!HEADER_NAME.test(name)) {
      const lower = name.toLowerCase();
      r.error(
        at,
        HEADER_NAME.test(lower)
          ? `header names must be lowercase; write ${quote(lower)}`
          : `invalid header name ${quote(name)}; use letters, digits and !#$%&'*+-.^_\`|~`,
      );
    }
    checkStringMatch(sm, at, true, r);
  }
}

function checkStringMatch(sm: StringMatch, path: Path, allowEmpty: boolean, r: Reporter): void {
  const set = (["exact", "prefix", "regex"] as const).filter((k) => sm[k] !== undefined);
  if (set.length > 1) {
    r.error(path, `set only one of exact, prefix or regex; found ${set.join(" and ")}`);
  } else if (set.length === 0 && !allowEmpty) {
    r.error(path, "empty match; set one of exact, prefix or regex");
  }
  if (sm.regex !== undefined) {
    try {
      new RegExp(sm.regex);
    } catch (e) {
      r.error(
        [...path, "regex"],
        `invalid regular expression: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
}

function checkDestinationRule(spec: DestinationRuleSpec, r: Reporter): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_DR, base, r);
  if (spec.trafficPolicy) checkTrafficPolicy(spec.trafficPolicy, [...base, "trafficPolicy"], r);
  const first = new Map<string, number>();
  spec.subsets?.forEach((s, i) => {
    const path = [...base, "subsets", i];
    warnUnsupported(s, UNSUPPORTED_SUBSET, path, r);
    const earlier = first.get(s.name);
    if (earlier === undefined) first.set(s.name, i);
    else {
      r.error(
        [...path, "name"],
        `duplicate subset name ${quote(s.name)} (also subsets[${earlier}]); rename one`,
      );
    }
  });
}

function checkTrafficPolicy(tp: TrafficPolicy, path: Path, r: Reporter): void {
  warnUnsupported(tp, UNSUPPORTED_TRAFFIC_POLICY, path, r);
  if (tp.tls) {
    warnUnsupported(tp.tls, UNSUPPORTED_TLS, [...path, "tls"], r);
    const mode = tp.tls.mode;
    if (mode === "SIMPLE" || mode === "MUTUAL") {
      r.warn([...path, "tls", "mode"], `${mode} is ${NOT_SUPPORTED}`);
    }
  }
  if (tp.loadBalancer) {
    warnUnsupported(tp.loadBalancer, UNSUPPORTED_LB, [...path, "loadBalancer"], r);
    const simple = tp.loadBalancer.simple;
    if (simple !== undefined && simple !== "ROUND_ROBIN" && simple !== "RANDOM") {
      r.warn(
        [...path, "loadBalancer", "simple"],
        `${simple} is ${NOT_SUPPORTED} (mesh uses ROUND_ROBIN)`,
      );
    }
  }
}

function checkGateway(spec: GatewaySpec, r: Reporter): void {
  spec.servers.forEach((server, i) => {
    const path: Path = ["spec", "servers", i];
    warnUnsupported(server, UNSUPPORTED_SERVER, path, r);
    if (server.port.protocol !== "HTTP") {
      r.warn(
        [...path, "port", "protocol"],
        `${server.port.protocol} is ${NOT_SUPPORTED} (this server is skipped)`,
      );
    }
  });
}

function checkServiceEntry(spec: ServiceEntrySpec, r: Reporter): void {
  const base: Path = ["spec"];
  warnUnsupported(spec, UNSUPPORTED_SE, base, r);
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  spec.ports?.forEach((port, i) => {
    const path = [...base, "ports", i];
    const sameName = names.get(port.name);
    if (sameName === undefined) names.set(port.name, i);
    else {
      r.error(
        [...path, "name"],
        `duplicate port name ${
          quote(port.name)
        } (also ports[${sameName}]); port names must be unique`,
      );
    }
    const sameNumber = numbers.get(port.number);
    if (sameNumber === undefined) numbers.set(port.number, i);
    else {
      r.error(
        [...path, "number"],
        `port ${port.number} is already defined by ports[${sameNumber}]; remove one`,
      );
    }
    if (port.protocol !== undefined && port.protocol !== "HTTP") {
      r.warn([...path, "protocol"], `${port.protocol} is ${NOT_SUPPORTED}`);
    }
  });

  const endpoints = spec.endpoints ?? [];
  if (endpoints.length > 0 && spec.workloadSelector !== undefined) {
    r.error(
      [...base, "workloadSelector"],
      "endpoints and workloadSelector can't both be set; keep one",
    );
  }
  const resolution = spec.resolution ?? "NONE";
  if (endpoints.length > 0 && resolution === "NONE") {
    r.error(
      [...base, "endpoints"],
      "endpoints are unused with resolution NONE; set resolution to STATIC (IP addresses) " +
        "or DNS (host names)",
    );
  }
  endpoints.forEach((ep, i) => {
    const path = [...base, "endpoints", i];
    checkWorkloadEntry(ep, path, r, names);
    const address = ep.address;
    if (
      resolution === "STATIC" && address !== undefined && !isIP(address) &&
      !address.startsWith("unix://")
    ) {
      r.error(
        [...path, "address"],
        `resolution STATIC needs IP addresses, got ${quote(address)}; use an IP, or resolution DNS`,
      );
    }
  });
}

function checkWorkloadEntry(
  spec: WorkloadEntrySpec,
  path: Path,
  r: Reporter,
  servicePorts?: ReadonlyMap<string, number>,
): void {
  warnUnsupported(spec, UNSUPPORTED_WE, path, r);
  if (spec.address === undefined && spec.network === undefined) {
    r.error([...path, "address"], `missing required field "address"; set the workload's IP`);
  }
  if (servicePorts) {
    for (const name of Object.keys(spec.ports ?? {})) {
      if (!servicePorts.has(name)) {
        const known = [...servicePorts.keys()].map(quote).join(", ") || "none";
        r.error(
          [...path, "ports", name],
          `port ${quote(name)} is not a port name of this ServiceEntry (${known}); ` +
            "endpoint ports map a service port name to the workload's port",
        );
      }
    }
  }
}
