/**
 * Builds the Kubernetes test peer, a real kube-apiserver and etcd, from the Go
 * module proxy:
 *
 * ```sh
 * deno run -A tests/peers/k8s/build.ts
 * ```
 *
 * The wrapper modules beside this file (`kubernetes/`, `etcd/`) are copied into
 * a work dir under the cache, `go mod tidy`-ed there and built with
 * `go build -trimpath` into `${XDG_CACHE_HOME:-$HOME/.cache}/k8s-peer/v1.37.2/bin/`.
 * Nothing built or fetched lands in the repository. A binary is written under a
 * temporary name, checked (`--version`) and then renamed, so a killed build never
 * leaves a half-written binary behind. When both binaries exist and report the
 * expected versions the script does nothing (it runs the two `--version`s only).
 *
 * Cost on a 2-core machine: ~15 min for kube-apiserver, ~1.5 min for etcd, once;
 * ~1 GB of modules in GOMODCACHE and ~3.4 GB of Go build cache.
 *
 * Exits non-zero with a one-line reason when Go is missing or a step fails.
 * tests/k8s_peer.ts uses {@linkcode k8sBinaries} / {@linkcode checkBinaries}
 * from here to find the binaries.
 * @module
 */

/** The Kubernetes release built (k8s.io/kubernetes; staging modules at v0.37.2). */
export const KUBE_VERSION = "v1.37.2";
/** The staging modules' tag matching {@linkcode KUBE_VERSION}. */
export const KUBE_STAGING_VERSION = "v0.37.2";
/** The etcd server release built (go.etcd.io/etcd/server/v3). */
export const ETCD_VERSION = "3.7.3";

/** Go release the kubernetes module asks for (`go 1.26.0` in its go.mod). */
const GO_MIN: [number, number] = [1, 26];

const MINUTE = 60_000;
const TIDY_TIMEOUT_MS = 15 * MINUTE;
const APISERVER_BUILD_TIMEOUT_MS = 40 * MINUTE;
const ETCD_BUILD_TIMEOUT_MS = 15 * MINUTE;
const VERSION_TIMEOUT_MS = 20_000;

/** This file's directory: the wrapper modules' sources live beside it. */
const SOURCE_DIR = new URL(".", import.meta.url).pathname;

/** `${XDG_CACHE_HOME:-$HOME/.cache}/k8s-peer/<KUBE_VERSION>`. */
export function k8sCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg && xdg !== "" ? xdg : `${Deno.env.get("HOME") ?? "/root"}/.cache`;
  return `${base}/k8s-peer/${KUBE_VERSION}`;
}

/** Where the built binaries are (whether or not they exist yet). */
export function k8sBinaries(): { apiserver: string; etcd: string; binDir: string } {
  const binDir = `${k8sCacheDir()}/bin`;
  return { apiserver: `${binDir}/kube-apiserver`, etcd: `${binDir}/etcd`, binDir };
}

/** What a bounded command printed and how it ended. */
export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The deadline passed and the command was killed. */
  timedOut: boolean;
}

/** Runs `cmd args` to completion; SIGKILL once `timeoutMs` passes. Throws when `cmd` can't start. */
export async function runCmd(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; cwd?: string; env?: Record<string, string> },
): Promise<CmdResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const guard = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(guard);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The version a kube-apiserver binary reports (`Kubernetes v1.37.2` → `v1.37.2`), or why not. */
async function apiserverVersion(path: string): Promise<string | { error: string }> {
  if (!(await exists(path))) return { error: "missing" };
  try {
    const r = await runCmd(path, ["--version"], { timeoutMs: VERSION_TIMEOUT_MS });
    const m = r.stdout.match(/Kubernetes (v\S+)/);
    return m ? m[1] : { error: `${path} --version printed ${JSON.stringify(r.stdout.trim())}` };
  } catch (e) {
    return { error: `${path}: ${(e as Error).message}` };
  }
}

/** The version an etcd binary reports (`etcd Version: 3.7.3` → `3.7.3`), or why not. */
async function etcdVersion(path: string): Promise<string | { error: string }> {
  if (!(await exists(path))) return { error: "missing" };
  try {
    const r = await runCmd(path, ["--version"], { timeoutMs: VERSION_TIMEOUT_MS });
    const m = r.stdout.match(/etcd Version: (\S+)/);
    return m ? m[1] : { error: `${path} --version printed ${JSON.stringify(r.stdout.trim())}` };
  } catch (e) {
    return { error: `${path}: ${(e as Error).message}` };
  }
}

/** For each binary: undefined when it exists and reports the expected version, else why not. */
export async function checkBinaries(): Promise<{ apiserver?: string; etcd?: string }> {
  const b = k8sBinaries();
  const [a, e] = await Promise.all([apiserverVersion(b.apiserver), etcdVersion(b.etcd)]);
  const why = (v: string | { error: string }, want: string) =>
    typeof v === "string" ? (v === want ? undefined : `reports ${v}, want ${want}`) : v.error;
  return { apiserver: why(a, KUBE_VERSION), etcd: why(e, ETCD_VERSION) };
}

/** The `go` binary (PATH, then /usr/local/go/bin/go) and its version, or why there is none. */
async function findGo(): Promise<{ go: string; version: string } | { error: string }> {
  const tried: string[] = [];
  for (const go of ["go", "/usr/local/go/bin/go"]) {
    try {
      const r = await runCmd(go, ["env", "GOVERSION"], { timeoutMs: 30_000 });
      const v = r.stdout.trim();
      const m = v.match(/^go(\d+)\.(\d+)/);
      if (r.code !== 0 || !m) {
        tried.push(`${go}: ${r.stderr.trim() || v}`);
        continue;
      }
      const [maj, min] = [Number(m[1]), Number(m[2])];
      if (maj < GO_MIN[0] || (maj === GO_MIN[0] && min < GO_MIN[1])) {
        tried.push(`${go} is ${v}, need go${GO_MIN.join(".")} or newer`);
        continue;
      }
      return { go, version: v };
    } catch {
      tried.push(`${go}: not found`);
    }
  }
  return { error: `no usable Go toolchain (${tried.join("; ")})` };
}

