/**
 * `networking.istio.io` EnvoyFilter, which mesh recognizes but doesn't read (its proxy is not
 * Envoy): validated as Istio does (envoyfilter.ValidateEnvoyFilter and the CRD's schema), so
 * that mesh refuses what Istio refuses; the parser adds one "not supported by mesh" warning.
 *
 * Istio also decodes each patch `value` into the Envoy message `applyTo` names. mesh has no
 * Envoy protos: it checks only what needs none (v2 `@type` URLs, a non-string `name`, filters
 * without `typed_config`); see docs/compatibility.md.
 * @module
 */

import { z } from "zod";
import {
  type CheckContext,
  int32,
  labelMap,
  type Path,
  policyTargetReference,
  quote,
  regexProblem,
  type Reporter,
  uint32,
} from "./common.ts";
import { checkLabelSelector, checkTargetRefs } from "./policy_targets.ts";

/** The API versions of EnvoyFilter. */
export const ENVOY_FILTER_VERSIONS = ["v1alpha3"] as const;

const APPLY_TO = [
  "INVALID",
  "LISTENER",
  "FILTER_CHAIN",
  "NETWORK_FILTER",
  "HTTP_FILTER",
  "ROUTE_CONFIGURATION",
  "VIRTUAL_HOST",
  "HTTP_ROUTE",
  "CLUSTER",
  "EXTENSION_CONFIG",
  "BOOTSTRAP",
  "LISTENER_FILTER",
] as const;
type ApplyTo = typeof APPLY_TO[number];

const name = z.strictObject({ name: z.string().optional() });
const filterMatch = z.strictObject({ name: z.string().optional(), subFilter: name.optional() });

const listenerMatch = z.strictObject({
  portNumber: uint32.optional(),
  portName: z.string().optional(),
  filterChain: z.strictObject({
    name: z.string().optional(),
    sni: z.string().optional(),
    transportProtocol: z.string().optional(),
    applicationProtocols: z.string().optional(),
    filter: filterMatch.optional(),
    destinationPort: uint32.optional(),
  }).optional(),
  listenerFilter: z.string().optional(),
  name: z.string().optional(),
});

const routeConfigurationMatch = z.strictObject({
  portNumber: uint32.optional(),
  portName: z.string().optional(),
  gateway: z.string().optional(),
  vhost: z.strictObject({
    name: z.string().optional(),
    domainName: z.string().optional(),
    route: z.strictObject({
      name: z.string().optional(),
      action: z.enum(["ANY", "ROUTE", "REDIRECT", "DIRECT_RESPONSE"]).optional(),
    }).optional(),
  }).optional(),
  name: z.string().optional(),
});

const clusterMatch = z.strictObject({
  portNumber: uint32.optional(),
  service: z.string().optional(),
  subset: z.string().optional(),
  name: z.string().optional(),
});

const waypointMatch = z.strictObject({
  filter: filterMatch.optional(),
  route: name.optional(),
  portNumber: uint32.optional(),
});

const OBJECT_TYPES = ["listener", "routeConfiguration", "cluster", "waypoint"] as const;

const configPatch = z.strictObject({
  applyTo: z.enum(APPLY_TO).optional(),
  match: z.strictObject({
    context: z.enum(["ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", "WAYPOINT"])
      .optional(),
    proxy: z.strictObject({
      proxyVersion: z.string().optional(),
      metadata: labelMap.optional(),
    }).optional(),
    listener: listenerMatch.optional(),
    routeConfiguration: routeConfigurationMatch.optional(),
    cluster: clusterMatch.optional(),
    waypoint: waypointMatch.optional(),
  }).optional(),
  patch: z.strictObject({
    operation: z.enum([
      "INVALID",
      "MERGE",
      "ADD",
      "REMOVE",
      "INSERT_BEFORE",
      "INSERT_AFTER",
      "INSERT_FIRST",
      "REPLACE",
      "MERGE_AND_REPLACE_LIST",
    ]).optional(),
    value: z.record(z.string(), z.unknown()).optional(),
    filterClass: z.enum(["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"]).optional(),
  }).optional(),
});
type ConfigPatch = z.infer<typeof configPatch>;

/** The schema of an EnvoyFilter `spec`. */
export const envoyFilterSpec = z.strictObject({
  workloadSelector: z.strictObject({ labels: labelMap.optional() }).optional(),
  targetRefs: z.array(policyTargetReference).optional(),
  configPatches: z.array(configPatch).optional(),
  priority: int32.optional(),
});
/** `spec` of an EnvoyFilter. */
export type EnvoyFilterSpec = z.infer<typeof envoyFilterSpec>;

/** The warning Istio gives for every EnvoyFilter. */
export const ENVOY_FILTER_WARNING =
  "EnvoyFilter exposes internal implementation details that may change at any time; prefer " +
  "other APIs where possible, and take extreme care around upgrades";

const HCM = "envoy.filters.network.http_connection_manager";

