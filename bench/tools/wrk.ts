/**
 * wrk, the fallback when fortio can't be found or built. wrk can't hold a
 * fixed request rate, so with wrk the percentiles come from the max-throughput
 * runs and the bench says so.
 * @module
 */
import { run, tail } from "../spawn.ts";
import type { LoadResult } from "./load.ts";

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

function latencyMs(text: string, pct: string): number {
  const m = text.match(new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m"));
  if (!m) throw new Error(`wrk output has no ${pct}% latency line`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** Parses the output of `wrk --latency`. */
export function parseWrk(text: string): LoadResult {
  const rps = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  const req = text.match(/^\s*(\d+) requests in /m);
  if (!rps || !req) throw new Error(`unexpected wrk output:\n${tail(text)}`);
  const sock = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socketErrors = [1, 2, 3, 4].reduce((n, i) => n + Number(sock?.[i] ?? 0), 0);
  return {
    tool: "wrk",
    rps: Number(rps[1]),
    requests: Number(req[1]),
    errors: socketErrors + non2xx,
    p50_ms: latencyMs(text, "50"),
    p90_ms: latencyMs(text, "90"),
    p99_ms: latencyMs(text, "99"),
    codes: { non2xx, socket_errors: socketErrors },
  };
}

/** Runs wrk once for `durationS` against `url`; killed if it overruns by 30 s. */
export async function wrk(
  url: string,
  opts: { connections: number; threads: number; durationS: number; headers?: string[] },
): Promise<LoadResult> {
  const out = await run("wrk", [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.durationS}s`,
    "--timeout=5s",
    "--latency",
    ...(opts.headers ?? []).flatMap((h) => ["-H", h]),
    url,
  ], { timeoutMs: (opts.durationS + 30) * 1000 });
  if (!out.success) {
    throw new Error(`wrk exited with ${out.code}: ${tail(out.stdout + out.stderr, 3)}`);
  }
  return parseWrk(out.stdout);
}
