/**
 * Locality failover across hosts (issue 13): a client host in region1/zone1, helloworld on a
 * zone1 host and a zone2 host, the control plane on its own; a DestinationRule with outlier
 * detection and locality load balancing. All traffic stays in zone1; the zone1 host's network
 * is cut (its link down), its endpoint fails and is ejected, and traffic fails over to zone2;
 * the link comes back and, once the ejection has run out, traffic returns to zone1.
 *
 * Root only (network namespaces): elsewhere skipped with one line.
 */
import assert from "node:assert/strict";
import { eventually } from "./helpers.ts";
import { fleetTest, fleetUnavailable, type Host, Topology } from "./topology.ts";

const skip = await fleetUnavailable();
if (skip) console.log(`locality_hosts_test: skipped, ${skip}`);

const HOST = "helloworld.default.svc.cluster.local";

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
    connectionPool: {tcp: {connectTimeout: 1s}}
    loadBalancer:
      localityLbSetting:
        enabled: true
        failover: [{from: region1, to: region2}]
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 2s
`;

const APP = `
Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: (x) => console.log("app listening " + x.port) },
  () => Response.json({ name: Deno.args[0] }));`;

fleetTest({
  name: "locality: a zone's host cut off fails over to the other zone, and back when it returns",
  file: import.meta.url,
  ignore: skip !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-locality-hosts-" });
  await Deno.mkdir(`${dir}/config`);
  await Deno.writeTextFile(`${dir}/config/helloworld.yaml`, CONFIG);
  const t = await Topology.create({
    hosts: [
      "control",
      { name: "client", locality: "region1/zone1" },
      { name: "zone1", locality: "region1/zone1" },
      { name: "zone2", locality: "region1/zone2" },
    ],
  });
  try {
    const control = t.host("control");
    const dataDir = `${dir}/data`;
    const { port } = await control.control({
      configDir: `${dir}/config`,
      dataDir: `${dataDir}`,
    });
    const sidecar = async (h: Host, sa: string, labels: string, appPort: number) => {
      const p = h.mesh(`sidecar-${h.name}`, [
        "start",
        "--mode=proxy",
        `--control=https://${control.address}:${port}`,
        `--token-file=${await control.token({
          dataDir,
          namespace: "default",
          serviceAccount: sa,
        })}`,
        `--service-account=${sa}`,
        `--labels=${labels}`,
        `--locality=${h.locality}`,
        `--address=${h.address}`,
        `--app-port=${appPort}`,
        "--inbound-port=15006",
        "--outbound-port=15001",
        "--admin-port=15000",
      ]);
      await p.waitFor(/proxy started/, 30_000);
      return p;
    };
    for (const zone of ["zone1", "zone2"]) {
      const h = t.host(zone);
      const app = h.spawn(`app-${zone}`, Deno.execPath(), ["eval", APP, zone]);
      const appPort = Number((await app.waitFor(/app listening (\d+)/))[1]);
      await sidecar(h, "helloworld", "app=helloworld", appPort);
    }
    const client = t.host("client");
    await sidecar(client, "curl", "app=curl", 0);

    const hello = async () => {
      const r = await client.run([
        "curl",
        "-s",
        "--max-time",
        "5",
        "-x",
        "http://127.0.0.1:15001",
        "http://helloworld:5000/hello",
      ]);
      try {
        return JSON.parse(r.stdout).name as string;
      } catch {
        return `failed: ${r.stdout || r.stderr}`;
      }
    };
    /** Whether the next `n` answers all come from `zone`. */
    const steady = async (zone: string, n = 5) => {
      for (let i = 0; i < n; i++) if (await hello() !== zone) return false;
      return true;
    };

    // Both endpoints known, all traffic to the client's own zone.
    await eventually(() => steady("zone1"), 30_000, "traffic in zone1");
    assert.ok(await steady("zone1", 10));

    // zone1's host is cut off: its endpoint fails, is ejected, and zone2 takes the traffic.
    await t.linkDown("zone1");
    await eventually(() => steady("zone2"), 60_000, "failover to zone2");

    // The link is back: after the ejection, traffic returns to zone1.
    await t.linkUp("zone1");
    await eventually(() => steady("zone1"), 60_000, "back to zone1");
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
