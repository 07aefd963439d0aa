/**
 * Disk faults with real processes: the control plane's config dir or data dir on a small tmpfs
 * that is filled up or mounted read-only. `mesh apply` gets a clear 507 naming the dir and the
 * fix and nothing stored is lost; a full data dir keeps certificates coming (audit lines kept
 * and written once there is space; single-use tokens refused with 503, not burned); a
 * read-only data dir stops the control plane at start with a message naming it.
 *
 * Needs `mount -t tmpfs` (root); without it every test here is skipped with one line.
 */
import assert from "node:assert/strict";
import { createCsr } from "../ca/csr.ts";
import { TokenIssuer } from "../ca/token.ts";
import { eventually, mesh, meshRun, type Proc } from "./helpers.ts";

const TMPFS_SIZE = "256k";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
}

/** A temp dir with a small tmpfs mounted at `<base>/<name>`; `close` unmounts and removes. */
async function withTmpfs(
  names: string[],
  fn: (base: string, mounts: Record<string, string>) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "mesh-fault-disk-" });
  const mounted: string[] = [];
  try {
    const mounts: Record<string, string> = {};
    for (const n of names) {
      const dir = `${base}/${n}`;
      await Deno.mkdir(dir);
      const m = await run("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", dir]);
      if (!m.ok) throw new Error(`mount tmpfs at ${dir} failed: ${m.out}`);
      mounted.push(dir);
      mounts[n] = dir;
    }
    await fn(base, mounts);
  } finally {
    for (const dir of mounted.reverse()) {
      let u = await run("umount", [dir]);
      if (!u.ok) u = await run("umount", ["-l", dir]); // a process still holding it: lazy
      if (!u.ok) console.error(`fault: can't unmount ${dir}: ${u.out}`);
    }
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}

/** Whether this process may mount a tmpfs (root, not in a locked-down container). */
async function canMountTmpfs(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-fault-probe-" });
  try {
    const m = await run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]).catch((err) => ({
      ok: false,
      out: String(err),
    }));
    if (!m.ok) return m.out || "mount failed";
    await run("umount", [dir]);
    return undefined;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const noMount = await canMountTmpfs();
if (noMount) {
  console.log(`fault: disk tests skipped: mount -t tmpfs is not permitted here (${noMount})`);
}

/** Fills the file system of `dir` until a 1-byte file can't be written; returns the filler. */
async function fill(dir: string): Promise<string> {
  const filler = `${dir}/.filler`;
  await Deno.writeFile(filler, new Uint8Array(1024 * 1024)).catch((err) => {
    if ((err as { code?: string }).code !== "ENOSPC") throw err;
  });
  // Whatever a page boundary left: small files until even one byte doesn't fit (bounded).
  for (let i = 0; i < 256; i++) {
    try {
      await Deno.writeFile(`${dir}/.filler-${i}`, new Uint8Array(4096));
    } catch (err) {
      if ((err as { code?: string }).code === "ENOSPC") break;
      throw err;
    }
  }
  await assert.rejects(Deno.writeTextFile(`${dir}/.probe`, "x"), /No space left/);
  await Deno.remove(`${dir}/.probe`).catch(() => {});
  return filler;
}

/** Frees what {@linkcode fill} took. */
async function unfill(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".filler")) await Deno.remove(`${dir}/${e.name}`);
  }
}

/** A control plane on `configDir`/`dataDir`, ports learnt from its log. */
async function startControl(configDir: string, dataDir: string) {
  const proc = mesh("control", [
    "start",
    "--mode=control",
    `--config-dir=${configDir}`,
    `--data-dir=${dataDir}`,
    "--listen=127.0.0.1:0",
    "--admin-port=0",
  ]);
  const [listening, admin] = await Promise.all([
    proc.waitFor(/control plane listening address=127\.0\.0\.1:(\d+)/),
    proc.waitFor(/admin listening address=127\.0\.0\.1:(\d+)/),
  ]).catch(async (err) => {
    await proc.stop();
    throw err;
  });
  return { proc, port: Number(listening[1]), adminPort: Number(admin[1]) };
}

/** Every file under `dir` (hidden fillers left out), relative path → content. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, prefix: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.name.startsWith(".filler")) continue;
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${prefix}${e.name}/`);
      else out[prefix + e.name] = await Deno.readTextFile(`${d}/${e.name}`);
    }
  };
  await walk(dir, "");
  return out;
}

const vs = (name: string, subset: string) =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}, subset: ${subset}}
`;

/** POSTs a CSR for `sa` to the signing API (verified against the root). */
async function sign(
  port: number,
  roots: string,
  token: string,
  sa: string,
): Promise<{ status: number; body: { error?: string; certChain?: string } }> {
  const { csrPem } = await createCsr(`spiffe://cluster.local/ns/default/sa/${sa}`);
  const client = Deno.createHttpClient({ caCerts: [roots], http2: false });
  try {
    const r = await fetch(`https://127.0.0.1:${port}/v1/certificates`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ csr: csrPem }),
      client,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : {} };
  } finally {
    client.close();
  }
}

