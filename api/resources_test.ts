import assert from "node:assert/strict";
import { type Diagnostic, formatDiagnostic } from "./diagnostic.ts";
import {
  type DestinationRule,
  type Gateway,
  kindOf,
  KINDS,
  MAX_DOCUMENT_SIZE,
  NOT_SUPPORTED,
  parseResources,
  type Resource,
  resourceKey,
  type ServiceEntry,
  validateResource,
  type VirtualService,
} from "./resources.ts";

import { BOOKINFO, sampleTest } from "../tests/samples.ts";

const SAMPLES = new URL(`file://${BOOKINFO}/`);

function errors(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === "error");
}

function warnings(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === "warning");
}

function show(diagnostics: Diagnostic[]): string {
  return diagnostics.map(formatDiagnostic).join("\n");
}

function sampleFiles(dir: string): URL[] {
  const base = new URL(`${dir}/`, SAMPLES);
  return [...Deno.readDirSync(base)]
    .filter((e) => e.isFile && e.name.endsWith(".yaml"))
    .map((e) => new URL(e.name, base))
    .sort((a, b) => a.href.localeCompare(b.href));
}

/** A resource document: header on lines 1-5, `spec` lines from line 6 on. */
function doc(kind: string, spec: string[], name = "test"): string {
  return [
    "apiVersion: networking.istio.io/v1",
    `kind: ${kind}`,
    "metadata:",
    `  name: ${name}`,
    "spec:",
    ...spec.map((l) => `  ${l}`),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Istio's own samples

sampleTest("every bookinfo networking sample parses without errors", () => {
  const files = sampleFiles("networking");
  assert.ok(files.length >= 20, `found ${files.length} samples`);
  for (const url of files) {
    const name = url.pathname.split("/").pop()!;
    const { resources, diagnostics } = parseResources(Deno.readTextFileSync(url), name);
    assert.deepEqual(errors(diagnostics), [], `${name}:\n${show(diagnostics)}`);
    assert.ok(resources.length > 0, `${name} yields resources`);
    for (const r of resources) {
      assert.equal(r.metadata.namespace, r.metadata.namespace || "default");
      assert.equal(r.source.file, name);
    }
  }
});

sampleTest("fault injection samples are enforced: no warnings", () => {
  for (
    const name of [
      "fault-injection-details-v1.yaml",
      "virtual-service-ratings-test-abort.yaml",
      "virtual-service-ratings-test-delay.yaml",
    ]
  ) {
    const text = Deno.readTextFileSync(new URL(`networking/${name}`, SAMPLES));
    const { resources, diagnostics } = parseResources(text, name);
    assert.deepEqual(diagnostics, [], show(diagnostics));
    assert.ok(resources.some((r) => r.kind === "VirtualService"));
  }
});

Deno.test("a gRPC abort is valid; a fault without a percentage is not warned about (as in Istio)", () => {
  const { diagnostics } = parseResources(
    doc("VirtualService", [
      "hosts: [ratings]",
      "http:",
      "- fault:",
      "    delay: {fixedDelay: 1s}",
      "    abort: {grpcStatus: UNAVAILABLE, percentage: {value: 10}}",
      "  route: [{destination: {host: ratings}}]",
    ]),
    "f.yaml",
  );
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.deepEqual(warnings(diagnostics), [], show(diagnostics));
});

sampleTest("Kubernetes-only platform file yields nothing", () => {
  const text = Deno.readTextFileSync(new URL("platform-kube/bookinfo.yaml", SAMPLES));
  const result = parseResources(text, "bookinfo.yaml");
  assert.deepEqual([result.resources, result.diagnostics, result.invalid], [[], [], []]);
  // Named, not skipped in silence: Services, ServiceAccounts and Deployments.
  assert.ok(result.skipped.length >= 12, JSON.stringify(result.skipped));
  assert.ok(result.skipped.every((s) => s.why.startsWith("a Kubernetes ")));
});

sampleTest("bookinfo samples decode to the expected shapes", () => {
  const gw = parseResources(
    Deno.readTextFileSync(new URL("networking/bookinfo-gateway.yaml", SAMPLES)),
    "bookinfo-gateway.yaml",
  );
  assert.deepEqual(gw.resources.map(resourceKey), [
    "Gateway/default/bookinfo-gateway",
    "VirtualService/default/bookinfo",
  ]);
  const [gateway, vs] = gw.resources as [Gateway, VirtualService];
  assert.deepEqual(gateway.spec.servers[0].port, { number: 8080, name: "http", protocol: "HTTP" });
  assert.deepEqual(gateway.spec.selector, { istio: "ingressgateway" });
  assert.equal(gateway.source.line, 1);
  assert.equal(vs.source.line, 18);
  assert.equal(vs.spec.http?.[0].match?.length, 5);
  assert.deepEqual(vs.spec.http?.[0].route, [
    { destination: { host: "productpage", port: { number: 9080 } } },
  ]);

  const dr = parseResources(
    Deno.readTextFileSync(new URL("networking/destination-rule-all-mtls.yaml", SAMPLES)),
    "dr.yaml",
    { defaultNamespace: "bookinfo" },
  );
  const reviews = dr.resources.find((r) => r.metadata.name === "reviews") as DestinationRule;
  assert.equal(reviews.metadata.namespace, "bookinfo");
  assert.equal(reviews.spec.trafficPolicy?.tls?.mode, "ISTIO_MUTUAL");
  assert.deepEqual(reviews.spec.subsets?.map((s) => s.name), ["v1", "v2", "v3"]);
});

// ---------------------------------------------------------------------------------------------
// Invalid resources

interface Case {
  name: string;
  text: string;
  path: string;
  message: string;
  line: number;
}

const VS = "VirtualService";
const DR = "DestinationRule";
const GW = "Gateway";
const SE = "ServiceEntry";
const AP = "AuthorizationPolicy";
const RA = "RequestAuthentication";
const MC = "MeshConfig";
const SEC = "security.istio.io/v1";
const TEL = "telemetry.istio.io/v1";
const MESH = "config.mesh.dev/v1alpha1";
const GWAPI = "gateway.networking.k8s.io/v1";
const GWAPI_BETA = "gateway.networking.k8s.io/v1beta1";
const GWAPI_ALPHA = "gateway.networking.k8s.io/v1alpha2";
const route1 = ["hosts: [reviews]", "http:", "- route:", "  - destination: {host: reviews}"];

/** A resource document of another group: header on lines 1-5, `spec` lines from line 6 on. */
function res(apiVersion: string, kind: string, spec: string[], name = "test"): string {
  return doc(kind, spec, name).replace("networking.istio.io/v1", apiVersion);
}

const INVALID: Case[] = [
  {
    name: "negative weight (weights are relative; any sum will do)",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- route:", // 8
      "  - destination: {host: reviews, subset: v1}",
      "    weight: 60",
      "  - destination: {host: reviews, subset: v2}",
      "    weight: -30", // 12
    ]),
    path: "spec.http[0].route[1].weight",
    message: "weight -30 is negative",
    line: 12,
  },
  {
    name: "several destinations without weights",
    text: doc(VS, [...route1, "  - destination: {host: ratings}"]),
    path: "spec.http[0].route",
    message: "total weight of 0",
    line: 8,
  },
  {
    name: "weight beyond int32",
    text: doc(VS, [...route1, "    weight: 3000000000"]),
    path: "spec.http[0].route[0].weight",
    message: "from -2147483648 to 2147483647; got 3000000000",
    line: 10,
  },
  {
    name: "fractional weight",
    text: doc(VS, [...route1, "    weight: 99.5"]),
    path: "spec.http[0].route[0].weight",
    message: "must be an integer",
    line: 10,
  },
  {
    name: "quoted weight",
    text: doc(VS, [...route1, '    weight: "100"']),
    path: "spec.http[0].route[0].weight",
    message: "write the number without quotes",
    line: 10,
  },
  {
    name: "delegate VirtualService with gateways",
    text: doc(VS, ["gateways: [gw]", "http:", "- route:", "  - destination: {host: reviews}"]),
    path: "spec.gateways",
    message: "a delegate VirtualService (no hosts) can't set gateways",
    line: 6,
  },
  {
    name: "delegate VirtualService delegating again",
    text: doc(VS, ["hosts: []", "http:", "- delegate: {name: other}"]),
    path: "spec.http[0].delegate",
    message: "only one level is supported",
    line: 8,
  },
  {
    name: "misspelled field",
    text: doc(VS, ["hots: [reviews]", "http:", "- route:", "  - destination: {host: reviews}"]),
    path: "spec.hots",
    message: `unknown field "hots" (did you mean "hosts"?); check the spelling against Istio's ` +
      "VirtualService reference",
    line: 6,
  },
  {
    name: "unknown nested field",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- route:",
      "  - destination:",
      "      hostname: r",
    ]),
    path: "spec.http[0].route[0].destination.hostname",
    message: 'unknown field "hostname"',
    line: 10,
  },
  {
    name: "uri with exact and prefix",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - uri:", // 9
      "      exact: /a",
      "      prefix: /b",
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].uri",
    message: "set only one of exact, prefix or regex; found exact and prefix",
    line: 9,
  },
  {
    name: "empty uri regex",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - uri: {regex: ''}",
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].uri.regex",
    message: "empty regular expression",
    line: 9,
  },
  {
    name: "regex that doesn't compile",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - uri:",
      '      regex: "/api/(v1"', // 10
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].uri.regex",
    message: "invalid regular expression",
    line: 10,
  },
  {
    name: "pseudo-header that isn't one",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - headers:",
      "      ':user': {exact: jason}", // 10
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: 'spec.http[0].match[0].headers[":user"]',
    message: 'invalid header name ":user"',
    line: 10,
  },
  {
    name: "header name with a space",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - headers:",
      '      "end user": {exact: jason}',
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: 'spec.http[0].match[0].headers["end user"]',
    message: "invalid header name",
    line: 10,
  },
  {
    name: "null header match",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - headers:",
      "      end-user:",
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].headers.end-user",
    message: "expected a mapping, got null",
    line: 10,
  },
  {
    name: "match port out of range",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - port: 70000", // 9
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].port",
    message: "port number 70000 must be in the range 1..65535",
    line: 9,
  },
  {
    name: "destination port zero",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- route:",
      "  - destination:",
      "      host: reviews",
      "      port:",
      "        number: 0", // 12
    ]),
    path: "spec.http[0].route[0].destination.port.number",
    message: "from 1 to 65535",
    line: 12,
  },
  {
    name: "wildcard host for the mesh",
    text: doc(VS, ['hosts: ["*"]', "http:", "- route:", "  - destination: {host: reviews}"]),
    path: "spec.hosts[0]",
    message: "only allowed when the VirtualService is bound to gateways",
    line: 6,
  },
  {
    name: "malformed host",
    text: doc(VS, ["hosts:", "- reviews_v2", "http:", "- route:", "  - destination: {host: r}"]),
    path: "spec.hosts[0]",
    message: 'invalid host "reviews_v2"',
    line: 7,
  },
  {
    name: "http route without destinations",
    text: doc(VS, ["hosts: [reviews]", "http:", "- name: empty", "  match: [{port: 80}]"]),
    path: "spec.http[0].route",
    message: "no destination",
    line: 8,
  },
  {
    name: "destination without host",
    text: doc(VS, ["hosts: [reviews]", "http:", "- route:", "  - destination: {subset: v1}"]),
    path: "spec.http[0].route[0].destination.host",
    message: 'missing required field "host"',
    line: 9,
  },
  {
    name: "DestinationRule without host",
    text: doc("DestinationRule", ["subsets:", "- name: v1"]),
    path: "spec.host",
    message: 'missing required field "host"',
    line: 5,
  },
  {
    name: "duplicate subset names",
    text: doc("DestinationRule", [
      "host: reviews",
      "subsets:",
      "- name: v1",
      "  labels: {version: v1}",
      "- name: v1", // 10
      "  labels: {version: v2}",
    ]),
    path: "spec.subsets[1].name",
    message: 'duplicate subset name "v1"',
    line: 10,
  },
  {
    name: "subset name not a DNS label",
    text: doc("DestinationRule", ["host: reviews", "subsets:", "- name: V1.beta"]),
    path: "spec.subsets[0].name",
    message: 'invalid subset name "V1.beta"',
    line: 8,
  },
  {
    name: "unknown TLS mode",
    text: doc("DestinationRule", ["host: reviews", "trafficPolicy:", "  tls:", "    mode: STRICT"]),
    path: "spec.trafficPolicy.tls.mode",
    message: 'must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL; got the string "STRICT"',
    line: 9,
  },
  {
    name: "unknown load balancer",
    text: doc("DestinationRule", [
      "host: reviews",
      "trafficPolicy:",
      "  loadBalancer: {simple: FASTEST}",
    ]),
    path: "spec.trafficPolicy.loadBalancer.simple",
    message: "must be one of",
    line: 8,
  },
  {
    name: "label value that is a number",
    text: doc("DestinationRule", [
      "host: reviews",
      "subsets:",
      "- name: v1",
      "  labels:",
      "    version: 1", // 10
    ]),
    path: "spec.subsets[0].labels.version",
    message: "expected a string, got number 1; put the value in quotes",
    line: 10,
  },
  {
    name: "Gateway without servers",
    text: doc("Gateway", ["selector: {istio: ingressgateway}", "servers: []"]),
    path: "spec.servers",
    message: "at least one server",
    line: 7,
  },
  {
    name: "Gateway server without hosts",
    text: doc("Gateway", ["servers:", "- port: {number: 80, name: http, protocol: HTTP}"]),
    path: "spec.servers[0].hosts",
    message: 'missing required field "hosts"',
    line: 7,
  },
  {
    name: "Gateway server without port",
    text: doc("Gateway", ["servers:", '- hosts: ["*"]']),
    path: "spec.servers[0].port",
    message: 'missing required field "port"',
    line: 7,
  },
  {
    name: "Gateway port with unknown protocol",
    text: doc("Gateway", [
      "servers:",
      "- port:",
      "    number: 80",
      "    name: http",
      "    protocol: SPDY", // 10
      '  hosts: ["*"]',
    ]),
    path: "spec.servers[0].port.protocol",
    message: "must be one of HTTP, HTTPS",
    line: 10,
  },
  {
    name: "Gateway host with a bad namespace",
    text: doc("Gateway", [
      "servers:",
      "- port: {number: 80, name: http, protocol: HTTP}",
      "  hosts:",
      "  - Bad_NS/reviews.example.com", // 9
    ]),
    path: "spec.servers[0].hosts[0]",
    message: 'invalid host "Bad_NS/reviews.example.com"',
    line: 9,
  },
  {
    name: "ServiceEntry with duplicate port names",
    text: doc("ServiceEntry", [
      "hosts: [api.example.com]",
      "ports:",
      "- {number: 80, name: http, protocol: HTTP}",
      "- number: 8080",
      "  name: http", // 10
      "resolution: DNS",
    ]),
    path: "spec.ports[1].name",
    message: 'duplicate port name "http"',
    line: 10,
  },
  {
    name: "ServiceEntry for every host",
    text: doc("ServiceEntry", ['hosts: ["*"]', "resolution: DNS"]),
    path: "spec.hosts[0]",
    message: '"*" is not allowed in a ServiceEntry',
    line: 6,
  },
  {
    name: "ServiceEntry with unknown resolution",
    text: doc("ServiceEntry", ["hosts: [api.example.com]", "resolution: MAGIC"]),
    path: "spec.resolution",
    message: "must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN",
    line: 7,
  },
  {
    name: "ServiceEntry with endpoints and a selector",
    text: doc("ServiceEntry", [
      "hosts: [db.internal]",
      "resolution: STATIC",
      "endpoints: [{address: 10.0.0.1}]",
      "workloadSelector:", // 9
      "  labels: {app: db}",
    ]),
    path: "spec.workloadSelector",
    message: "only one of workloadSelector or endpoints",
    line: 9,
  },
  {
    name: "ServiceEntry endpoint port not declared",
    text: doc("ServiceEntry", [
      "hosts: [db.internal]",
      "ports: [{number: 5432, name: tcp-pg, protocol: TCP}]",
      "resolution: STATIC",
      "endpoints:",
      "- address: 10.0.0.1",
      "  ports:",
      "    postgres: 5433", // 12
    ]),
    path: "spec.endpoints[0].ports.postgres",
    message: 'port "postgres" is not a port name of this ServiceEntry ("tcp-pg")',
    line: 12,
  },
  {
    name: "STATIC resolution with a DNS endpoint",
    text: doc("ServiceEntry", [
      "hosts: [db.internal]",
      "resolution: STATIC",
      "endpoints:",
      "- address: db.example.com", // 9
    ]),
    path: "spec.endpoints[0].address",
    message: "resolution STATIC needs IPs",
    line: 9,
  },
  {
    name: "WorkloadEntry port out of range",
    text: doc("WorkloadEntry", ["address: 10.1.2.3", "ports:", "  http: 0"]),
    path: "spec.ports.http",
    message: "from 1 to 65535; got 0",
    line: 8,
  },
  {
    name: "WorkloadEntry with a malformed address",
    text: doc("WorkloadEntry", ["address: 10.1.2.999"]),
    path: "spec.address",
    message: '"10.1.2.999" is neither an IP address nor an FQDN',
    line: 6,
  },
  {
    name: "name that isn't a DNS subdomain",
    text: doc(VS, route1, "Reviews"),
    path: "metadata.name",
    message: 'invalid name "Reviews"',
    line: 4,
  },
  {
    name: "missing metadata",
    text: ["apiVersion: networking.istio.io/v1", "kind: Gateway", "spec: {}"].join("\n"),
    path: "metadata",
    message: 'missing required field "metadata"',
    line: 1,
  },
  {
    name: "missing spec (read as empty, as Istio does; a Gateway needs servers)",
    text: ["apiVersion: networking.istio.io/v1", "kind: Gateway", "metadata: {name: gw}"].join(
      "\n",
    ),
    path: "spec.servers",
    message: 'missing required field "servers"',
    line: 1,
  },
  {
    name: "misspelled top-level field",
    text: doc(VS, route1).replace("spec:", "specs:"),
    path: "specs",
    message: 'unknown field "specs" (did you mean "spec"?)',
    line: 5,
  },
  {
    name: "unknown kind in networking.istio.io",
    text: doc("VirtualServices", route1),
    path: "kind",
    message: 'unknown kind "VirtualServices" in networking.istio.io',
    line: 2,
  },
  {
    name: "unknown version of a known kind",
    text: doc(VS, route1).replace("/v1", "/v2"),
    path: "apiVersion",
    message: "use one of networking.istio.io/v1, networking.istio.io/v1beta1, " +
      "networking.istio.io/v1alpha3",
    line: 1,
  },
  {
    name: "document without kind",
    text: "apiVersion: networking.istio.io/v1\nmetadata: {name: x}\n",
    path: "kind",
    message: 'missing required field "kind"',
    line: 1,
  },
  {
    name: "document that is a list",
    text: "- apiVersion: networking.istio.io/v1\n",
    path: "",
    message: "expected a mapping with apiVersion and kind, got a list",
    line: 1,
  },
  {
    name: "nesting too deep",
    text: doc(VS, [...route1, "    headers: " + "{a: ".repeat(100) + "1" + "}".repeat(100)]),
    path: "",
    message: "nesting deeper than 64 levels",
    line: 1,
  }, // -------------------------------------------------------------------------------------------
  // VirtualService: durations, regexes, exclusive fields, duplicates
  {
    name: "timeout written as a bare number",
    text: doc(VS, [...route1, "  timeout: 5"]),
    path: "spec.http[0].timeout",
    message: "expected a duration like 5s",
    line: 10,
  },
  {
    name: "timeout in days",
    text: doc(VS, [...route1, "  timeout: 1d"]),
    path: "spec.http[0].timeout",
    message: 'unknown unit "d"',
    line: 10,
  },
  {
    name: "negative perTryTimeout",
    text: doc(VS, [...route1, "  retries:", "    attempts: 3", '    perTryTimeout: "-1s"']),
    path: "spec.http[0].retries.perTryTimeout",
    message: "negative duration",
    line: 12,
  },
  {
    name: "fault delay without a unit",
    text: doc(VS, [...route1, "  fault:", "    delay:", '      fixedDelay: "100"']),
    path: "spec.http[0].fault.delay.fixedDelay",
    message: "has no unit",
    line: 12,
  },
  {
    name: "regex with lookahead (not RE2)",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - uri:",
      '      regex: "/api/(?=v1)"', // 10
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].uri.regex",
    message: "lookahead",
    line: 10,
  },
  {
    name: "header regex with a backreference (not RE2)",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - headers:",
      "      x-v:",
      "        regex: '(a)\\1'", // 11
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].headers.x-v.regex",
    message: "backreference",
    line: 11,
  },
  {
    name: "redirect beside route",
    text: doc(VS, [...route1, "  redirect: {uri: /v2}"]),
    path: "spec.http[0].redirect",
    message: "redirect and route can't both be set",
    line: 10,
  },
  {
    name: "directResponse beside route",
    text: doc(VS, [...route1, "  directResponse: {status: 503}"]),
    path: "spec.http[0].directResponse",
    message: "directResponse and route can't both be set",
    line: 10,
  },
  {
    name: "mirror beside mirrors",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- route:",
      "  - destination: {host: reviews}",
      "  mirror: {host: shadow}",
      "  mirrors: [{destination: {host: shadow}}]", // 11
    ]),
    path: "spec.http[0].mirrors",
    message: "mirror and mirrors can't both be set",
    line: 11,
  },
  {
    name: "overlapping hosts",
    text: doc(VS, [
      "hosts:",
      "- '*.example.com'",
      "- reviews.example.com", // 8
      "http:",
      "- route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.hosts[1]",
    message: 'overlaps hosts[0] "*.example.com"',
    line: 8,
  },
  {
    name: "retry settings with zero attempts",
    text: doc(VS, [...route1, "  retries: {attempts: 0, perTryTimeout: 2s}"]),
    path: "spec.http[0].retries.attempts",
    message: "attempts is 0",
    line: 10,
  },
  {
    name: "unknown retryOn condition",
    text: doc(VS, [...route1, "  retries:", "    attempts: 2", "    retryOn: 5xx,sometimes"]),
    path: "spec.http[0].retries.retryOn",
    message: '"sometimes" is not a retry condition',
    line: 12,
  },
  {
    name: "fault abort status out of range",
    text: doc(VS, [...route1, "  fault:", "    abort:", "      httpStatus: 700"]),
    path: "spec.http[0].fault.abort.httpStatus",
    message: "not in the range 200..599",
    line: 12,
  },
  {
    name: "CORS method in lower case",
    text: doc(VS, [...route1, "  corsPolicy:", "    allowMethods:", "    - get"]),
    path: "spec.http[0].corsPolicy.allowMethods[0]",
    message: '"get" is not an HTTP method',
    line: 12,
  },
  {
    name: "CORS maxAge finer than seconds",
    text: doc(VS, [...route1, "  corsPolicy:", "    maxAge: 1.5s"]),
    path: "spec.http[0].corsPolicy.maxAge",
    message: "finer than a second",
    line: 11,
  },
  {
    name: "redirect with a non-3xx code",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- redirect:",
      "    uri: /new",
      "    redirectCode: 200",
    ]),
    path: "spec.http[0].redirect.redirectCode",
    message: "200 is not a redirect code",
    line: 10,
  },
  {
    name: "header operation on a pseudo-header",
    text: doc(VS, [...route1, "  headers:", "    request:", "      set:", '        ":path": /x']),
    path: 'spec.http[0].headers.request.set[":path"]',
    message: "pseudo-header",
    line: 13,
  },
  {
    name: "TCP route without destinations",
    text: doc(VS, ["hosts: [db.example.com]", "tcp:", "- match: [{port: 5432}]"]),
    path: "spec.tcp[0].route",
    message: "no destination",
    line: 8,
  },
  {
    name: "TLS route SNI host outside the hosts",
    text: doc(VS, [
      "hosts: [api.example.com]",
      "gateways: [edge]",
      "tls:",
      "- match:",
      "  - sniHosts:",
      "    - web.example.com", // 11
      "  route:",
      "  - destination: {host: web.example.com}",
    ]),
    path: "spec.tls[0].match[0].sniHosts[0]",
    message: "is not a subset of the VirtualService's hosts",
    line: 11,
  },
  {
    name: "destination subset that isn't a DNS label",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- route:",
      "  - destination:",
      "      host: reviews",
      "      subset: v1.0", // 11
    ]),
    path: "spec.http[0].route[0].destination.subset",
    message: 'invalid subset name "v1.0"',
    line: 11,
  },
  {
    name: "mirror percentage over 100",
    text: doc(VS, [...route1, "  mirror: {host: shadow}", "  mirrorPercentage:", "    value: 150"]),
    path: "spec.http[0].mirrorPercentage.value",
    message: "from 0 to 100; got 150",
    line: 12,
  },
  // -------------------------------------------------------------------------------------------
  // DestinationRule
  {
    name: "connectTimeout written as a bare number",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  connectionPool:",
      "    tcp:",
      "      connectTimeout: 10", // 10
    ]),
    path: "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
    message: "expected a duration like 10s",
    line: 10,
  },
  {
    name: "outlier detection duration with an unknown unit",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  outlierDetection:",
      "    baseEjectionTime: 30sec", // 9
    ]),
    path: "spec.trafficPolicy.outlierDetection.baseEjectionTime",
    message: 'unknown unit "sec"',
    line: 9,
  },
  {
    name: "local origin failures without splitting errors",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  outlierDetection:",
      "    consecutiveLocalOriginFailures: 5", // 9
    ]),
    path: "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
    message: "needs splitExternalLocalOriginErrors: true",
    line: 9,
  },
  {
    name: "traffic policy must have at least one field",
    text: doc(DR, ["host: reviews", "trafficPolicy: {}"]),
    path: "spec.trafficPolicy",
    message: "traffic policy must have at least one field",
    line: 7,
  },
  {
    name: "simple and consistentHash load balancing together",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  loadBalancer:",
      "    simple: ROUND_ROBIN",
      "    consistentHash: {useSourceIp: true}", // 10
    ]),
    path: "spec.trafficPolicy.loadBalancer.consistentHash",
    message: "simple and consistentHash can't both be set",
    line: 10,
  },
  {
    name: "maglev table size that isn't prime",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  loadBalancer:",
      "    consistentHash:",
      "      useSourceIp: true",
      "      maglev:",
      "        tableSize: 1000", // 12
    ]),
    path: "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
    message: "prime number",
    line: 12,
  },
  {
    name: "port-level settings without a port",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  portLevelSettings:",
      "  - tls: {mode: ISTIO_MUTUAL}", // 9
    ]),
    path: "spec.trafficPolicy.portLevelSettings[0].port",
    message: "needs a port",
    line: 9,
  },
  {
    name: "MUTUAL client TLS without a certificate",
    text: doc(DR, [
      "host: reviews",
      "trafficPolicy:",
      "  tls:", // 8
      "    mode: MUTUAL",
      "    privateKey: /etc/certs/key.pem",
    ]),
    path: "spec.trafficPolicy.tls.clientCertificate",
    message: "mode MUTUAL needs clientCertificate",
    line: 8,
  },
  {
    name: "subset label value with a space",
    text: doc(DR, ["host: reviews", "subsets:", "- name: v1", "  labels:", '    version: "v 1"']),
    path: "spec.subsets[0].labels.version",
    message: 'invalid label value "v 1"',
    line: 10,
  },
  {
    name: "wildcard in a workload selector",
    text: doc(DR, ["host: reviews", "workloadSelector:", "  matchLabels:", '    app: "*"']),
    path: "spec.workloadSelector.matchLabels.app",
    message: "wildcard is not supported in a selector",
    line: 9,
  },
  // -------------------------------------------------------------------------------------------
  // Gateway
  {
    name: "Gateway name with a dot",
    text: doc(GW, [
      "servers:",
      "- port: {number: 80, name: http, protocol: HTTP}",
      "  hosts: ['*']",
    ], "edge.gw"),
    path: "metadata.name",
    message: "Gateway names are DNS labels",
    line: 4,
  },
  {
    name: "HTTPS server without TLS settings",
    text: doc(GW, [
      "servers:",
      "- port: {number: 443, name: https, protocol: HTTPS}", // 7
      "  hosts: ['*.example.com']",
    ]),
    path: "spec.servers[0].tls",
    message: "a HTTPS server needs tls settings",
    line: 7,
  },
  {
    name: "Gateway host that is a short name",
    text: doc(GW, [
      "servers:",
      "- port: {number: 80, name: http, protocol: HTTP}",
      "  hosts:",
      "  - reviews", // 9
    ]),
    path: "spec.servers[0].hosts[0]",
    message: "short names are not allowed in a Gateway",
    line: 9,
  },
  {
    name: "Gateway host with a partial wildcard",
    text: doc(GW, [
      "servers:",
      "- port: {number: 80, name: http, protocol: HTTP}",
      "  hosts:",
      "  - 'shop*.example.com'", // 9
    ]),
    path: "spec.servers[0].hosts[0]",
    message: "a wildcard must be the whole first label",
    line: 9,
  },
  {
    name: "duplicate port names across Gateway servers",
    text: doc(GW, [
      "servers:",
      "- port: {number: 80, name: http, protocol: HTTP}",
      "  hosts: ['a.example.com']",
      "- port:",
      "    number: 8080",
      "    name: http", // 11
      "    protocol: HTTP",
      "  hosts: ['b.example.com']",
    ]),
    path: "spec.servers[1].port.name",
    message: 'duplicate port name "http"',
    line: 11,
  },
  {
    // Istio doesn't check that server names are unique; ~ is for the Gateway API's gateways.
    name: "Gateway host in the ~ namespace",
    text: doc(GW, [
      "servers:",
      "- name: web",
      "  port: {number: 80, name: http, protocol: HTTP}",
      "  hosts: ['a.example.com']",
      "- name: web",
      "  port: {number: 81, name: http-alt, protocol: HTTP}",
      "  hosts: ['~/b.example.com']", // 12
    ]),
    path: "spec.servers[1].hosts[0]",
    message: 'namespace "~" is not *, . or a namespace name',
    line: 12,
  },
  {
    name: "SIMPLE server TLS without certificates",
    text: doc(GW, [
      "servers:",
      "- port: {number: 443, name: https, protocol: HTTPS}",
      "  hosts: ['*.example.com']",
      "  tls:", // 9
      "    mode: SIMPLE",
    ]),
    path: "spec.servers[0].tls.serverCertificate",
    message: "mode SIMPLE needs serverCertificate (or credentialName)",
    line: 9,
  },
  {
    name: "targetPort on a Gateway",
    text: doc(GW, [
      "servers:",
      "- port:",
      "    number: 80",
      "    name: http",
      "    protocol: HTTP",
      "    targetPort: 8080", // 11
      "  hosts: ['*']",
    ]),
    path: "spec.servers[0].port.targetPort",
    message: "targetPort has no effect on Gateways",
    line: 11,
  },
  // -------------------------------------------------------------------------------------------
  // ServiceEntry and WorkloadEntry
  {
    name: "ServiceEntry port name that isn't a DNS label",
    text: doc(SE, [
      "hosts: [api.example.com]",
      "ports:",
      "- number: 80",
      "  name: HTTP_1",
      "resolution: DNS",
    ]),
    path: "spec.ports[0].name",
    message: 'invalid port name "HTTP_1"',
    line: 9,
  },
  {
    name: "CIDR address with DNS resolution",
    text: doc(SE, ["hosts: [api.example.com]", "addresses: [10.0.0.0/24]", "resolution: DNS"]),
    path: "spec.addresses",
    message: "CIDR addresses are allowed only for resolution NONE or STATIC",
    line: 7,
  },
  {
    name: "DNS_ROUND_ROBIN with two endpoints",
    text: doc(SE, [
      "hosts: [api.example.com]",
      "resolution: DNS_ROUND_ROBIN",
      "endpoints:", // 8
      "- address: a.example.com",
      "- address: b.example.com",
    ]),
    path: "spec.endpoints",
    message: "at most one endpoint",
    line: 8,
  },
  {
    name: "DNS resolution of a wildcard host",
    text: doc(SE, ["hosts:", "- '*.example.com'", "resolution: DNS"]),
    path: "spec.hosts[0]",
    message: "they must be FQDNs",
    line: 7,
  },
  {
    name: "several hosts sharing a TCP port",
    text: doc(SE, [
      "hosts: [a.example.com, b.example.com]",
      "ports:",
      "- {number: 5432, name: pg, protocol: TCP}", // 8
      "resolution: DNS",
    ]),
    path: "spec.ports[0]",
    message: "multiple hosts with a non-HTTP, non-TLS port",
    line: 8,
  },
  {
    name: "duplicate ServiceEntry port numbers",
    text: doc(SE, [
      "hosts: [api.example.com]",
      "ports:",
      "- number: 80",
      "  name: http",
      "- number: 80", // 10
      "  name: web",
      "resolution: DNS",
    ]),
    path: "spec.ports[1].number",
    message: 'duplicate port "80"',
    line: 10,
  },
  {
    name: "unix endpoint with ports",
    text: doc(SE, [
      "hosts: [local.internal]",
      "ports: [{number: 80, name: http}]",
      "resolution: STATIC",
      "endpoints:",
      "- address: unix:///var/run/app.sock",
      "  ports: {http: 80}", // 11
    ]),
    path: "spec.endpoints[0].ports",
    message: "a unix address has no ports",
    line: 11,
  },
  {
    name: "WorkloadEntry unix socket with a relative path",
    text: doc("WorkloadEntry", ["address: unix://app.sock"]),
    path: "spec.address",
    message: "absolute path",
    line: 6,
  },
  {
    name: "WorkloadEntry label key with a space",
    text: doc("WorkloadEntry", ["address: 10.0.0.1", "labels:", '  "bad key": x']),
    path: 'spec.labels["bad key"]',
    message: 'invalid label key "bad key"',
    line: 8,
  },
  {
    name: "WorkloadEntry port name with an underscore (upper case is allowed, as in Istio)",
    text: doc("WorkloadEntry", ["address: 10.0.0.1", "ports:", "  my_port: 8080"]),
    path: "spec.ports.my_port",
    message: 'invalid port name "my_port"',
    line: 8,
  },
  // -------------------------------------------------------------------------------------------
  // Sidecar
  {
    name: "Sidecar egress host without a namespace",
    text: doc("Sidecar", ["egress:", "- hosts:", "  - reviews.default.svc.cluster.local"]),
    path: "spec.egress[0].hosts[0]",
    message: "write it as namespace/host",
    line: 8,
  },
  {
    name: "Sidecar egress host that is a short name",
    text: doc("Sidecar", ["egress:", "- hosts:", "  - ./reviews"]),
    path: "spec.egress[0].hosts[0]",
    message: "short names are not allowed in a Sidecar",
    line: 8,
  },
  {
    name: "Sidecar with nothing to configure",
    text: doc("Sidecar", ["workloadSelector:", "  labels: {app: reviews}"]),
    path: "spec",
    message: "empty Sidecar",
    line: 5,
  },
  {
    name: "Sidecar catch-all egress listener not last",
    text: doc("Sidecar", [
      "egress:",
      "- hosts: ['./*']", // 7
      "- port: {number: 9080, protocol: HTTP, name: http}",
      "  hosts: ['./*']",
    ]),
    path: "spec.egress[0]",
    message: "only the last egress listener may omit port",
    line: 7,
  },
  {
    name: "Sidecar ingress listener without a port",
    text: doc("Sidecar", ["ingress:", "- defaultEndpoint: 127.0.0.1:8080"]),
    path: "spec.ingress[0].port",
    message: 'missing required field "port"',
    line: 7,
  },
  {
    name: "Sidecar ingress defaultEndpoint on another host",
    text: doc("Sidecar", [
      "ingress:",
      "- port: {number: 9080, protocol: HTTP, name: http}",
      "  defaultEndpoint: 10.0.0.1:8080", // 8
    ]),
    path: "spec.ingress[0].defaultEndpoint",
    message: "invalid defaultEndpoint",
    line: 8,
  },
  {
    name: "Sidecar outbound mode that doesn't exist",
    text: doc("Sidecar", ["outboundTrafficPolicy:", "  mode: BLOCK"]),
    path: "spec.outboundTrafficPolicy.mode",
    message: "must be one of REGISTRY_ONLY, ALLOW_ANY",
    line: 7,
  },
  {
    name: "Sidecar egress proxy with REGISTRY_ONLY",
    text: doc("Sidecar", [
      "outboundTrafficPolicy:",
      "  mode: REGISTRY_ONLY",
      "  egressProxy:", // 8
      "    host: proxy.example.com",
      "    port: {number: 3128}",
    ]),
    path: "spec.outboundTrafficPolicy.egressProxy",
    message: "needs outboundTrafficPolicy mode ALLOW_ANY",
    line: 8,
  },
  {
    name: "misspelled Sidecar field",
    text: doc("Sidecar", ["egres:", "- hosts: ['./*']"]),
    path: "spec.egres",
    message: '(did you mean "egress"?)',
    line: 6,
  },
  // -------------------------------------------------------------------------------------------
  // WorkloadGroup
  {
    name: "WorkloadGroup without a template",
    text: doc("WorkloadGroup", ["metadata:", "  labels: {app: vm}"]),
    path: "spec.template",
    message: 'missing required field "template"',
    line: 5,
  },
  {
    name: "readiness probe with two methods",
    text: doc("WorkloadGroup", [
      "template: {serviceAccount: vm}",
      "probe:",
      "  httpGet: {port: 8080}",
      "  tcpSocket: {port: 8080}", // 9
    ]),
    path: "spec.probe.tcpSocket",
    message: "httpGet and tcpSocket can't both be set",
    line: 9,
  },
  {
    name: "readiness probe without a method",
    text: doc("WorkloadGroup", ["template: {}", "probe:", "  periodSeconds: 5"]),
    path: "spec.probe",
    message: "set one of httpGet, tcpSocket or exec",
    line: 7,
  },
  {
    name: "readiness probe with an FTP scheme",
    text: doc("WorkloadGroup", [
      "template: {}",
      "probe:",
      "  httpGet:",
      "    port: 8080",
      "    scheme: FTP",
    ]),
    path: "spec.probe.httpGet.scheme",
    message: "scheme must be HTTP or HTTPS",
    line: 10,
  },
  {
    name: "WorkloadGroup label key ending in a slash",
    text: doc("WorkloadGroup", ["metadata:", "  labels:", '    "app/": vm', "template: {}"]),
    path: 'spec.metadata.labels["app/"]',
    message: 'invalid label key "app/"',
    line: 8,
  },
  {
    name: "negative probe period",
    text: doc("WorkloadGroup", [
      "template: {}",
      "probe:",
      "  periodSeconds: -1",
      "  tcpSocket: {port: 22}",
    ]),
    path: "spec.probe.periodSeconds",
    message: "from 0 to 2147483647; got -1",
    line: 8,
  },
  // -------------------------------------------------------------------------------------------
  // PeerAuthentication
  {
    name: "unknown mTLS mode",
    text: res(SEC, "PeerAuthentication", ["mtls:", "  mode: ON"]),
    path: "spec.mtls.mode",
    message: "must be one of UNSET, DISABLE, PERMISSIVE, STRICT",
    line: 7,
  },
  {
    name: "portLevelMtls keyed by a port name",
    text: res(SEC, "PeerAuthentication", [
      "selector:",
      "  matchLabels: {app: db}",
      "portLevelMtls:",
      "  http:", // 9
      "    mode: DISABLE",
    ]),
    path: "spec.portLevelMtls.http",
    message: "keys are port numbers from 1 to 65535",
    line: 9,
  },
  {
    name: "portLevelMtls without a selector",
    text: res(SEC, "PeerAuthentication", [
      "mtls: {mode: STRICT}",
      "portLevelMtls:", // 7
      "  8080:",
      "    mode: DISABLE",
    ]),
    path: "spec.portLevelMtls",
    message: "portLevelMtls needs a selector with matchLabels",
    line: 7,
  },
  {
    name: "portLevelMtls port out of range",
    text: res(SEC, "PeerAuthentication", [
      "selector:",
      "  matchLabels: {app: db}",
      "portLevelMtls:",
      "  70000: {mode: DISABLE}", // 9
    ]),
    path: 'spec.portLevelMtls["70000"]',
    message: 'from 1 to 65535; got "70000"',
    line: 9,
  },
  // -------------------------------------------------------------------------------------------
  // AuthorizationPolicy
  {
    name: "CUSTOM action without a provider",
    text: res(SEC, AP, ["action: CUSTOM", "rules:", "- to:", "  - operation: {paths: [/admin]}"]),
    path: "spec.provider.name",
    message: "action CUSTOM needs provider.name",
    line: 5,
  },
  {
    name: "provider with action ALLOW",
    text: res(SEC, AP, ["action: ALLOW", "provider: {name: ext-authz}", "rules: [{}]"]),
    path: "spec.provider",
    message: "provider is only for action CUSTOM",
    line: 7,
  },
  {
    name: "DENY action without rules",
    text: res(SEC, AP, ["action: DENY"]),
    path: "spec.rules",
    message: "a DENY policy without rules never applies",
    line: 5,
  },
  {
    name: "unknown condition key",
    text: res(SEC, AP, [
      "rules:",
      "- when:",
      "  - key: request.header[x-user]",
      "    values: [admin]",
    ]),
    path: "spec.rules[0].when[0].key",
    message: 'unknown key "request.header[x-user]"',
    line: 8,
  },
  {
    name: "condition without values",
    text: res(SEC, AP, ["rules:", "- when:", "  - key: source.ip"]),
    path: "spec.rules[0].when[0]",
    message: 'set values or notValues for key "source.ip"',
    line: 8,
  },
  {
    name: "condition key without brackets",
    text: res(SEC, AP, ["rules:", "- when:", "  - key: request.headers", "    values: [x]"]),
    path: "spec.rules[0].when[0].key",
    message: "write it as request.headers[name]",
    line: 8,
  },
  {
    name: "empty source",
    text: res(SEC, AP, ["rules:", "- from:", "  - source: {}"]),
    path: "spec.rules[0].from[0].source",
    message: "empty source",
    line: 8,
  },
  {
    name: "invalid IP block",
    text: res(SEC, AP, [
      "rules:",
      "- from:",
      "  - source:",
      "      ipBlocks:",
      "      - 10.0.0.300/8",
    ]),
    path: "spec.rules[0].from[0].source.ipBlocks[0]",
    message: 'invalid CIDR block "10.0.0.300/8"',
    line: 10,
  },
  {
    name: "operation port that isn't a number",
    text: res(SEC, AP, ["rules:", "- to:", "  - operation:", "      ports:", '      - "http"']),
    path: "spec.rules[0].to[0].operation.ports[0]",
    message: 'invalid port "http"',
    line: 10,
  },
  {
    name: "operation ports written as numbers",
    text: res(SEC, AP, ["rules:", "- to:", "  - operation:", "      ports:", "      - 8080"]),
    path: "spec.rules[0].to[0].operation.ports[0]",
    message: "expected a string, got number 8080; put the value in quotes",
    line: 10,
  },
  {
    name: "selector and targetRef together",
    text: res(SEC, AP, [
      "selector:",
      "  matchLabels: {app: web}",
      "targetRef:", // 8
      "  kind: Gateway",
      "  group: gateway.networking.k8s.io",
      "  name: edge",
      "rules: [{}]",
    ]),
    path: "spec.targetRef",
    message: "selector and targetRef can't both be set",
    line: 8,
  },
  {
    name: "targetRef to another namespace",
    text: res(SEC, AP, ["targetRef:", "  kind: Service", "  name: web", "  namespace: other"]),
    path: "spec.targetRef.namespace",
    message: "cross-namespace references are not supported",
    line: 9,
  },
  {
    name: "unknown action",
    text: res(SEC, AP, ["action: REJECT", "rules: [{}]"]),
    path: "spec.action",
    message: "must be one of ALLOW, DENY, AUDIT, CUSTOM",
    line: 6,
  },
  {
    name: "serviceAccounts with principals",
    text: res(SEC, AP, [
      "rules:",
      "- from:",
      "  - source:",
      "      serviceAccounts: [shop/web]", // 9
      "      principals: [cluster.local/ns/shop/sa/web]",
    ]),
    path: "spec.rules[0].from[0].source.serviceAccounts",
    message: "serviceAccounts can't be combined with principals",
    line: 9,
  },
  {
    name: "CUSTOM action with a JWT claim condition",
    text: res(SEC, AP, [
      "action: CUSTOM",
      "provider: {name: ext-authz}",
      "rules:",
      "- when:",
      "  - key: request.auth.claims[groups]", // 10
      "    values: [admin]",
    ]),
    path: "spec.rules[0].when[0].key",
    message: "is not supported with action CUSTOM",
    line: 10,
  },
  // -------------------------------------------------------------------------------------------
  // RequestAuthentication
  {
    name: "JWT rule without an issuer or a jwksUri",
    text: res(SEC, RA, ["jwtRules:", `- jwks: '{"keys": []}'`]),
    path: "spec.jwtRules[0].issuer",
    message: 'missing required field "issuer"',
    line: 7,
  },
  {
    name: "JWT rule with jwks and jwksUri",
    text: res(SEC, RA, [
      "jwtRules:",
      "- issuer: https://example.com",
      "  jwksUri: https://example.com/jwks.json", // 8
      `  jwks: '{"keys": []}'`,
    ]),
    path: "spec.jwtRules[0].jwksUri",
    message: "jwks and jwksUri can't both be set",
    line: 8,
  },
  {
    name: "jwksUri that isn't http or https",
    text: res(SEC, RA, [
      "jwtRules:",
      "- issuer: https://example.com",
      "  jwksUri: ftp://example.com/jwks.json",
    ]),
    path: "spec.jwtRules[0].jwksUri",
    message: "must be an http:// or https:// URL",
    line: 8,
  },
  {
    name: "inline jwks that isn't JSON",
    text: res(SEC, RA, ["jwtRules:", "- issuer: https://example.com", "  jwks: not-json"]),
    path: "spec.jwtRules[0].jwks",
    message: "jwks is not valid JSON",
    line: 8,
  },
  {
    name: "claim copied to an invalid header name",
    text: res(SEC, RA, [
      "jwtRules:",
      "- issuer: https://example.com",
      "  outputClaimToHeaders:",
      "  - header: x user", // 9
      "    claim: sub",
    ]),
    path: "spec.jwtRules[0].outputClaimToHeaders[0].header",
    message: 'invalid header name "x user"',
    line: 9,
  },
  {
    name: "JWKS fetch timeout of zero",
    text: res(SEC, RA, ["jwtRules:", "- issuer: https://example.com", "  timeout: 0s"]),
    path: "spec.jwtRules[0].timeout",
    message: "too short; it must be at least 1ms",
    line: 8,
  },
  {
    name: "misspelled JWT rule field",
    text: res(SEC, RA, ["jwtRules:", "- issuerr: https://example.com"]),
    path: "spec.jwtRules[0].issuerr",
    message: '(did you mean "issuer"?)',
    line: 7,
  },
  // -------------------------------------------------------------------------------------------
  // Telemetry
  {
    name: "trace sampling over 100%",
    text: res(TEL, "Telemetry", ["tracing:", "- randomSamplingPercentage: 150"]),
    path: "spec.tracing[0].randomSamplingPercentage",
    message: "from 0 to 100; got 150",
    line: 7,
  },
  {
    name: "metric override of an unknown metric",
    text: res(TEL, "Telemetry", [
      "metrics:",
      "- providers: [{name: prometheus}]",
      "  overrides:",
      "  - match:",
      "      metric: REQUEST_TOTAL", // 10
    ]),
    path: "spec.metrics[0].overrides[0].match.metric",
    message: "must be one of ALL_METRICS, REQUEST_COUNT",
    line: 10,
  },
  {
    name: "tag UPSERT without a value",
    text: res(TEL, "Telemetry", [
      "metrics:",
      "- overrides:",
      "  - tagOverrides:",
      "      request_host:", // 9
      "        operation: UPSERT",
    ]),
    path: "spec.metrics[0].overrides[0].tagOverrides.request_host",
    message: "operation UPSERT needs a value",
    line: 9,
  },
  {
    name: "tag REMOVE with a value",
    text: res(TEL, "Telemetry", [
      "metrics:",
      "- overrides:",
      "  - tagOverrides:",
      "      request_host:",
      "        operation: REMOVE",
      "        value: x", // 11
    ]),
    path: "spec.metrics[0].overrides[0].tagOverrides.request_host.value",
    message: "operation REMOVE takes no value",
    line: 11,
  },
  {
    name: "custom tag with two sources",
    text: res(TEL, "Telemetry", [
      "tracing:",
      "- customTags:",
      "    team:",
      "      literal: {value: shop}",
      "      header: {name: x-team}", // 10
    ]),
    path: "spec.tracing[0].customTags.team.header",
    message: "literal and header can't both be set",
    line: 10,
  },
  {
    name: "metrics reporting interval without a unit",
    text: res(TEL, "Telemetry", ["metrics:", "- reportingInterval: '5'"]),
    path: "spec.metrics[0].reportingInterval",
    message: 'duration "5" has no unit',
    line: 7,
  },
  {
    name: "access log provider without a name",
    text: res(TEL, "Telemetry", ["accessLogging:", "- providers:", "  - name: ''"]),
    path: "spec.accessLogging[0].providers[0].name",
    message: "provider names may not be empty",
    line: 8,
  },
  {
    name: "access log match mode that doesn't exist",
    text: res(TEL, "Telemetry", ["accessLogging:", "- match:", "    mode: BOTH"]),
    path: "spec.accessLogging[0].match.mode",
    message: "must be one of CLIENT_AND_SERVER, CLIENT, SERVER",
    line: 8,
  },
  // -------------------------------------------------------------------------------------------
  // MeshConfig
  {
    name: "trust domain with an underscore",
    text: res(MESH, MC, ["trustDomain: Cluster_Local"]),
    path: "spec.trustDomain",
    message: 'invalid trust domain "Cluster_Local"',
    line: 6,
  },
  {
    name: "outbound traffic mode that doesn't exist",
    text: res(MESH, MC, ["outboundTrafficPolicy:", "  mode: DENY_ALL"]),
    path: "spec.outboundTrafficPolicy.mode",
    message: "must be one of REGISTRY_ONLY, ALLOW_ANY, ALLOW_ANY_DYNAMIC_DNS",
    line: 7,
  },
  {
    name: "proxy listen port 0",
    text: res(MESH, MC, ["proxyListenPort: 0"]),
    path: "spec.proxyListenPort",
    message: "port number 0 must be in the range 1..65535",
    line: 6,
  },
  {
    name: "misspelled MeshConfig field",
    text: res(MESH, MC, ["trustDomian: example.org"]),
    path: "spec.trustDomian",
    message: `(did you mean "trustDomain"?); check the spelling against Istio's MeshConfig`,
    line: 6,
  },
  {
    name: "mesh default inbound retry policy with a bad condition",
    text: res(MESH, MC, ["defaultInboundHttpRetryPolicy: {attempts: 3, retryOn: '5xx,sometimes'}"]),
    path: "spec.defaultInboundHttpRetryPolicy.retryOn",
    message: '"sometimes" is not a valid retryOn policy',
    line: 6,
  },
  {
    name: "proxy admin port 0",
    text: res(MESH, MC, ["defaultConfig:", "  proxyAdminPort: 0"]),
    path: "spec.defaultConfig.proxyAdminPort",
    message: "port number 0 must be in the range 1..65535",
    line: 7,
  },
  {
    name: "drain duration finer than seconds",
    text: res(MESH, MC, ["defaultConfig:", "  drainDuration: 1.5s"]),
    path: "spec.defaultConfig.drainDuration",
    message: "seconds precision",
    line: 7,
  },
  {
    name: "extension provider of two kinds",
    text: res(MESH, MC, ["extensionProviders:", "- {name: otel, prometheus: {}, datadog: {}}"]),
    path: "spec.extensionProviders[0].prometheus",
    message: "datadog and prometheus can't both be set",
    line: 7,
  },
  {
    name: "mesh mTLS with ECDH curves",
    text: res(MESH, MC, ["meshMTLS:", "  ecdhCurves: [P-256]"]),
    path: "spec.meshMTLS.ecdhCurves",
    message: "mesh TLS does not support ECDH curves configuration",
    line: 7,
  },
  // -------------------------------------------------------------------------------------------
  // Groups, versions and metadata
  {
    name: "MeshConfig with an unknown version",
    text: res("config.mesh.dev/v1", MC, ["trustDomain: example.org"]),
    path: "apiVersion",
    message: "use one of config.mesh.dev/v1alpha1",
    line: 1,
  },
  {
    name: "MeshConfig in the networking group",
    text: doc(MC, ["trustDomain: example.org"]),
    path: "apiVersion",
    message: "MeshConfig belongs to config.mesh.dev, not networking.istio.io",
    line: 1,
  },
  {
    name: "AuthorizationPolicy in the networking group",
    text: doc(AP, ["action: ALLOW"]),
    path: "apiVersion",
    message: "use apiVersion security.istio.io/v1",
    line: 1,
  },
  {
    name: "misspelled security kind",
    text: res(SEC, "AuthorizationPolicies", ["action: ALLOW"]),
    path: "kind",
    message: '(did you mean "AuthorizationPolicy"?)',
    line: 2,
  },
  {
    name: "Telemetry with a version that doesn't exist",
    text: res("telemetry.istio.io/v1beta1", "Telemetry", ["tracing: []"]),
    path: "apiVersion",
    message: "use one of telemetry.istio.io/v1, telemetry.istio.io/v1alpha1",
    line: 1,
  },
  // The Gateway API: one case per kind (the full tables are in api/schemas/gateway_api/).
  {
    name: "Gateway API Gateway without listeners",
    text: res(GWAPI, "Gateway", ["gatewayClassName: istio"]),
    path: "spec.listeners",
    message: 'missing required field "listeners"',
    line: 5,
  },
  {
    name: "GatewayClass with a misspelled field",
    text: res(GWAPI, "GatewayClass", [
      "controllerName: istio.io/gateway-controller",
      "descripton: x",
    ]),
    path: "spec.descripton",
    message: "check the spelling against the Gateway API's GatewayClass reference",
    line: 7,
  },
  {
    name: "HTTPRoute with a misspelled field",
    text: res(GWAPI, "HTTPRoute", ["parentRef: [{name: gw}]"]),
    path: "spec.parentRef",
    message: '(did you mean "parentRefs"?)',
    line: 6,
  },
  {
    name: "GRPCRoute with a misspelled field",
    text: res(GWAPI, "GRPCRoute", ["hostname: [a.example.com]"]),
    path: "spec.hostname",
    message: '(did you mean "hostnames"?)',
    line: 6,
  },
  {
    name: "TCPRoute without rules",
    text: res(GWAPI_ALPHA, "TCPRoute", ["parentRefs: [{name: gw}]"]),
    path: "spec.rules",
    message: 'missing required field "rules"',
    line: 5,
  },
  {
    name: "TLSRoute without rules",
    text: res(GWAPI_ALPHA, "TLSRoute", ["parentRefs: [{name: gw}]"]),
    path: "spec.rules",
    message: 'missing required field "rules"',
    line: 5,
  },
  {
    name: "ReferenceGrant without to",
    text: res(GWAPI_BETA, "ReferenceGrant", [
      "from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]",
    ]),
    path: "spec.to",
    message: 'missing required field "to"',
    line: 5,
  },
  {
    name: "metadata label value with a space",
    text: doc(VS, route1).replace("  name: test", "  name: test\n  labels:\n    app: a b"),
    path: "metadata.labels.app",
    message: 'invalid label value "a b"',
    line: 6,
  },
];

