/**
 * MeshConfig `extensionProviders` (Istio's MeshConfig.ExtensionProvider: one provider kind per
 * entry) and `defaultProviders`, with the checks of Istio's validateExtensionProvider. Istio
 * doesn't refuse a mesh config for them: istiod logs each problem as a warning ("can be ignored
 * if the given extension provider is not used"), so they are warnings here too. Two kinds in
 * one entry are refused (a protobuf oneof).
 * @module
 */

import { z } from "zod";
import {
  countSet,
  int32,
  labelMap,
  NOT_SUPPORTED,
  type Path,
  quote,
  type Reporter,
  stringList,
  uint32,
} from "./common.ts";
import { parseGoUrl } from "./go_url.ts";
import { portProblem, providerServiceProblem } from "./istio_names.ts";
import { pdur } from "./mesh_networking.ts";

const bool = z.boolean();
const anyValue = z.unknown();

const httpHeader = z.strictObject({
  name: z.string().optional(),
  value: z.string().optional(),
  envName: z.string().optional(),
});
const requestBody = z.strictObject({
  maxRequestBytes: uint32.optional(),
  allowPartialMessage: bool.optional(),
  packAsBytes: bool.optional(),
});
const logFormat = z.strictObject({
  text: z.string().optional(),
  labels: z.record(z.string(), anyValue).optional(),
});
const httpService = z.strictObject({
  path: z.string().optional(),
  timeout: pdur().optional(),
  headers: z.array(httpHeader).optional(),
});
const service = { service: z.string().optional(), port: uint32.optional() };

/** Provider kinds of `extensionProviders`, each with its settings. */
const PROVIDERS = {
  envoyExtAuthzHttp: z.strictObject({
    ...service,
    timeout: pdur().optional(),
    pathPrefix: z.string().optional(),
    failOpen: bool.optional(),
    clearRouteCache: bool.optional(),
    statusOnError: z.string().optional(),
    includeHeadersInCheck: stringList.optional(),
    includeRequestHeadersInCheck: stringList.optional(),
    includeAdditionalHeadersInCheck: labelMap.optional(),
    includeRequestBodyInCheck: requestBody.optional(),
    headersToUpstreamOnAllow: stringList.optional(),
    headersToDownstreamOnDeny: stringList.optional(),
    headersToDownstreamOnAllow: stringList.optional(),
  }),
  envoyExtAuthzGrpc: z.strictObject({
    ...service,
    timeout: pdur().optional(),
    failOpen: bool.optional(),
    clearRouteCache: bool.optional(),
    statusOnError: z.string().optional(),
    includeRequestBodyInCheck: requestBody.optional(),
  }),
  zipkin: z.strictObject({
    ...service,
    maxTagLength: uint32.optional(),
    enable64bitTraceId: bool.optional(),
    path: z.string().optional(),
    traceContextOption: z.enum(["USE_B3", "USE_B3_WITH_W3C_PROPAGATION"]).optional(),
    timeout: pdur().optional(),
    headers: z.array(httpHeader).optional(),
  }),
  lightstep: z.strictObject({
    ...service,
    accessToken: z.string().optional(),
    maxTagLength: uint32.optional(),
  }),
  datadog: z.strictObject({ ...service, maxTagLength: uint32.optional() }),
  stackdriver: z.strictObject({
    debug: bool.optional(),
    maxNumberOfAttributes: int32.optional(),
    maxNumberOfAnnotations: int32.optional(),
    maxNumberOfMessageEvents: int32.optional(),
    maxTagLength: uint32.optional(),
    logging: z.strictObject({ labels: labelMap.optional() }).optional(),
  }),
  opencensus: z.strictObject({
    ...service,
    context: z.array(
      z.enum(["UNSPECIFIED", "W3C_TRACE_CONTEXT", "GRPC_BIN", "CLOUD_TRACE_CONTEXT", "B3"]),
    ).optional(),
    maxTagLength: uint32.optional(),
  }),
  skywalking: z.strictObject({ ...service, accessToken: z.string().optional() }),
  opentelemetry: z.strictObject({
    ...service,
    maxTagLength: uint32.optional(),
    http: httpService.optional(),
    grpc: z.strictObject({
      timeout: pdur().optional(),
      initialMetadata: z.array(httpHeader).optional(),
    }).optional(),
    resourceDetectors: z.strictObject({
      environment: z.strictObject({}).optional(),
      dynatrace: z.strictObject({}).optional(),
    }).optional(),
    serviceAttributeEnrichment: z.enum(["ISTIO_CANONICAL", "OTEL_SEMANTIC_CONVENTIONS"])
      .optional(),
    dynatraceSampler: z.strictObject({
      tenant: z.string().optional(),
      clusterId: int32.optional(),
      rootSpansPerMinute: uint32.optional(),
      httpService: z.strictObject({ ...service, http: httpService.optional() }).optional(),
    }).optional(),
  }),
  prometheus: z.strictObject({}),
  envoyFileAccessLog: z.strictObject({
    path: z.string().optional(),
    logFormat: logFormat.optional(),
    omitEmptyValues: bool.optional(),
  }),
  envoyHttpAls: z.strictObject({
    ...service,
    logName: z.string().optional(),
    filterStateObjectsToLog: stringList.optional(),
    additionalRequestHeadersToLog: stringList.optional(),
    additionalResponseHeadersToLog: stringList.optional(),
    additionalResponseTrailersToLog: stringList.optional(),
  }),
  envoyTcpAls: z.strictObject({
    ...service,
    logName: z.string().optional(),
    filterStateObjectsToLog: stringList.optional(),
  }),
  envoyOtelAls: z.strictObject({
    ...service,
    logName: z.string().optional(),
    logFormat: logFormat.optional(),
  }),
  sds: z.strictObject({ name: z.string().optional(), ...service }),
};
const PROVIDER_KINDS = Object.keys(PROVIDERS) as (keyof typeof PROVIDERS)[];

