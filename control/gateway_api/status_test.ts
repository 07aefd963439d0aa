/** Conditions, route parent status merging and the diagnostics made of them. */
import assert from "node:assert/strict";
import { conditionsOf, routeParentStatuses, statusDiagnostics } from "./status.ts";
import { parentRefString } from "./references.ts";

Deno.test("conditionsOf: sorted by type, an error inverts the status (Conflicted is False when fine)", () => {
  assert.deepEqual(
    conditionsOf({
      Programmed: {
        reason: "Programmed",
        message: "ok",
        error: { reason: "Invalid", message: "Bad TLS configuration" },
      },
      Conflicted: { reason: "NoConflicts", message: "none", status: "False" },
      Accepted: { reason: "Accepted", message: "fine" },
    }).map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`),
    [
      "Accepted=True/Accepted: fine",
      "Conflicted=False/NoConflicts: none",
      "Programmed=False/Invalid: Bad TLS configuration",
    ],
  );
});

Deno.test("routeParentStatuses: one entry per parentRef, the mildest refusal or acceptance of its listeners", () => {
  const gw = { name: "gw", namespace: "ns" };
  const svc = { group: "", kind: "Service", name: "svc" };
  const statuses = routeParentStatuses(
    [
      { original: gw, denied: { reason: "NoMatchingParent", message: "port 1 not found" } },
      { original: gw, denied: { reason: "NotAllowedByListeners", message: "a" } },
      { original: gw, denied: { reason: "NotAllowedByListeners", message: "b" } },
      { original: svc },
      { original: svc, routeError: { reason: "BackendNotFound", message: "backend(x) not found" } },
    ],
    "ns",
    parentRefString,
  );
  assert.deepEqual(
    statuses.map((
      s,
    ) => [
      s.parentRef.name,
      s.controllerName,
      s.conditions.map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`),
    ]),
    [
      // Istio's order: by group/kind/name/section/port.namespace, descending.
      ["gw", "istio.io/gateway-controller", [
        "Accepted=False/NotAllowedByListeners: a; b",
        "ResolvedRefs=True/ResolvedRefs: All references resolved",
      ]],
      ["svc", "istio.io/gateway-controller", [
        "Accepted=True/Accepted: Route was valid, bound to 2 parents",
        "ResolvedRefs=True/ResolvedRefs: All references resolved",
      ]],
    ],
  );
});

Deno.test("statusDiagnostics: a warning per unhealthy condition, naming the object and parent", () => {
  const ds = statusDiagnostics([
    {
      kind: "HTTPRoute",
      apiVersion: "gateway.networking.k8s.io/v1",
      namespace: "web",
      name: "r",
      source: { file: "r.yaml", line: 3 },
      status: {
        parents: [{
          parentRef: { name: "gw", sectionName: "http" },
          controllerName: "istio.io/gateway-controller",
          conditions: conditionsOf({
            Accepted: { reason: "Accepted", message: "Route was valid" },
            ResolvedRefs: {
              reason: "ResolvedRefs",
              message: "",
              error: { reason: "RefNotPermitted", message: "no grant" },
            },
          }),
        }],
      },
    },
    {
      kind: "Gateway",
      apiVersion: "gateway.networking.k8s.io/v1",
      namespace: "web",
      name: "gw",
      status: {
        conditions: conditionsOf({
          Accepted: { reason: "Accepted", message: "Resource accepted" },
        }),
        listeners: [{
          name: "http",
          attachedRoutes: 0,
          supportedKinds: [],
          conditions: conditionsOf({
            Conflicted: { reason: "HostnameConflict", message: "conflict", status: "True" },
          }),
        }],
      },
    },
  ]);
  assert.deepEqual(ds.map((d) => [d.file, d.line, d.kind, d.name, d.message]), [
    [
      "r.yaml",
      3,
      "HTTPRoute",
      "r",
      "parent Gateway web/gw/http: ResolvedRefs False (RefNotPermitted): no grant",
    ],
    [
      "<gateway-api>",
      1,
      "Gateway",
      "gw",
      "listener http: Conflicted True (HostnameConflict): conflict",
    ],
  ]);
});