Deno.test("invalid resources: path, message and line", async (t) => {
  assert.ok(INVALID.length >= 80, `${INVALID.length} cases`);
  const kinds = new Set(INVALID.map((c) => {
    const group = /^apiVersion: (\S+)\/\w+$/m.exec(c.text)?.[1] ?? "";
    return kindOf(group, /^kind: (\w+)$/m.exec(c.text)?.[1] ?? "");
  }));
  for (const kind of KINDS) assert.ok(kinds.has(kind), `no invalid ${kind} case`);
  for (const c of INVALID) {
    await t.step(c.name, () => {
      const { resources, diagnostics } = parseResources(c.text, "case.yaml");
      const found = errors(diagnostics).filter((d) => d.path === c.path);
      assert.ok(found.length > 0, `no error at "${c.path}":\n${show(diagnostics)}`);
      const d = found.find((d) => d.message.includes(c.message));
      assert.ok(d, `no message containing ${JSON.stringify(c.message)}:\n${show(diagnostics)}`);
      assert.equal(d.line, c.line, formatDiagnostic(d));
      assert.ok(d.column >= 1);
      assert.equal(d.file, "case.yaml");
      assert.deepEqual(resources, [], "a resource with errors is dropped");
    });
  }
});

Deno.test("diagnostics name the resource", () => {
  const text = doc(VS, [...route1, "    weight: -50"], "reviews").replace(
    "  name: reviews",
    "  name: reviews\n  namespace: shop",
  );
  const [d] = parseResources(text, "r.yaml").diagnostics;
  assert.equal(d.kind, "VirtualService");
  assert.equal(d.namespace, "shop");
  assert.equal(d.name, "reviews");
  assert.equal(
    formatDiagnostic(d),
    "r.yaml:11:7: error: VirtualService shop/reviews: spec.http[0].route[0].weight: " +
      "weight -50 is negative",
  );
});

