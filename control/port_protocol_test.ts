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
