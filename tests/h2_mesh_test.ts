/**
 * HTTP/2 between two sidecars for plain HTTP, with real processes: a DestinationRule with
 * `h2UpgradePolicy: UPGRADE` makes sidecar A speak HTTP/2 over mesh mTLS (ALPN h2) to sidecar
 * B, which speaks HTTP/1.1 to the app (an HTTP port). HTTP/1.1 and h2c clients both get
 * through; the app sees the same host, XFCC and body as over HTTP/1.1; an AuthorizationPolicy
 * matching `hosts` and paths decides on B; and the config dump shows the cluster's protocol.
 */
import assert from "node:assert/strict";
import {
  configDump,
  curl,
  echoServer,
  eventually,
  serviceEntryYaml,
  TestMesh,
  waitForEndpoints,
} from "./helpers.ts";

const HOST = "echo.default.svc.cluster.local";
const CLUSTER = `outbound|8080||${HOST}`;

Deno.test("h2 between proxies: h2UpgradePolicy UPGRADE carries HTTP/1.1 and h2c clients over HTTP/2 mTLS to an HTTP/1.1 app", async () => {
  const app = echoServer("echo");
  const m = await TestMesh.start({
    "echo.yaml": serviceEntryYaml("echo", 8080),
    "dr.yaml": `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: ${HOST}
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
`,
    "authz.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo}
spec:
  selector: {matchLabels: {app: echo}}
  action: DENY
  rules: [{to: [{operation: {hosts: ["${HOST}:8080"], paths: [/denied]}}]}]
`,
  });
  try {
    const [a] = await Promise.all([
      m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" }),
      m.sidecar({ name: "b", serviceAccount: "echo", labels: "app=echo", appPort: app.port }),
    ]);
    await waitForEndpoints(a.admin, CLUSTER);
    const dump = await configDump(a.admin);
    assert.equal((dump.config.clusters[CLUSTER] as { protocol?: string }).protocol, "HTTP2");
    const url = `http://127.0.0.1:${a.outbound}`;
    for (const version of ["--http1.1", "--http2-prior-knowledge"]) {
      const r = await eventually(
        async () => {
          const r = await curl([
            version,
            "-H",
            `host: ${HOST}:8080`,
            "-d",
            "0123456789",
            `${url}/p`,
          ]);
          return r.status === 200 && r;
        },
        15_000,
        `a request with ${version}`,
      );
      const seen = JSON.parse(r.body);
      assert.equal(seen.url, "/p");
      assert.equal(seen.method, "POST");
      assert.equal(seen.bodyBytes, 10);
      assert.equal(seen.headers.host, `${HOST}:8080`);
      assert.match(
        seen.headers["x-forwarded-client-cert"],
        /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/a/,
      );
      const denied = await curl([version, "-H", `host: ${HOST}:8080`, `${url}/denied`]);
      assert.equal(denied.status, 403, `${version}: ${denied.body}`);
      assert.match(denied.body, /RBAC: access denied/);
    }
    // B counted the requests as mTLS from A.
    const stats = await (await fetch(`http://127.0.0.1:${a.admin}/stats/prometheus`)).text();
    assert.match(
      stats,
      /reporter="source",[^}]*response_code="200",[^}]*connection_security_policy="mutual_tls"/,
    );
  } finally {
    await m.close();
    await app.close();
  }
});