// ---------------------------------------------------------------------------------------------
// Accepted input and warnings

Deno.test("known-but-unsupported fields warn and the resource is kept", () => {
  const text = [
    doc(VS, [
      "hosts: [reviews]", // 6
      "exportTo: ['.']", // 7
      "http:",
      "- match:",
      "  - statPrefix: reviews", // 10
      "  route:",
      "  - destination: {host: reviews}",
      "tls: [{match: [{sniHosts: [reviews]}], route: [{destination: {host: reviews}}]}]", // 13
      "tcp: [{match: [{destinationSubnets: [10.0.0.0/8]}], route: [{destination: {host: reviews}}]}]", // 14
    ]),
    doc("DestinationRule", [
      "host: reviews",
      "trafficPolicy:",
      "  tls: {mode: SIMPLE, sni: reviews, credentialName: reviews-ca}",
      "  loadBalancer: {simple: PASSTHROUGH}",
      "  connectionPool: {tcp: {maxConnections: 10, idleTimeout: 1h}}",
      "  portLevelSettings: [{port: {number: 9080}, connectionPool: {tcp: {idleTimeout: 2h}}}]",
      "subsets:",
      "- name: v1",
      "  trafficPolicy: {loadBalancer: {simple: RANDOM}, proxyProtocol: {version: V1}}",
    ]),
    doc("Gateway", [
      "servers:",
      "- port: {number: 443, name: https, protocol: https}",
      "  hosts: [shop/reviews.example.com, '*/*.example.com', ./x.example.com]",
      "  tls: {mode: SIMPLE, credentialName: shop-cert, minProtocolVersion: TLSV1_2}",
    ]),
    doc("WorkloadEntry", ["address: vm1.example.com", "network: vpc1", "weight: 3"]),
  ].join("---\n");
  const { resources, diagnostics } = parseResources(text, "w.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.equal(resources.length, 4);
  const paths = warnings(diagnostics).map((d) => `${d.kind} ${d.path}`);
  assert.deepEqual(paths, [
    "VirtualService spec.http[0].match[0].statPrefix",
    "VirtualService spec.tls",
    "VirtualService spec.tcp[0].match[0].destinationSubnets",
    "DestinationRule spec.trafficPolicy.tls.credentialName",
    "DestinationRule spec.trafficPolicy.loadBalancer.simple",
    "DestinationRule spec.trafficPolicy.connectionPool.tcp.idleTimeout",
    "DestinationRule spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.idleTimeout",
    "DestinationRule spec.subsets[0].trafficPolicy.proxyProtocol",
    "Gateway spec.servers[0].tls.minProtocolVersion",
    "WorkloadEntry spec.network",
    "WorkloadEntry spec.weight",
  ]);
  assert.ok(warnings(diagnostics).every((d) => d.message.includes(NOT_SUPPORTED)));
  assert.equal(warnings(diagnostics)[0].line, 10);
  assert.equal(warnings(diagnostics)[1].line, 13);
  assert.equal(warnings(diagnostics)[2].line, 14);
  const gw = resources[2] as Gateway;
  assert.equal(gw.spec.servers[0].port.protocol, "HTTPS", "protocols are upper-cased");
});

Deno.test("multiple documents, defaults and source lines", () => {
  const text = [
    "# routing for reviews", // 1
    "apiVersion: networking.istio.io/v1beta1", // 2
    "kind: VirtualService",
    "metadata:",
    "  name: reviews",
    "  uid: 1234",
    "  resourceVersion: '7'",
    "  labels: {app: reviews}",
    "spec:",
    "  hosts: [reviews.shop.svc.cluster.local, 10.0.0.7]",
    "  gateways: [mesh, istio-system/ingress]",
    "  http:",
    "  - route:",
    "    - destination: {host: reviews, subset: v1}",
    "      weight: 100",
    "---",
    "apiVersion: v1", // 17
    "kind: Service",
    "metadata: {name: reviews}",
    "---",
    "apiVersion: security.istio.io/v1", // 21
    "kind: AuthorizationPolicy",
    "metadata: {name: deny}",
    "spec: {action: DENY, rules: [{}]}",
    "---",
    "apiVersion: networking.istio.io/v1alpha3", // 26
    "kind: ServiceEntry",
    "metadata: {name: db, namespace: data}",
    "spec:",
    "  hosts: [db.internal]",
    "  addresses: [10.1.0.0/16, 'fd00::1']",
    "  ports: [{number: 5432, name: tcp, protocol: TCP, targetPort: 15432}]",
    "  location: MESH_INTERNAL",
    "  resolution: STATIC",
    "  endpoints:",
    "  - address: 10.1.0.5",
    "    ports: {tcp: 5433}",
    "    labels: {app: db}",
    "---",
    "",
  ].join("\n");
  const { resources, diagnostics } = parseResources(text, "multi.yaml", {
    defaultNamespace: "shop",
  });
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.deepEqual(resources.map(resourceKey), [
    "VirtualService/shop/reviews",
    "AuthorizationPolicy/shop/deny",
    "ServiceEntry/data/db",
  ]);
  const [vs, , se] = resources as [VirtualService, unknown, ServiceEntry];
  assert.equal(vs.apiVersion, "networking.istio.io/v1beta1");
  assert.equal(vs.source.line, 2);
  assert.equal(vs.metadata.uid, 1234);
  assert.deepEqual(vs.metadata.labels, { app: "reviews" });
  assert.equal(se.source.line, 26);
  assert.deepEqual(se.spec.endpoints?.[0].ports, { tcp: 5433 });
  // A ServiceEntry's single addresses are its VIPs (DNS, capture); a range isn't used yet.
  assert.deepEqual(warnings(diagnostics).map((d) => [d.kind, d.path, d.message]), [
    [
      "ServiceEntry",
      "spec.addresses[0]",
      'address ranges are not supported by mesh yet: "10.1.0.0/16" is ignored (single ' +
      "addresses are used, by DNS and transparent capture)",
    ],
  ]);
});

Deno.test("JSON input", () => {
  const json = JSON.stringify(
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "reviews" },
      spec: { host: "reviews", subsets: [{ name: "v1", labels: { version: "v1" } }] },
    },
    null,
    2,
  );
  const ok = parseResources(json, "dr.json");
  assert.deepEqual(ok.diagnostics, []);
  assert.equal((ok.resources[0] as DestinationRule).spec.subsets?.[0].labels?.version, "v1");

  const bad = json.replace('"v1",\n', '"v 1",\n');
  const [d] = parseResources(bad, "dr.json").diagnostics;
  assert.equal(d.path, "spec.subsets[0].name");
  assert.equal(d.line, 11);
});

