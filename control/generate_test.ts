/**
 * Simulation tests in the spirit of Istio pilot's: Istio's own bookinfo samples go through the
 * whole config pipeline (parse → snapshot → per-proxy config → compiled runtime), then described
 * requests are routed and balanced without any I/O.
 */
import assert from "node:assert/strict";
import { parseResources, type Resource } from "../api/resources.ts";
import { formatDiagnostic } from "../api/diagnostic.ts";
import { splitHostPort } from "../api/host.ts";
import type { Endpoint, NodeInfo, ProxyConfig } from "../api/proxy_config.ts";
import { Runtime } from "../proxy/runtime.ts";
import {
  buildSnapshot,
  meshSettingsFrom,
  type RegisteredWorkload,
  type Snapshot,
} from "./snapshot.ts";
import { generateProxyConfig } from "./generate.ts";
import { NETWORKING as SAMPLES_NETWORKING, sampleTest } from "../tests/samples.ts";

/** Istio's samples ($MESH_ISTIO_SAMPLES or ../shared/istio-samples); tests reading them: sampleTest. */
const NETWORKING = new URL(`file://${SAMPLES_NETWORKING}/`);
const SERVICES_YAML = new URL("./testdata/bookinfo-services.yaml", import.meta.url);

const HOST = (name: string) => `${name}.default.svc.cluster.local`;
const CLUSTER = (name: string, subset = "") => `outbound|9080|${subset}|${HOST(name)}`;

function parseFile(url: URL): Resource[] {
  const name = url.pathname.split("/").pop()!;
  const { resources, diagnostics } = parseResources(Deno.readTextFileSync(url), name);
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  assert.ok(resources.length > 0, `${name} has no resources`);
  return resources;
}

const SERVICES = parseFile(SERVICES_YAML);

/** Inbound ports identify the workloads in these tests. */
const PORTS = {
  "productpage-v1": 15101,
  "details-v1": 15102,
  "ratings-v1": 15103,
  "reviews-v1": 15104,
  "reviews-v2": 15105,
  "reviews-v3": 15106,
} as const;
type WorkloadName = keyof typeof PORTS;

function workload(name: WorkloadName, i: number): RegisteredWorkload {
  const [app, version] = name.split("-");
  return {
    name,
    namespace: "default",
    serviceAccount: `bookinfo-${app}`,
    labels: { app, version },
    address: `127.0.0.${10 + i}`,
    inboundPort: PORTS[name],
    nodeId: `sidecar~127.0.0.${10 + i}~${name}.default`,
  };
}

const WORKLOADS = (Object.keys(PORTS) as WorkloadName[]).map(workload);

function sidecar(namespace = "default"): NodeInfo {
  return {
    id: `sidecar~127.0.0.10~productpage-v1.${namespace}`,
    mode: "sidecar",
    namespace,
    serviceAccount: "bookinfo-productpage",
    labels: { app: "productpage", version: "v1" },
    address: "127.0.0.10",
    inboundPort: 15101,
    appPort: 9080,
  };
}

function ingressGateway(labels: Record<string, string> = { istio: "ingressgateway" }): NodeInfo {
  return {
    id: "gateway~127.0.0.2~ingress.istio-system",
    mode: "gateway",
    namespace: "istio-system",
    serviceAccount: "istio-ingressgateway",
    labels,
    address: "127.0.0.2",
  };
}

function snapshotOf(
  files: string[],
  workloads: RegisteredWorkload[] = WORKLOADS,
  extra: Resource[] = [],
): Snapshot {
  return buildSnapshot({
    revision: 7,
    resources: [...SERVICES, ...files.flatMap((f) => parseFile(new URL(f, NETWORKING))), ...extra],
    workloads,
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "-----BEGIN CERTIFICATE-----\nroots\n-----END CERTIFICATE-----\n",
  });
}

function configOf(files: string[], node: NodeInfo = sidecar()): ProxyConfig {
  return generateProxyConfig(snapshotOf(files), node);
}

function runtimeOf(files: string[], node: NodeInfo = sidecar()): Runtime {
  return Runtime.compile(configOf(files, node));
}

interface Sent {
  cluster: string;
  endpoint: Endpoint | undefined;
}

/** Routes one described request through a sidecar's outbound table and its balancer. */
function send(
  rt: Runtime,
  authority: string,
  opts: { path?: string; method?: string; headers?: Record<string, string>; rand?: number } = {},
): Sent | null | undefined {
  const headers = opts.headers ?? {};
  const hit = rt.outbound.match({
    authority,
    port: splitHostPort(authority).port ?? 80,
    method: opts.method ?? "GET",
    path: opts.path ?? "/",
    header: (name) => headers[name],
  }, opts.rand ?? 0.5);
  if (!hit) return hit;
  return { cluster: hit.cluster, endpoint: rt.balancers.get(hit.cluster)?.pick() };
}

/** The workload an endpoint belongs to, by its inbound port. */
function workloadAt(ep: Endpoint | undefined): string | undefined {
  return Object.entries(PORTS).find(([, port]) => port === ep?.port)?.[0];
}

// ---------------------------------------------------------------------------------------------
// Without VirtualServices

Deno.test("sim: without a VirtualService, reviews is one cluster of all three versions", () => {
  const rt = runtimeOf([]);
  const cluster = rt.config.clusters[CLUSTER("reviews")];
  assert.ok(cluster);
  assert.equal(cluster.lb, "ROUND_ROBIN");
  assert.deepEqual(cluster.endpoints.map(workloadAt).sort(), [
    "reviews-v1",
    "reviews-v2",
    "reviews-v3",
  ]);
  const seen = new Set<string | undefined>();
  for (let i = 0; i < 3; i++) {
    const sent = send(rt, "reviews:9080");
    assert.equal(sent?.cluster, CLUSTER("reviews"));
    seen.add(workloadAt(sent.endpoint));
  }
  // Round robin visits each once per round.
  assert.deepEqual([...seen].sort(), ["reviews-v1", "reviews-v2", "reviews-v3"]);
});

