import assert from "node:assert/strict";
import type { ProxyConfig } from "../api/proxy_config.ts";
import { connectTarget } from "./connect.ts";
import { Runtime } from "./runtime.ts";

function runtime(policy: "ALLOW_ANY" | "REGISTRY_ONLY", originalDst = false): Runtime {
  const host = "db.example.com";
  return Runtime.compile({
    outboundTrafficPolicy: policy,
    listeners: [],
    virtualHosts: [{ name: `${host}:5432`, domains: [`${host}:5432`], routes: [] }],
    clusters: {
      [`outbound|5432||${host}`]: {
        name: `outbound|5432||${host}`,
        host,
        port: 5432,
        lb: "ROUND_ROBIN",
        originalDst,
        endpoints: originalDst
          ? []
          : [{ address: "10.0.0.7", port: 5432, mtls: false, labels: {} }],
      },
    },
  } as unknown as ProxyConfig);
}

Deno.test("connectTarget: registry hosts go to their cluster, others by the outbound policy", () => {
  const t = connectTarget(runtime("REGISTRY_ONLY"), "db.example.com:5432");
  assert.equal(t.kind, "cluster");
  if (t.kind === "cluster") {
    assert.equal(t.cluster, "outbound|5432||db.example.com");
    assert.equal(t.ep.address, "10.0.0.7");
  }
  const refused = connectTarget(runtime("REGISTRY_ONLY"), "other.example.com:443");
  assert.equal(refused.kind, "refused");
  if (refused.kind === "refused") {
    assert.equal(refused.status, 403);
    assert.match(refused.why, /REGISTRY_ONLY/);
  }
  const pass = connectTarget(runtime("ALLOW_ANY"), "other.example.com:443");
  assert.deepEqual(pass, {
    kind: "passthrough",
    ep: { address: "other.example.com", port: 443, mtls: false, labels: {} },
  });
  // An original-destination entry (resolution NONE) goes to the address asked for.
  const orig = connectTarget(runtime("REGISTRY_ONLY", true), "db.example.com:5432");
  assert.equal(orig.kind === "cluster" && orig.ep.address, "db.example.com");
});

Deno.test("connectTarget: bad targets and loops are refused", () => {
  const rt = runtime("ALLOW_ANY");
  for (const target of ["db.example.com", ":443", "x:0", "x:70000"]) {
    const t = connectTarget(rt, target);
    assert.equal(t.kind === "refused" && t.status, 400, target);
  }
  const loop = connectTarget(rt, "127.0.0.1:15001", [15001]);
  assert.equal(loop.kind === "refused" && loop.status, 508);
});

Deno.test("connectTarget: outlier-ejected endpoints take no tunnels (the stages' pick)", () => {
  const rt = Runtime.compile({
    outboundTrafficPolicy: "REGISTRY_ONLY",
    listeners: [],
    virtualHosts: [{ name: "db:5432", domains: ["db:5432"], routes: [] }],
    clusters: {
      "outbound|5432||db": {
        name: "outbound|5432||db",
        host: "db",
        port: 5432,
        lb: "ROUND_ROBIN",
        outlier: {
          consecutive5xx: 1,
          consecutiveGatewayErrors: 0,
          baseEjectionMs: 1000,
          maxEjectionPercent: 100,
        },
        endpoints: [
          { address: "10.0.0.1", port: 5432, mtls: false, labels: {} },
          { address: "10.0.0.2", port: 5432, mtls: false, labels: {} },
        ],
      },
    },
  } as unknown as ProxyConfig);
  const outliers = {
    isEjected: (_c: unknown, ep: { address: string }) => ep.address === "10.0.0.1",
  };
  for (let i = 0; i < 6; i++) {
    const t = connectTarget(rt, "db:5432", [], { outliers });
    assert.equal(t.kind === "cluster" && t.ep.address, "10.0.0.2");
  }
});
