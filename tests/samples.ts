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
