/**
 * `mesh vm onboard` and `mesh vm install`, run as the CLI (subprocesses through tests/helpers.ts
 * meshRun) against a temp data dir made by the CA and token code: the files onboard writes, their
 * modes and contents (the env file the proxy reads, the token's claims, the roots, the unit with
 * and without capture), a WorkloadGroup's defaults, one-line errors with their exit codes; then
 * install under a --prefix (files, modes, the deno wrapper that really runs mesh, the VM's
 * address found towards the control URL), a second install that changes nothing, and
 * --uninstall leaving the prefix exactly as it was, a file that was there before included.
 */
import assert from "node:assert/strict";
import { meshRun } from "../tests/helpers.ts";
import { CertificateAuthority } from "../ca/ca.ts";
import { TokenIssuer } from "../ca/token.ts";
import { peekClaims } from "../ca/token_claims.ts";
import { certSha256 } from "../ca/pem.ts";
import { denoRunArgs } from "../util/v8_flags.ts";
import { parseEnvFile, renderUnit, setEnvVar, unitCommands } from "./vm_files.ts";

const GROUP = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: web, namespace: shop}
spec:
  metadata: {labels: {app: web}}
  template:
    serviceAccount: web-sa
    labels: {version: v2}
    ports: {http: 8080}
    locality: eu-west/zone-a
