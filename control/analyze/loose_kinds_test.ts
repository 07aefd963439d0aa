import assert from "node:assert/strict";
import { parseYamlDocuments } from "../../util/yaml.ts";
import { type LooseObject, readLooseObjects } from "./loose_kinds.ts";

function read(yaml: string): LooseObject[] {
  return parseYamlDocuments(yaml).flatMap((doc) =>
    readLooseObjects(doc.value, {
      file: "l.yaml",
      defaultNamespace: "shop",
      positionOf: doc.positionOf,
    })
  );
}

Deno.test("loose kinds: Gateway API Gateways and routes, WasmPlugins, CRDs; others ignored", () => {
  const objects = read(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  listeners: [{name: a, hostname: a.com}, {name: b}, 7]
status:
  conditions: [{type: Programmed, status: "False", reason: R, message: M}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
status:
  parents: [{conditions: [{type: Accepted, status: "True"}]}]
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: w}
spec:
  selector: {matchLabels: {app: x}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: serviceroles.rbac.istio.io}
spec: {group: rbac.istio.io, names: {kind: ServiceRole}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-own}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {}
`);
  assert.deepEqual(objects.map((o) => [o.type, o.origin.namespace, o.origin.name]), [
    ["KubernetesGateway", "shop", "edge"],
    ["GatewayRoute", "web", "r"],
    ["WasmPlugin", "shop", "w"],
    ["CustomResourceDefinition", undefined, "serviceroles.rbac.istio.io"],
  ]);
  const [gw, route, wasm] = objects;
  assert.ok(gw.type === "KubernetesGateway" && route.type === "GatewayRoute");
  assert.ok(wasm.type === "WasmPlugin");
  assert.deepEqual(gw.listeners, [{ name: "a", hostname: "a.com" }, { name: "b" }, {}]);
  assert.deepEqual(gw.conditions, [{
    type: "Programmed",
    status: "False",
    reason: "R",
    message: "M",
  }]);
  assert.deepEqual(route.conditions, [{
    type: "Accepted",
    status: "True",
    reason: "",
    message: "",
  }]);
  assert.deepEqual([wasm.selector, wasm.targeted], [{ app: "x" }, false]);
});
