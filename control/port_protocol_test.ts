import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import { buildClusters } from "./clusters.ts";
import { speaksHttp2 } from "./port_protocol.ts";
import { ServiceRegistry } from "./registry.ts";
import { buildSnapshot } from "./snapshot.ts";

Deno.test("port protocol: the protocol field, then the name prefix, then appProtocol", () => {
  const cases: [Parameters<typeof speaksHttp2>[0], boolean][] = [
    [{ protocol: "GRPC", name: "api" }, true],
    [{ protocol: "grpc" }, true],
    [{ protocol: "HTTP2", name: "web" }, true],
    [{ protocol: "GRPC-WEB", name: "grpc-web" }, false],
    [{ protocol: "HTTP", name: "grpc" }, false],
    [{ protocol: "TCP", name: "http2" }, false],
    [{ name: "grpc-api" }, true],
    [{ name: "http2" }, true],
    [{ name: "http-api", appProtocol: "grpc" }, false],
    [{ name: "api", appProtocol: "kubernetes.io/h2c" }, true],
    [{ name: "api" }, false],
    [{}, false],
  ];
  for (const [p, want] of cases) assert.equal(speaksHttp2(p), want, JSON.stringify(p));
});

Deno.test("port protocol: a GRPC or http2-named ServiceEntry port makes an HTTP2 cluster", () => {
  const { resources, diagnostics } = parseResources(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  resolution: STATIC
  ports:
  - {number: 50051, name: rpc, protocol: GRPC}
  - {number: 8443, name: http2-web}
  - {number: 80, name: http, protocol: HTTP}
  endpoints: [{address: 127.0.0.1}]
`,
    "inline.yaml",
  );
  assert.deepEqual(diagnostics.filter((d) => d.severity === "error"), []);
  const snap = buildSnapshot({
    revision: 1,
    resources,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  });
  const clusters = buildClusters(new ServiceRegistry(snap), "default");
  const protocol = (port: number) =>
    Object.values(clusters).find((c) => c.port === port && !c.subset)?.protocol;
  assert.equal(protocol(50051), "HTTP2");
  assert.equal(protocol(8443), "HTTP2");
  assert.equal(protocol(80), undefined);
});

Deno.test("port protocol: h2UpgradePolicy, useClientProtocol and ports that declare nothing, as Istio picks them", () => {
  const files = (mesh: string) =>
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [up.example.com, keep.example.com, plain.example.com, auto.example.com]
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 9000, name: rpc, protocol: GRPC}
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: auto, namespace: default}
spec:
  hosts: [sniffed.example.com]
  resolution: STATIC
  ports: [{number: 7000, name: api}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: up, namespace: default}
spec:
  host: up.example.com
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE, maxConcurrentStreams: 7}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: keep, namespace: default}
spec:
  host: keep.example.com
  trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: plain, namespace: default}
spec:
  host: plain.example.com
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: DO_NOT_UPGRADE}}}
${mesh}`;
  const clustersOf = (mesh: string, meshUpgrade: boolean) => {
    const { resources, diagnostics } = parseResources(files(mesh), "inline.yaml");
    assert.deepEqual(diagnostics, []); // no warnings: every field used is honoured
    const snap = buildSnapshot({
      revision: 1,
      resources,
      workloads: [],
      mesh: {
        trustDomain: "cluster.local",
        outboundTrafficPolicy: "ALLOW_ANY",
        ...(meshUpgrade ? { h2Upgrade: true } : {}),
      },
      roots: "",
    });
    const clusters = buildClusters(new ServiceRegistry(snap), "default");
    return (host: string, port: number) => clusters[`outbound|${port}||${host}`];
  };
  const c = clustersOf("", false);
  assert.equal(c("up.example.com", 80).protocol, "HTTP2");
  assert.equal(c("up.example.com", 80).limits?.maxConcurrentStreams, 7);
  assert.equal(c("keep.example.com", 80).protocol, "CLIENT");
  assert.equal(c("plain.example.com", 80).protocol, undefined);
  assert.equal(c("auto.example.com", 80).protocol, undefined);
  // GRPC ports are HTTP/2 whatever the rule says; a port that declares nothing keeps the
  // client's version (Istio's protocol sniffing).
  assert.equal(c("plain.example.com", 9000).protocol, "HTTP2");
  assert.equal(c("sniffed.example.com", 7000).protocol, "CLIENT");
  // MeshConfig h2UpgradePolicy UPGRADE: HTTP ports upgrade unless a rule says DO_NOT_UPGRADE.
  const m = clustersOf("", true);
  assert.equal(m("auto.example.com", 80).protocol, "HTTP2");
  assert.equal(m("plain.example.com", 80).protocol, undefined);
  assert.equal(m("sniffed.example.com", 7000).protocol, "CLIENT");
});