/** Old filter names Istio still takes, with the names to use instead. */
export const DEPRECATED_FILTER_NAMES: Readonly<Record<string, string>> = {
  "envoy.buffer": "envoy.filters.http.buffer",
  "envoy.cors": "envoy.filters.http.cors",
  "envoy.csrf": "envoy.filters.http.csrf",
  "envoy.http_dynamo_filter": "envoy.filters.http.dynamo",
  "envoy.ext_authz": "envoy.filters.http.ext_authz or envoy.filters.network.ext_authz",
  "envoy.fault": "envoy.filters.http.fault",
  "envoy.grpc_http1_bridge": "envoy.filters.http.grpc_http1_bridge",
  "envoy.grpc_json_transcoder": "envoy.filters.http.grpc_json_transcoder",
  "envoy.grpc_web": "envoy.filters.http.grpc_web",
  "envoy.gzip": "envoy.filters.http.gzip",
  "envoy.health_check": "envoy.filters.http.health_check",
  "envoy.ip_tagging": "envoy.filters.http.ip_tagging",
  "envoy.lua": "envoy.filters.http.lua",
  "envoy.rate_limit": "envoy.filters.http.ratelimit",
  "envoy.router": "envoy.filters.http.router",
  "envoy.squash": "envoy.filters.http.squash",
  "envoy.listener.http_inspector": "envoy.filters.listener.http_inspector",
  "envoy.listener.original_dst": "envoy.filters.listener.original_dst",
  "envoy.listener.original_src": "envoy.filters.listener.original_src",
  "envoy.listener.proxy_protocol": "envoy.filters.listener.proxy_protocol",
  "envoy.listener.tls_inspector": "envoy.filters.listener.tls_inspector",
  "envoy.client_ssl_auth": "envoy.filters.network.client_ssl_auth",
  "envoy.http_connection_manager": HCM,
  "envoy.mongo_proxy": "envoy.filters.network.mongo_proxy",
  "envoy.ratelimit": "envoy.filters.network.ratelimit",
  "envoy.redis_proxy": "envoy.filters.network.redis_proxy",
  "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
};

/** Longest proxyVersion pattern Istio compiles; longer ones are ignored with a warning. */
const MAX_PROXY_VERSION = 1024;

/** Checks an EnvoyFilter spec as Istio does. */
export function checkEnvoyFilter(spec: EnvoyFilterSpec, r: Reporter, _ctx?: CheckContext): void {
  const base: Path = ["spec"];
  r.warn([], ENVOY_FILTER_WARNING);
  if (spec.workloadSelector && spec.targetRefs) {
    r.error(
      [...base, "targetRefs"],
      "workloadSelector and targetRefs can't both be set: only one of targetRefs or " +
        "workloadSelector can be set",
    );
  }
  if (spec.workloadSelector) {
    checkLabelSelector(spec.workloadSelector.labels, [...base, "workloadSelector", "labels"], r, {
      maxLabels: 256,
      emptyWarning: "workload selector specified without labels: the filter is applied to " +
        "every workload in the namespace",
    });
  }
  checkTargetRefs(spec.targetRefs, [...base, "targetRefs"], r, true);
  spec.configPatches?.forEach((cp, i) => checkPatch(cp, [...base, "configPatches", i], r));
}

function checkPatch(cp: ConfigPatch, path: Path, r: Reporter): void {
  const match = cp.match;
  const types = OBJECT_TYPES.filter((k) => match?.[k] !== undefined);
  if (types.length > 1) {
    r.error([...path, "match", types[1]], `${types.join(" and ")} can't both be set; keep one`);
  }
  // The CRD: a waypoint match goes with context WAYPOINT, and WAYPOINT needs one.
  if (match?.waypoint !== undefined && match.context !== "WAYPOINT") {
    r.error([...path, "match", "waypoint"], "a waypoint match needs context WAYPOINT");
  } else if (match?.context === "WAYPOINT" && match.waypoint === undefined) {
    r.error([...path, "match", "context"], "context WAYPOINT needs a waypoint match");
  }
  const port = match?.waypoint?.portNumber;
  if (port !== undefined && (port < 1 || port > 65535)) {
    r.error([...path, "match", "waypoint", "portNumber"], "port must be between 1-65535");
  }
  if (match?.context === "WAYPOINT") return; // Istio doesn't check waypoint patches further.
  const applyTo = cp.applyTo ?? "INVALID";
  if (applyTo === "INVALID") return r.error([...path, "applyTo"], "missing applyTo");
  if (!cp.patch) return r.error([...path, "patch"], "missing patch");
  const op = cp.patch.operation ?? "INVALID";
  if (op === "INVALID") return r.error([...path, "patch", "operation"], "missing patch operation");
  if (op !== "REMOVE" && cp.patch.value === undefined) {
    return r.error([...path, "patch", "value"], "missing patch value for non-remove operation");
  }
  const version = match?.proxy?.proxyVersion;
  if (version) {
    const at = [...path, "match", "proxy", "proxyVersion"];
    if (version.length > MAX_PROXY_VERSION) {
      r.warn(at, `proxyVersion match exceeds ${MAX_PROXY_VERSION} characters and is ignored`);
    } else {
      const problem = regexProblem(version);
      if (problem) return r.error(at, `invalid regex for proxy version: ${problem}`);
    }
  }
  if (!checkMatchFits(cp, applyTo, types[0], path, r)) return;
  if (cp.patch.value !== undefined) checkValue(cp.patch.value, applyTo, [...path, "patch"], r);
}