/** A failed step: its one-line reason and the output of the command that failed, if any. */
class BuildError extends Error {
  constructor(message: string, readonly output = "") {
    super(message);
  }
}

function fail(msg: string, output?: string): never {
  throw new BuildError(msg, output);
}

function step(msg: string): void {
  console.log(`k8s-peer: ${msg}`);
}

function seconds(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

/** Copies a wrapper module's sources (go.mod, go.sum, *.go) into `dest`, replacing what was there. */
async function copyModule(name: string, dest: string): Promise<void> {
  await Deno.mkdir(dest, { recursive: true });
  for await (const e of Deno.readDir(`${SOURCE_DIR}${name}`)) {
    if (!e.isFile || !/^(go\.mod|go\.sum|.*\.go)$/.test(e.name)) continue;
    await Deno.copyFile(`${SOURCE_DIR}${name}/${e.name}`, `${dest}/${e.name}`);
  }
}

/** -ldflags that stamp the version `/version` and `--version` report. */
function kubeLdflags(): string {
  const [major, minor] = KUBE_VERSION.replace(/^v/, "").split(".");
  const flags = ["-s", "-w"];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    flags.push(
      `-X ${pkg}.gitVersion=${KUBE_VERSION}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    );
  }
  return flags.join(" ");
}

interface Target {
  /** Binary name in the bin dir. */
  name: string;
  /** Wrapper module dir name beside this file. */
  module: string;
  /** Main package to build. */
  pkg: string;
  ldflags: string;
  timeoutMs: number;
  version: (path: string) => Promise<string | { error: string }>;
  want: string;
}

async function build(go: string, t: Target, binDir: string, workRoot: string): Promise<void> {
  const work = `${workRoot}/${t.module}`;
  const env = { GOTOOLCHAIN: "local" };
  await copyModule(t.module, work);

  let t0 = performance.now();
  step(`${t.name}: go mod tidy in ${work}`);
  const tidy = await runCmd(go, ["mod", "tidy"], { cwd: work, env, timeoutMs: TIDY_TIMEOUT_MS });
  if (tidy.timedOut) fail(`${t.name}: go mod tidy timed out after ${TIDY_TIMEOUT_MS / MINUTE} min`);
  if (tidy.code !== 0) fail(`${t.name}: go mod tidy exited ${tidy.code}`, tidy.stderr);
  step(`${t.name}: tidy done in ${seconds(t0)}`);

  const tmp = `${binDir}/.${t.name}.${Deno.pid}.tmp`;
  t0 = performance.now();
  step(
    `${t.name}: go build ${t.pkg} (first time ~${
      t.name === "kube-apiserver" ? "15" : "2"
    } min on 2 cores)`,
  );
  try {
    const r = await runCmd(
      go,
      ["build", "-trimpath", "-ldflags", t.ldflags, "-o", tmp, t.pkg],
      { cwd: work, env, timeoutMs: t.timeoutMs },
    );
    if (r.timedOut) fail(`${t.name}: go build timed out after ${t.timeoutMs / MINUTE} min`);
    if (r.code !== 0) fail(`${t.name}: go build exited ${r.code}`, r.stdout + r.stderr);
    const v = await t.version(tmp);
    if (v !== t.want) {
      fail(`${t.name}: the new binary ${typeof v === "string" ? `reports ${v}` : v.error}`);
    }
    await Deno.rename(tmp, `${binDir}/${t.name}`);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  step(`${t.name}: built ${t.want} in ${seconds(t0)} → ${binDir}/${t.name}`);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const bins = k8sBinaries();
  const bad = await checkBinaries();
  if (!bad.apiserver && !bad.etcd) {
    step(
      `kube-apiserver ${KUBE_VERSION} and etcd ${ETCD_VERSION} already built in ${bins.binDir}`,
    );
    return;
  }
  const found = await findGo();
  if ("error" in found) fail(`cannot build the Kubernetes test peer: ${found.error}`);
  step(`using ${found.version} (${found.go}); building into ${bins.binDir}`);
  await Deno.mkdir(bins.binDir, { recursive: true });
  const workRoot = `${k8sCacheDir()}/work`;

  const targets: Target[] = [];
  if (bad.etcd) {
    step(`etcd: ${bad.etcd}, will build it`);
    targets.push({
      name: "etcd",
      module: "etcd",
      pkg: "go.etcd.io/etcd/server/v3",
      ldflags: "-s -w",
      timeoutMs: ETCD_BUILD_TIMEOUT_MS,
      version: etcdVersion,
      want: ETCD_VERSION,
    });
  }
  if (bad.apiserver) {
    step(`kube-apiserver: ${bad.apiserver}, will build it`);
    targets.push({
      name: "kube-apiserver",
      module: "kubernetes",
      pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
      ldflags: kubeLdflags(),
      timeoutMs: APISERVER_BUILD_TIMEOUT_MS,
      version: apiserverVersion,
      want: KUBE_VERSION,
    });
  }
  for (const t of targets) await build(found.go, t, bins.binDir, workRoot);
  step(`done in ${seconds(t0)}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    const output = e instanceof BuildError ? e.output.trimEnd() : "";
    // The last lines of a failed command's output, then the reason, last.
    if (output !== "") console.error(output.split("\n").slice(-40).join("\n"));
    console.error(`k8s-peer: FAILED: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
