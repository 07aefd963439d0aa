/**
 * MeshConfig `extensionProviders` as Istio decides them: validateExtensionProvider's problems
 * don't refuse the mesh config, istiod logs them as warnings ("can be ignored if the given
 * extension provider is not used"), so an invalid provider is a `warning` here, never an error.
 */
import { type Case, tableTest } from "./case_table.ts";

const MESH_CONFIG_HEADER = { apiVersion: "config.mesh.dev/v1alpha1", kind: "MeshConfig" };

function provider(kind: string, settings: string, name = "p"): string {
  return `extensionProviders: [{name: ${name}, ${kind}: ${settings}}]`;
}

/** Istio's per-provider tables: service and port, the same rules for each kind. */
const SERVICE_CASES: [kind: string, service: string, port: number | undefined, ok: boolean][] = [
  ["zipkin", "zipkin.istio-system", 9411, true],
  ["zipkin", "namespace/zipkin.istio-system", 9411, true],
  ["zipkin", "name/space/zipkin.istio-system", 9411, false],
  ["zipkin", "zipkin.istio-system:9411", 9411, false],
  ["datadog", "datadog-agent.com", 8126, true],
  ["datadog", "namespace/datadog-agent.com", 8126, true],
  ["datadog", "name/space/datadog-agent.com", 8126, false],
  ["datadog", "datadog-agent.com:8126", 8126, false],
  ["datadog", "datadog-agent.com", undefined, false],
  ["opencensus", "opencensus-agent.com", 4000, true],
  ["opencensus", "namespace/opencensus-agent.com", 4000, true],
  ["opencensus", "name/space/opencensus-agent.com", 4000, false],
  ["opencensus", "opencensus-agent.com:4000", 4000, false],
  ["opencensus", "opencensus-agent.com", undefined, false],
  ["envoyOtelAls", "otel.istio-syste.svc", 4000, true],
  ["envoyOtelAls", "namespace/otel.istio-syste.svc", 4000, true],
  ["envoyOtelAls", "name/space/otel.istio-syste.svc", 4000, false],
  ["envoyOtelAls", "otel.istio-syste.svc:4000", 4000, false],
  ["envoyOtelAls", "otel.istio-syste.svc", undefined, false],
  ["envoyHttpAls", "grpc-als.istio-syste.svc", 4000, true],
  ["envoyHttpAls", "namespace/grpc-als.istio-syste.svc", 4000, true],
  ["envoyHttpAls", "name/space/grpc-als.istio-syste.svc", 4000, false],
  ["envoyHttpAls", "grpc-als.istio-syste.svc:4000", 4000, false],
  ["envoyHttpAls", "grpc-als.istio-syste.svc", undefined, false],
  ["envoyTcpAls", "grpc-als.istio-syste.svc", 4000, true],
  ["envoyTcpAls", "namespace/grpc-als.istio-syste.svc", 4000, true],
  ["envoyTcpAls", "name/space/grpc-als.istio-syste.svc", 4000, false],
  ["envoyTcpAls", "grpc-als.istio-syste.svc:4000", 4000, false],
  ["envoyTcpAls", "grpc-als.istio-syste.svc", undefined, false],
  ["opentelemetry", "collector.namespace.svc", 4317, true],
  ["opentelemetry", "namespace/collector.namespace.svc", 4317, true],
  ["opentelemetry", "name/space/collector.namespace.svc", 4317, false],
  ["opentelemetry", "collector.namespace.svc:4000", 4317, false],
  ["opentelemetry", "collector.namespace.svc", undefined, false],
  // validateExtensionProviderService's own table, through ext_authz gRPC
  ["envoyExtAuthzGrpc", "127.0.0.1", 9000, true],
  ["envoyExtAuthzGrpc", "2001:1::1", 9000, true],
  ["envoyExtAuthzGrpc", "istio-pilot.istio-system.svc.cluster.local", 9000, true],
  ["envoyExtAuthzGrpc", "istio-pilot.istio-system.svc.cluster.local:3000", 9000, false],
  ["envoyExtAuthzGrpc", "bar/istio.io", 9000, true],
  ["envoyExtAuthzGrpc", "bar/istio.io:3000", 9000, false],
  ["envoyExtAuthzGrpc", "bar/foo/istio.io", 9000, false],
];

