/**
 * Transparent capture across hosts (issue 13): a control plane on one host, an HTTP service
 * and a TCP service on two others, and a client host whose sidecar runs with `--capture`
 * after `mesh iptables --redirect-dns`. On the client host, with no proxy variables set, an
 * unmodified `curl http://reviews.default.svc.cluster.local:9080/` (and `curl
 * http://reviews:9080/`) and a raw TCP client to `tcp-echo.default.svc.cluster.local:9000`
 * reach the services: DNS answered by the sidecar (auto-allocated 240.240.x.y addresses: the
 * ServiceEntries declare none), the connections redirected to it, routed by their original
 * destination, and carried over mTLS (the servers' sidecars report the client's SPIFFE
 * identity). `mesh iptables --cleanup` then leaves the nat table exactly as before.
 *
 * The web host captures inbound traffic too: its app listens on every address, and before
 * capture a plaintext client on another host reaches it directly; after, that connection lands
 * on the sidecar's inbound listener, which refuses plaintext (STRICT).
 *
 * The sidecars under capture run with group 1337 (`setpriv --regid`), the group `mesh
 * iptables` exempts, so their own connections aren't captured; everything else runs as root.
 * Root only (network namespaces, iptables): elsewhere skipped with one line.
 */
import assert from "node:assert/strict";
import { eventually, ROOT, serviceEntryYaml } from "./helpers.ts";
import { captureUnavailable, fleetTest, type Host, Topology } from "./topology.ts";
import { denoRunArgs } from "../util/v8_flags.ts";

const skip = await captureUnavailable();
if (skip) console.log(`capture_e2e_test: skipped, ${skip}`);