Deno.test("sim: without a VirtualService, each service routes to its default cluster", () => {
  const rt = runtimeOf([]);
  for (const name of ["productpage", "details", "ratings"] as const) {
    const sent = send(rt, `${name}:9080`, { path: "/anything?x=1", method: "POST" });
    assert.equal(sent?.cluster, CLUSTER(name));
    assert.equal(workloadAt(sent.endpoint), `${name}-v1`);
  }
});

sampleTest(
  "sim: auto-registered endpoints are mTLS to the inbound port with a SPIFFE identity",
  () => {
    const cfg = configOf(["destination-rule-all.yaml"]);
    for (const w of WORKLOADS) {
      const app = w.labels.app;
      const eps = cfg.clusters[CLUSTER(app)].endpoints.filter((e) => e.port === w.inboundPort);
      assert.equal(eps.length, 1, w.name);
      assert.deepEqual(eps[0], {
        address: w.address,
        port: w.inboundPort,
        mtls: true,
        sidecar: true,
        identity: `spiffe://cluster.local/ns/default/sa/bookinfo-${app}`,
        labels: { app, version: w.labels.version },
      });
    }
  },
);

Deno.test("sim: PeerAuthentication DISABLE (auto mTLS) and DestinationRule tls decide plaintext or mTLS", () => {
  const extra = inline(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ratings, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  mtls: {mode: DISABLE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: default}
spec:
  host: details
  trafficPolicy: {tls: {mode: DISABLE}}
`);
  const snap = snapshotOf([], WORKLOADS, extra);
  const cfg = generateProxyConfig(snap, sidecar());
  const only = (app: string) => cfg.clusters[CLUSTER(app)].endpoints[0];
  // Still the sidecar's inbound port, in plaintext, with no identity to check.
  const r = only("ratings");
  assert.deepEqual([r.port, r.mtls, r.sidecar, r.identity], [
    PORTS["ratings-v1"],
    false,
    true,
    undefined,
  ]);
  const d = only("details");
  assert.deepEqual([d.port, d.mtls, d.sidecar], [PORTS["details-v1"], false, true]);
  assert.equal(only("reviews").mtls, true);
  // Each proxy learns its own inbound mode.
  assert.equal(cfg.inboundMtls, "STRICT");
  const ratingsNode = { ...sidecar(), labels: { app: "ratings", version: "v1" } };
  assert.equal(generateProxyConfig(snap, ratingsNode).inboundMtls, "DISABLE");
  assert.equal(generateProxyConfig(snap, { ...sidecar(), mode: "gateway" }).inboundMtls, undefined);
});

Deno.test("sim: the sidecar config carries the snapshot's settings and no listeners", () => {
  const cfg = configOf([]);
  assert.equal(cfg.version, "7");
  assert.equal(cfg.trustDomain, "cluster.local");
  assert.match(cfg.roots, /BEGIN CERTIFICATE/);
  assert.equal(cfg.outboundTrafficPolicy, "ALLOW_ANY");
  assert.deepEqual(cfg.listeners, []);
  assert.deepEqual(cfg.virtualHosts.map((v) => v.name).sort(), [
    `${HOST("details")}:9080`,
    `${HOST("productpage")}:9080`,
    `${HOST("ratings")}:9080`,
    `${HOST("reviews")}:9080`,
  ]);
  const reviews = cfg.virtualHosts.find((v) => v.name === `${HOST("reviews")}:9080`)!;
  assert.deepEqual(reviews.domains, [
    "reviews.default.svc.cluster.local:9080",
    "reviews.default.svc:9080",
    "reviews.default:9080",
    "reviews:9080",
  ]);
});

sampleTest("sim: generation is deterministic", () => {
  const files = ["destination-rule-all.yaml", "virtual-service-reviews-80-20.yaml"];
  assert.deepEqual(configOf(files), configOf(files));
  // Workload registration order doesn't matter either.
  const a = generateProxyConfig(snapshotOf(files, WORKLOADS), sidecar());
  const b = generateProxyConfig(snapshotOf(files, [...WORKLOADS].reverse()), sidecar());
  assert.deepEqual(a, b);
});

// ---------------------------------------------------------------------------------------------
// Names a client may use

sampleTest("sim: short, namespaced and full names all route from the same namespace", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-all-v1.yaml"]);
  for (
    const authority of [
      "reviews:9080",
      "reviews.default:9080",
      "reviews.default.svc:9080",
      "reviews.default.svc.cluster.local:9080",
      "REVIEWS.Default:9080",
    ]
  ) {
    const sent = send(rt, authority);
    assert.equal(sent?.cluster, CLUSTER("reviews", "v1"), authority);
    assert.equal(workloadAt(sent.endpoint), "reviews-v1", authority);
  }
});

Deno.test("sim: a name without the service port has no virtual host", () => {
  const rt = runtimeOf([]);
  assert.equal(send(rt, "reviews"), undefined); // port 80
  assert.equal(send(rt, "reviews:9081"), undefined);
  assert.equal(send(rt, "www.example.com"), undefined);
});

sampleTest("sim: a client in another namespace can't use the bare name", () => {
  const rt = runtimeOf(
    ["destination-rule-all.yaml", "virtual-service-all-v1.yaml"],
    sidecar("other"),
  );
  assert.equal(send(rt, "reviews:9080"), undefined);
  for (
    const authority of [
      "reviews.default:9080",
      "reviews.default.svc:9080",
      "reviews.default.svc.cluster.local:9080",
    ]
  ) {
    const sent = send(rt, authority);
    assert.equal(sent?.cluster, CLUSTER("reviews", "v1"), authority);
    assert.equal(workloadAt(sent.endpoint), "reviews-v1", authority);
  }
});

// ---------------------------------------------------------------------------------------------
// Istio's traffic-management tasks

sampleTest("sim: destination-rule-all + virtual-service-all-v1 send every request to v1", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-all-v1.yaml"]);
  const users = [undefined, "jason", "alice"];
  for (const [i, user] of users.entries()) {
    for (const rand of [0, 0.49, 0.5, 0.99]) {
      const sent = send(rt, "reviews:9080", {
        path: `/reviews/${i}`,
        headers: user ? { "end-user": user } : {},
        rand,
      });
      assert.equal(sent?.cluster, CLUSTER("reviews", "v1"));
      assert.equal(workloadAt(sent.endpoint), "reviews-v1");
    }
  }
  for (const name of ["productpage", "details", "ratings"]) {
    const sent = send(rt, `${name}:9080`);
    assert.equal(sent?.cluster, CLUSTER(name, "v1"));
    assert.equal(workloadAt(sent.endpoint), `${name}-v1`);
  }
});

sampleTest("sim: destination-rule-all makes one cluster per subset, selected by labels", () => {
  const cfg = configOf(["destination-rule-all.yaml"]);
  for (const v of ["v1", "v2", "v3"]) {
    const c = cfg.clusters[CLUSTER("reviews", v)];
    assert.equal(c.subset, v);
    assert.equal(c.host, HOST("reviews"));
    assert.equal(c.port, 9080);
    assert.deepEqual(c.endpoints.map(workloadAt), [`reviews-${v}`]);
  }
  // Subsets with no workloads are clusters without endpoints.
  for (const [name, subset] of [["ratings", "v2"], ["ratings", "v2-mysql"], ["details", "v2"]]) {
    assert.deepEqual(cfg.clusters[CLUSTER(name, subset)].endpoints, [], `${name} ${subset}`);
  }
});

sampleTest("sim: a route to a subset without endpoints finds no upstream", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-details-v2.yaml"]);
  const sent = send(rt, "details:9080");
  assert.equal(sent?.cluster, CLUSTER("details", "v2"));
  assert.equal(sent.endpoint, undefined);
});

sampleTest("sim: reviews-test-v2 sends jason to v2 and everyone else to v1", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-reviews-test-v2.yaml"]);
  for (let i = 0; i < 5; i++) {
    const jason = send(rt, "reviews:9080", { headers: { "end-user": "jason" }, rand: i / 5 });
    assert.equal(jason?.cluster, CLUSTER("reviews", "v2"));
    assert.equal(workloadAt(jason.endpoint), "reviews-v2");
  }
  const others: Record<string, string>[] = [
    {},
    { "end-user": "alice" },
    { "end-user": "Jason" },
    { "x-user": "jason" },
  ];
  for (const headers of others) {
    const other = send(rt, "reviews:9080", { headers });
    assert.equal(other?.cluster, CLUSTER("reviews", "v1"), JSON.stringify(headers));
    assert.equal(workloadAt(other.endpoint), "reviews-v1");
  }
  // Only reviews is affected.
  assert.equal(
    send(rt, "ratings:9080", { headers: { "end-user": "jason" } })?.cluster,
    CLUSTER("ratings"),
  );
});

sampleTest("sim: reviews-jason-v2-v3 sends jason to v2 and everyone else to v3", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-reviews-jason-v2-v3.yaml"]);
  assert.equal(
    workloadAt(send(rt, "reviews:9080", { headers: { "end-user": "jason" } })?.endpoint),
    "reviews-v2",
  );
  assert.equal(workloadAt(send(rt, "reviews:9080")?.endpoint), "reviews-v3");
});

sampleTest("sim: reviews-80-20 splits by weight: rand 0.1 → v1, 0.9 → v2", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-reviews-80-20.yaml"]);
  const at = (rand: number) => send(rt, "reviews:9080", { rand });
  assert.equal(at(0.1)?.cluster, CLUSTER("reviews", "v1"));
  assert.equal(workloadAt(at(0.1)?.endpoint), "reviews-v1");
  assert.equal(at(0.9)?.cluster, CLUSTER("reviews", "v2"));
  assert.equal(workloadAt(at(0.9)?.endpoint), "reviews-v2");
  // The boundary sits at 80%.
  assert.equal(at(0)?.cluster, CLUSTER("reviews", "v1"));
  assert.equal(at(0.79)?.cluster, CLUSTER("reviews", "v1"));
  assert.equal(at(0.8)?.cluster, CLUSTER("reviews", "v2"));
  assert.equal(at(0.99)?.cluster, CLUSTER("reviews", "v2"));
  const counts: Record<string, number> = {};
  for (let i = 0; i < 100; i++) {
    const c = at(i / 100)!.cluster;
    counts[c] = (counts[c] ?? 0) + 1;
  }
  assert.deepEqual(counts, { [CLUSTER("reviews", "v1")]: 80, [CLUSTER("reviews", "v2")]: 20 });
});

sampleTest("sim: reviews-50-v3 splits evenly between v1 and v3", () => {
  const rt = runtimeOf(["destination-rule-all.yaml", "virtual-service-reviews-50-v3.yaml"]);
  assert.equal(send(rt, "reviews:9080", { rand: 0.49 })?.cluster, CLUSTER("reviews", "v1"));
  assert.equal(send(rt, "reviews:9080", { rand: 0.5 })?.cluster, CLUSTER("reviews", "v3"));
});

sampleTest("sim: the route's weights reach the pushed config", () => {
  const cfg = configOf(["destination-rule-all.yaml", "virtual-service-reviews-80-20.yaml"]);
  const vh = cfg.virtualHosts.find((v) => v.name === `${HOST("reviews")}:9080`)!;
  assert.equal(vh.routes.length, 1);
  assert.equal(vh.routes[0].source, "default/reviews");
  assert.deepEqual(vh.routes[0].match, []);
  assert.deepEqual(vh.routes[0].destinations, [
    { cluster: CLUSTER("reviews", "v1"), weight: 80 },
    { cluster: CLUSTER("reviews", "v2"), weight: 20 },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Ingress gateway

sampleTest("sim: bookinfo-gateway gives the ingress gateway a listener on 8080", () => {
  const rt = runtimeOf(["bookinfo-gateway.yaml"], ingressGateway());
  assert.deepEqual(rt.config.virtualHosts, []);
  assert.deepEqual(rt.config.listeners.map((l) => [l.name, l.port, l.protocol]), [
    ["default/bookinfo-gateway", 8080, "HTTP"],
  ]);
  const table = rt.gateway.get(8080);
  assert.ok(table);
  const route = (path: string, authority = "bookinfo.example.com:8080") =>
    table.match({ authority, port: 8080, method: "GET", path, header: () => undefined }, 0.5);
  for (
    const path of [
      "/productpage",
      "/productpage?u=normal",
      "/static/x",
      "/static",
      "/login",
      "/logout",
      "/api/v1/products",
      "/api/v1/products/0/reviews",
    ]
  ) {
    const hit = route(path);
    assert.equal(hit?.cluster, CLUSTER("productpage"), path);
    const ep = rt.balancers.get(hit.cluster)?.pick();
    assert.equal(workloadAt(ep), "productpage-v1", path);
  }
  for (const path of ["/other", "/", "/productpage/x", "/login/x"]) {
    assert.equal(route(path), null, path);
  }
  // The gateway's host is "*": any authority is taken.
  assert.equal(route("/productpage", "10.0.0.1")?.cluster, CLUSTER("productpage"));
});

sampleTest("sim: a gateway whose labels the selector doesn't match gets no listener", () => {
  const cfg = configOf(["bookinfo-gateway.yaml"], ingressGateway({ istio: "egressgateway" }));
  assert.deepEqual(cfg.listeners, []);
  assert.deepEqual(cfg.virtualHosts, []);
});

sampleTest("sim: a VirtualService bound to a gateway doesn't route sidecar traffic", () => {
  const rt = runtimeOf(["bookinfo-gateway.yaml"]);
  assert.deepEqual(rt.config.listeners, []);
  assert.equal(rt.gateway.size, 0);
  // The sidecar keeps the default route; the gateway's "/productpage only" rules don't apply.
  assert.equal(send(rt, "productpage:9080", { path: "/other" })?.cluster, CLUSTER("productpage"));
  assert.equal(send(rt, "anything.example.com:8080"), undefined);
});

sampleTest("sim: gateway and mesh rules together", () => {
  const files = [
    "bookinfo-gateway.yaml",
    "destination-rule-all.yaml",
    "virtual-service-all-v1.yaml",
  ];
  const gw = runtimeOf(files, ingressGateway());
  const hit = gw.gateway.get(8080)!.match(
    { authority: "x", port: 8080, method: "GET", path: "/productpage", header: () => undefined },
  );
  // The gateway's VirtualService names no subset: the whole productpage service.
  assert.equal(hit?.cluster, CLUSTER("productpage"));
  const sc = runtimeOf(files);
  assert.equal(send(sc, "productpage:9080")?.cluster, CLUSTER("productpage", "v1"));
});

// ---------------------------------------------------------------------------------------------
// Gateway server hosts and VirtualService namespaces

function inline(text: string): Resource[] {
  const { resources, diagnostics } = parseResources(text, "inline.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  return resources;
}

/**
 * A Gateway `default/gw` on port 8080 exposing `hosts`, and for each of `vsNamespaces` a
 * VirtualService of that namespace bound to it, routing `/<namespace>` somewhere.
 */
function gatewayScenario(hosts: string[], vsNamespaces: string[], vsHost = "*"): Resource[] {
  const gw = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ${JSON.stringify(hosts)}
`;
  const vsOf = (ns: string) =>
    `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: from-${ns}
  namespace: ${ns}
spec:
  hosts: [${JSON.stringify(vsHost)}]
  gateways: [default/gw]
  http:
  - match: [{uri: {prefix: /${ns}}}]
    route:
    - destination:
        host: ${ns === "default" ? "productpage" : "reviews.default.svc.cluster.local"}
        port: {number: 9080}
`;
  return inline(gw + vsNamespaces.map(vsOf).join(""));
}

/** The cluster the ingress gateway routes `path` on `authority` to. */
function viaGateway(resources: Resource[], path: string, authority = "bookinfo.example.com") {
  const snapshot = snapshotOf([], WORKLOADS, resources);
  const rt = Runtime.compile(generateProxyConfig(snapshot, ingressGateway()));
  const table = rt.gateway.get(8080);
  if (!table) return "no listener";
  const hit = table.match({ authority, port: 8080, method: "GET", path, header: () => undefined });
  return hit ? hit.cluster : hit;
}

Deno.test("sim: gateway server hosts '*/*' and '*' admit VirtualServices from any namespace", () => {
  for (const hosts of [["*"], ["*/*"]]) {
    const r = gatewayScenario(hosts, ["default", "other"]);
    assert.equal(viaGateway(r, "/default/x"), CLUSTER("productpage"), hosts[0]);
    assert.equal(viaGateway(r, "/other/x"), CLUSTER("reviews"), hosts[0]);
    assert.equal(viaGateway(r, "/else"), null, hosts[0]);
  }
});

Deno.test("sim: gateway server host 'ns/*' admits only VirtualServices of that namespace", () => {
  const r = gatewayScenario(["other/*"], ["default", "other"]);
  assert.equal(viaGateway(r, "/default/x"), null);
  assert.equal(viaGateway(r, "/other/x"), CLUSTER("reviews"));
});

Deno.test("sim: a gateway server host admits only the VirtualService hosts it matches", () => {
  const r = gatewayScenario(["*.example.com"], ["default"], "bookinfo.example.com");
  assert.equal(viaGateway(r, "/default/x", "bookinfo.example.com"), CLUSTER("productpage"));
  assert.equal(viaGateway(r, "/default/x", "bookinfo.example.com:8080"), CLUSTER("productpage"));
  // The virtual host is the VirtualService's host: other names get no virtual host.
  assert.equal(viaGateway(r, "/default/x", "other.example.com"), undefined);
  // A VirtualService host the server doesn't expose gets no route at all.
  const none = gatewayScenario(["*.example.org"], ["default"], "bookinfo.example.com");
  assert.equal(viaGateway(none, "/default/x"), undefined);
});

// Regression test (was a bug, now fixed): control/gateways.ts serverHostFor (line 26) takes a server host's "./" prefix as "any
// namespace", but in Istio "." is the Gateway's own namespace (Istio rewrites "./host" to
// "<gateway ns>/host" when merging gateways). With Gateway default/gw exposing "./*", a
// VirtualService in namespace "other" bound to default/gw gets its routes on the gateway:
// "/other/x" routes to outbound|9080||reviews.default.svc.cluster.local instead of null.
Deno.test({
  name: "sim: gateway server host './*' admits only VirtualServices of the Gateway's namespace",
  fn() {
    const r = gatewayScenario(["./*"], ["default", "other"]);
    assert.equal(viaGateway(r, "/default/x"), CLUSTER("productpage"));
    assert.equal(viaGateway(r, "/other/x"), null);
  },
});

Deno.test("a MeshConfig in the config sets the outbound traffic policy and root namespace", async () => {
  const { meshSettingsFrom } = await import("./snapshot.ts");
  const { parseResources } = await import("../api/resources.ts");
  const { resources } = parseResources(
    `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  trustDomain: example.org
  rootNamespace: mesh-root
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`,
    "mesh.yaml",
  );
  const wanted: string[] = [];
  const s = meshSettingsFrom(
    { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    resources,
    (td) => wanted.push(td),
  );
  assert.equal(s.outboundTrafficPolicy, "REGISTRY_ONLY");
  assert.equal(s.rootNamespace, "mesh-root");
  assert.equal(s.trustDomain, "cluster.local", "the running trust domain stays");
  assert.deepEqual(wanted, ["example.org"]);
});

// ---------------------------------------------------------------------------------------------
// Timeouts and fault injection

sampleTest("sim: Istio's fault-injection samples reach the route jason's requests take", () => {
  const rt = Runtime.compile(
    configOf(["virtual-service-ratings-test-delay.yaml"]),
  );
  const route = (headers: Record<string, string>) =>
    rt.outbound.match({
      authority: "ratings:9080",
      port: 9080,
      method: "GET",
      path: "/ratings/0",
      header: (name) => headers[name],
    }, 0.5)?.route;
  assert.deepEqual(route({ "end-user": "jason" })?.fault, { delay: { ms: 7000, percent: 100 } });
  assert.equal(route({})?.fault, undefined);

  const abort = configOf(["virtual-service-ratings-test-abort.yaml"]);
  const vh = abort.virtualHosts.find((v) => v.name === "ratings.default.svc.cluster.local:9080");
  assert.deepEqual(vh?.routes[0].fault, { abort: { status: 500, percent: 100 } });
});

Deno.test("sim: timeout in ms; the legacy integer percent; no percentage means 0%", () => {
  const [vs] = parseResources(
    `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - match: [{uri: {prefix: /a}}]
    timeout: 1.5s
    fault: {delay: {fixedDelay: 250ms, percent: 30}}
    route: [{destination: {host: details}}]
  - fault: {abort: {httpStatus: 503}}
    route: [{destination: {host: details}}]
`,
    "details.yaml",
  ).resources;
  const cfg = generateProxyConfig(snapshotOf([], WORKLOADS, [vs]), sidecar());
  const [a, rest] = cfg.virtualHosts.find((v) => v.name === `${HOST("details")}:9080`)!.routes;
  assert.equal(a.timeoutMs, 1500);
  assert.deepEqual(a.fault, { delay: { ms: 250, percent: 30 } });
  assert.equal(rest.timeoutMs, undefined, "no timeout unless set, as in Istio");
  assert.deepEqual(rest.fault, { abort: { status: 503, percent: 0 } });
});

Deno.test("sim: Istio's default retry policy on every route; VirtualService retries resolved", () => {
  const plain = configOf([]);
  const details = plain.virtualHosts.find((v) => v.name === `${HOST("details")}:9080`)!;
  assert.deepEqual(details.routes[0].retries, {
    attempts: 2,
    retryOn: [
      "connect-failure",
      "refused-stream",
      "unavailable",
      "cancelled",
      "retriable-status-codes",
    ],
    retriableStatusCodes: [503],
  });
  const [vs] = parseResources(
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - match: [{uri: {prefix: /a}}]
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,429", backoff: 50ms}
    route: [{destination: {host: details}}]
  - match: [{uri: {prefix: /b}}]
    retries: {attempts: 0}
    route: [{destination: {host: details}}]
  - retries: {attempts: 1, retryIgnorePreviousHosts: false}
    route: [{destination: {host: details}}]
`,
    "details.yaml",
  ).resources;
  const cfg = generateProxyConfig(snapshotOf([], WORKLOADS, [vs]), sidecar());
  const routes = cfg.virtualHosts.find((v) => v.name === `${HOST("details")}:9080`)!.routes;
  assert.deepEqual(routes[0].retries, {
    attempts: 3,
    retryOn: ["gateway-error", "retriable-status-codes"],
    retriableStatusCodes: [429],
    perTryTimeoutMs: 2000,
    backoffMs: 50,
  });
  assert.deepEqual(routes[1].retries, { attempts: 0, retryOn: [] });
  assert.equal(routes[2].retries?.attempts, 1);
  assert.equal(routes[2].retries?.ignorePreviousHosts, false);
});

sampleTest("sim: sourceLabels, sourceNamespace and match gateways are decided per proxy", () => {
  const [vs] = parseResources(
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  gateways: [mesh, bookinfo-gateway]
  http:
  - match: [{sourceLabels: {app: productpage}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{sourceNamespace: other}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{gateways: [bookinfo-gateway], uri: {prefix: /}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`,
    "reviews.yaml",
  ).resources;
  const routesFor = (node: NodeInfo) =>
    generateProxyConfig(snapshotOf(["destination-rule-all.yaml"], WORKLOADS, [vs]), node)
      .virtualHosts.find((v) => v.name === `${HOST("reviews")}:9080`)!.routes.map((r) =>
        r.destinations[0].cluster.split("|")[2]
      );
  assert.deepEqual(routesFor({ ...sidecar(), labels: { app: "productpage" } }), ["v2", "v1"]);
  assert.deepEqual(routesFor({ ...sidecar(), labels: { app: "ratings" } }), ["v1"]);
  assert.deepEqual(routesFor({ ...sidecar("other"), labels: {} }), ["v3", "v1"]);
  // On the ingress gateway, only the match bound to bookinfo-gateway and the catch-all apply.
  const gw = generateProxyConfig(
    snapshotOf(["bookinfo-gateway.yaml", "destination-rule-all.yaml"], WORKLOADS, [vs]),
    ingressGateway(),
  );
  const vh = gw.listeners.flatMap((l) => l.virtualHosts).find((v) => v.name === "reviews")!;
  assert.deepEqual(vh.routes.map((r) => r.destinations[0].cluster.split("|")[2]), ["v3", "v1"]);
});

Deno.test("sim: DestinationRule connectionPool and outlierDetection reach every cluster of the host", () => {
  const [dr] = parseResources(
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 100}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 2}
    outlierDetection: {consecutive5xxErrors: 7, baseEjectionTime: 15s}
  subsets:
  - {name: v1, labels: {version: v1}}
`,
    "reviews-dr.yaml",
  ).resources;
  const cfg = generateProxyConfig(snapshotOf([], WORKLOADS, [dr]), sidecar());
  for (const name of [CLUSTER("reviews"), CLUSTER("reviews", "v1")]) {
    assert.deepEqual(cfg.clusters[name].limits, {
      maxConnections: 100,
      maxPendingRequests: 10,
      maxRequests: 1000,
      maxRequestsPerConnection: 2,
    });
    assert.deepEqual(cfg.clusters[name].outlier, {
      consecutive5xx: 7,
      consecutiveGatewayErrors: 0,
      baseEjectionMs: 15_000,
      maxEjectionPercent: 10,
    });
  }
  assert.equal(cfg.clusters[CLUSTER("details")].limits, undefined);
});

Deno.test("sim: portLevelSettings and subset trafficPolicy merge as in Istio", () => {
  const [dr] = inline(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool: {tcp: {maxConnections: 100}}
    portLevelSettings:
    - port: {number: 9080}
      outlierDetection: {consecutive5xxErrors: 3}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: LEAST_REQUEST}
      tls: {mode: DISABLE}
  - name: v3
    labels: {version: v3}
    trafficPolicy:
      connectionPool: {tcp: {maxConnections: 5}}
      portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: ROUND_ROBIN}
`);
  const cfg = generateProxyConfig(snapshotOf([], WORKLOADS, [dr]), sidecar());
  // The port's entry replaces the whole policy: no RANDOM, no connection limit, its outliers.
  const main = cfg.clusters[CLUSTER("reviews")];
  assert.equal(main.lb, "ROUND_ROBIN");
  assert.equal(main.limits, undefined);
  assert.equal(main.outlier?.consecutive5xx, 3);
  assert.deepEqual(cfg.clusters[CLUSTER("reviews", "v1")].outlier, main.outlier);
  // A subset's parts override the merged top-level policy; its TLS mode picks plaintext.
  const v2 = cfg.clusters[CLUSTER("reviews", "v2")];
  assert.equal(v2.lb, "LEAST_REQUEST");
  assert.equal(v2.outlier?.consecutive5xx, 3);
  assert.deepEqual(v2.endpoints.map((e) => e.mtls), [false]);
  assert.deepEqual(cfg.clusters[CLUSTER("reviews", "v1")].endpoints.map((e) => e.mtls), [true]);
  // A subset's own port entry replaces everything again.
  const v3 = cfg.clusters[CLUSTER("reviews", "v3")];
  assert.equal(v3.lb, "ROUND_ROBIN");
  assert.equal(v3.limits, undefined);
  assert.equal(v3.outlier, undefined);
});

Deno.test("sim: exportTo hides VirtualServices, DestinationRules and ServiceEntries; the client's own rule first", () => {
  const extra = inline(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-private, namespace: default}
spec:
  hosts: [reviews]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews, subset: v3}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: hidden, namespace: default}
spec:
  hosts: [hidden.example.com]
  exportTo: ["."]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings-random, namespace: default}
