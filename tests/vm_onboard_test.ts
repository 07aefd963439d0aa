/**
 * VM onboarding across hosts (issue 13): a control plane on host "control" with ServiceEntries
 * (`vmapp` selecting `app: vmapp`, `hello` on host "client") and the WorkloadGroup `vmapp`;
 * `mesh vm onboard` there (the group's template gives the service account and labels); on a
 * fresh host "vm", `mesh vm install DIR --prefix=<tmp>` (no systemd in the namespace: it prints
 * the systemctl line), then the proxy started exactly as the installed unit would start it: the
 * installed mesh.env (and the unit's Environment=) as the environment, the unit's ExecStartPre,
 * ExecStart and ExecStopPost command lines with /usr/local/bin/mesh as the installed deno
 * wrapper under the prefix (and the env's paths under the prefix, where the files are). With no
 * other step, a sidecar on a third host reaches the app on the vm by the ServiceEntry's host,
 * over mTLS, at the address install found for the vm. With `--capture`, the unit's `+mesh
 * iptables` runs first and the vm's unmodified curl reaches `hello` by name; ExecStopPost leaves
 * the nat table as it was. Then `--uninstall` leaves the prefix as it was (empty).
 *
 * The `mesh` user the unit runs the proxy as doesn't exist in the test: the proxy runs as root
 * with group 1337, and the capture step gets MESH_PROXY_UID/GID=1337 (the uid and gid `mesh
 * iptables` would look up for `mesh`), so the proxy's own connections escape capture as the
 * `mesh` user's would.
 *
 * Root only (network namespaces; iptables for the capture case): elsewhere skipped, one line.
 */
import assert from "node:assert/strict";
import { eventually, serviceEntryYaml } from "./helpers.ts";
import {
  captureUnavailable,
  fleetTest,
  fleetUnavailable,
  type Host,
  Topology,
} from "./topology.ts";
import { parseEnvFile, unitCommands } from "../cli/vm_files.ts";

const skip = await fleetUnavailable();
if (skip) console.log(`vm_onboard_test: skipped, ${skip}`);
const skipCapture = skip ?? await captureUnavailable();
if (skipCapture && !skip) console.log(`vm_onboard_test: capture case skipped, ${skipCapture}`);

const GROUP = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vmapp, namespace: default}
spec:
  metadata: {labels: {app: vmapp}}
  template:
    serviceAccount: vmapp
    labels: {version: v1}
`;

/** An HTTP app for `deno eval` on 127.0.0.1 answering args[0]. */
const APP = `
Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: (x) => console.log("app listening " + x.port) },
  () => new Response(Deno.args[0]));`;

/** The stand-in for the `mesh` user's ids (see the module doc). */
const PROXY_ID = "1337";

/** Whether the proxy's admin `/ready` on `h` answers 200 (asked from inside `h`). */
async function ready(h: Host, adminPort: number): Promise<boolean> {
  const r = await h.run([
    "curl",
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--max-time",
    "2",
    `http://127.0.0.1:${adminPort}/ready`,
  ]);
  return r.stdout === "200";
}

/** Every path under `dir` with its mode (empty for a fresh prefix). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string) => {
    for await (const e of Deno.readDir(p)) {
      const full = `${p}/${e.name}`;
      out.push(`${full.slice(dir.length)} ${((await Deno.lstat(full)).mode ?? 0) & 0o7777}`);
      if (e.isDirectory) await walk(full);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The nat table's chains and rules, without counters. */
async function natRules(h: Host): Promise<string[]> {
  const r = await h.run(["iptables-save", "-t", "nat"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("-A") || l.startsWith(":"))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ""));
}