/** Whether Istio goes on after checking that the match fits `applyTo`. */
function checkMatchFits(
  cp: ConfigPatch,
  applyTo: ApplyTo,
  type: typeof OBJECT_TYPES[number] | undefined,
  path: Path,
  r: Reporter,
): boolean {
  const at = [...path, "match"];
  if (["LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER"].includes(applyTo)) {
    if (type === undefined) return true;
    if (type !== "listener") {
      r.error(at, "applyTo for listener class objects cannot have non listener match");
      return false;
    }
    const filter = cp.match?.listener?.filterChain?.filter;
    if (!filter) return true;
    const fAt = [...at, "listener", "filterChain", "filter"];
    if (applyTo === "LISTENER" || applyTo === "FILTER_CHAIN") {
      r.warn(fAt, `filter match has no effect when used with ${applyTo}`);
    }
    if (!filter.name) {
      r.error([...fAt, "name"], "filter match has no name to match on");
      return false;
    }
    if (filter.subFilter) {
      if (applyTo !== "HTTP_FILTER") {
        r.error([...fAt, "subFilter"], "subfilter match can be used with applyTo HTTP_FILTER only");
        return false;
      }
      if (filter.name !== HCM && filter.name !== "envoy.http_connection_manager") {
        r.error([...fAt, "subFilter"], `subfilter match requires filter match with ${HCM}`);
        return false;
      }
      if (!filter.subFilter.name) {
        r.error([...fAt, "subFilter", "name"], "subfilter match has no name to match on");
        return false;
      }
    }
    warnDeprecatedName(filter.name, [...fAt, "name"], r);
    if (filter.subFilter?.name) {
      warnDeprecatedName(filter.subFilter.name, [...fAt, "subFilter", "name"], r);
    }
    return true;
  }
  if (["ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE"].includes(applyTo)) {
    if (type !== undefined && type !== "routeConfiguration") {
      r.error(
        at,
        "applyTo for http route class objects cannot have non route configuration match",
      );
    }
  } else if (applyTo === "CLUSTER" && type !== undefined && type !== "cluster") {
    r.error(at, "applyTo for cluster class objects cannot have non cluster match");
  }
  return true;
}

function warnDeprecatedName(filterName: string, path: Path, r: Reporter): void {
  const instead = DEPRECATED_FILTER_NAMES[filterName];
  if (instead) {
    r.warn(path, `using deprecated filter name ${quote(filterName)}; use ${instead} instead`);
  }
}

/** Envoy messages of each `applyTo` that must carry a `typed_config` (or `config_discovery`). */
const NEEDS_TYPED_CONFIG = new Set<ApplyTo>([
  "NETWORK_FILTER",
  "HTTP_FILTER",
  "LISTENER_FILTER",
  "EXTENSION_CONFIG",
]);

/** The checks of a patch value that need no Envoy protos. */
function checkValue(
  value: Record<string, unknown>,
  applyTo: ApplyTo,
  path: Path,
  r: Reporter,
): void {
  const at = [...path, "value"];
  if (applyTo !== "BOOTSTRAP" && value.name !== undefined && typeof value.name !== "string") {
    r.error([...at, "name"], `name must be a string; got ${JSON.stringify(value.name)}`);
  }
  for (const [typeUrl, where] of typeUrls(value, at)) {
    if (typeof typeUrl !== "string") {
      r.error(where, "@type must be a string (a type URL)");
    } else if (/envoy\.[\w.]*\.v2(alpha\d*)?\./.test(typeUrl)) {
      r.error(
        where,
        `referenced type unknown (hint: try using the v3 XDS API): ${quote(typeUrl)}`,
      );
    }
  }
  const has = (k: string) => value[k] !== undefined;
  if (
    NEEDS_TYPED_CONFIG.has(applyTo) && !has("typed_config") && !has("typedConfig") &&
    !has("config_discovery") && !has("configDiscovery")
  ) {
    r.warn(
      at,
      `using deprecated types by name without typed_config; ${
        typeof value.name === "string" ? value.name : ""
      }`,
    );
  }
}

/** Every `@type` in a value, with its path. */
function typeUrls(
  v: unknown,
  path: Path,
  out: [unknown, Path][] = [],
  depth = 0,
): [unknown, Path][] {
  if (depth > 64 || typeof v !== "object" || v === null) return out;
  if (Array.isArray(v)) {
    v.forEach((item, i) => typeUrls(item, [...path, i], out, depth + 1));
    return out;
  }
  for (const [k, child] of Object.entries(v)) {
    if (k === "@type") out.push([child, [...path, k]]);
    else typeUrls(child, [...path, k], out, depth + 1);
  }
  return out;
}
