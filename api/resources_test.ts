import assert from "node:assert/strict";
import { type Diagnostic, formatDiagnostic } from "./diagnostic.ts";
import {
  type DestinationRule,
  type Gateway,
  MAX_DOCUMENT_SIZE,
  NOT_SUPPORTED,
  parseResources,
  type Resource,
  resourceKey,
  type ServiceEntry,
  validateResource,
  type VirtualService,
} from "./resources.ts";

const SAMPLES = new URL("../../shared/istio-samples/bookinfo/", import.meta.url);

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

Deno.test("every bookinfo networking sample parses without errors", () => {
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

Deno.test("fault injection samples warn about spec.http[0].fault", () => {
  for (
    const name of [
      "fault-injection-details-v1.yaml",
      "virtual-service-ratings-test-abort.yaml",
      "virtual-service-ratings-test-delay.yaml",
    ]
  ) {
    const text = Deno.readTextFileSync(new URL(`networking/${name}`, SAMPLES));
    const { resources, diagnostics } = parseResources(text, name);
    const faults = warnings(diagnostics).filter((d) => d.path === "spec.http[0].fault");
    assert.equal(faults.length, 1, show(diagnostics));
    assert.equal(faults[0].message, NOT_SUPPORTED);
    assert.equal(faults[0].kind, "VirtualService");
    assert.ok(resources.some((r) => r.kind === "VirtualService"), "still accepted");
  }
  const text = Deno.readTextFileSync(
    new URL("networking/virtual-service-ratings-test-abort.yaml", SAMPLES),
  );
  const [fault] = parseResources(text, "abort.yaml").diagnostics;
  assert.equal(
    formatDiagnostic(fault),
    "abort.yaml:13:5: warning: VirtualService default/ratings: spec.http[0].fault: " +
      "not supported by mesh yet; ignored",
  );
});

Deno.test("Kubernetes-only platform file yields nothing", () => {
  const text = Deno.readTextFileSync(new URL("platform-kube/bookinfo.yaml", SAMPLES));
  const result = parseResources(text, "bookinfo.yaml");
  assert.deepEqual(result, { resources: [], diagnostics: [] });
});

Deno.test("bookinfo samples decode to the expected shapes", () => {
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
const route1 = ["hosts: [reviews]", "http:", "- route:", "  - destination: {host: reviews}"];

const INVALID: Case[] = [
  {
    name: "weights not summing to 100",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- route:", // 8
      "  - destination: {host: reviews, subset: v1}",
      "    weight: 60",
      "  - destination: {host: reviews, subset: v2}",
      "    weight: 30",
    ]),
    path: "spec.http[0].route",
    message: "weights sum to 90; they must sum to 100",
    line: 8,
  },
  {
    name: "several destinations without weights",
    text: doc(VS, [...route1, "  - destination: {host: ratings}"]),
    path: "spec.http[0].route",
    message: "no weights",
    line: 8,
  },
  {
    name: "weight over 100",
    text: doc(VS, [...route1, "    weight: 150"]),
    path: "spec.http[0].route[0].weight",
    message: "from 0 to 100; got 150",
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
    name: "missing hosts",
    text: doc(VS, ["http:", "- route:", "  - destination: {host: reviews}"]),
    path: "spec.hosts",
    message: 'missing required field "hosts"',
    line: 5,
  },
  {
    name: "empty hosts",
    text: doc(VS, ["hosts: []", "http:", "- route:", "  - destination: {host: reviews}"]),
    path: "spec.hosts",
    message: "at least one host",
    line: 6,
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
    name: "empty uri match",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - uri: {}",
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].uri",
    message: "empty match",
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
    name: "upper-case header name",
    text: doc(VS, [
      "hosts: [reviews]",
      "http:",
      "- match:",
      "  - headers:",
      "      End-User: {exact: jason}", // 10
      "  route:",
      "  - destination: {host: reviews}",
    ]),
    path: "spec.http[0].match[0].headers.End-User",
    message: 'header names must be lowercase; write "end-user"',
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
    message: "from 1 to 65535; got 70000",
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
    message: "can't both be set",
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
    message: "resolution STATIC needs IP addresses",
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
    message: 'invalid address "10.1.2.999"',
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
    name: "missing spec",
    text: ["apiVersion: networking.istio.io/v1", "kind: Gateway", "metadata: {name: gw}"].join(
      "\n",
    ),
    path: "spec",
    message: 'missing required field "spec"',
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
  },
];

Deno.test("invalid resources: path, message and line", async (t) => {
  assert.ok(INVALID.length >= 20);
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
  const text = doc(VS, [...route1, "    weight: 50"], "reviews").replace(
    "  name: reviews",
    "  name: reviews\n  namespace: shop",
  );
  const [d] = parseResources(text, "r.yaml").diagnostics;
  assert.equal(d.kind, "VirtualService");
  assert.equal(d.namespace, "shop");
  assert.equal(d.name, "reviews");
  assert.equal(
    formatDiagnostic(d),
    "r.yaml:9:5: error: VirtualService shop/reviews: spec.http[0].route: " +
      "weights sum to 50; they must sum to 100",
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
      "  - queryParams: {v: {exact: '1'}}", // 10
      "  route:",
      "  - destination: {host: reviews}",
      "    headers: {request: {set: {x: y}}}", // 13
      "  retries: {attempts: 3}", // 14
    ]),
    doc("DestinationRule", [
      "host: reviews",
      "trafficPolicy:",
      "  tls: {mode: SIMPLE, sni: reviews}",
      "  loadBalancer: {simple: LEAST_REQUEST}",
      "  connectionPool: {tcp: {maxConnections: 10}}",
      "subsets:",
      "- name: v1",
      "  trafficPolicy: {loadBalancer: {simple: RANDOM}}",
    ]),
    doc("Gateway", [
      "servers:",
      "- port: {number: 443, name: https, protocol: https}",
      "  hosts: [shop/reviews.example.com, '*/*.example.com', ./x]",
      "  tls: {httpsRedirect: true}",
    ]),
    doc("WorkloadEntry", ["address: vm1.example.com", "network: vpc1", "weight: 3"]),
  ].join("---\n");
  const { resources, diagnostics } = parseResources(text, "w.yaml");
  assert.deepEqual(errors(diagnostics), [], show(diagnostics));
  assert.equal(resources.length, 4);
  const paths = warnings(diagnostics).map((d) => `${d.kind} ${d.path}`);
  assert.deepEqual(paths, [
    "VirtualService spec.exportTo",
    "VirtualService spec.http[0].match[0].queryParams",
    "VirtualService spec.http[0].route[0].headers",
    "VirtualService spec.http[0].retries",
    "DestinationRule spec.trafficPolicy.tls.mode",
    "DestinationRule spec.trafficPolicy.tls.sni",
    "DestinationRule spec.trafficPolicy.loadBalancer.simple",
    "DestinationRule spec.trafficPolicy.connectionPool",
    "DestinationRule spec.subsets[0].trafficPolicy",
    "Gateway spec.servers[0].port.protocol",
    "Gateway spec.servers[0].tls",
    "WorkloadEntry spec.network",
  ]);
  assert.ok(warnings(diagnostics).every((d) => d.message.includes(NOT_SUPPORTED)));
  assert.equal(warnings(diagnostics)[0].line, 7);
  assert.equal(warnings(diagnostics)[1].line, 10);
  assert.equal(warnings(diagnostics)[3].line, 14);
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
    "spec: {action: DENY}",
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
    "ServiceEntry/data/db",
  ]);
  const [vs, se] = resources as [VirtualService, ServiceEntry];
  assert.equal(vs.apiVersion, "networking.istio.io/v1beta1");
  assert.equal(vs.source.line, 2);
  assert.equal(vs.metadata.uid, 1234);
  assert.deepEqual(vs.metadata.labels, { app: "reviews" });
  assert.equal(se.source.line, 26);
  assert.deepEqual(se.spec.endpoints?.[0].ports, { tcp: 5433 });
  // One warning: TCP is not HTTP.
  assert.deepEqual(warnings(diagnostics).map((d) => d.path), ["spec.ports[0].protocol"]);
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
    "        weight: 101", // 22
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

Deno.test("other Istio networking kinds warn; other groups are skipped silently", () => {
  const text = [
    "apiVersion: networking.istio.io/v1",
    "kind: Sidecar",
    "metadata: {name: default}",
    "spec: {egress: [{hosts: ['./*']}]}",
    "---",
    "apiVersion: telemetry.istio.io/v1",
    "kind: Telemetry",
    "metadata: {name: mesh-default}",
    "spec: {}",
  ].join("\n");
  const { resources, diagnostics } = parseResources(text, "s.yaml");
  assert.deepEqual(resources, []);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].severity, "warning");
  assert.match(diagnostics[0].message, /Sidecar resources are not supported by mesh yet/);
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
