import assert from "node:assert/strict";
import { classify } from "./outbound.ts";
import { Runtime } from "../runtime.ts";
import type { ProxyConfig } from "../../api/proxy_config.ts";

const config = (policy: "ALLOW_ANY" | "REGISTRY_ONLY"): ProxyConfig => ({
  version: "1",
  trustDomain: "cluster.local",
  roots: "",
  outboundTrafficPolicy: policy,
  virtualHosts: [],
  listeners: [],
  clusters: {},
  names: [
    {
      host: "reviews.default.svc.cluster.local",
      namespace: "default",
      addresses: ["240.240.1.2"],
      auto: true,
      ports: [{ port: 9080, protocol: "HTTP" }, { port: 9443, protocol: "GRPC" }],
    },
    {
      host: "db.example.com",
      namespace: "default",
      addresses: ["10.20.0.7"],
      ports: [{ port: 5432, protocol: "TCP" }, { port: 7000, protocol: "HTTP", sniff: true }],
    },
  ],
});

const local = { address: "127.0.0.1", port: 15001 };

Deno.test("capture: a destination's service and port protocol decide the route", () => {
  const rt = Runtime.compile(config("ALLOW_ANY"));
  const kind = (address: string, port: number) => classify(rt, { address, port }, local).kind;
  assert.equal(kind("240.240.1.2", 9080), "http");
  assert.equal(kind("240.240.1.2", 9443), "http", "gRPC is HTTP/2");
  assert.equal(kind("10.20.0.7", 5432), "tcp");
  assert.equal(kind("10.20.0.7", 7000), "sniff", "no declared protocol: the bytes decide");
  assert.equal(kind("10.20.0.7", 9999), "passthrough", "a port the service doesn't have");
  assert.equal(kind("93.184.216.34", 443), "passthrough");
  const strict = Runtime.compile(config("REGISTRY_ONLY"));
  assert.equal(classify(strict, { address: "93.184.216.34", port: 443 }, local).kind, "blackhole");
});

Deno.test("capture: a connection made to the listener itself is the plain outbound listener", () => {
  const rt = Runtime.compile(config("ALLOW_ANY"));
  assert.equal(classify(rt, undefined, local).kind, "direct");
  assert.equal(classify(rt, { address: "127.0.0.1", port: 15001 }, local).kind, "direct");
});