/** The whole scenario of the module doc, with or without `--capture`. */
async function scenario(capture: boolean): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-vm-onboard-" });
  await Deno.mkdir(`${dir}/config`);
  await Deno.writeTextFile(`${dir}/config/vmapp.yaml`, serviceEntryYaml("vmapp"));
  await Deno.writeTextFile(`${dir}/config/hello.yaml`, serviceEntryYaml("hello"));
  await Deno.writeTextFile(`${dir}/config/vmapp-group.yaml`, GROUP);
  const t = await Topology.create({ hosts: ["control", "vm", "client"] });
  try {
    const [control, vm, client] = ["control", "vm", "client"].map((n) => t.host(n));
    const { proc: cp, port: cpPort } = await control.control({
      configDir: `${dir}/config`,
      dataDir: `${dir}/data`,
    });
    const logs = (...procs: { name: string; output: string }[]) =>
      [cp, ...procs].map((p) => `\n--- ${p.name} ---\n${p.output.slice(-3000)}`).join("");

    // The app on the vm, on its loopback only.
    const app = vm.spawn("vm-app", Deno.execPath(), ["eval", APP, "hello from the vm"]);
    const appPort = Number((await app.waitFor(/app listening (\d+)/))[1]);

    // On the control plane's host: one command writes everything the vm needs.
    const out = `${dir}/vmapp-vm`;
    const onboard = await control.meshRun([
      "vm",
      "onboard",
      "--namespace=default",
      "--group=vmapp",
      `--out=${out}`,
      `--data-dir=${dir}/data`,
      `--config-dir=${dir}/config`,
      `--control=https://${control.address}:${cpPort}`,
      `--app-port=${appPort}`,
      ...(capture ? ["--capture"] : []),
    ]);
    assert.equal(onboard.code, 0, onboard.stderr);
    assert.match(onboard.stdout, /sudo mesh vm install vmapp-vm/);

    // On the vm: install under a prefix. No systemd here: it says what it would run.
    const prefix = `${dir}/vmroot`;
    await Deno.mkdir(prefix);
    const before = await tree(prefix);
    const install = await vm.meshRun(["vm", "install", out, `--prefix=${prefix}`]);
    assert.equal(install.code, 0, install.stderr);
    assert.match(
      install.stdout,
      /to start the proxy run: systemctl daemon-reload && systemctl enable --now mesh-proxy/,
    );

    // The unit's environment and command lines, as installed.
    const rooted = (p: string) => `${prefix}${p}`;
    const unit = unitCommands(
      await Deno.readTextFile(rooted("/etc/systemd/system/mesh-proxy.service")),
    );
    const env: Record<string, string> = { ...unit.environment };
    for (const f of unit.environmentFiles) {
      Object.assign(env, parseEnvFile(await Deno.readTextFile(rooted(f.replace(/^-/, "")))));
    }
    assert.equal(env.MESH_SERVICE_ACCOUNT, "vmapp"); // from the WorkloadGroup
    assert.equal(env.MESH_LABELS, "app=vmapp,version=v1");
    assert.equal(env.MESH_WORKLOAD_GROUP, "vmapp");
    assert.equal(env.MESH_ADDRESS, vm.address, "install found the vm's address");
    for (const [k, v] of Object.entries(env)) {
      // Paths under the prefix, including those the proxy makes itself (its --cert-dir).
      const own = v.startsWith("/var/lib/mesh/");
      if (v.startsWith("/") && (own || await Deno.stat(rooted(v)).then(() => true, () => false))) {
        env[k] = rooted(v);
      }
    }
    /** A unit command line as a [program, args] on the vm ("+" runs it as root: it is root). */
    const cmd = (words: string[]): [string, string[]] => {
      const program = words[0].replace(/^[+\-!@:]+/, "");
      assert.equal(program, "/usr/local/bin/mesh");
      return [rooted(program), words.slice(1)];
    };
    const runAll = async (lines: string[][], what: string) => {
      for (const words of lines) {
        const [program, args] = cmd(words);
        const r = await vm.run([program, ...args], {
          env: { ...env, MESH_PROXY_UID: PROXY_ID, MESH_PROXY_GID: PROXY_ID },
        });
        assert.equal(r.code, 0, `${what} ${words.join(" ")}: ${r.stderr}`);
      }
    };
    const natBefore = capture ? await natRules(vm) : [];
    assert.equal(unit.pre.length, capture ? 1 : 0);
    await runAll(unit.pre, "ExecStartPre");
    const [program, args] = cmd(unit.start);
    const proxy = vm.spawn("vm-proxy", "setpriv", [
      `--regid=${PROXY_ID}`,
      "--clear-groups",
      program,
      ...args,
    ], env);
    await eventually(() => ready(vm, Number(env.MESH_ADMIN_PORT)), 30_000, "the vm's proxy ready")
      .catch((err) => {
        throw new Error(`${err.message}${logs(proxy)}`);
      });

    // A sidecar on a third host, with an app of its own (hello).
    const hello = client.spawn("hello-app", Deno.execPath(), ["eval", APP, "hello from client"]);
    const helloPort = Number((await hello.waitFor(/app listening (\d+)/))[1]);
    const sidecar = client.mesh("client-sidecar", [
      "start",
      "--mode=proxy",
      `--control=https://${control.address}:${cpPort}`,
      `--token-file=${await control.token({
        dataDir: `${dir}/data`,
        namespace: "default",
        serviceAccount: "hello",
      })}`,
      "--service-account=hello",
      "--labels=app=hello",
      `--address=${client.address}`,
      `--app-port=${helloPort}`,
      "--inbound-port=15006",
      "--outbound-port=15001",
      "--admin-port=15000",
    ]);
    await eventually(() => ready(client, 15000), 30_000, "the client's sidecar ready")
      .catch((err) => {
        throw new Error(`${err.message}${logs(sidecar)}`);
      });

    // The vm's service by its ServiceEntry host, through the client's sidecar.
    const curl = (h: Host, args: string[]) =>
      h.run(["curl", "-s", "--max-time", "5", ...args], {
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      });
    await eventually(
      async () =>
        (await curl(client, [
          "-H",
          "Host: vmapp.default.svc.cluster.local:8080",
          "http://127.0.0.1:15001/",
        ])).stdout === "hello from the vm",
      30_000,
      "client → vmapp on the vm",
    ).catch((err) => {
      throw new Error(`${err.message}${logs(proxy, sidecar)}`);
    });
    // The endpoint is the vm's address, over mTLS, and the vm's proxy saw the caller's identity.
    const dump = await curl(client, ["http://127.0.0.1:15000/config_dump"]);
    const eps = JSON.parse(dump.stdout).config.clusters[
      "outbound|8080||vmapp.default.svc.cluster.local"
    ].endpoints as { address: string; mtls: boolean }[];
    assert.deepEqual(eps.map((e) => [e.address, e.mtls]), [[vm.address, true]]);
    const stats = async (h: Host, port: string | number) =>
      (await curl(h, [`http://127.0.0.1:${port}/stats/prometheus`])).stdout;
    const vmStats = await stats(vm, env.MESH_ADMIN_PORT);
    assert.ok(
      vmStats.includes('source_principal="spiffe://cluster.local/ns/default/sa/hello"'),
      vmStats.slice(0, 3000),
    );
    assert.match(vmStats, /connection_security_policy="mutual_tls"/);

    if (capture) {
      // The vm's app side: an unmodified curl, no proxy variables, calls hello by name.
      await eventually(
        async () =>
          (await curl(vm, ["http://hello.default.svc.cluster.local:8080/"])).stdout ===
            "hello from client",
        30_000,
        "curl hello by name on the vm",
      ).catch((err) => {
        throw new Error(`${err.message}${logs(proxy)}`);
      });
      const helloStats = await stats(client, 15000);
      assert.ok(
        helloStats.includes('source_principal="spiffe://cluster.local/ns/default/sa/vmapp"'),
        helloStats.slice(0, 3000),
      );
    }

    // Stop as systemd would (the proxy, then ExecStopPost), then uninstall.
    await proxy.stop();
    await runAll(unit.stopPost, "ExecStopPost");
    if (capture) assert.deepEqual(await natRules(vm), natBefore);
    const un = await vm.meshRun(["vm", "install", "--uninstall", `--prefix=${prefix}`]);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(await tree(prefix), before);
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

fleetTest({
  name: "vm onboard + install: the VM's workload joins the mesh with no other step",
  file: import.meta.url,
  ignore: skip !== undefined,
  timeoutMs: 180_000,
}, () => scenario(false));

fleetTest({
  name: "vm onboard --capture + install: the unit's mesh iptables, the vm's app calls by name",
  file: import.meta.url,
  ignore: skipCapture !== undefined,
  timeoutMs: 180_000,
}, () => scenario(true));
