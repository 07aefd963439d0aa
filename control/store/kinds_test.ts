import assert from "node:assert/strict";
import { KINDS } from "../../api/resources.ts";
import { pluralOf, qualifiedName, resolveKind, typeName } from "./kinds.ts";

Deno.test("kinds: singular, plural, short and qualified names in any case", () => {
  const cases: [string, string][] = [
    ["VirtualService", "VirtualService"],
    ["virtualservice", "VirtualService"],
    ["virtualservices", "VirtualService"],
    ["VS", "VirtualService"],
    ["virtualservices.networking.istio.io", "VirtualService"],
    ["dr", "DestinationRule"],
    ["destinationrules", "DestinationRule"],
    ["gw", "Gateway"],
    ["gateways", "Gateway"],
    ["se", "ServiceEntry"],
    ["serviceentries", "ServiceEntry"],
    ["we", "WorkloadEntry"],
    [" WorkloadEntries ", "WorkloadEntry"],
  ];
  for (const [input, kind] of cases) assert.equal(resolveKind(input), kind, input);
  for (const bad of ["pods", "v", "virtualservice.security.istio.io", ""]) {
    assert.equal(resolveKind(bad), undefined, bad);
  }
  // Every kind resolves from its own name and plural.
  for (const k of KINDS) {
    assert.equal(resolveKind(k), k);
    assert.equal(resolveKind(typeName(k)), k);
    if (k !== "KubernetesGateway") assert.equal(resolveKind(pluralOf(k)), k);
  }
  assert.equal(resolveKind("gateways.gateway.networking.k8s.io"), "KubernetesGateway");
  assert.equal(resolveKind("gtw"), "KubernetesGateway");
});

Deno.test("kinds: kubectl's printed names", () => {
  assert.equal(pluralOf("ServiceEntry"), "serviceentries");
  assert.equal(pluralOf("Gateway"), "gateways");
  assert.equal(pluralOf("AuthorizationPolicy"), "authorizationpolicies");
  assert.equal(
    qualifiedName("VirtualService", "reviews"),
    "virtualservice.networking.istio.io/reviews",
  );
  assert.equal(typeName("DestinationRule"), "destinationrules.networking.istio.io");
  if ((KINDS as readonly string[]).includes("AuthorizationPolicy")) {
    assert.equal(resolveKind("ap"), "AuthorizationPolicy");
    assert.equal(
      qualifiedName("AuthorizationPolicy", "x"),
      "authorizationpolicy.security.istio.io/x",
    );
  }
});