const extensionProvider = z.strictObject({
  name: z.string(),
  ...Object.fromEntries(PROVIDER_KINDS.map((k) => [k, PROVIDERS[k].optional()])) as {
    [K in keyof typeof PROVIDERS]: z.ZodOptional<typeof PROVIDERS[K]>;
  },
});
/** One `extensionProviders` entry: a name and exactly one provider. */
export type ExtensionProvider = z.infer<typeof extensionProvider>;

/** The `extensionProviders` schema. */
export const extensionProviders = z.array(extensionProvider);

/** The `defaultProviders` schema. */
export const defaultProviders = z.strictObject({
  tracing: stringList.optional(),
  metrics: stringList.optional(),
  accessLogging: stringList.optional(),
});

/** Extension provider kinds mesh can use, with the fields it honours. */
const USED_PROVIDER_FIELDS: Record<string, Set<string>> = {
  zipkin: new Set(["service", "port", "path", "maxTagLength"]),
  envoyFileAccessLog: new Set(["path"]),
};

/** Providers Istio defines without configuration. */
const BUILTIN_PROVIDERS = new Set(["envoy", "prometheus", "stackdriver"]);

/** Provider kinds Istio checks the service and port of. */
const SERVICE_KINDS = new Set([
  "envoyExtAuthzHttp",
  "envoyExtAuthzGrpc",
  "zipkin",
  "lightstep",
  "datadog",
  "opencensus",
  "skywalking",
  "opentelemetry",
  "envoyHttpAls",
  "envoyTcpAls",
  "envoyOtelAls",
]);

/** Kinds Istio's validation has no case for (it logs "unsupported provider"). */
const UNVALIDATED_KINDS = new Set(["sds"]);

/** Envoy's HTTP status codes (envoy.type.v3.StatusCode), for ext_authz `statusOnError`. */
const ENVOY_STATUS_CODES = new Set([
  0,
  100,
  200,
  201,
  202,
  203,
  204,
  205,
  206,
  207,
  208,
  226,
  300,
  301,
  302,
  303,
  304,
  305,
  307,
  308,
  400,
  401,
  402,
  403,
  404,
  405,
  406,
  407,
  408,
  409,
  410,
  411,
  412,
  413,
  414,
  415,
  416,
  417,
  421,
  422,
  423,
  424,
  426,
  428,
  429,
  431,
  500,
  501,
  502,
  503,
  504,
  505,
  506,
  507,
  508,
  510,
  511,
]);

type Kind = keyof typeof PROVIDERS;

