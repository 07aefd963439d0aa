import assert from "node:assert/strict";
import { namespacedHostProblem } from "./server_hosts.ts";

Deno.test("namespace/host entries of Gateways and Sidecars", () => {
  for (const h of ["*/*", "./*", "shop/*", "shop/reviews.shop.svc.cluster.local"]) {
    assert.equal(namespacedHostProblem(h, "Sidecar"), undefined, h);
    assert.equal(namespacedHostProblem(h, "Gateway"), undefined, h);
  }
  assert.equal(namespacedHostProblem("~/*.example.com", "Sidecar"), undefined);
  assert.match(namespacedHostProblem("~/*.example.com", "Gateway") ?? "", /namespace "~"/);
  assert.equal(namespacedHostProblem("*", "Gateway"), undefined);
  assert.match(namespacedHostProblem("*", "Sidecar") ?? "", /namespace\/host/);
  assert.equal(namespacedHostProblem("bookinfo.example.com", "Gateway"), undefined);
  assert.equal(namespacedHostProblem("10.0.0.1", "Gateway"), undefined);
  assert.match(namespacedHostProblem("10.0.0.1", "Sidecar") ?? "", /namespace\/host/);
  assert.match(namespacedHostProblem("reviews", "Gateway") ?? "", /short names/);
  assert.match(namespacedHostProblem("./reviews", "Sidecar") ?? "", /short names/);
  assert.match(namespacedHostProblem("a*.example.com", "Gateway") ?? "", /whole first label/);
  assert.match(
    namespacedHostProblem("*.*.example.com", "Gateway") ?? "",
    /"\*" is not a DNS label/,
  );
  assert.match(namespacedHostProblem("/x.example.com", "Gateway") ?? "", /may be empty/);
  // Istio's label check takes upper case.
  assert.equal(namespacedHostProblem("Shop/x.example.com", "Gateway"), undefined);
});