Deno.test({
  name:
    "disk full under the config dir: mesh apply gets 507 naming the dir, nothing is lost, the old config keeps serving; read-only gets 503",
  ignore: noMount !== undefined,
  fn: async () => {
    await withTmpfs(["config"], async (base, { config }) => {
      await Deno.writeTextFile(`${config}/reviews.yaml`, `# hand-written\n${vs("reviews", "v1")}`);
      const c = await startControl(config, `${base}/data`);
      try {
        const t = await meshRun(["token", "create", "--admin", `--data-dir=${base}/data`]);
        assert.equal(t.code, 0, t.stderr);
        await Deno.writeTextFile(`${base}/admin.token`, t.stdout.trim());
        const env = {
          MESH_SERVER: `http://127.0.0.1:${c.adminPort}`,
          MESH_TOKEN_FILE: `${base}/admin.token`,
        };
        const apply = (yaml: string) => meshRun(["apply", "-f", "-"], { stdin: yaml, env });
        // Works while there is room: a second resource in a file of its own.
        const first = await apply(vs("ratings", "v1"));
        assert.equal(first.code, 0, first.stderr);

        await fill(config);
        const before = await contents(config);
        assert.deepEqual(Object.keys(before).sort(), [
          "default/virtualservice-ratings.yaml",
          "reviews.yaml",
        ]);
        // A change in place, a new resource in a new namespace dir, and both at once.
        const attempts = [
          vs("reviews", "v2"),
          vs("details", "v1").replace("namespace: default", "namespace: shop"),
          vs("reviews", "v3") + "---\n" + vs("ratings", "v2"),
        ];
        let refused = 0;
        for (const yaml of attempts) {
          const r = await apply(yaml);
          assert.equal(r.code, 1, r.stdout + r.stderr);
          const lines = r.stderr.trim().split("\n");
          assert.equal(lines.length, 1, r.stderr);
          assert.match(
            lines[0],
            new RegExp(
              `^mesh: the control plane can't store it \\(507 Insufficient Storage\\): can't store ` +
                `the configuration in ${config}: no space left on the device of ${config}; ` +
                `free space in ${config}, then retry; nothing was applied`,
            ),
          );
          refused++;
        }
        // The API itself: 507 with the same message.
        const res = await fetch(`http://127.0.0.1:${c.adminPort}/apis/v1/apply`, {
          method: "POST",
          headers: { authorization: `Bearer ${t.stdout.trim()}` },
          body: vs("reviews", "v4"),
        });
        assert.equal(res.status, 507);
        assert.match((await res.json()).error, /free space in /);

        // Nothing lost: the same files, byte for byte, no temporary file, no new directory.
        const after = await contents(config);
        assert.deepEqual(after, before);
        const lost = Object.keys(before).filter((f) => after[f] !== before[f]).length;
        // ...and still served as they were.
        const get = await meshRun(["get", "vs", "reviews", "-o", "yaml"], { env });
        assert.equal(get.code, 0, get.stderr);
        assert.match(get.stdout, /subset: v1/);
        assert.doesNotMatch(get.stdout, /subset: v[234]/);

        // Space again: the same apply goes through.
        await unfill(config);
        const retry = await apply(vs("reviews", "v2"));
        assert.equal(retry.code, 0, retry.stderr);
        assert.match(await Deno.readTextFile(`${config}/reviews.yaml`), /# hand-written[\s\S]*v2/);

        // A read-only config dir: 503, in one line, and the files stay as they are.
        const rw = await contents(config);
        assert.ok((await run("mount", ["-o", "remount,ro", config])).ok);
        try {
          const ro = await apply(vs("reviews", "v5"));
          assert.equal(ro.code, 1, ro.stdout + ro.stderr);
          assert.match(
            ro.stderr.trim(),
            new RegExp(
              `^mesh: the control plane can't store it \\(503 Service Unavailable\\): can't ` +
                `store the configuration in ${config}: ${config} is on a read-only file system; ` +
                "remount it read-write[^\\n]*nothing was applied[^\\n]*$",
            ),
          );
        } finally {
          assert.ok((await run("mount", ["-o", "remount,rw", config])).ok);
        }
        assert.deepEqual(await contents(config), rw);
        console.log("fault: read-only config dir: apply refused with 503, 0 files changed");
        console.log(
          `fault: disk full: apply refused with 507 ${refused + 1}/${refused + 1} times, ` +
            `${lost} files lost, ${
              Object.keys(after).filter((f) => f.includes(".tmp-")).length
            } temp files left`,
        );
      } finally {
        await c.proc.stop();
      }
    });
  },
});

Deno.test({
  name:
    "disk full under the data dir: certificates keep coming, audit lines wait for space, single-use tokens get 503 and are not burned",
  ignore: noMount !== undefined,
  fn: async () => {
    await withTmpfs(["data"], async (base, { data }) => {
      await Deno.mkdir(`${base}/config`);
      const c = await startControl(`${base}/config`, data);
      try {
        const roots = await Deno.readTextFile(`${data}/ca/root-cert.pem`);
        const issuer = await TokenIssuer.loadOrCreate(data, false);
        const token = await issuer.create({ namespace: "default", serviceAccount: "a" });
        const once = await issuer.create({
          namespace: "default",
          serviceAccount: "b",
          singleUse: true,
        });
        const ok = await sign(c.port, roots, token, "a");
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        await eventually(
          async () => (await Deno.readTextFile(`${data}/ca/audit.log`).catch(() => "")).length > 0,
          10_000,
          "the first audit line",
        );

        await fill(data);
        // More than the last page of audit.log holds (tmpfs appends into a page's slack).
        const N = 20;
        let issued = 0;
        for (let i = 0; i < N; i++) {
          const r = await sign(c.port, roots, token, "a");
          assert.equal(r.status, 200, JSON.stringify(r.body));
          if (r.body.certChain) issued++;
        }
        const auditErrors = await c.proc.waitFor(
          /ERROR ca can't write the CA audit log; its records are kept in memory[^\n]*/,
        );
        assert.match(auditErrors[0], new RegExp(`free space in ${data}/ca`));
        const errorLines = c.proc.output.match(/can't write the CA audit log/g)?.length ?? 0;
        assert.ok(errorLines < N, `${errorLines} error lines for ${N} failed writes`);

        // A single-use token can't be recorded as spent: 503, and it stays good.
        const refused = await sign(c.port, roots, once, "b");
        assert.equal(refused.status, 503, JSON.stringify(refused.body));
        assert.match(refused.body.error ?? "", /free space/);

        // Space again: the token works once, and every audit record reaches the file.
        await unfill(data);
        const spent = await sign(c.port, roots, once, "b");
        assert.equal(spent.status, 200, JSON.stringify(spent.body));
        const again = await sign(c.port, roots, once, "b");
        assert.equal(again.status, 401, JSON.stringify(again.body));
        const audit = await eventually(
          async () => {
            const text = await Deno.readTextFile(`${data}/ca/audit.log`);
            const issuedLines = text.split("\n").filter((l) => l.includes('"event":"issued"'));
            return issuedLines.length >= 1 + N + 1 ? text : undefined;
          },
          10_000,
          "every issued certificate in audit.log",
        );
        const records = audit.trimEnd().split("\n").map((l) => JSON.parse(l));
        const issuedRecords = records.filter((r) => r.event === "issued").length;
        const recovered = await c.proc.waitFor(
          /the CA audit log is writable again .*written=(\d+)/,
        );
        console.log(
          `fault: data dir full: ${issued}/${N} certificates issued, ${errorLines} audit error ` +
            `line(s) logged, ${recovered[1]} audit records held in memory and written once space ` +
            `was freed, ${1 + N + 1 - issuedRecords} lost; single-use token refused with 503 and ` +
            "not burned",
        );
        assert.equal(issuedRecords, 1 + N + 1);
      } finally {
        await c.proc.stop();
      }
    });
  },
});

Deno.test({
  name: "a read-only data dir at start: the control plane exits with a message naming the dir",
  ignore: noMount !== undefined,
  fn: async () => {
    await withTmpfs(["data"], async (base, { data }) => {
      await Deno.mkdir(`${base}/config`);
      const r = await run("mount", ["-o", "remount,ro", data]);
      assert.ok(r.ok, r.out);
      const proc: Proc = mesh("control", [
        "start",
        "--mode=control",
        `--config-dir=${base}/config`,
        `--data-dir=${data}`,
        "--listen=127.0.0.1:0",
        "--admin-port=0",
      ]);
      const status = await proc.status;
      assert.notEqual(status.code, 0, proc.output);
      assert.match(
        proc.output,
        new RegExp(
          `data dir ${data} is not writable \\(a read-only file system\\); .*remount it ` +
            "read-write or pass a writable --data-dir",
        ),
      );
      assert.doesNotMatch(proc.output, /control plane listening/);
      console.log(`fault: read-only data dir: start refused, exit ${status.code}, dir named`);
    });
  },
});
