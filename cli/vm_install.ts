/**
 * `mesh vm install DIR [--prefix=/]`: on the VM, puts the files of `mesh vm onboard`'s directory
 * in place ({@linkcode VM_PATHS}), creates the system user `mesh`, installs `/usr/local/bin/mesh`
 * (this binary when compiled, else a wrapper that runs main.ts with deno), and starts the unit
 * when systemd runs the machine. Each file is written atomically; a second run with the same
 * directory changes nothing and says so. `--uninstall` undoes exactly what install did, from the
 * manifest it keeps at `/var/lib/mesh/install-manifest.json` (what each file was before, which
 * directories and user it created). `--prefix` roots every path (the files' contents still name
 * the real paths, as `make DESTDIR=` does); with a prefix, `useradd` and `systemctl` are only
 * printed.
 *
 * @example
 * ```ts
 * await installVm({ dir: "./web-vm", prefix: "/tmp/root" }); // writes /tmp/root/etc/mesh/...
 * await uninstallVm({ prefix: "/tmp/root" }); // /tmp/root as it was
 * ```
 * @module
 */
import { atomicWrite } from "../util/atomic_write.ts";
import { denoRunArgs } from "../util/v8_flags.ts";
import {
  ONBOARD_FILES,
  parseEnvFile,
  setEnvVar,
  UNIT_NAME,
  VM_DIRS,
  VM_PATHS,
  wrapperScript,
} from "./vm_files.ts";

/** What {@linkcode installVm} takes. */
export interface InstallOptions {
  /** The directory `mesh vm onboard --out` wrote. */
  dir: string;
  /** Root of every installed path (default `/`). */
  prefix?: string;
  /** The VM's address for mesh.env when it has none (default: found towards the control plane). */
  address?: string;
  /** Where progress lines go (default console.log). */
  log?: (line: string) => void;
}

/** What {@linkcode uninstallVm} takes. */
export interface UninstallOptions {
  prefix?: string;
  log?: (line: string) => void;
}

/**
 * A file as it was before install: mode, owner, and whether its old bytes are kept in
 * {@linkcode BACKUP_DIR} (only when install changed them).
 */
interface Before {
  mode: number;
  uid: number;
  gid: number;
  backup: boolean;
}

/** A file as it is now. */
interface Current {
  data: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
}

/** Where install keeps the old bytes of files it replaced (`<dir>/<file name>`), for --uninstall. */
export const BACKUP_DIR = "/var/lib/mesh/install-backup";

/** The install manifest (`/var/lib/mesh/install-manifest.json`). */
export interface Manifest {
  version: 1;
  /** The onboarding directory last installed from. */
  source: string;
  /** Installed files (real paths) and what each was before the first install (null: absent). */
  files: Array<{ path: string; before: Before | null }>;
  /** Directories install created, parents first. */
  dirs: string[];
  /** Whether install created the user `mesh`. */
  userCreated: boolean;
}

/** One file install wants, with its owner. */
interface Target {
  path: string;
  data: Uint8Array;
  mode: number;
  owner: "root" | "mesh";
}

const USER = "mesh";
const USERADD = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER];
const enc = new TextEncoder();

/** `path` under `prefix`. */
function rooted(prefix: string, path: string): string {
  const p = prefix.replace(/\/+$/, "");
  return p ? p + path : path;
}

/** The uid and gid of `name` (from the system's user database), if it exists. */
async function lookupUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const r = await new Deno.Command("getent", { args: ["passwd", name], stdout: "piped" })
    .output().catch(() => undefined);
  if (!r?.success) return undefined;
  const f = new TextDecoder().decode(r.stdout).trim().split(":");
  return f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : undefined;
}

/** Runs `cmd` to completion; throws with its stderr when it fails. */
async function run(cmd: string[], log: (l: string) => void): Promise<void> {
  log(`running: ${cmd.join(" ")}`);
  const r = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "inherit",
    stderr: "piped",
  })
    .output().catch((err) => {
      throw new Error(`can't run ${cmd[0]}: ${(err as Error).message}`);
    });
  if (!r.success) {
    throw new Error(
      `${cmd.join(" ")} failed (exit ${r.code}): ${new TextDecoder().decode(r.stderr).trim()}`,
    );
  }
}