spec:
  host: ratings.default.svc.cluster.local
  exportTo: ["."]
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings-least, namespace: web}
spec:
  host: ratings.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
`);
  const snap = snapshotOf([], WORKLOADS, extra);
  const inDefault = generateProxyConfig(snap, sidecar("default"));
  const inWeb = generateProxyConfig(snap, sidecar("web"));
  const names = (c: ProxyConfig) => c.virtualHosts.map((v) => v.name);
  // The VirtualService routes default's clients only; web's get the plain service.
  const reviewsIn = (c: ProxyConfig) =>
    c.virtualHosts.find((v) => v.name === `${HOST("reviews")}:9080`)!.routes[0].destinations[0]
      .cluster;
  assert.equal(reviewsIn(inDefault), CLUSTER("reviews", "v3"));
  assert.equal(reviewsIn(inWeb), CLUSTER("reviews"));
  // The ServiceEntry exists for default only.
  assert.ok(names(inDefault).includes("hidden.example.com:80"));
  assert.ok(!names(inWeb).includes("hidden.example.com:80"));
  // DestinationRules: each client namespace gets its own rule first (web's), or the one
  // exported to it (default's is private to default).
  assert.equal(inDefault.clusters[CLUSTER("ratings")].lb, "RANDOM");
  assert.equal(inWeb.clusters[CLUSTER("ratings")].lb, "LEAST_REQUEST");
  // A third namespace: web's rule is off its lookup path (its own, the service's, the root's),
  // and default's is private: no rule.
  assert.equal(
    generateProxyConfig(snap, sidecar("other")).clusters[CLUSTER("ratings")].lb,
    "ROUND_ROBIN",
  );
});

Deno.test("sim: a Sidecar's catch-all egress hosts scope the outbound listener; its outboundTrafficPolicy wins", () => {
  const extra = inline(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: default}
spec:
  workloadSelector: {labels: {app: productpage}}
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
  egress:
  - hosts: ["./reviews.default.svc.cluster.local", "./details.default.svc.cluster.local"]
`);
  const snap = snapshotOf([], WORKLOADS, extra);
  const pp = generateProxyConfig(snap, sidecar());
  assert.deepEqual(pp.virtualHosts.map((v) => v.name).sort(), [
    `${HOST("details")}:9080`,
    `${HOST("reviews")}:9080`,
  ]);
  assert.equal(pp.outboundTrafficPolicy, "REGISTRY_ONLY");
  // Another workload isn't selected: every service, the mesh's policy.
  const other = generateProxyConfig(snap, { ...sidecar(), labels: { app: "reviews" } });
  assert.ok(other.virtualHosts.some((v) => v.name === `${HOST("ratings")}:9080`));
  assert.equal(other.outboundTrafficPolicy, "ALLOW_ANY");
});

