import assert from "node:assert/strict";
import { parseResources, type Resource } from "../api/resources.ts";
import { formatDiagnostic } from "../api/diagnostic.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import { buildSnapshot } from "./snapshot.ts";
import { JwksCache, NO_KEYS } from "./jwks.ts";
import { jwtFor } from "./request_authn.ts";

const KEYS = '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"k1"}]}';

function parse(text: string): Resource[] {
  const { resources, diagnostics } = parseResources(text, "ra.yaml");
  const errors = diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], errors.map(formatDiagnostic).join("\n"));
  return resources;
}

function node(namespace: string, labels: Record<string, string>): NodeInfo {
  return {
    id: "n",
    mode: "sidecar",
    namespace,
    serviceAccount: "sa",
    labels,
    address: "127.0.0.1",
  };
}

Deno.test("jwtFor: rules of the policies that select the proxy, merged; jwksUri from the snapshot", () => {
  const resources = parse(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: mesh, namespace: istio-system}
spec:
  jwtRules:
  - issuer: mesh-issuer
    jwks: '${KEYS}'
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: https://issuer.example/jwks.json
    audiences: [shop]
    fromHeaders: [{name: x-jwt, prefix: "Token "}]
    outputClaimToHeaders: [{header: x-sub, claim: sub}]
    forwardOriginalToken: true
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: elsewhere, namespace: bar}
spec:
  jwtRules: [{issuer: bar-issuer, jwks: '${KEYS}'}]
`);
  const snap = (jwks: Map<string, string>) =>
    buildSnapshot({
      revision: 1,
      resources,
      workloads: [],
      mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
      roots: "",
      jwks,
    });
  const fetched = snap(new Map([["https://issuer.example/jwks.json", KEYS]]));
  // Sorted by namespace/name, as the snapshot keeps resources.
  assert.deepEqual(jwtFor(fetched, node("foo", { app: "httpbin" })), [
    {
      issuer: "testing@secure.istio.io",
      jwks: KEYS,
      audiences: ["shop"],
      fromHeaders: [{ name: "x-jwt", prefix: "Token " }],
      forwardOriginalToken: true,
      outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }],
    },
    { issuer: "mesh-issuer", jwks: KEYS },
  ]);
  assert.deepEqual(jwtFor(fetched, node("foo", { app: "other" })).map((p) => p.issuer), [
    "mesh-issuer",
  ]);
  // Not fetched yet: no keys, so its tokens are refused.
  assert.equal(jwtFor(snap(new Map()), node("foo", { app: "httpbin" }))[0].jwks, NO_KEYS);
});

Deno.test("JwksCache: fetches once, refreshes, keeps the last good set on failure, fails closed", async () => {
  let body = KEYS;
  let status = 200;
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    hits++;
    return new Response(body, { status });
  });
  const uri = `http://127.0.0.1:${server.addr.port}/jwks.json`;
  let changed: () => void = () => {};
  const next = () => new Promise<void>((resolve) => changed = resolve);
  const hitsAbove = async (n: number) => {
    for (let i = 0; i < 200 && hits <= n; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(hits > n, "the key set was fetched again");
  };
  const cache = new JwksCache({ onChange: () => changed(), refreshMs: 20, retryMs: 20 });
  const bad = new JwksCache({ onChange: () => changed(), retryMs: 60_000 });
  try {
    let wait = next();
    assert.equal(cache.get(uri), undefined, "pending at first");
    await wait;
    const normalized = JSON.stringify(JSON.parse(KEYS));
    assert.equal(cache.get(uri), normalized);
    // A failing refresh keeps the last good set.
    status = 500;
    const before = hits;
    await hitsAbove(before + 1);
    assert.equal(cache.get(uri), normalized);
    // New keys ask for a push.
    status = 200;
    body = '{"keys":[]}';
    wait = next();
    await wait;
    assert.equal(cache.get(uri), NO_KEYS);
    // Not JSON at first: no keys (fail closed).
    body = "<html>";
    wait = next();
    assert.equal(bad.get(uri), undefined);
    await wait;
    assert.equal(bad.get(uri), NO_KEYS);
  } finally {
    cache.close();
    bad.close();
    await server.shutdown();
  }
});

Deno.test('jwtFor: a rule with a jwksUri and no issuer takes any issuer (issuer "")', () => {
  const resources = parse(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: any-issuer, namespace: foo}
spec:
  jwtRules:
  - jwksUri: https://issuer.example/jwks.json
`);
  const snapshot = buildSnapshot({
    revision: 1,
    resources,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "",
    jwks: new Map([["https://issuer.example/jwks.json", KEYS]]),
  });
  assert.deepEqual(jwtFor(snapshot, node("foo", {})), [{ issuer: "", jwks: KEYS }]);
});