/** Why systemctl isn't run here (a prefix, or PID 1 isn't systemd), or undefined when it is. */
async function noSystemd(prefix: string): Promise<string | undefined> {
  if (rooted(prefix, "/") !== "/") return `--prefix ${prefix}`;
  const comm = (await Deno.readTextFile("/proc/1/comm").catch(() => "unknown")).trim();
  return comm === "systemd" ? undefined : `systemd is not running here (PID 1 is ${comm})`;
}

/** The file at `path` as it is now, or null. */
async function current(path: string): Promise<Current | null> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  if (!st.isFile) throw new Error(`${path} is not a regular file; move it away first`);
  return {
    data: await Deno.readFile(path),
    mode: (st.mode ?? 0) & 0o7777,
    uid: st.uid ?? 0,
    gid: st.gid ?? 0,
  };
}

/** The backup of `path` (real path). */
function backupOf(path: string): string {
  return `${BACKUP_DIR}/${path.split("/").pop()}`;
}

/** The address this host uses towards `control` (a TCP connection's local address). */
async function addressTowards(control: string): Promise<string> {
  const u = new URL(control);
  const port = Number(u.port || 443);
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname, port });
  try {
    const conn = await Promise.race([
      attempt,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer in 5 s")), 5000);
      }),
    ]);
    const addr = (conn.localAddr as Deno.NetAddr).hostname;
    conn.close();
    return addr;
  } catch (err) {
    attempt.then((c) => c.close(), () => {});
    throw new Error(
      `can't reach the control plane at ${control} to learn this VM's address ` +
        `(${(err as Error).message}); pass --address=IP, the address peers reach this VM at`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** `/usr/local/bin/mesh`: this binary when compiled, else a wrapper running main.ts with deno. */
async function meshBinary(): Promise<Uint8Array> {
  const exe = Deno.execPath();
  const name = exe.split("/").pop() ?? "";
  if (name !== "deno" && name !== "deno.exe") return await Deno.readFile(exe);
  const main = new URL("../main.ts", import.meta.url);
  if (main.protocol !== "file:") {
    throw new Error(`mesh runs from ${main}, not a file: can't wrap it`);
  }
  const home = Deno.env.get("HOME");
  const denoDir = Deno.env.get("DENO_DIR") ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? (home ? `${home}/.cache` : "/var/cache")}/deno`;
  return enc.encode(
    wrapperScript({ deno: exe, runArgs: denoRunArgs(decodeURIComponent(main.pathname)), denoDir }),
  );
}

/** Reads the onboarding directory: its files, the env file with the VM's address. */
async function readOnboardDir(o: InstallOptions): Promise<Target[]> {
  const read = async (name: string) => {
    try {
      // Root copies these: a symlink (say to /etc/shadow) must not become the proxy's file.
      if (!(await Deno.lstat(`${o.dir}/${name}`)).isFile) throw new Error("not a regular file");
      return await Deno.readFile(`${o.dir}/${name}`);
    } catch (err) {
      throw new Error(
        `${o.dir}/${name}: ${(err as Error).message}; DIR must be what \`mesh vm onboard --out\` ` +
          "wrote (token, root-cert.pem, mesh.env, mesh-proxy.service)",
      );
    }
  };
  let envText = new TextDecoder().decode(await read(ONBOARD_FILES.env));
  let env: Record<string, string>;
  try {
    env = parseEnvFile(envText);
  } catch (err) {
    throw new Error(`${o.dir}/${ONBOARD_FILES.env}: ${(err as Error).message}`);
  }
  if (!env.MESH_CONTROL) throw new Error(`${o.dir}/${ONBOARD_FILES.env} has no MESH_CONTROL`);
  if (o.address !== undefined || !env.MESH_ADDRESS) {
    const address = o.address ?? await addressTowards(env.MESH_CONTROL);
    envText = setEnvVar(envText, "MESH_ADDRESS", address);
  }
  return [
    { path: VM_PATHS.env, data: enc.encode(envText), mode: 0o644, owner: "root" },
    { path: VM_PATHS.root, data: await read(ONBOARD_FILES.root), mode: 0o644, owner: "root" },
    { path: VM_PATHS.token, data: await read(ONBOARD_FILES.token), mode: 0o600, owner: USER },
    { path: VM_PATHS.unit, data: await read(ONBOARD_FILES.unit), mode: 0o644, owner: "root" },
    { path: VM_PATHS.bin, data: await meshBinary(), mode: 0o755, owner: "root" },
  ];
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads the manifest under `prefix`, if there is one; checks it names only install's paths. */
async function readManifest(prefix: string): Promise<Manifest | undefined> {
  const path = rooted(prefix, VM_PATHS.manifest);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const m = JSON.parse(text) as Manifest;
  const files = new Set<string>(Object.values(VM_PATHS));
  const dirs = new Set<string>([...VM_DIRS, BACKUP_DIR]);
  if (
    m.version !== 1 || !Array.isArray(m.files) || !Array.isArray(m.dirs) ||
    m.files.some((f) => !files.has(f.path) || f.path === VM_PATHS.manifest) ||
    m.dirs.some((d) => !dirs.has(d))
  ) {
    throw new Error(`${path} is not a manifest mesh vm install wrote; remove it by hand`);
  }
  return m;
}

