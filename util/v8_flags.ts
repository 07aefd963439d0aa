/**
 * The V8 flags mesh runs with. They can only be set when the process starts
 * (V8 sizes its heap before any script runs), so every launcher passes them:
 * `deno task mesh`, `deno task compile` (baked into the binary), the demo, the
 * tests and the benchmark.
 *
 * `--max-semi-space-size=1` caps V8's young generation at 1 MiB per
 * semi-space (the default grows to 16 MiB). A proxy allocates a little per
 * request and keeps almost nothing, so small, frequent scavenges are cheap;
 * the large default ones took 5–12 ms each under load and set the p99, and
 * the young generation made up about 60 MB of a loaded proxy's RSS. Measured
 * on the bench (docs/performance.md): RSS under load 148 → 90 MB per proxy,
 * added p99 at 1,000 req/s 7.1 → 4.5 ms, throughput within noise.
 *
 * @example
 * ```ts
 * import { V8_FLAGS } from "./v8_flags.ts";
 * new Deno.Command(Deno.execPath(), { args: ["run", "-A", `--v8-flags=${V8_FLAGS}`, "main.ts"] });
 * ```
 * @module
 */

/** The flags, comma-separated as `--v8-flags=` wants them. */
export const V8_FLAGS = "--max-semi-space-size=1";

/** `deno run` arguments that start `entry` with mesh's V8 flags. */
export function denoRunArgs(entry: string): string[] {
  return ["run", "-A", `--v8-flags=${V8_FLAGS}`, entry];
}
