/**
 * h2load (nghttp2-client): HTTP/2 load with h2c prior knowledge against a
 * plaintext URL. Throughput from its summary; percentiles from its per-request
 * log (`--log-file`), since h2load prints only min/max/mean.
 * @module
 */
import { run, tail } from "../spawn.ts";
import type { LoadResult } from "./load.ts";

/** What to load with h2load. */
export interface H2Load {
  url: string;
  /** `Name: value` headers; `:authority: host` overrides the authority. */
  headers?: string[];
  connections: number;
  /** Concurrent streams per connection (`-m`). */
  streams: number;
  /** Measured seconds (`-D`), after `warmupMs` of warm-up; or an exact count. */
  durationS?: number;
  warmupMs?: number;
  requests?: number;
  logFile: string;
}

/** The h2load command line for a load. */
export function h2loadArgs(l: H2Load): string[] {
  const args = [`-c${l.connections}`, `-m${l.streams}`, "-t1", `--log-file=${l.logFile}`];
  if (l.requests !== undefined) args.push(`-n${l.requests}`);
  else args.push(`-D${l.durationS ?? 5}`, `--warm-up-time=${l.warmupMs ?? 1000}ms`);
  for (const h of l.headers ?? []) args.push("-H", h);
  args.push(l.url);
  return args;
}

/** Counts and rate from h2load's summary. */
export interface H2Summary {
  rps: number;
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  /** 3xx + 4xx + 5xx responses. */
  statusOther: number;
  protocol?: string;
}

/** Parses h2load's summary lines. */
export function parseH2load(text: string): H2Summary {
  const fin = text.match(/^finished in [\d.]+\w+, ([\d.]+) req\/s/m);
  const req = text.match(
    /^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m,
  );
  const codes = text.match(/^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m);
  if (!fin || !req) throw new Error(`unexpected h2load output:\n${tail(text)}`);
  const proto = text.match(/^Application protocol: (\S+)/m);
  return {
    rps: Number(fin[1]),
    total: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]),
    errored: Number(req[4]),
    timeout: Number(req[5]),
    status2xx: Number(codes?.[1] ?? 0),
    statusOther: [2, 3, 4].reduce((n, i) => n + Number(codes?.[i] ?? 0), 0),
    ...(proto ? { protocol: proto[1] } : {}),
  };
}

/** The `p`-th percentile (nearest rank) of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** p50/p90/p99 in ms from h2load's log: start µs, status, duration µs per line. */
export function logPercentiles(log: string): { p50_ms: number; p90_ms: number; p99_ms: number } {
  const us: number[] = [];
  for (const line of log.split("\n")) {
    const f = line.split("\t");
    if (f.length >= 3) us.push(Number(f[2]));
  }
  us.sort((a, b) => a - b);
  return {
    p50_ms: percentile(us, 50) / 1000,
    p90_ms: percentile(us, 90) / 1000,
    p99_ms: percentile(us, 99) / 1000,
  };
}

/** Runs h2load once; killed if it overruns by 30 s. Throws if it fails or sees no h2. */
export async function h2load(l: H2Load): Promise<LoadResult> {
  const bound = (l.durationS ?? 10) + (l.warmupMs ?? 1000) / 1000;
  const out = await run("h2load", h2loadArgs(l), { timeoutMs: (bound + 30) * 1000 });
  if (out.timedOut) throw new Error("h2load overran its time bound");
  let s: H2Summary;
  try {
    s = parseH2load(out.stdout);
  } catch {
    throw new Error(`h2load exited with ${out.code}: ${tail(out.stdout + out.stderr, 3)}`);
  }
  let log = "";
  try {
    log = await Deno.readTextFile(l.logFile);
    await Deno.remove(l.logFile);
  } catch { /* no log */ }
  // "succeeded" counts responses of any status; h2load's status counts may include
  // responses to requests sent during warm-up, so they are only used for non-2xx.
  const errors = Math.max(0, s.total - s.succeeded) + s.statusOther;
  const r: LoadResult = {
    tool: "h2load",
    rps: s.rps,
    requests: s.total,
    errors,
    ...logPercentiles(log),
    codes: {
      "2xx": s.status2xx,
      other: s.statusOther,
      failed: s.failed,
      errored: s.errored,
      timeout: s.timeout,
    },
    sockets: l.connections,
  };
  if (s.total === 0 || errors > 0) {
    const why = out.stdout.split("\n").find((x) =>
      /error|fail|refused|reset|No protocol/i.test(x) && !x.startsWith("requests:")
    );
    r.error_sample = why?.trim() ??
      `${s.succeeded}/${s.total} succeeded, ${s.status2xx} 2xx (protocol ${s.protocol ?? "none"})`;
  }
  return r;
}