/**
 * Installs the onboarding directory `o.dir` (see the module doc). Returns whether anything
 * changed. Throws (one line naming the fix) when DIR is incomplete, when not root without a
 * prefix, or when a command fails.
 */
export async function installVm(o: InstallOptions): Promise<{ changed: boolean }> {
  const prefix = o.prefix ?? "/";
  const log = o.log ?? console.log;
  const root = Deno.uid() === 0;
  if (rooted(prefix, "/") === "/" && !root) {
    throw new Error(`run it as root: sudo mesh vm install ${o.dir}`);
  }
  try {
    if (!(await Deno.stat(prefix)).isDirectory) throw new Error("not a directory");
  } catch (err) {
    throw new Error(`--prefix ${prefix}: ${(err as Error).message}; make the directory first`);
  }
  const targets = await readOnboardDir(o);
  const old = await readManifest(prefix);
  let user = await lookupUser(USER);
  const systemdWhyNot = await noSystemd(prefix);

  // What differs from what is there now.
  const now = new Map<string, Current | null>();
  for (const t of targets) now.set(t.path, await current(rooted(prefix, t.path)));
  const ownerOf = (t: Target) => (t.owner === USER && user ? user : { uid: 0, gid: 0 });
  const bytesDiffer = (t: Target) => {
    const c = now.get(t.path);
    return !c || !sameBytes(c.data, t.data);
  };
  const differs = (t: Target) => {
    const c = now.get(t.path);
    if (!c || c.mode !== t.mode || bytesDiffer(t)) return true;
    const want = ownerOf(t);
    return root && (c.uid !== want.uid || c.gid !== want.gid);
  };
  const missingDirs: string[] = [];
  for (const d of VM_DIRS) if (!(await exists(rooted(prefix, d)))) missingDirs.push(d);
  const changes = targets.filter(differs);
  const needUser = !user && rooted(prefix, "/") === "/";
  if (changes.length === 0 && missingDirs.length === 0 && old && !needUser) {
    log(`nothing changed: mesh-proxy is already installed from ${old.source}`);
    if (systemdWhyNot === undefined) await ensureActive(log);
    return { changed: false };
  }

  // The user first (the token is owned by it).
  let userCreated = false;
  if (!user) {
    if (needUser) {
      await run(USERADD, log);
      user = await lookupUser(USER);
      if (!user) throw new Error(`useradd ran but user ${USER} is not there`);
      userCreated = true;
    } else {
      log(`would run: ${USERADD.join(" ")} (with --prefix the system's users are left alone)`);
    }
  }
  // Directories, parents first; only those install creates get its modes.
  const mkdir = async (d: string, mode: number, gid = 0) => {
    const p = rooted(prefix, d);
    await Deno.mkdir(p, { mode });
    await Deno.chmod(p, mode);
    if (root) await Deno.chown(p, 0, gid);
  };
  for (const d of missingDirs) {
    await mkdir(d, d === "/var/lib/mesh" ? 0o750 : 0o755, d === "/var/lib/mesh" ? user?.gid : 0);
  }
  // What each file was before the first install; old bytes kept when this install replaces them.
  const source = await Deno.realPath(o.dir);
  const dirs = [...(old?.dirs ?? []), ...missingDirs.filter((d) => !old?.dirs.includes(d))];
  const files: Manifest["files"] = [];
  for (const t of targets) {
    const was = old?.files.find((f) => f.path === t.path);
    const c = now.get(t.path) ?? null;
    const before: Before | null = was
      ? was.before
      : c && { mode: c.mode, uid: c.uid, gid: c.gid, backup: false };
    if (before && !before.backup && c && bytesDiffer(t)) {
      if (!dirs.includes(BACKUP_DIR) && !(await exists(rooted(prefix, BACKUP_DIR)))) {
        await mkdir(BACKUP_DIR, 0o700);
        dirs.push(BACKUP_DIR);
      }
      await atomicWrite(rooted(prefix, backupOf(t.path)), c.data, { mode: 0o600 });
      before.backup = true;
    }
    files.push({ path: t.path, before });
  }
  const manifest: Manifest = {
    version: 1,
    source,
    files,
    dirs,
    userCreated: (old?.userCreated ?? false) || userCreated,
  };
  // The manifest before the files, so that an install cut short can still be undone.
  await atomicWrite(rooted(prefix, VM_PATHS.manifest), JSON.stringify(manifest, null, 2) + "\n", {
    mode: 0o600,
  });
  for (const t of targets) {
    const p = rooted(prefix, t.path);
    if (!changes.includes(t)) {
      log(`unchanged ${p}`);
      continue;
    }
    await atomicWrite(p, t.data, { mode: t.mode });
    const want = ownerOf(t);
    if (root) await Deno.chown(p, want.uid, want.gid);
    log(`wrote ${p}${t.owner === USER && !user ? ` (owned by root: no user ${USER})` : ""}`);
  }
  const start = ["systemctl daemon-reload", "systemctl enable --now mesh-proxy"];
  if (systemdWhyNot !== undefined) {
    log(`${systemdWhyNot}; to start the proxy run: ${start.join(" && ")}`);
  } else {
    await run(["systemctl", "daemon-reload"], log);
    await run(["systemctl", "enable", "--now", UNIT_NAME], log);
    if (old) await run(["systemctl", "restart", UNIT_NAME], log); // new settings or token
  }
  log(`installed from ${source}`);
  return { changed: true };
}

