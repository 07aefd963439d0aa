/**
 * The multi-host test topology (tests/topology.ts): three hosts on one bridge reach each other by
 * address (an extra address too) but not each other's loopback, a host whose link is down can't
 * be reached until it is up again, nothing the test made remains after close() in the world
 * namespace nor on the machine after the child ends; and a control plane on one host serves
 * sidecars on two others, which route to each other across hosts over mTLS.
 *
 * Root only (unshare, ip netns, a bridge and veths): elsewhere skipped with one line.
 */
import assert from "node:assert/strict";
import { eventually, serviceEntryYaml } from "./helpers.ts";
import { fleetTest, fleetUnavailable, type Host, networkState, Topology } from "./topology.ts";

const skip = await fleetUnavailable();
if (skip) console.log(`topology_test: skipped, ${skip}`);

/** A TCP echo server for `deno eval`: listens on each address in its args (port 0), logs each. */
const ECHO = `
for (const hostname of Deno.args) {
  const l = Deno.listen({ hostname, port: 0 });
  console.log("listening " + hostname + ":" + l.addr.port);
  (async () => { for await (const c of l) c.readable.pipeTo(c.writable).catch(() => {}); })();
}`;

/**
 * A TCP client for `deno eval`: connects to args[0]:args[1], sends a line and prints what comes
 * back; gives up after 2 s (exit 3), fails on a connect error (exit 1).
 */
const PROBE = `
const timer = setTimeout(() => { console.log("timeout"); Deno.exit(3); }, 2000);
try {
  const c = await Deno.connect({ hostname: Deno.args[0], port: Number(Deno.args[1]) });
  await c.write(new TextEncoder().encode("ping\\n"));
  const buf = new Uint8Array(64);
  const n = await c.read(buf);
  console.log("echo:" + new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
  c.close();
  clearTimeout(timer);
} catch (err) {
  console.log("error:" + err.name);
  Deno.exit(1);
}`;

/** Whether `from` gets an echo from `host:port` (a fresh connection from inside `from`). */
async function echoes(from: Host, host: string, port: number): Promise<boolean> {
  const r = await from.run([Deno.execPath(), "eval", PROBE, host, String(port)]);
  return r.code === 0 && r.stdout.includes("echo:ping");
}

fleetTest({
  name: "topology: hosts reach each other by address, not by loopback; linkDown cuts a host off",
  file: import.meta.url,
  ignore: skip !== undefined,
  checkMachine: true,
}, async () => {
  const world = await networkState();
  assert.deepEqual(world, { netns: [], links: ["lo"] }, "a fresh world namespace");
  const t = await Topology.create({
    hosts: ["control", "a", { name: "b", locality: "eu-west/zone-1", addresses: ["10.77.1.5"] }],
  });
  try {
    const [a, b] = [t.host("a"), t.host("b")];
    assert.deepEqual(t.hosts.map((h) => h.address), ["10.77.0.10", "10.77.0.11", "10.77.0.12"]);
    assert.equal(b.locality, "eu-west/zone-1");
    assert.equal(a.locality, "");
    assert.deepEqual((await networkState()).netns, ["mesh-a", "mesh-b", "mesh-control"]);
    // Each host has lo and eth0 (its address), and a default route via the bridge.
    const addrs = await b.run(["ip", "-o", "-4", "addr", "show"]);
    assert.match(addrs.stdout, /lo\s+inet 127\.0\.0\.1\/8/);
    assert.match(addrs.stdout, /eth0\s+inet 10\.77\.0\.12\/24/);
    assert.match(addrs.stdout, /eth0\s+inet 10\.77\.1\.5\/32/);
    assert.match((await b.run(["ip", "route"])).stdout, /default via 10\.77\.0\.1 dev eth0/);

    const server = b.spawn("echo-b", Deno.execPath(), [
      "eval",
      ECHO,
      b.address,
      "127.0.0.1",
      ...b.extraAddresses,
    ]);
    const port = async (addr: string) =>
      Number(
        (await server.waitFor(new RegExp(`listening ${addr.replace(/\./g, "\\.")}:(\\d+)`)))[1],
      );
    const [main, loop, extra] = [
      await port(b.address),
      await port("127.0.0.1"),
      await port("10.77.1.5"),
    ];

    // By address from another host, its extra address too (routed by the world).
    assert.ok(await echoes(a, b.address, main), "a reaches b's address");
    assert.ok(await echoes(t.host("control"), b.address, main), "control reaches b's address");
    assert.ok(await echoes(a, "10.77.1.5", extra), "a reaches b's extra address");
    // Loopback is per host: b's 127.0.0.1 listener answers in b only.
    assert.ok(await echoes(b, "127.0.0.1", loop), "b reaches its own loopback listener");
    assert.equal(await echoes(a, "127.0.0.1", loop), false, "a must not reach b's loopback");

    // b's link down: a can't connect (refused, unreachable or the probe's 2 s bound).
    await t.linkDown("b");
    assert.match(
      (await b.run(["ip", "-o", "link", "show", "eth0"])).stdout,
      /NO-CARRIER|LOWER_DOWN|state DOWN/,
    );
    assert.equal(await echoes(a, b.address, main), false, "a must not reach b while it is down");
    await t.linkUp("b");
    await eventually(() => echoes(a, b.address, main), 15_000, "a reaches b again after linkUp");
  } finally {
    await t.close();
  }
  // Nothing the test made remains in the world namespace.
  assert.deepEqual(await networkState(), world, "netns or links left after close()");
});