Deno.test("kind: List is expanded", () => {
  const text = [
    "apiVersion: v1",
    "kind: List",
    "items:",
    "- apiVersion: networking.istio.io/v1", // 4
    "  kind: Gateway",
    "  metadata: {name: gw}",
    "  spec:",
    "    servers:",
    "    - port: {number: 80, name: http, protocol: HTTP}",
    "      hosts: ['*']",
    "- apiVersion: apps/v1", // 11
    "  kind: Deployment",
    "  metadata: {name: web}",
    "- apiVersion: networking.istio.io/v1", // 14
    "  kind: VirtualService",
    "  metadata: {name: vs}",
    "  spec:",
    "    hosts: [web]",
    "    http:",
    "    - route:",
    "      - destination: {host: web}",
    "        weight: -1", // 22
    "- apiVersion: v1",
    "  kind: List",
    "  items: []",
  ].join("\n");
  const { resources, diagnostics } = parseResources(text, "list.yaml");
  assert.deepEqual(resources.map(resourceKey), ["Gateway/default/gw"]);
  assert.equal(resources[0].source.line, 4);
  assert.deepEqual(
    diagnostics.map((d) => [d.line, d.path, d.name]),
    [[22, "spec.http[0].route[0].weight", "vs"], [24, "kind", undefined]],
  );
  assert.match(diagnostics[1].message, /List may not contain another List/);

  const typed = parseResources(
    JSON.stringify({
      apiVersion: "networking.istio.io/v1",
      kind: "WorkloadEntryList",
      items: [{
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: "vm" },
        spec: { address: "10.0.0.9", ports: { http: 8080 } },
      }],
    }),
    "we.json",
  );
  assert.deepEqual(typed.resources.map(resourceKey), ["WorkloadEntry/default/vm"]);
});