Deno.test("sim: MeshConfig defaultHttpRetryPolicy and defaultTrafficPolicy fill in what rules leave unset", () => {
  const resources = [
    ...SERVICES,
    ...inline(`apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  defaultHttpRetryPolicy: {attempts: 5, retryOn: "5xx,connect-failure"}
  defaultTrafficPolicy:
    connectionPool: {tcp: {maxConnections: 50}}
    outlierDetection: {consecutive5xxErrors: 4}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}
`),
  ];
  const snap = buildSnapshot({
    revision: 1,
    resources,
    workloads: WORKLOADS,
    mesh: meshSettingsFrom(
      { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
      resources,
    ),
    roots: "",
  });
  const cfg = generateProxyConfig(snap, sidecar());
  const ratings = cfg.virtualHosts.find((v) => v.name === `${HOST("ratings")}:9080`)!;
  assert.equal(ratings.routes[0].retries?.attempts, 5);
  assert.deepEqual(ratings.routes[0].retries?.retryOn, ["5xx", "connect-failure"]);
  // The rule's own connectionPool wins; its outlierDetection comes from the mesh.
  assert.equal(cfg.clusters[CLUSTER("reviews")].limits?.maxConnections, 7);
  assert.equal(cfg.clusters[CLUSTER("reviews")].outlier?.consecutive5xx, 4);
  assert.equal(cfg.clusters[CLUSTER("details")].limits?.maxConnections, 50);
});

sampleTest(
  "sim: VirtualService delegation merges the delegate's routes into the root's place",
  () => {
    const extra = inline(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-root, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /reviews}}]
    delegate: {name: reviews-team, namespace: team}
    timeout: 3s
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-team, namespace: team}
spec:
  http:
  - match: [{uri: {prefix: /reviews/v3}, headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews.default.svc.cluster.local, subset: v3}}]
  - match: [{uri: {prefix: /ratings}}]
    route: [{destination: {host: ratings.default.svc.cluster.local}}]
  - route: [{destination: {host: reviews.default.svc.cluster.local, subset: v2}}]
