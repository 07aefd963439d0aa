/**
 * Locality failover end to end, as Istio's "Locality failover" task on loopback: a client
 * sidecar in region1/zone1 (`--locality`), helloworld in region1/zone1 and region1/zone2, a
 * DestinationRule with outlier detection. All traffic stays in zone1; zone1's app stops, its
 * sidecar answers 503, outlier detection ejects it and traffic fails over to zone2; the app
 * comes back and, once the ejection runs out, traffic returns to zone1.
 */
import assert from "node:assert/strict";
import { configDump, curl, eventually, meshRun, TestMesh, waitForEndpoints } from "./helpers.ts";

const HOST = "helloworld.default.svc.cluster.local";
const CLUSTER = `outbound|5000||${HOST}`;

const CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: helloworld}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5000, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: helloworld}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: helloworld}
spec:
  host: ${HOST}
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        enabled: true
        failover: [{from: region1, to: region2}]
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 2s
`;

/** A helloworld app answering its name, on `port` (0: the kernel's pick). */
function app(name: string, port = 0) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => Response.json({ name }),
  );
  return { port: server.addr.port, close: () => server.shutdown() };
}

Deno.test("locality failover: zone1 first, zone2 when zone1's app is down, zone1 again after the ejection", async () => {
  const m = await TestMesh.start({ "helloworld.yaml": CONFIG });
  let zone1 = app("zone1");
  const zone2 = app("zone2");
  try {
    const sidecar = (name: string, labels: string, locality: string, appPort?: number) =>
      m.sidecar({
        name,
        serviceAccount: name.startsWith("hello") ? "helloworld" : name,
        labels,
        appPort,
        extra: [`--locality=${locality}`],
      });
    const [, , client] = await Promise.all([
      sidecar("hello-zone1", "app=helloworld,version=v1", "region1/zone1", zone1.port),
      sidecar("hello-zone2", "app=helloworld,version=v2", "region1/zone2", zone2.port),
      sidecar("curl", "app=curl", "region1/zone1"),
    ]);
    await waitForEndpoints(client.admin, CLUSTER, 2);
    // The sidecars' --locality reached the endpoints the client was pushed.
    const dump = await configDump(client.admin);
    const localities = (dump.config.clusters[CLUSTER].endpoints as { locality?: string }[])
      .map((e) => e.locality).sort();
    assert.deepEqual(localities, ["region1/zone1", "region1/zone2"]);

    const hello = async () => {
      const r = await curl([
        "-x",
        `http://127.0.0.1:${client.outbound}`,
        "http://helloworld:5000/hello",
      ]);
      return r.status === 200 ? JSON.parse(r.body).name as string : `status ${r.status}`;
    };
    const allFrom = async (want: string, n: number) => {
      const got: string[] = [];
      for (let i = 0; i < n; i++) got.push(await hello());
      assert.deepEqual(got, new Array(n).fill(want));
    };

    // Everything stays in the client's zone (round robin would alternate).
    await eventually(async () => (await hello()) === "zone1", 10_000, "zone1 answering");
    await allFrom("zone1", 10);

    // zone1's app stops: its sidecar answers 503, one ejects it, zone2 takes the traffic.
    await zone1.close();
    await eventually(async () => (await hello()) === "zone2", 10_000, "failover to zone2");
    await allFrom("zone2", 10);

    // The app comes back on its port; once the 2 s ejection is over, traffic is back in zone1.
    zone1 = app("zone1", zone1.port);
    await eventually(async () => (await hello()) === "zone1", 15_000, "traffic back in zone1");
    await allFrom("zone1", 10);
  } finally {
    await m.close();
    await zone1.close().catch(() => {});
    await zone2.close();
  }
});

Deno.test("--locality: a malformed locality is a one-line usage error (exit 2)", async () => {
  for (const bad of ["region1//zone", "a/b/c/d", "region1/*", "region 1"]) {
    const r = await meshRun(["start", "--mode=proxy", "--token-file=t", `--locality=${bad}`]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--locality .*region\/zone\/subzone/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const env = await meshRun(["start", "--mode=proxy", "--token-file=t"], {
    env: { MESH_LOCALITY: "a//b" },
  });
  assert.equal(env.code, 2, env.stderr);
  assert.match(env.stderr, /--locality "a\/\/b"/);
});