Deno.test("YAML syntax errors report line and column", () => {
  const text = [
    doc("Gateway", ["servers: []"]).trimEnd(), // lines 1-6
    "---", // 7
    "apiVersion: networking.istio.io/v1", // 8
    "kind: Gateway",
    "metadata:",
    "  name: gw",
    " namespace: x", // 12
    "spec: {}",
  ].join("\n");
  const { diagnostics } = parseResources(text, "syntax.yaml");
  const syntax = diagnostics.filter((d) => d.message.startsWith("invalid YAML"));
  assert.equal(syntax.length, 1, show(diagnostics));
  assert.equal(syntax[0].line, 12);
  assert.equal(syntax[0].column, 1);
  assert.equal(syntax[0].path, "");
  // The first document is still validated.
  assert.ok(diagnostics.some((d) => d.path === "spec.servers" && d.line === 6));
});

Deno.test("Istio kinds mesh doesn't read warn; Kubernetes objects are named as skipped", () => {
  const text = [
    "apiVersion: networking.istio.io/v1alpha3", // 1
    "kind: EnvoyFilter",
    "metadata: {name: lua}",
    "spec: {configPatches: []}",
    "---",
    "apiVersion: extensions.istio.io/v1alpha1", // 6
    "kind: WasmPlugin",
    "metadata: {name: auth}",
    "spec: {url: oci://example.com/auth:1}",
    "---",
    "apiVersion: v1", // 11
    "kind: ConfigMap",
    "metadata: {name: istio}",
    "data: {mesh: ''}",
    "---",
    "apiVersion: gateway.networking.k8s.io/v1", // 16
    "kind: HTTPRoute",
    "metadata: {name: r}",
    "spec: {}",
  ].join("\n");
  const { resources, diagnostics, skipped } = parseResources(text, "s.yaml");
  assert.deepEqual(resources.filter((r) => (r.kind as string) !== "HTTPRoute"), []);
  assert.deepEqual(
    diagnostics.filter((d) => d.kind !== "HTTPRoute").map((d) => [d.severity, d.line, d.kind]),
    [["warning", 1, "EnvoyFilter"], ["warning", 1, "EnvoyFilter"], ["warning", 6, "WasmPlugin"]],
  );
  // Besides mesh's note, Istio's own warning on every EnvoyFilter.
  assert.ok(
    diagnostics.every((d) =>
      d.message.includes("not supported by mesh") || d.message.startsWith("EnvoyFilter exposes")
    ),
  );
  assert.deepEqual(
    skipped.filter((s) => s.kind !== "HTTPRoute").map((s) => [s.line, s.kind]),
    [[1, "EnvoyFilter"], [6, "WasmPlugin"], [11, "ConfigMap"]],
  );
});