const TCP_SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  workloadSelector: {labels: {app: tcp-echo}}
`;

/** A TCP client for `deno eval`: resolves and connects to args[0]:args[1], echoes a line. */
const PROBE = `
const timer = setTimeout(() => { console.log("timeout"); Deno.exit(3); }, 5000);
try {
  const c = await Deno.connect({ hostname: Deno.args[0], port: Number(Deno.args[1]) });
  await c.write(new TextEncoder().encode("ping\\n"));
  const buf = new Uint8Array(64);
  const n = await c.read(buf);
  console.log("echo:" + new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
  c.close();
  clearTimeout(timer);
} catch (err) {
  console.log("error:" + err.name + " " + err.message);
  Deno.exit(1);
}`;

const ECHO = `
const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log("echo listening " + l.addr.port);
for await (const c of l) c.readable.pipeTo(c.writable).catch(() => {});`;

// Bound to every address, as apps on VMs often are: only inbound capture keeps others out.
const HTTP_APP = `
Deno.serve({ hostname: "0.0.0.0", port: 0, onListen: (x) => console.log("app listening " + x.port) },
  () => new Response("reviews v1"));`;

/** `mesh` in `h` with group 1337 (the group `mesh iptables` exempts), still as root. */
function asProxyGroup(h: Host, name: string, args: string[]) {
  return h.spawn(name, "setpriv", [
    "--regid=1337",
    "--clear-groups",
    Deno.execPath(),
    ...denoRunArgs(`${ROOT}/main.ts`),
    ...args,
  ]);
}

fleetTest({
  name: "capture: unmodified curl and a raw TCP client reach services by name over mTLS",
  file: import.meta.url,
  ignore: skip !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-capture-" });
  await Deno.mkdir(`${dir}/config`);
  await Deno.writeTextFile(`${dir}/config/reviews.yaml`, serviceEntryYaml("reviews", 9080));
  await Deno.writeTextFile(`${dir}/config/tcp-echo.yaml`, TCP_SE);
  const t = await Topology.create({ hosts: ["control", "client", "web", "db"] });
  try {
    const [control, client, web, db] = ["control", "client", "web", "db"].map((n) => t.host(n));
    const { proc: cp, port: cpPort } = await control.control({
      configDir: `${dir}/config`,
      dataDir: `${dir}/data`,
    });
    const token = (sa: string) =>
      control.token({ dataDir: `${dir}/data`, namespace: "default", serviceAccount: sa });
    const proxyArgs = async (h: Host, app: string, appPort: number, extra: string[] = []) => [
      "start",
      "--mode=proxy",
      `--control=https://${control.address}:${cpPort}`,
      `--token-file=${await token(app)}`,
      `--service-account=${app}`,
      `--labels=app=${app}`,
      `--address=${h.address}`,
      `--app-port=${appPort}`,
      "--inbound-port=15006",
      "--outbound-port=15001",
      "--admin-port=15000",
      ...extra,
    ];
    const ready = async (h: Host, name: string) => {
      await eventually(
        async () =>
          (await h.run([
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "2",
            "http://127.0.0.1:15000/ready",
          ])).stdout === "200",
        30_000,
        `${name} ready`,
      ).catch((err) => {
        throw new Error(`${err.message}\n--- control ---\n${cp.output.slice(-3000)}`);
      });
    };

    const app = web.spawn("reviews-app", Deno.execPath(), ["eval", HTTP_APP]);
    const appPort = Number((await app.waitFor(/app listening (\d+)/))[1]);
    // Without capture, anyone reaches the app directly, past mTLS and policy.
    const direct = () =>
      control.run(["curl", "-s", "--max-time", "3", `http://${web.address}:${appPort}/`]);
    assert.equal((await direct()).stdout, "reviews v1");
    // The web host captures inbound too; its sidecar runs with the exempt group.
    const webIpt = await web.meshRun(["iptables", "--proxy-uid=1337", "--proxy-gid=1337"]);
    assert.equal(webIpt.code, 0, webIpt.stderr);
    const webProxy = asProxyGroup(web, "sidecar-web", await proxyArgs(web, "reviews", appPort));
    const echo = db.spawn("tcp-echo", Deno.execPath(), ["eval", ECHO]);
    const echoPort = Number((await echo.waitFor(/echo listening (\d+)/))[1]);
    const dbProxy = db.mesh("sidecar-db", await proxyArgs(db, "tcp-echo", echoPort));
    await ready(web, "web sidecar");
    await ready(db, "db sidecar");

    // The client host: capture first (as a VM's unit would), then its sidecar with group 1337.
    const before = await client.run(["iptables-save", "-t", "nat"]);
    const ipt = await client.meshRun([
      "iptables",
      "--proxy-uid=1337",
      "--proxy-gid=1337",
      "--redirect-dns",
      "--dns-servers=*",
    ]);
    assert.equal(ipt.code, 0, ipt.stderr);
    const sidecar = asProxyGroup(
      client,
      "sidecar-client",
      await proxyArgs(client, "client", 0, ["--capture", "--dns-port=15053"]),
    );
    await sidecar.waitFor(/dns proxy listening/, 30_000);
    await ready(client, "client sidecar");

    // No proxy variables anywhere: the app just calls the service by name.
    for (const v of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"]) {
      assert.equal(Deno.env.get(v), undefined, `${v} is set: the test needs it unset`);
    }
    const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    for (const url of ["http://reviews.default.svc.cluster.local:9080/", "http://reviews:9080/"]) {
      await eventually(
        async () => {
          const r = await client.run(["curl", "-s", "--max-time", "5", url], { env });
          return r.stdout === "reviews v1";
        },
        30_000,
        `curl ${url} on the client host`,
      ).catch((err) => {
        throw new Error(`${err.message}\n--- client sidecar ---\n${sidecar.output.slice(-4000)}`);
      });
    }
    const tcp = await client.run(
      [Deno.execPath(), "eval", PROBE, "tcp-echo.default.svc.cluster.local", "9000"],
      { env },
    );
    assert.match(tcp.stdout, /echo:ping/, `${tcp.stdout}\n${sidecar.output.slice(-3000)}`);

    // Inbound capture: a plaintext client going straight to the app port now lands on the
    // sidecar's inbound listener, which (STRICT, the default) refuses it.
    const refused = await direct();
    assert.notEqual(refused.stdout, "reviews v1", "the app is no longer reachable around mTLS");
    // The names resolved to auto-allocated addresses (the ServiceEntries declare none).
    const resolved = await client.run(["getent", "hosts", "reviews.default.svc.cluster.local"]);
    assert.match(resolved.stdout, /^240\.240\.\d+\.\d+\s/);

    // Over mTLS: the servers' sidecars saw the client's identity.
    const principal = 'source_principal="spiffe://cluster.local/ns/default/sa/client"';
    const stats = (h: Host) =>
      h.run(["curl", "-s", "--max-time", "2", "http://127.0.0.1:15000/stats/prometheus"]);
    const webStats = (await stats(web)).stdout;
    assert.ok(webStats.includes(principal), webStats.slice(0, 3000));
    assert.match(webStats, /connection_security_policy="mutual_tls"/);
    const dbStats = (await stats(db)).stdout;
    assert.ok(dbStats.includes(principal), dbStats.slice(0, 3000));
    // And the client's sidecar counted what capture routed.
    const clientStats = (await stats(client)).stdout;
    assert.match(clientStats, /mesh_captured_connections_total\{route="http"\} [1-9]/);
    assert.match(clientStats, /mesh_captured_connections_total\{route="tcp"\} [1-9]/);

    // Removing capture leaves nothing behind.
    const clean = await client.meshRun(["iptables", "--cleanup"]);
    assert.equal(clean.code, 0, clean.stderr);
    const after = await client.run(["iptables-save", "-t", "nat"]);
    const rules = (s: string) =>
      s.split("\n").filter((l) => l.startsWith("-A") || l.startsWith(":"))
        .map((l) => l.replace(/ \[\d+:\d+\]$/, "")); // packet counters move
    assert.deepEqual(rules(after.stdout), rules(before.stdout));
    assert.ok(!after.stdout.includes("MESH_"));
    void webProxy;
    void dbProxy;
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