`);
    const rt = Runtime.compile(
      generateProxyConfig(snapshotOf(["destination-rule-all.yaml"], WORKLOADS, extra), sidecar()),
    );
    const at = (path: string, headers: Record<string, string> = {}) =>
      send(rt, "reviews:9080", { path, headers })?.cluster;
    assert.equal(at("/reviews/v3/1", { "end-user": "jason" }), CLUSTER("reviews", "v3"));
    // Inside the root's /reviews prefix, the delegate's catch-all.
    assert.equal(at("/reviews/v3/1"), CLUSTER("reviews", "v2"));
    assert.equal(at("/reviews/1"), CLUSTER("reviews", "v2"));
    // The delegate's /ratings route conflicts with the root's /reviews: left out. The root's
    // next route serves the rest.
    assert.equal(at("/ratings/1"), CLUSTER("reviews", "v1"));
    assert.equal(at("/"), CLUSTER("reviews", "v1"));
    // The root route's timeout applies to the delegate's routes that set none.
    const vh = rt.config.virtualHosts.find((v) => v.name === `${HOST("reviews")}:9080`)!;
    assert.deepEqual(vh.routes.map((r) => r.timeoutMs), [3000, 3000, undefined]);
  },
);

Deno.test("sim: an HTTP egress port routes to the services its hosts admit", () => {
  const extra = inline(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: default}
spec:
  workloadSelector: {labels: {app: productpage}}
  egress:
  - port: {number: 19080, protocol: HTTP, name: http}
    hosts: ["./ratings.default.svc.cluster.local"]
`);
  const cfg = generateProxyConfig(snapshotOf([], WORKLOADS, extra), sidecar());
  const l = cfg.egressListeners?.find((e) => e.port === 19080);
  assert.deepEqual(l?.virtualHosts?.map((v) => v.name), [`${HOST("ratings")}:9080`]);
  // The outbound listener itself isn't narrowed by a port's hosts.
  assert.ok(cfg.virtualHosts.length > 1);
  const rt = Runtime.compile(cfg);
  assert.equal(
    rt.egress.get(19080)?.match({
      method: "GET",
      path: "/",
      authority: "reviews:9080",
      port: 9080,
      header: () => undefined,
    }),
    undefined,
  );
});

