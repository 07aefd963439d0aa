/**
 * The Gateway API end to end: a control plane reading a Gateway and HTTPRoutes, a gateway
 * process bound to the Gateway by Istio's label (`gateway.networking.k8s.io/gateway-name`),
 * and apps behind sidecars, checked with real HTTP requests: weighted backends, a header match,
 * a redirect, and a cross-namespace backend that a ReferenceGrant lets through.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { echoServer, eventually, freePort, TestMesh } from "./helpers.ts";

/** A ServiceEntry `<name>.<ns>.svc.cluster.local:8080` selecting `app: <name>` in `ns`. */
function service(name: string, ns = "default"): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${name}}}
`;
}

function config(port: number): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: ${port}
    protocol: HTTP
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shift}
spec:
  parentRefs: [{name: web}]
  hostnames: [shift.example.com]
  rules:
  - backendRefs:
    - {name: echo-v1, port: 8080, weight: 80}
    - {name: echo-v2, port: 8080, weight: 20}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-header}
spec:
  parentRefs: [{name: web, sectionName: http}]
  hostnames: [match.example.com]
  rules:
  - matches:
    - headers: [{name: x-version, value: v2}]
    backendRefs: [{name: echo-v2, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /api}
    backendRefs: [{name: echo-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: moved}
spec:
  parentRefs: [{name: web}]
  hostnames: [old.example.com]
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {hostname: new.example.com, statusCode: 301}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross}
spec:
  parentRefs: [{name: web}]
  hostnames: [cross.example.com]
  rules:
  - backendRefs: [{name: other, namespace: shop, port: 8080}]
`;
}

const GRANT = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: routes-from-default, namespace: shop}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
`;

/** One plain HTTP/1.1 request to the gateway with a Host header. */
function get(
  port: number,
  host: string,
  path = "/",
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, headers: { host, ...headers }, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            ...(res.headers.location ? { location: res.headers.location } : {}),
          }));
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** The app that answered (echo servers answer with their name). */
function who(r: { status: number; body: string }): string {
  if (r.status !== 200) return `status ${r.status}`;
  return JSON.parse(r.body).name;
}

Deno.test("Gateway API: weighted HTTPRoute, header match, redirect and a ReferenceGrant, through a real gateway", async () => {
  const port = freePort();
  const m = await TestMesh.start({
    "services.yaml": [service("echo-v1"), service("echo-v2"), service("other", "shop")].join(
      "---\n",
    ),
    "gateway.yaml": config(port),
  });
  const apps = [echoServer("echo-v1"), echoServer("echo-v2"), echoServer("other")];
  try {
    const gw = m.sidecar({
      name: "gateway",
      namespace: "default",
      serviceAccount: "web-istio",
      labels: "gateway.networking.k8s.io/gateway-name=web",
      mode: "gateway",
      extra: ["--gateway-address=127.0.0.1"],
    });
    await Promise.all([
      gw,
      m.sidecar({
        name: "v1",
        serviceAccount: "echo",
        labels: "app=echo-v1",
        appPort: apps[0].port,
      }),
      m.sidecar({
        name: "v2",
        serviceAccount: "echo",
        labels: "app=echo-v2",
        appPort: apps[1].port,
      }),
      m.sidecar({
        name: "other",
        namespace: "shop",
        serviceAccount: "other",
        labels: "app=other",
        appPort: apps[2].port,
      }),
    ]);
    await (await gw).proc.waitFor(
      new RegExp(`gateway listener open address=127\\.0\\.0\\.1:${port}`),
    );
    // Both backends reachable before counting.
    await eventually(async () => who(await get(port, "match.example.com", "/api")) === "echo-v1");
    await eventually(async () =>
      who(await get(port, "match.example.com", "/", { "x-version": "v2" })) === "echo-v2"
    );

    // Traffic shifting: 80/20 over 200 requests (expected 40 to v2; bounds far outside noise).
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const name = who(await get(port, "shift.example.com", `/shift/${i}`));
      counts[name] = (counts[name] ?? 0) + 1;
    }
    assert.deepEqual(Object.keys(counts).sort(), ["echo-v1", "echo-v2"], JSON.stringify(counts));
    assert.ok(counts["echo-v2"] >= 15 && counts["echo-v2"] <= 75, JSON.stringify(counts));

    // The Gateway API's precedence: the longer path first (PathPrefix /api over the header
    // match's implied /), then header matches; PathPrefix /api takes /api/x, not /apix.
    const v2 = { "x-version": "v2" };
    assert.equal(who(await get(port, "match.example.com", "/api/x", v2)), "echo-v1");
    assert.equal(who(await get(port, "match.example.com", "/other", v2)), "echo-v2");
    assert.equal(who(await get(port, "match.example.com", "/apix", v2)), "echo-v2");
    assert.equal((await get(port, "match.example.com", "/apix")).status, 404);
    assert.equal((await get(port, "match.example.com", "/other")).status, 404);
    // A host no route names, under the listener's wildcard: 404 from the gateway.
    assert.equal((await get(port, "nothing.example.com")).status, 404);

    // RequestRedirect: 301 to the new host, the request's port and path kept.
    const moved = await get(port, "old.example.com", "/a/b?c=1");
    assert.equal(moved.status, 301);
    assert.equal(moved.location, `http://new.example.com:${port}/a/b?c=1`);

    // A backend in another namespace without a ReferenceGrant: refused (500, as Istio).
    assert.equal((await get(port, "cross.example.com")).status, 500);
    assert.equal(apps[2].seen.length, 0);
    // The control plane says why.
    const configz = await (await fetch(`http://127.0.0.1:${m.adminPort}/debug/configz`)).json();
    assert.ok(
      (configz.diagnostics as string[]).some((d) =>
        /HTTPRoute default\/cross/.test(d) && /RefNotPermitted/.test(d)
      ),
      JSON.stringify(configz.diagnostics),
    );
    // With the grant, the same route reaches the app in shop.
    await Deno.writeTextFile(`${m.configDir}/grant.yaml`, GRANT);
    await eventually(
      async () => who(await get(port, "cross.example.com")) === "other",
      10_000,
      "the grant",
    );
  } finally {
    await m.close();
    await Promise.all(apps.map((a) => a.close()));
  }
});