`;

/** A control plane's data dir (CA and token key) and config dir with one WorkloadGroup. */
async function fixture(): Promise<{ dir: string; data: string; config: string; ca: string }> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-vm-test-" });
  const ca = await CertificateAuthority.loadOrCreate(`${dir}/data/ca`, {
    trustDomain: "cluster.local",
  });
  await TokenIssuer.loadOrCreate(`${dir}/data`);
  await Deno.mkdir(`${dir}/config/shop`, { recursive: true });
  await Deno.writeTextFile(`${dir}/config/shop/workloadgroup-web.yaml`, GROUP);
  return { dir, data: `${dir}/data`, config: `${dir}/config`, ca: ca.trustBundlePem };
}

const mode = async (p: string) => ((await Deno.stat(p)).mode ?? 0) & 0o777;

/** Asserts a run failed with `code` and exactly one line on stderr matching `re`. */
function oneLineError(r: { code: number; stderr: string }, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
}

Deno.test("vm onboard writes token, roots, env, unit and README; modes and contents", async () => {
  const f = await fixture();
  try {
    const out = `${f.dir}/web-vm`;
    const r = await meshRun([
      "vm",
      "onboard",
      "--namespace=shop",
      "--service-account=web-sa",
      "--group=web",
      `--out=${out}`,
      `--data-dir=${f.data}`,
      "--control=https://10.0.0.5:15012",
      "--token-ttl=2h",
      "--app-port=9090",
      "--labels=app=web,tier=front",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sudo mesh vm install web-vm/);
    const names = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    assert.deepEqual(names.sort(), [
      "README.md",
      "mesh-proxy.service",
      "mesh.env",
      "root-cert.pem",
      "token",
    ]);
    assert.equal(await mode(out), 0o700);
    assert.equal(await mode(`${out}/token`), 0o600);
    for (const n of ["root-cert.pem", "mesh.env", "mesh-proxy.service", "README.md"]) {
      assert.equal(await mode(`${out}/${n}`), 0o644, n);
    }

    // The token: the identity asked for, the root pinned, the lifetime asked for.
    const token = (await Deno.readTextFile(`${out}/token`)).trim();
    const claims = peekClaims(token)!;
    assert.equal(claims.sub, "system:serviceaccount:shop:web-sa");
    const rootPem = await Deno.readTextFile(`${f.data}/ca/root-cert.pem`);
    assert.equal(claims.root_sha256, await certSha256(rootPem));
    const lifetime = (claims.exp as number) - (claims.iat as number); // both whole seconds
    assert.ok(lifetime === 7200 || lifetime === 7201, `lifetime ${lifetime} s`);
    const verified = await (await TokenIssuer.loadOrCreate(f.data, false)).verify(token);
    assert.deepEqual([verified.namespace, verified.serviceAccount, verified.singleUse], [
      "shop",
      "web-sa",
      false,
    ]);
    assert.equal(await Deno.readTextFile(`${out}/root-cert.pem`), f.ca);

    // mesh.env: every line a mesh start flag (or a comment), the group as --workload-group.
    const env = parseEnvFile(await Deno.readTextFile(`${out}/mesh.env`));
    assert.deepEqual(env, {
      MESH_CONTROL: "https://10.0.0.5:15012",
      MESH_TOKEN_FILE: "/var/lib/mesh/token",
      MESH_CERT_DIR: "/var/lib/mesh/certs",
      MESH_ROOT_CERT: "/etc/mesh/root-cert.pem",
      MESH_NAMESPACE: "shop",
      MESH_SERVICE_ACCOUNT: "web-sa",
      MESH_TRUST_DOMAIN: "cluster.local",
      MESH_WORKLOAD_GROUP: "web",
      MESH_LABELS: "app=web,tier=front",
      MESH_APP_PORT: "9090",
      MESH_INBOUND_PORT: "15006",
      MESH_OUTBOUND_PORT: "15001",
      MESH_ADMIN_PORT: "15000",
    });
    const { proxyFlags } = await import("./start.ts");
    for (const key of Object.keys(env)) {
      const flag = key.slice(5).toLowerCase().replace(/_/g, "-");
      if (flag === "workload-group" && !Object.hasOwn(proxyFlags, flag)) continue; // not yet
      assert.ok(Object.hasOwn(proxyFlags, flag), `${key} is no mesh start flag`);
    }

    // The unit: no capture steps without --capture; the proxy as user mesh.
    const unit = unitCommands(await Deno.readTextFile(`${out}/mesh-proxy.service`));
    assert.deepEqual(unit.start, ["/usr/local/bin/mesh", "start", "--mode=proxy"]);
    assert.deepEqual(unit.pre, []);
    assert.deepEqual(unit.stopPost, []);
    assert.deepEqual(unit.environmentFiles, ["/etc/mesh/mesh.env"]);
    assert.equal(unit.user, "mesh");
    const readme = await Deno.readTextFile(`${out}/README.md`);
    assert.match(readme, /^ {4}sudo mesh vm install web-vm$/m);
    assert.match(readme, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web-sa/);
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("vm onboard: the WorkloadGroup's template gives the defaults; --capture", async () => {
  const f = await fixture();
  try {
    const out = `${f.dir}/out`;
    const r = await meshRun([
      "vm",
      "onboard",
      "--namespace=shop",
      "--group=web",
      `--out=${out}`,
      `--data-dir=${f.data}`,
      `--config-dir=${f.config}`,
      "--control=https://cp.example:15012",
      "--labels=tier=front",
      "--capture",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const env = parseEnvFile(await Deno.readTextFile(`${out}/mesh.env`));
    assert.equal(env.MESH_SERVICE_ACCOUNT, "web-sa");
    assert.equal(env.MESH_LABELS, "app=web,tier=front,version=v2"); // group's, then --labels
    assert.equal(env.MESH_APP_PORT, "8080"); // the template's one port
    assert.equal(env.MESH_LOCALITY, "eu-west/zone-a");
    assert.equal(env.MESH_CAPTURE, "true");
    assert.equal(env.MESH_REDIRECT_DNS, "true"); // for the unit's mesh iptables
    // A mesh start without --locality says so (one note per such variable).
    const { proxyFlags } = await import("./start.ts");
    if (!Object.hasOwn(proxyFlags, "locality")) {
      assert.match(r.stderr, /note: .*no --locality yet; MESH_LOCALITY stays in mesh\.env/);
    }
    const text = await Deno.readTextFile(`${out}/mesh-proxy.service`);
    assert.equal(text, renderUnit({ capture: true }));
    const unit = unitCommands(text);
    assert.deepEqual(unit.pre, [["+/usr/local/bin/mesh", "iptables"]]);
    assert.deepEqual(unit.stopPost, [["+/usr/local/bin/mesh", "iptables", "--cleanup"]]);
    assert.ok(!text.includes("#@"), "template notes left in the unit");
    // mesh iptables, as ExecStartPre runs it with mesh.env, accepts the file's settings.
    const dry = await meshRun(["iptables", "--dry-run", "--proxy-uid=1337"], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /REDIRECT --to-ports 15006/);
    assert.match(dry.stdout, /MESH_DNS/);
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("vm onboard: bad input is one line naming the flag, exit 2 (or 1)", async () => {
  const f = await fixture();
  try {
    const base = (out: string) => [
      "vm",
      "onboard",
      "--namespace=shop",
      "--group=web",
      `--out=${out}`,
      `--data-dir=${f.data}`,
      "--control=https://10.0.0.5:15012",
    ];
    const out = `${f.dir}/out`;
    const cases: Array<[string[], number, RegExp]> = [
      [["vm", "onboard", "--group=web", `--out=${out}`], 2, /missing --namespace/],
      [["vm", "onboard", "--namespace=shop", `--out=${out}`], 2, /missing --group/],
      [["vm", "onboard", "--namespace=shop", "--group=web"], 2, /missing --out/],
      [base(out), 2, /missing --service-account: .*--config-dir/],
      [
        [...base(out), `--config-dir=${f.config}`, "--service-account=other"],
        2,
        /--service-account other contradicts WorkloadGroup shop\/web .*serviceAccount web-sa/,
      ],
      [
        [
          ...base(out).map((a) => a === "--group=web" ? "--group=nope" : a),
          `--config-dir=${f.config}`,
        ],
        2,
        /--group nope: no WorkloadGroup shop\/nope in --config-dir .*\(it has shop\/web\)/,
      ],
      [
        [...base(out), "--service-account=web-sa", "--locality=a/b/c/d"],
        2,
        /--locality "a\/b\/c\/d": must be region/,
      ],
      [
        [...base(out), "--service-account=web-sa", "--control=http://cp:15012"],
        2,
        /--control "http:\/\/cp:15012": must be https/,
      ],
      [
        [...base(out), "--service-account=web-sa", "--labels=app=-x"],
        2,
        /--labels: invalid label value/,
      ],
      [[...base(out), "--service-account=Web"], 2, /--service-account "Web" is not a DNS label/],
      [[...base(out), "--service-account=web-sa", "extra"], 2, /unexpected argument "extra"/],
      [
        [...base(out), "--service-account=web-sa", `--data-dir=${f.dir}/none`],
        1,
        /no CA in .*none\/ca/,
      ],
      [
        [...base(out), "--service-account=web-sa", `--config-dir=${f.dir}/none`],
        2,
        /--config-dir .*none: no such file/,
      ],
      [["vm", "sideways"], 2, /unknown command "vm sideways"/],
    ];
    for (const [args, code, re] of cases) oneLineError(await meshRun(args), code, re);
    await Deno.stat(out).then(() => assert.fail("a failed onboard wrote --out"), () => {});

    // An --out that exists and isn't empty needs --force; an unwritable one is exit 1.
    await Deno.mkdir(out);
    await Deno.writeTextFile(`${out}/keep.txt`, "mine");
    const ok = [...base(out), "--service-account=web-sa"];
    oneLineError(
      await meshRun(ok),
      2,
      /--out .*out: the directory exists and is not empty; pass --force/,
    );
    const forced = await meshRun([...ok, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await Deno.readTextFile(`${out}/keep.txt`), "mine");
    await Deno.stat(`${out}/token`);
    await Deno.writeTextFile(`${f.dir}/file`, "");
    oneLineError(
      await meshRun([...base(`${f.dir}/file/sub`), "--service-account=web-sa"]),
      1,
      /can't write --out .*file\/sub: .*name a directory you can write/,
    );
    oneLineError(
      await meshRun([...base(`${f.dir}/file`), "--service-account=web-sa"]),
      2,
      /--out .*file: is a file, not a directory/,
    );
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

/** Every path under `dir` with its type, mode, owner and content, for before/after. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (p: string) => {
    for await (const e of Deno.readDir(p)) {
      const full = `${p}/${e.name}`;
      const st = await Deno.lstat(full);
      const meta = `${e.isDirectory ? "d" : "f"} ${
        ((st.mode ?? 0) & 0o7777).toString(8)
      } ${st.uid}:${st.gid}`;
      if (e.isDirectory) {
        out[full.slice(dir.length)] = meta;
        await walk(full);
      } else out[full.slice(dir.length)] = `${meta} ${await Deno.readTextFile(full)}`;
    }
  };
  await walk(dir);
  return out;
}

Deno.test("vm install --prefix: files in place, idempotent, --uninstall restores the prefix", async () => {
  const f = await fixture();
  // Where the control URL points: install learns the VM's address from a connection there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const c of listener) c.close();
  })();
  try {
    const out = `${f.dir}/out`;
    const r = await meshRun([
      "vm",
      "onboard",
      "--namespace=shop",
      "--group=web",
      `--out=${out}`,
      `--data-dir=${f.data}`,
      `--config-dir=${f.config}`,
      `--control=https://127.0.0.1:${listener.addr.port}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const prefix = `${f.dir}/root`;
    // A host that already has /etc/mesh with a file of its own, which install replaces.
    await Deno.mkdir(`${prefix}/etc/mesh`, { recursive: true });
    await Deno.writeTextFile(`${prefix}/etc/mesh/root-cert.pem`, "an older root\n", {
      mode: 0o640,
    });
    await Deno.chmod(`${prefix}/etc/mesh/root-cert.pem`, 0o640);
    const before = await tree(prefix);

    const first = await meshRun(["vm", "install", out, `--prefix=${prefix}`]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /would run: useradd --system --no-create-home --shell \/usr\/sbin\/nologin mesh/,
    );
    assert.match(
      first.stdout,
      /to start the proxy run: systemctl daemon-reload && systemctl enable --now mesh-proxy/,
    );
    const p = (x: string) => `${prefix}${x}`;
    assert.equal(await mode(p("/var/lib/mesh/token")), 0o600);
    assert.equal(await mode(p("/var/lib/mesh")), 0o750);
    assert.equal(await mode(p("/var/lib/mesh/install-manifest.json")), 0o600);
    assert.equal(await mode(p("/etc/mesh/root-cert.pem")), 0o644);
    assert.equal(await mode(p("/usr/local/bin/mesh")), 0o755);
    assert.equal(
      await Deno.readTextFile(p("/var/lib/mesh/token")),
      await Deno.readTextFile(`${out}/token`),
    );
    assert.equal(await Deno.readTextFile(p("/etc/mesh/root-cert.pem")), f.ca);
    assert.equal(
      await Deno.readTextFile(p("/etc/systemd/system/mesh-proxy.service")),
      await Deno.readTextFile(`${out}/mesh-proxy.service`),
    );
    const mesh = (await Deno.stat(p("/etc/mesh/root-cert.pem"))).uid;
    const meshUser = await new Deno.Command("id", {
      args: ["-u", "mesh"],
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(
      (await Deno.stat(p("/var/lib/mesh/token"))).uid,
      meshUser.success ? Number(new TextDecoder().decode(meshUser.stdout)) : mesh,
    );
    // mesh.env as onboard wrote it, plus the address this host reaches the control URL from.
    const onboarded = await Deno.readTextFile(`${out}/mesh.env`);
    assert.equal(
      await Deno.readTextFile(p("/etc/mesh/mesh.env")),
      setEnvVar(onboarded, "MESH_ADDRESS", "127.0.0.1"),
    );
    // The wrapper runs this checkout's main.ts with mesh's V8 flags, and really runs mesh.
    const wrapper = await Deno.readTextFile(p("/usr/local/bin/mesh"));
    assert.ok(wrapper.startsWith("#!/bin/sh\n"));
    assert.ok(
      wrapper.includes(
        denoRunArgs(new URL("../main.ts", import.meta.url).pathname).map((a) => `'${a}'`).join(" "),
      ),
    );
    const v = await new Deno.Command(p("/usr/local/bin/mesh"), {
      args: ["version"],
      stdout: "piped",
    }).output();
    assert.match(new TextDecoder().decode(v.stdout), /^mesh \d+\.\d+\.\d+/);

    // Again: nothing changes, and it says so.
    const installed = await tree(prefix);
    const second = await meshRun(["vm", "install", out, `--prefix=${prefix}`]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing changed: mesh-proxy is already installed from /);
    assert.deepEqual(await tree(prefix), installed);

    // A new onboarding (new token) updates only what differs; the first install's "before" stays.
    const re = await meshRun([
      "vm",
      "onboard",
      "--namespace=shop",
      "--group=web",
      `--out=${out}`,
      "--force",
      `--data-dir=${f.data}`,
      `--config-dir=${f.config}`,
      `--control=https://127.0.0.1:${listener.addr.port}`,
    ]);
    assert.equal(re.code, 0, re.stderr);
    const third = await meshRun(["vm", "install", out, `--prefix=${prefix}`]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /wrote .*\/var\/lib\/mesh\/token/);
    assert.match(third.stdout, /unchanged .*\/etc\/mesh\/root-cert\.pem/);

    const un = await meshRun(["vm", "install", "--uninstall", `--prefix=${prefix}`]);
    assert.equal(un.code, 0, un.stderr);
    assert.match(un.stdout, /restored .*\/etc\/mesh\/root-cert\.pem/);
    assert.doesNotMatch(un.stdout, /removed .*\/etc\/mesh\/$/m); // there before install
    assert.deepEqual(await tree(prefix), before);
    oneLineError(
      await meshRun(["vm", "install", "--uninstall", `--prefix=${prefix}`]),
      1,
      /nothing to uninstall: no .*install-manifest\.json/,
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("vm install: bad input is one line naming the fix", async () => {
  const f = await fixture();
  try {
    await Deno.mkdir(`${f.dir}/empty`);
    await Deno.mkdir(`${f.dir}/root`);
    await Deno.mkdir(`${f.dir}/linked`);
    await Deno.symlink("/etc/hostname", `${f.dir}/linked/mesh.env`);
    const cases: Array<[string[], number, RegExp]> = [
      [["vm", "install"], 2, /missing DIR: mesh vm install DIR/],
      [["vm", "install", "a", "b"], 2, /one directory, not 2/],
      [
        ["vm", "install", `${f.dir}/empty`, "--prefix=rel"],
        2,
        /--prefix "rel": must be an absolute path/,
      ],
      [
        ["vm", "install", `${f.dir}/empty`, `--prefix=${f.dir}/root`],
        1,
        /empty\/mesh\.env: .*DIR must be what `mesh vm onboard --out` wrote/,
      ],
      [
        ["vm", "install", `${f.dir}/empty`, `--prefix=${f.dir}/nope`],
        1,
        /--prefix .*nope: .*make the directory first/,
      ],
      [
        ["vm", "install", "--uninstall", "x", `--prefix=${f.dir}/root`],
        2,
        /--uninstall reads the manifest, no DIR/,
      ],
      [["vm", "install", "--uninstall", `--prefix=${f.dir}/root`], 1, /nothing to uninstall/],
      [
        ["vm", "install", `${f.dir}/linked`, `--prefix=${f.dir}/root`],
        1,
        /linked\/mesh\.env: not a regular file/,
      ],
    ];
    for (const [args, code, re] of cases) oneLineError(await meshRun(args), code, re);
    // A control plane that can't be reached, with no --address: say how to give it.
    const out = `${f.dir}/out`;
    const r = await meshRun([
      "vm",
      "onboard",
      "--namespace=shop",
      "--group=web",
      `--out=${out}`,
      `--data-dir=${f.data}`,
      `--config-dir=${f.config}`,
      "--control=https://127.0.0.1:1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    oneLineError(
      await meshRun(["vm", "install", out, `--prefix=${f.dir}/root`]),
      1,
      /can't reach the control plane at https:\/\/127\.0\.0\.1:1 .*pass --address=IP/,
    );
    const withAddress = await meshRun([
      "vm",
      "install",
      out,
      `--prefix=${f.dir}/root`,
      "--address=10.1.2.3",
    ]);
    assert.equal(withAddress.code, 0, withAddress.stderr);
    assert.equal(
      parseEnvFile(await Deno.readTextFile(`${f.dir}/root/etc/mesh/mesh.env`)).MESH_ADDRESS,
      "10.1.2.3",
    );
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});
