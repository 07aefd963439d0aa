import assert from "node:assert/strict";
import { upstreamHeaders } from "./upstream_headers.ts";

Deno.test("upstreamHeaders: the one authority as Host, hop-by-hop and untrusted Envoy headers dropped, via appended", () => {
  const req = new Request("http://svc/admin", {
    headers: {
      host: "other",
      connection: "x-foo",
      "x-foo": "1",
      "x-envoy-retry-on": "5xx",
      "x-mesh-via": "forged",
      "x-request-id": "r1",
      "x-app": "ok",
    },
  });
  const trusted = new Map(upstreamHeaders(req, "svc", { via: "a, b" }));
  assert.equal(trusted.get("host"), "svc");
  assert.equal(trusted.get("x-foo"), undefined);
  assert.equal(trusted.get("connection"), undefined);
  assert.equal(trusted.get("x-envoy-retry-on"), "5xx", "an app may steer its own sidecar");
  assert.equal(trusted.get("x-mesh-via"), "a, b");
  assert.equal(trusted.get("x-request-id"), "r1");
  assert.equal(trusted.get("x-app"), "ok");
  const edge = new Map(upstreamHeaders(req, "svc", { untrusted: true }));
  assert.equal(edge.get("x-envoy-retry-on"), undefined, "a gateway's client may not");
  assert.equal(edge.get("x-mesh-via"), undefined);
});