fleetTest({
  name: "topology: control plane on one host, sidecars on two others route to each other",
  file: import.meta.url,
  ignore: skip !== undefined,
}, async () => {
  const t = await Topology.create({ hosts: ["control", "a", "b"] });
  const dir = await Deno.makeTempDir({ prefix: "mesh-topology-" });
  try {
    const [control, a, b] = [t.host("control"), t.host("a"), t.host("b")];
    await Deno.mkdir(`${dir}/config`);
    await Deno.writeTextFile(`${dir}/config/hello.yaml`, serviceEntryYaml("hello"));
    const { proc: cp, port: cpPort } = await control.control({
      configDir: `${dir}/config`,
      dataDir: `${dir}/data`,
    });

    const token = async (sa: string) => {
      const r = await control.meshRun([
        "token",
        "create",
        `--data-dir=${dir}/data`,
        "--namespace=default",
        `--service-account=${sa}`,
        "--ttl=1h",
      ]);
      assert.equal(r.code, 0, r.stderr);
      await Deno.writeTextFile(`${dir}/${sa}.token`, r.stdout.trim());
      return `${dir}/${sa}.token`;
    };
    /** A sidecar on `h` (inbound on its address); resolves once /ready answers inside `h`. */
    const sidecar = async (h: Host, app: string, appPort: number) => {
      const p = h.mesh(`sidecar-${h.name}`, [
        "start",
        "--mode=proxy",
        `--control=https://${control.address}:${cpPort}`,
        `--token-file=${await token(app)}`,
        `--service-account=${app}`,
        `--labels=app=${app}`,
        `--address=${h.address}`,
        `--app-port=${appPort}`,
        "--inbound-port=0",
        "--outbound-port=0",
        "--admin-port=0",
      ]);
      const fail = (err: Error) =>
        new Error(`${err.message}\n--- control ---\n${cp.output.slice(-3000)}`);
      const started = await p.waitFor(
        /proxy started .* outbound=(\d+) admin=(\d+)/,
        20_000,
      ).catch((err) => {
        throw fail(err);
      });
      const [outbound, admin] = started.slice(1).map(Number);
      // The admin port binds 127.0.0.1 inside the host: ask from there.
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
            `http://127.0.0.1:${admin}/ready`,
          ])).stdout === "200",
        20_000,
        `${p.name} ready`,
      ).catch((err) => {
        throw fail(err);
      });
      return { outbound, admin };
    };

    // The app beside host a's sidecar, on a's loopback only.
    const app = a.spawn("app-a", Deno.execPath(), [
      "eval",
      `const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: (x) =>
        console.log("app listening " + x.port) }, () => new Response("hello from a"));`,
    ]);
    const appPort = Number((await app.waitFor(/app listening (\d+)/))[1]);
    await sidecar(a, "hello", appPort);
    const sb = await sidecar(b, "client", 0);

    // b's app asks b's sidecar for hello: routed over mTLS to a's sidecar at a's address (its
    // inbound binds there: --address) and on to a's app.
    await eventually(
      async () => {
        const r = await b.run([
          "curl",
          "-s",
          "--max-time",
          "5",
          "-H",
          "Host: hello.default.svc.cluster.local:8080",
          `http://127.0.0.1:${sb.outbound}/`,
        ]);
        return r.stdout === "hello from a";
      },
      20_000,
      "b → hello on a, across hosts",
    );
    // What b's sidecar was told: hello's endpoint is a's address, registered through the
    // control plane on its own host.
    const dump = await b.run([
      "curl",
      "-s",
      "--max-time",
      "2",
      `http://127.0.0.1:${sb.admin}/config_dump`,
    ]);
    const eps = JSON.parse(dump.stdout).config.clusters[
      "outbound|8080||hello.default.svc.cluster.local"
    ].endpoints as { address: string; mtls: boolean }[];
    assert.deepEqual(eps.map((e) => [e.address, e.mtls]), [[a.address, true]]);
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