const CASES: Case[] = [
  ...SERVICE_CASES.map(([kind, service, port, ok]): Case => ({
    name: `${kind} service ${service}${port === undefined ? " without a port" : ""}`,
    yaml: provider(kind, `{service: "${service}"${port === undefined ? "" : `, port: ${port}`}}`),
    want: ok ? "valid" : "warning",
  })),
  // --- lightstep
  {
    name: "lightstep",
    yaml: provider("lightstep", "{service: collector.lightstep, port: 8080, accessToken: abc}"),
    want: "valid",
  },
  {
    name: "lightstep in a namespace",
    yaml: provider(
      "lightstep",
      "{service: namespace/collector.lightstep, port: 8080, accessToken: a}",
    ),
    want: "valid",
  },
  {
    name: "lightstep without a port",
    yaml: provider("lightstep", "{service: 10.0.0.100, accessToken: abc}"),
    want: "warning",
  },
  {
    name: "lightstep without a token",
    yaml: provider("lightstep", "{service: namespace/collector.lightstep, port: 8080}"),
    want: "warning",
    message: "access token",
  },
  // --- opentelemetry
  {
    name: "opentelemetry with grpc and http",
    yaml: provider("opentelemetry", "{service: c.ns.svc, port: 4317, grpc: {}, http: {}}"),
    want: "warning",
    message: "both grpc and http",
  },
  // --- ext_authz
  {
    name: "ext_authz HTTP port 999999 (Istio's ValidateMeshConfig table)",
    yaml: provider("envoyExtAuthzHttp", "{service: foo/ext-authz, port: 999999}"),
    want: "warning",
  },
  {
    name: "ext_authz HTTP",
    yaml: provider(
      "envoyExtAuthzHttp",
      "{service: ext-authz.foo.svc.cluster.local, port: 8000, pathPrefix: /check, statusOnError: '503'}",
    ),
    want: "valid",
  },
  {
    name: "ext_authz HTTP pathPrefix without a slash",
    yaml: provider("envoyExtAuthzHttp", "{service: a.b.svc, port: 8000, pathPrefix: check}"),
    want: "warning",
    message: "begin with `/`",
  },
  {
    name: "ext_authz statusOnError that isn't a number",
    yaml: provider("envoyExtAuthzGrpc", "{service: a.b.svc, port: 9000, statusOnError: teapot}"),
    want: "warning",
    message: "statusOnError",
  },
  {
    name: "ext_authz statusOnError Envoy doesn't have",
    yaml: provider("envoyExtAuthzGrpc", "{service: a.b.svc, port: 9000, statusOnError: '418'}"),
    want: "warning",
    message: "statusOnError",
  },
  {
    name: "ext_authz statusOnError 0 (Envoy's Empty)",
    yaml: provider("envoyExtAuthzGrpc", "{service: a.b.svc, port: 9000, statusOnError: '0'}"),
    want: "valid",
  },
  {
    name: "ext_authz service short name",
    yaml: provider("envoyExtAuthzGrpc", "{service: ext-authz, port: 9000}"),
    want: "valid",
  },
  {
    name: "ext_authz service short name in a namespace",
    yaml: provider("envoyExtAuthzGrpc", "{service: foo/ext-authz, port: 9000}"),
    want: "warning",
  },
  {
    name: "ext_authz without a service",
    yaml: provider("envoyExtAuthzGrpc", "{port: 9000}"),
    want: "warning",
  },
  // --- providers without checks, names, and the oneof
  { name: "prometheus", yaml: provider("prometheus", "{}"), want: "valid" },
  { name: "stackdriver", yaml: provider("stackdriver", "{}"), want: "valid" },
  {
    name: "file access log",
    yaml: provider("envoyFileAccessLog", "{path: /dev/stdout}"),
    want: "valid",
  },
  {
    name: "provider without a name",
    yaml: `extensionProviders: [{name: "", prometheus: {}}]`,
    want: "warning",
  },
  { name: "provider without a kind", yaml: "extensionProviders: [{name: otel}]", want: "warning" },
  {
    name: "sds provider (Istio's validation has no case for it)",
    yaml: provider("sds", "{name: vault, service: vault.svc, port: 8200}"),
    want: "warning",
    message: "unsupported provider",
  },
  {
    name: "two kinds in one provider",
    yaml:
      "extensionProviders: [{name: p, prometheus: {}, zipkin: {service: z.ns.svc, port: 9411}}]",
    want: "error",
  },
  {
    name: "the same name twice (Istio keeps the last)",
    yaml: `extensionProviders:
- {name: otel, opentelemetry: {service: otel.observability.svc.cluster.local, port: 4317}}
- {name: otel, zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}}`,
    want: "valid",
  },
  {
    name: "redefining a built-in provider",
    yaml: provider("envoyFileAccessLog", "{path: /tmp/log}", "envoy"),
    want: "valid",
  },
  {
    name: "default providers naming built-ins",
    yaml: "defaultProviders: {tracing: [], accessLogging: [envoy], metrics: [prometheus]}",
    want: "valid",
  },
];

tableTest(
  "MeshConfig extensionProviders: Istio's validation, case by case",
  MESH_CONFIG_HEADER,
  CASES,
);