Deno.test("oversized documents are rejected", () => {
  const text = doc("Gateway", [
    "servers:",
    "- port: {number: 80, name: http, protocol: HTTP}",
    "  hosts: ['*']",
    `  name: "${"x".repeat(MAX_DOCUMENT_SIZE)}"`,
  ]);
  const { resources, diagnostics } = parseResources(text, "big.yaml");
  assert.deepEqual(resources, []);
  assert.equal(diagnostics.length, 1);
  assert.match(diagnostics[0].message, /split it into smaller documents/);
});

Deno.test("garbage never throws", () => {
  const inputs = [
    "",
    "---",
    "null",
    "42",
    '"just a string"',
    "[1, 2",
    "{{{{",
    "a: *undefined_alias",
    "apiVersion: 7\nkind: [x]",
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: 5\nspec: []",
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec: {http: 3}",
    "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: x}\nspec: {servers: [null]}",
    "apiVersion: v1\nkind: List\nitems: 3",
    "apiVersion: v1\nkind: List\nitems: [3, null, {kind: Gateway}]",
    "\u0000\u0001\u0002",
    "- " + "[".repeat(10_000),
  ];
  for (const text of inputs) {
    const result = parseResources(text, "g.yaml");
    assert.deepEqual(result.resources, []);
    for (const d of result.diagnostics) {
      assert.ok(d.line >= 1 && d.column >= 1, formatDiagnostic(d));
      assert.ok(d.message.length > 0);
    }
  }
});

