import assert from "node:assert/strict";
import { validateResource } from "../../api/resources.ts";
import {
  KUBE_SELECTOR_ANNOTATION,
  KUBE_SERVICE_ANNOTATION,
  kubePortProtocol,
  serviceEntriesOf,
} from "./services.ts";

Deno.test("kube services: Istio's protocol selection from appProtocol and port names", () => {
  const cases: [Parameters<typeof kubePortProtocol>[0], string | undefined][] = [
    [{ name: "http" }, "HTTP"],
    [{ name: "http-web" }, "HTTP"],
    [{ name: "http2" }, "HTTP2"],
    [{ name: "grpc-api" }, "GRPC"],
    [{ name: "grpc-web" }, "GRPC-Web"],
    [{ name: "tcp-db" }, "TCP"],
    [{ name: "tls" }, "TLS"],
    [{ name: "https-x" }, "HTTPS"],
    [{ name: "mongo" }, "Mongo"],
    [{ name: "web" }, undefined],
    [{ name: "httpx" }, undefined],
    [{}, undefined],
    [{ name: "web", appProtocol: "grpc" }, "GRPC"],
    [{ name: "http", appProtocol: "kubernetes.io/h2c" }, "HTTP2"],
    [{ name: "tcp", appProtocol: "unknown.example/x" }, "TCP"],
    [{ name: "dns", protocol: "UDP" }, "UDP"],
  ];
  for (const [port, want] of cases) {
    assert.equal(kubePortProtocol(port), want, JSON.stringify(port));
  }
});

const reviews = {
  metadata: {
    name: "reviews",
    namespace: "default",
    resourceVersion: "1",
    annotations: { "networking.istio.io/exportTo": ".,istio-system" },
  },
  spec: {
    selector: { app: "reviews" },
    ports: [{ name: "http", port: 9080, targetPort: 9080 }, {
      name: "web",
      port: 80,
      targetPort: "web",
    }],
  },
};
const slice = (
  name: string,
  eps: { ip: string; pod?: string; ready?: boolean; zone?: string }[],
) => ({
  metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": "reviews" } },
  addressType: "IPv4",
  ports: [{ name: "http", port: 9080 }],
  endpoints: eps.map((e) => ({
    addresses: [e.ip],
    ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    ...(e.pod ? { targetRef: { kind: "Pod", name: e.pod, namespace: "default" } } : {}),
    ...(e.zone ? { zone: e.zone } : {}),
  })),
});
const pod = (name: string, version: string) => ({
  metadata: { name, namespace: "default", labels: { app: "reviews", version } },
  spec: { serviceAccountName: "bookinfo-reviews" },
});

Deno.test("kube services: a Service and its EndpointSlices become a valid ServiceEntry", () => {
  const [se, ...rest] = serviceEntriesOf({
    services: [reviews],
    slices: [
      slice("reviews-a", [{ ip: "127.0.0.11", pod: "reviews-v1", zone: "z1" }, {
        ip: "127.0.0.12",
        pod: "reviews-v2",
        ready: false,
      }]),
      slice("reviews-b", [{ ip: "127.0.0.13", pod: "reviews-v3" }, { ip: "127.0.0.11" }]),
    ],
    pods: [pod("reviews-v1", "v1"), pod("reviews-v2", "v2"), pod("reviews-v3", "v3")],
    domain: "cluster.local",
  });
  assert.equal(rest.length, 0);
  assert.equal(se.metadata.name, "kube-service.reviews");
  const annotations = se.metadata.annotations as Record<string, string>;
  assert.equal(annotations[KUBE_SERVICE_ANNOTATION], "default/reviews");
  assert.deepEqual(JSON.parse(annotations[KUBE_SELECTOR_ANNOTATION]), { app: "reviews" });
  assert.deepEqual(se.spec, {
    hosts: ["reviews.default.svc.cluster.local"],
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    ports: [
      { number: 9080, name: "http", protocol: "HTTP", targetPort: 9080 },
      { number: 80, name: "web" },
    ],
    endpoints: [
      {
        address: "127.0.0.11",
        ports: { http: 9080 },
        labels: { app: "reviews", version: "v1" },
        serviceAccount: "bookinfo-reviews",
        locality: "z1",
      },
      {
        address: "127.0.0.13",
        ports: { http: 9080 },
        labels: { app: "reviews", version: "v3" },
        serviceAccount: "bookinfo-reviews",
      },
    ],
    exportTo: [".", "istio-system"],
  });
  const { source: _, ...doc } = se;
  const v = validateResource(doc, { file: "kube", line: 1 });
  assert.equal(v.resources.length, 1, JSON.stringify(v.diagnostics));
});

Deno.test("kube services: ExternalName is a DNS entry; no ports, no entry; bad names skipped", () => {
  const out = serviceEntriesOf({
    services: [
      {
        metadata: { name: "ext", namespace: "prod" },
        spec: {
          type: "ExternalName",
          externalName: "api.example.com",
          ports: [{ name: "https", port: 443 }],
        },
      },
      { metadata: { name: "noports", namespace: "prod" }, spec: {} },
    ],
    slices: [],
    pods: [],
    domain: "cluster.local",
  });
  assert.equal(out.length, 1);
  assert.deepEqual(out[0].spec, {
    hosts: ["ext.prod.svc.cluster.local"],
    location: "MESH_EXTERNAL",
    resolution: "DNS",
    ports: [{ number: 443, name: "https", protocol: "HTTPS" }],
    endpoints: [{ address: "api.example.com" }],
  });
});
