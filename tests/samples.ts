/**
 * Where Istio's sample files are, for the tests that read them: `$MESH_ISTIO_SAMPLES`, else
 * `../shared/istio-samples` beside the repository. Either holds Istio's `bookinfo/` (a path
 * that is itself Istio's `samples/bookinfo` works too).
 *
 * When neither exists, the tests that need them are skipped (`ignore: withoutSamples()`) and
 * one line says so, once per test run; `.ci/run` fails instead, so CI never skips them.
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: only the default place
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const fromEnv = env("MESH_ISTIO_SAMPLES");
/**
 * Where the samples are looked for, as an absolute path: `$MESH_ISTIO_SAMPLES` (relative to
 * the working directory) or `../shared/istio-samples` beside the repository.
 */
export const ISTIO_SAMPLES: string = fromEnv === undefined
  ? `${ROOT}/../shared/istio-samples`
  : fromEnv.startsWith("/")
  ? fromEnv.replace(/\/+$/, "")
  : `${Deno.cwd()}/${fromEnv.replace(/\/+$/, "")}`;

/** Istio's `samples/bookinfo` (with `networking/` and `platform-kube/`). */
export const BOOKINFO: string = !isDir(`${ISTIO_SAMPLES}/bookinfo`) &&
    isDir(`${ISTIO_SAMPLES}/networking`)
  ? ISTIO_SAMPLES
  : `${ISTIO_SAMPLES}/bookinfo`;

/** Istio's Bookinfo traffic-management samples (`bookinfo/networking`). */
export const NETWORKING: string = `${BOOKINFO}/networking`;

/** True when Istio's Bookinfo samples are there to read. */
export const samplesAvailable: boolean = isDir(NETWORKING);

/** The one line printed when the samples are missing. */
export const SAMPLES_MISSING: string = `skipped: Istio samples not found at ${
  fromEnv ? `MESH_ISTIO_SAMPLES=${fromEnv}` : ISTIO_SAMPLES
} (set MESH_ISTIO_SAMPLES or put them at ../shared/istio-samples)`;

let noted = false;

/**
 * True when the samples are missing, for `Deno.test({ ignore: withoutSamples(), ... })`; the
 * first call that finds them missing prints {@linkcode SAMPLES_MISSING}, once per test run.
 */
export function withoutSamples(): boolean {
  if (samplesAvailable || noted) return !samplesAvailable;
  noted = true;
  // Test files run in separate isolates of one process; the process environment is shared,
  // so it carries "already said" from one file to the next.
  const said = "MESH_ISTIO_SAMPLES_SKIP_NOTED";
  if (!env(said)) {
    console.log(SAMPLES_MISSING);
    try {
      Deno.env.set(said, "1");
    } catch { /* no --allow-env: said once per file */ }
  }
  return true;
}

/** `Deno.test`, skipped when the samples are missing. */
export function sampleTest(name: string, fn: (t: Deno.TestContext) => void | Promise<void>): void {
  Deno.test({ name, ignore: withoutSamples(), fn });
}

// ---------------------------------------------------------------------------------------------
// Istio's whole samples/ tree (Gateway API, multicluster, security, ...), beyond Bookinfo

const GIT_MIRROR = env("MESH_ISTIO_GIT") ?? "/work/.mirror/istio+istio/repo";

/**
 * Istio's whole `samples/` directory: `$MESH_ISTIO_TREE` (a checkout of istio/istio, or its
 * `samples/`), else extracted once from a git copy of istio/istio at `$MESH_ISTIO_GIT` (default
 * `/work/.mirror/istio+istio/repo`) into `~/.cache/mesh/`. Undefined when neither is there.
 */
export async function istioTreeSamples(): Promise<string | undefined> {
  const tree = env("MESH_ISTIO_TREE");
  if (tree) {
    if (isDir(`${tree}/samples/bookinfo`)) return `${tree}/samples`;
    return isDir(`${tree}/bookinfo`) ? tree : undefined;
  }
  try {
    const rev = await new Deno.Command("git", {
      args: ["-C", GIT_MIRROR, "rev-parse", "--short=12", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!rev.success) return undefined;
    const commit = new TextDecoder().decode(rev.stdout).trim();
    const cache = `${env("HOME") ?? "/tmp"}/.cache/mesh/istio-samples-${commit}`;
    if (isDir(`${cache}/samples/bookinfo`)) return `${cache}/samples`;
    const tmp = `${cache}.tmp-${Deno.pid}`;
    await Deno.mkdir(tmp, { recursive: true });
    const sh = await new Deno.Command("sh", {
      args: [
        "-c",
        'git -C "$1" archive --format=tar HEAD samples | tar -x -C "$2"',
        "sh",
        GIT_MIRROR,
        tmp,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!sh.success || !isDir(`${tmp}/samples/bookinfo`)) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      return undefined;
    }
    await Deno.rename(tmp, cache).catch(() => Deno.remove(tmp, { recursive: true }));
    return isDir(`${cache}/samples/bookinfo`) ? `${cache}/samples` : undefined;
  } catch {
    return undefined;
  }
}

/** The line printed when Istio's whole samples tree isn't there. */
export const TREE_MISSING =
  "skipped: Istio's samples/ tree not found (set MESH_ISTIO_TREE to an istio/istio checkout, or MESH_ISTIO_GIT to a git copy of it)";

/**
 * Istio's own CRDs (`manifests/charts/base/files/crd-all.gen.yaml`): from `$MESH_ISTIO_TREE`
 * (a checkout of istio/istio), else from the git copy at `$MESH_ISTIO_GIT`. Undefined when
 * neither is there.
 */
export async function istioCrds(): Promise<string | undefined> {
  const path = "manifests/charts/base/files/crd-all.gen.yaml";
  const tree = env("MESH_ISTIO_TREE");
  if (tree) {
    try {
      return await Deno.readTextFile(`${tree}/${path}`);
    } catch {
      return undefined;
    }
  }
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", GIT_MIRROR, "show", `HEAD:${path}`],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** The line printed when Istio's CRDs aren't there. */
export const CRDS_MISSING =
  "skipped: Istio's crd-all.gen.yaml not found (set MESH_ISTIO_TREE to an istio/istio checkout, or MESH_ISTIO_GIT to a git copy of it)";