/** Starts the unit when it is installed but not running (a second install after a stop). */
async function ensureActive(log: (l: string) => void): Promise<void> {
  const r = await new Deno.Command("systemctl", {
    args: ["is-active", "--quiet", UNIT_NAME],
  }).output().catch(() => undefined);
  if (r && !r.success) await run(["systemctl", "enable", "--now", UNIT_NAME], log);
}

/** Undoes what {@linkcode installVm} did under `o.prefix`, as its manifest records it. */
export async function uninstallVm(o: UninstallOptions = {}): Promise<void> {
  const prefix = o.prefix ?? "/";
  const log = o.log ?? console.log;
  const root = Deno.uid() === 0;
  if (rooted(prefix, "/") === "/" && !root) {
    throw new Error("run it as root: sudo mesh vm install --uninstall");
  }
  const m = await readManifest(prefix);
  if (!m) {
    throw new Error(
      `nothing to uninstall: no ${rooted(prefix, VM_PATHS.manifest)} ` +
        "(mesh vm install writes it; was it installed with this --prefix?)",
    );
  }
  const systemdWhyNot = await noSystemd(prefix);
  if (systemdWhyNot === undefined) await run(["systemctl", "disable", "--now", UNIT_NAME], log);
  else log(`${systemdWhyNot}; to stop the proxy run: systemctl disable --now mesh-proxy`);
  for (const f of [...m.files].reverse()) {
    const p = rooted(prefix, f.path);
    if (f.before) {
      if (f.before.backup) {
        const b = rooted(prefix, backupOf(f.path));
        await atomicWrite(p, await Deno.readFile(b), { mode: f.before.mode });
        await Deno.remove(b);
      } else await Deno.chmod(p, f.before.mode);
      if (root) await Deno.chown(p, f.before.uid, f.before.gid);
      log(`restored ${p}`);
    } else {
      await Deno.remove(p).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
      log(`removed ${p}`);
    }
  }
  await Deno.remove(rooted(prefix, VM_PATHS.manifest));
  // What the proxy wrote itself: its certificate (--cert-dir), a credential of this install.
  const certs = rooted(prefix, VM_PATHS.certs);
  await Deno.remove(certs, { recursive: true }).then(
    () => log(`removed ${certs}/`),
    (err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    },
  );
  for (const d of [...m.dirs].reverse()) {
    const p = rooted(prefix, d);
    try {
      await Deno.remove(p);
      log(`removed ${p}/`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) log(`kept ${p}/: not empty`);
    }
  }
  if (m.userCreated && rooted(prefix, "/") === "/") await run(["userdel", USER], log);
  if (systemdWhyNot === undefined) await run(["systemctl", "daemon-reload"], log);
  log(`uninstalled mesh-proxy (installed from ${m.source})`);
}
