/**
 * The systemd units in deploy/systemd, and the ones `mesh vm onboard` renders (with and without
 * capture): `systemd-analyze verify` finds nothing in any of them, `systemd-analyze security`
 * rates each at most 3.5 ("OK"), and each carries the hardening docs/vm.md describes (user
 * `mesh`, no capability but a gateway's CAP_NET_BIND_SERVICE, no MemoryDenyWriteExecute, ...).
 * verify needs each ExecStart binary to exist: the units are checked as copies naming a temp
 * executable instead of /usr/local/bin/mesh. Without systemd-analyze (Debian's systemd
 * package), the verify tests are skipped with one line; the directive checks always run.
 */
import assert from "node:assert/strict";
import { renderUnit } from "../cli/vm_files.ts";

const DIR = new URL("./systemd/", import.meta.url).pathname;

/** Each unit by file name: the four in deploy/systemd and the two onboarding renders. */
async function units(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(DIR)) {
    if (e.name.endsWith(".service")) out[e.name] = await Deno.readTextFile(DIR + e.name);
  }
  out["onboarded-mesh-proxy.service"] = renderUnit({ capture: false });
  out["onboarded-capture-mesh-proxy.service"] = renderUnit({ capture: true });
  return out;
}

const analyze = await new Deno.Command("systemd-analyze", {
  args: ["--version"],
  stdout: "piped",
  stderr: "null",
}).output().catch(() => undefined);
const version = analyze?.success
  ? Number(/systemd (\d+)/.exec(new TextDecoder().decode(analyze.stdout))?.[1] ?? 0)
  : 0;
const skip = version ? undefined : "systemd-analyze is missing (apt-get install systemd)";
if (skip) console.log(`systemd_test: verify skipped, ${skip}`);

/** `[Service]` settings of `unit`: name → values (a directive may repeat). */
function service(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let inService = false;
  for (const raw of unit.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) inService = line === "[Service]";
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (!inService || !kv) continue;
    m.set(kv[1], [...(m.get(kv[1]) ?? []), kv[2]]);
  }
  return m;
}

/** Runs systemd-analyze `args`; returns exit code and both outputs together. */
async function systemdAnalyze(args: string[], cwd: string): Promise<[number, string]> {
  const r = await new Deno.Command("systemd-analyze", {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_LOG_COLOR: "0", SYSTEMD_PAGER: "" },
  }).output();
  const dec = new TextDecoder();
  return [r.code, dec.decode(r.stderr) + dec.decode(r.stdout)];
}

Deno.test({
  name: "systemd units: systemd-analyze verify is silent, security exposure at most 3.5",
  ignore: skip !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-systemd-" });
  try {
    const bin = `${dir}/mesh`;
    await Deno.writeTextFile(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.chmod(bin, 0o755);
    for (const [name, text] of Object.entries(await units())) {
      assert.ok(text.includes("/usr/local/bin/mesh"), `${name} doesn't run /usr/local/bin/mesh`);
      await Deno.writeTextFile(`${dir}/${name}`, text.replaceAll("/usr/local/bin/mesh", bin));
      const [code, out] = await systemdAnalyze(["verify", `./${name}`], dir);
      assert.equal(code, 0, `${name}: ${out}`);
      assert.equal(out.trim(), "", `systemd-analyze verify ${name} reports:\n${out}`);
      if (version >= 250) { // --offline and --threshold came in systemd 250
        const [sc, sout] = await systemdAnalyze(
          ["security", "--offline=yes", "--threshold=35", `./${name}`],
          dir,
        );
        const level = /Overall exposure level for \S+: ([\d.]+)/.exec(sout)?.[1];
        assert.equal(sc, 0, `${name}: exposure ${level} is above 3.5\n${sout.slice(-3000)}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemd units: user mesh, hardened, no capability but the gateway's", async () => {
  for (const [name, text] of Object.entries(await units())) {
    const s = service(text);
    const one = (k: string) => {
      const v = s.get(k);
      assert.ok(v && v.length === 1, `${name}: ${k}= is ${v ? "repeated" : "missing"}`);
      return v[0];
    };
    assert.equal(one("User"), "mesh", name);
    assert.equal(one("Group"), "mesh", name);
    for (
      const [k, v] of [
        ["NoNewPrivileges", "yes"],
        ["ProtectSystem", "strict"],
        ["ProtectHome", "yes"],
        ["PrivateTmp", "yes"],
        ["LockPersonality", "yes"],
        ["SystemCallArchitectures", "native"],
        ["Restart", "on-failure"],
        ["RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK"],
      ]
    ) assert.equal(one(k), v, `${name}: ${k}`);
    // V8's JIT needs writable+executable memory.
    assert.equal(s.has("MemoryDenyWriteExecute"), false, `${name}: MemoryDenyWriteExecute`);
    assert.ok(/(^|\s)-?\/var\/lib\/mesh(\s|$)/.test(one("ReadWritePaths")), name);
    const caps = name === "mesh-gateway.service" ? "CAP_NET_BIND_SERVICE" : "";
    assert.equal(one("CapabilityBoundingSet"), caps, `${name}: CapabilityBoundingSet`);
    assert.equal(one("AmbientCapabilities"), caps, `${name}: AmbientCapabilities`);
    // Only the "+" (root) capture steps run mesh iptables; the proxy itself never does.
    const exec = [...(s.get("ExecStartPre") ?? []), ...(s.get("ExecStopPost") ?? [])];
    if (name.includes("capture")) {
      assert.deepEqual(exec, [
        "+/usr/local/bin/mesh iptables",
        "+/usr/local/bin/mesh iptables --cleanup",
      ]);
    } else assert.deepEqual(exec, [], name);
    if (name.startsWith("onboarded-")) assert.ok(!text.includes("#@"), `${name}: notes left`);
  }
});

Deno.test("the VM unit template is mesh-proxy.service in deploy/systemd, rendered", async () => {
  const template = await Deno.readTextFile(`${DIR}mesh-proxy.service`);
  // Without capture only the template's notes and capture lines go.
  assert.equal(
    renderUnit({ capture: false }),
    template.split("\n").filter((l) => !l.startsWith("#@")).join("\n"),
  );
  assert.match(template, /^#@capture ExecStartPre=\+\/usr\/local\/bin\/mesh iptables$/m);
  assert.match(template, /^EnvironmentFile=\/etc\/mesh\/mesh\.env$/m);
});