Deno.test("validateResource accepts a decoded object", () => {
  const obj = {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "gw", namespace: "edge" },
    spec: { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
  };
  const { resources, diagnostics } = validateResource(obj, { file: "api" });
  assert.deepEqual(diagnostics, []);
  const [gw] = resources as Resource<"Gateway">[];
  assert.equal(resourceKey(gw), "Gateway/edge/gw");
  assert.deepEqual(gw.source, { file: "api", line: 1 });

  const broken = validateResource({ ...obj, spec: { servers: [] } });
  assert.equal(broken.diagnostics[0].file, "<input>");
  assert.equal(broken.diagnostics[0].path, "spec.servers");
});

Deno.test("Resource narrows on kind", () => {
  const { resources } = parseResources(doc(VS, route1), "n.yaml");
  const hosts: string[] = [];
  for (const r of resources) {
    if (r.kind === "VirtualService") hosts.push(...r.spec.hosts);
  }
  assert.deepEqual(hosts, ["reviews"]);
});

Deno.test("a second certificate on one gateway port is warned about (no SNI selection)", () => {
  const text = doc("Gateway", [
    "selector: {istio: ingressgateway}",
    "servers:",
    "- port: {number: 443, name: https-a, protocol: HTTPS}",
    "  hosts: [a.example.com]",
    "  tls: {mode: SIMPLE, credentialName: a-cert}",
    "- port: {number: 443, name: https-b, protocol: HTTPS}",
    "  hosts: [b.example.com]",
    "  tls: {mode: SIMPLE, credentialName: b-cert}",
  ]);
  const { diagnostics } = parseResources(text, "gw.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.deepEqual(warnings(diagnostics).map((d) => d.path), ["spec.servers[1].tls"]);
});