Deno.test("sim: AuthorizationPolicies reach the workloads they select, root namespace first", () => {
  const policies = parseResources(
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/bookinfo-productpage]}}]
    to: [{operation: {methods: [GET]}}]
  - from: [{source: {requestPrincipals: ["*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-ns, namespace: other}
spec: {}
`,
    "authz.yaml",
  ).resources;
  const names = (labels: Record<string, string>) =>
    generateProxyConfig(snapshotOf([], WORKLOADS, policies), { ...sidecar(), labels }).authz
      ?.map((p) => p.name);
  assert.deepEqual(names({ app: "reviews" }), [
    "default/reviews-viewer",
    "istio-system/deny-admin",
  ]);
  assert.deepEqual(names({ app: "ratings" }), ["istio-system/deny-admin"]);
  const reviews = generateProxyConfig(snapshotOf([], WORKLOADS, policies), {
    ...sidecar(),
    labels: { app: "reviews" },
  }).authz!.find((p) => p.name === "default/reviews-viewer")!;
  // Both rules reach the proxy, the JWT one with its request principals.
  assert.equal(reviews.rules.length, 2);
  assert.deepEqual(reviews.rules[0].to, [{ methods: ["GET"] }]);
  assert.deepEqual(reviews.rules[1].from, [{ requestPrincipals: ["*"] }]);
});

Deno.test("sim: CUSTOM policies deny (fail closed); templated paths; huge timeouts are none", () => {
  const resources = parseResources(
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: default}
spec:
  action: CUSTOM
  provider: {name: opa}
  rules: [{to: [{operation: {paths: ["/api/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: templ, namespace: default}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin/{**}"], methods: [DELETE]}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - timeout: 720h
    route: [{destination: {host: details}}]
`,
    "x.yaml",
  ).resources;
  const cfg = generateProxyConfig(snapshotOf([], WORKLOADS, resources), sidecar());
  const byName = Object.fromEntries((cfg.authz ?? []).map((p) => [p.name, p]));
  assert.equal(byName["default/ext"].action, "DENY");
  assert.deepEqual(byName["default/ext"].rules[0].to, [{ paths: ["/api/*"] }]);
  assert.deepEqual(byName["default/templ"].rules[0].to, [{ paths: ["*"], methods: ["DELETE"] }]);
  const route = cfg.virtualHosts.find((v) => v.name === `${HOST("details")}:9080`)!.routes[0];
  assert.equal(route.timeoutMs, undefined);
});

Deno.test("sim: the inbound protocol follows the ports of the services selecting the workload", () => {
  const se = (ports: string) =>
    parseResources(
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: rpc, namespace: default}
spec:
  hosts: [rpc.default.svc.cluster.local]
  resolution: STATIC
  ports: ${ports}
  workloadSelector: {labels: {app: rpc}}
`,
      "rpc.yaml",
    ).resources;
  const node = { ...sidecar(), labels: { app: "rpc" }, appPort: 7070 };
  const protocolFor = (ports: string) =>
    generateProxyConfig(snapshotOf([], WORKLOADS, se(ports)), node).inboundProtocol;
  assert.equal(protocolFor("[{number: 7070, name: grpc, protocol: GRPC}]"), "HTTP2");
  assert.equal(protocolFor("[{number: 7070, name: http}]"), undefined);
  assert.equal(protocolFor("[{number: 7070, name: api}]"), "CLIENT");
  // The port that reaches the app port decides; others don't.
  assert.equal(
    protocolFor(
      "[{number: 80, name: web, protocol: HTTP, targetPort: 7070}, {number: 90, name: grpc}]",
    ),
    undefined,
  );
  // Without a port at the app port, any HTTP/2 one makes it HTTP/2.
  assert.equal(protocolFor("[{number: 80, name: http}, {number: 90, name: grpc}]"), "HTTP2");
  // A workload no service selects: HTTP/1.1.
  assert.equal(generateProxyConfig(snapshotOf([]), node).inboundProtocol, undefined);
});
