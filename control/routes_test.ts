/**
 * VirtualService fields as Istio reads them when it builds routes: proto3 zero values (empty
 * strings, port 0, redirect code 0) are unset, `withoutHeaders` regex `*` means "present",
 * and gateway names in the old FQDN form (`name.namespace...`) name `namespace/name`.
 */
import assert from "node:assert/strict";
import { formatDiagnostic } from "../api/diagnostic.ts";
import { parseResources, type Resource, type VirtualService } from "../api/resources.ts";
import type { Gateway } from "../api/resources.ts";
import { boundToGateway } from "./gateways.ts";
import { ServiceRegistry } from "./registry.ts";
import { matchesClient, translateMatch, translateRoutes } from "./routes.ts";
import { buildSnapshot } from "./snapshot.ts";

function parse(text: string): Resource[] {
  const { resources, diagnostics } = parseResources(text, "t.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors.map(formatDiagnostic), []);
  return resources;
}

function vs(spec: string, namespace = "default"): VirtualService {
  const [r] = parse(
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\n` +
      `metadata: {name: vs, namespace: ${namespace}}\nspec:\n${spec}`,
  );
  return r as VirtualService;
}

function registryOf(resources: Resource[]): ServiceRegistry {
  return new ServiceRegistry(buildSnapshot({
    revision: 1,
    resources,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
  }));
}

Deno.test("routes: redirect fields left empty, port 0 and code 0 are unset (301, keep path)", () => {
  const v = vs(`  hosts: [a.example.com]
  http:
  - redirect: {uri: "", authority: b.example.com, scheme: "", port: 0, redirectCode: 0}
  - redirect: {prefixRewrite: /new, uri: ""}`);
  const [first, second] = translateRoutes(v, 80, registryOf([v]));
  assert.deepEqual(first.redirect, { code: 301, authority: "b.example.com" });
  assert.deepEqual(second.redirect, { code: 301, prefixRewrite: "/new" });
});

Deno.test("routes: a rewrite of uri '' keeps the path; uriRegexRewrite applies", () => {
  const v = vs(`  hosts: [a.example.com]
  http:
  - rewrite: {uri: "", uriRegexRewrite: {match: "^/a/(.*)$", rewrite: "/\\\\1"}}
    route: [{destination: {host: a.example.com}}]`);
  const [route] = translateRoutes(v, 80, registryOf([v]));
  assert.deepEqual(route.rewrite, { regex: { match: "^/a/(.*)$", rewrite: "/\\1" } });
});

Deno.test("routes: match port 0 is any port; withoutHeaders regex * is a presence match", () => {
  const v = vs(`  hosts: [a.example.com]
  http:
  - match: [{port: 0, withoutHeaders: {x-debug: {regex: "*"}}}]
    route: [{destination: {host: a.example.com}}]`);
  const m = translateMatch(v.spec.http![0].match![0]);
  assert.deepEqual(m, { withoutHeaders: { "x-debug": {} } });
  assert.equal(translateRoutes(v, 9080, registryOf([v])).length, 1);
});

Deno.test("routes: sourceNamespace '' matches every client; old-form gateway names resolve", () => {
  const client = { namespace: "shop", labels: {}, gateway: "edge/gw" };
  assert.ok(matchesClient({ sourceNamespace: "" }, client, "default"));
  assert.ok(!matchesClient({ sourceNamespace: "other" }, client, "default"));
  for (const g of ["gw.edge", "gw.edge.svc.cluster.local", "edge/gw"]) {
    assert.ok(matchesClient({ gateways: [g] }, client, "default"), g);
  }
  assert.ok(!matchesClient({ gateways: ["gw"] }, client, "default"));
  assert.ok(matchesClient({ gateways: ["gw"] }, client, "edge"));
});

Deno.test("gateways: a VirtualService binds by namespace/name, short name or the old FQDN form", () => {
  const [gw] = parse(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]`) as Gateway[];
  const bound = (gateways: string, namespace = "default") =>
    boundToGateway(
      vs(
        `  hosts: [a.b]\n  gateways: ${gateways}\n  http: [{route: [{destination: {host: a.b}}]}]`,
        namespace,
      ),
      gw,
    );
  assert.ok(bound("[edge/gw]"));
  assert.ok(bound("[gw.edge.svc.cluster.local]"));
  assert.ok(bound("[gw.edge]"));
  assert.ok(bound("[gw]", "edge"));
  assert.ok(!bound("[gw]"));
  assert.ok(!bound("[other/gw]"));
});
