import assert from "node:assert/strict";
import { conditionAnalyzer } from "./conditions.ts";
import { istioCases, linesOf, run } from "./testutil.ts";

const condition = (type: string, status: string, reason: string, message: string) =>
  `  - {type: ${type}, status: "${status}", reason: ${reason}, message: '${message}', ` +
  'lastTransitionTime: "2023-01-01T00:00:00Z"}';

Deno.test("conditions: the message names the condition; other conditions are ignored", () => {
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: web}
status:
  conditions:
${condition("istio.io/WaypointBound", "False", "NoWaypoint", "not ready")}
${condition("istio.io/WaypointBound", "True", "Bound", "fine")}
${condition("example.com/Synced", "False", "OutOfSync", "ignored")}
`;
  assert.deepEqual(linesOf(run(yaml, { analyzers: [conditionAnalyzer] })), [
    "Warning [IST0171] (Service default/web t.yaml:1) A condition with a negative status is " +
    "present: type=istio.io/WaypointBound, reason=NoWaypoint, message=not ready.",
  ]);
});

const route = (kind: string, name: string) =>
  `apiVersion: gateway.networking.k8s.io/v1
kind: ${kind}
metadata: {name: ${name}, namespace: default}
spec:
  parentRefs: [{name: negative-condition-svc, namespace: default}]
status:
  parents:
  - parentRef: {name: negative-condition-svc, namespace: default}
    conditions:
  ${condition("Accepted", "False", "WaypointNotBound", "Service is not bound to a waypoint")}
---
`;

// Istio's testdata/condition-analyzer.yaml.
istioCases(conditionAnalyzer, [{
  name: "Condition Analyzer",
  yaml: `apiVersion: v1
kind: Service
metadata: {name: negative-condition-svc, namespace: default}
status:
  conditions:
${
    condition(
      "istio.io/WaypointBound",
      "False",
      "NoWaypoint",
      'waypoint "default/waypoint" is not ready',
    )
  }
${
    condition(
      "argocd.argoproj.io/Synced",
      "False",
      "OutOfSync",
      "Resource is out of sync with Git repository",
    )
  }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: negative-condition-svcEntry, namespace: default}
status:
  conditions:
${
    condition(
      "istio.io/WaypointBound",
      "False",
      "WaypointIsNotReady",
      'waypoint "default/waypoint" is not ready',
    )
  }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: negative-condition-authz, namespace: default}
status:
  conditions:
${
    condition(
      "ZtunnelAccepted",
      "False",
      "UnsupportedValue",
      "ztunnel does not support the CUSTOM action",
    )
  }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: negative-condition-authz-partially-invalid, namespace: default}
status:
  conditions:
${
    condition(
      "WaypointAccepted",
      "True",
      "PartiallyInvalid",
      "Invalid targetRefs: default/doesnt-exist",
    )
  }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: negative-condition-gateway, namespace: default}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{allowedRoutes: {namespaces: {from: Same}}, name: mesh, port: 15008, protocol: HBONE}]
status:
  conditions:
${
    condition(
      "Programmed",
      "False",
      "AddressNotUsable",
      "Failed to assign to any requested addresses",
    )
  }
---
` + route("HTTPRoute", "negative-condition-httproute") +
    route("GRPCRoute", "negative-condition-grpcroute"),
  expected: [
    "IST0171 Service default/negative-condition-svc",
    "IST0171 ServiceEntry default/negative-condition-svcEntry",
    "IST0171 AuthorizationPolicy default/negative-condition-authz",
    "IST0171 Gateway default/negative-condition-gateway",
    "IST0171 HTTPRoute default/negative-condition-httproute",
    "IST0171 GRPCRoute default/negative-condition-grpcroute",
    "IST0171 AuthorizationPolicy default/negative-condition-authz-partially-invalid",
  ],
}]);