/** What Istio's validateExtensionProvider says about one provider's settings. */
function providerProblems(kind: Kind, settings: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (UNVALIDATED_KINDS.has(kind)) return [`unsupported provider: ${kind}`];
  if (SERVICE_KINDS.has(kind)) {
    const port = portProblem(typeof settings.port === "number" ? settings.port : 0);
    if (port) out.push(`invalid service port: ${port}`);
    const service = providerServiceProblem(
      typeof settings.service === "string" ? settings.service : "",
    );
    if (service) out.push(service);
  }
  const status = settings.statusOnError;
  if (typeof status === "string" && status !== "") {
    if (!/^[+-]?\d+$/.test(status) || Math.abs(Number(status)) > 2 ** 31) {
      out.push(`invalid statusOnError value ${quote(status)}: not a number`);
    } else if (!ENVOY_STATUS_CODES.has(Number(status))) {
      out.push(`unsupported statusOnError value ${quote(status)}; use an HTTP status Envoy knows`);
    }
  }
  const prefix = settings.pathPrefix;
  if (typeof prefix === "string" && prefix !== "") {
    const parsed = parseGoUrl(prefix, false);
    if ("error" in parsed) out.push(`invalid pathPrefix ${quote(prefix)}: ${parsed.error}`);
    if (!prefix.startsWith("/")) {
      out.push(`pathPrefix should begin with \`/\` but found ${quote(prefix)}`);
    }
  }
  if (kind === "lightstep" && !settings.accessToken) out.push("access token is required");
  if (kind === "opentelemetry" && settings.grpc !== undefined && settings.http !== undefined) {
    out.push("OpenTelemetryTracingProvider cannot specify both grpc and http");
  }
  return out;
}

/** Notes about what mesh doesn't use of a provider. */
function meshNotes(kind: Kind, settings: Record<string, unknown>, at: Path, r: Reporter): void {
  const used = USED_PROVIDER_FIELDS[kind];
  if (!used) {
    r.warn(
      [...at, kind],
      `${kind} providers are ${NOT_SUPPORTED} (zipkin and envoyFileAccessLog are)`,
    );
    return;
  }
  for (const field of Object.keys(settings)) {
    if (used.has(field)) continue;
    r.warn(
      [...at, kind, field],
      field === "logFormat"
        ? "custom log formats are not supported by mesh yet: it writes Envoy's default format " +
          "(JSON when labels are set)"
        : NOT_SUPPORTED,
    );
  }
}

/** Checks `extensionProviders` and `defaultProviders` of a MeshConfig spec. */
export function checkExtensionProviders(
  spec: {
    extensionProviders?: ExtensionProvider[];
    defaultProviders?: z.infer<typeof defaultProviders>;
  },
  r: Reporter,
): void {
  const providers = spec.extensionProviders ?? [];
  const base: Path = ["spec", "extensionProviders"];
  const last = new Map<string, number>();
  providers.forEach((p, i) => last.set(p.name, i));
  providers.forEach((p, i) => {
    const at = [...base, i];
    const problems: string[] = [];
    if (p.name === "") problems.push("empty extension provider name");
    const kinds = countSet(p, PROVIDER_KINDS) as Kind[];
    if (kinds.length > 1) {
      // Istio can't even read it (a protobuf oneof).
      r.error([...at, kinds[1]], `${kinds.join(" and ")} can't both be set; one provider each`);
      return;
    }
    if (kinds.length === 0) {
      problems.push(`unsupported provider: none of ${PROVIDER_KINDS.join(", ")} is set`);
    }
    for (const kind of kinds) {
      const settings = (p[kind] ?? {}) as Record<string, unknown>;
      problems.push(...providerProblems(kind, settings));
      meshNotes(kind, settings, at, r);
    }
    for (const problem of problems) {
      r.warn(at, `invalid extension provider ${quote(p.name)}: ${problem}`);
    }
    if (p.name !== "" && last.get(p.name) !== i) {
      r.warn(
        [...at, "name"],
        `provider name ${quote(p.name)} is defined again at index ${last.get(p.name)}: this ` +
          "definition is not used by mesh, nor by Istio (the last one wins)",
      );
    }
  });
  const names = new Set(providers.map((p) => p.name));
  const defaults = spec.defaultProviders;
  if (defaults?.metrics !== undefined) {
    r.warn(["spec", "defaultProviders", "metrics"], NOT_SUPPORTED);
  }
  for (const field of ["tracing", "metrics", "accessLogging"] as const) {
    defaults?.[field]?.forEach((name, i) => {
      if (!names.has(name) && !BUILTIN_PROVIDERS.has(name)) {
        r.warn(
          ["spec", "defaultProviders", field, i],
          `no extension provider named ${quote(name)}; define it under extensionProviders`,
        );
      }
    });
  }
}
