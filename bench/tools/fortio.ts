/**
 * fortio, Istio's load generator: found in the bench's cache dir (or on the
 * PATH), else built there with `go install`; run with `-json` and parsed.
 *
 * The cache dir is `${XDG_CACHE_HOME:-$HOME/.cache}/mesh-bench/bin`, outside
 * the repository, so no binary is ever committed.
 * @module
 */
import { run, tail } from "../spawn.ts";
import type { LoadResult } from "./load.ts";

/**
 * The newest fortio release whose dependencies all come from the Go module
 * proxy reachable here: from v1.69.0 fortio imports `grol.io/grol`, which some
 * proxies refuse (403). Tried only when `@latest` fails to build.
 */
export const FORTIO_FALLBACK_VERSION = "v1.68.2";

/** Histogram resolution passed as `-r`: 10 µs, so sub-millisecond percentiles are usable. */
export const FORTIO_RESOLUTION_S = 0.00001;

/** Where the bench keeps the tools it builds. */
export function cacheBinDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/mesh-bench/bin`;
}

/** A usable fortio binary and how it was found. */
export interface Fortio {
  path: string;
  version: string;
  /** How it was found or built, for the output. */
  source: string;
}

async function versionOf(path: string): Promise<string | undefined> {
  try {
    const out = await run(path, ["version"], { timeoutMs: 10_000 });
    return out.success ? out.stdout.trim().split(/\s/)[0] : undefined;
  } catch {
    return undefined;
  }
}

async function goInstall(module: string, gobin: string): Promise<string | undefined> {
  let out;
  try {
    out = await run("go", ["install", module], {
      timeoutMs: 5 * 60_000,
      env: { GOBIN: gobin, GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false" },
    });
  } catch (err) {
    return `go not runnable: ${(err as Error).message}`;
  }
  if (out.timedOut) return `go install ${module} took over 5 minutes`;
  return out.success ? undefined : tail(out.stderr || out.stdout, 3);
}

/**
 * Finds fortio (cache dir, then PATH) or builds it into the cache dir:
 * `fortio.org/fortio@latest`, then {@linkcode FORTIO_FALLBACK_VERSION}.
 * Returns the reason when none of that works.
 */
export async function findOrBuildFortio(
  log: (msg: string) => void,
): Promise<Fortio | { error: string }> {
  const dir = cacheBinDir();
  const cached = `${dir}/fortio`;
  let v = await versionOf(cached);
  if (v) return { path: cached, version: v, source: `cached in ${dir}` };
  v = await versionOf("fortio");
  if (v) return { path: "fortio", version: v, source: "from PATH" };

  await Deno.mkdir(dir, { recursive: true });
  log(`fortio not found; building it into ${dir} (go install fortio.org/fortio@latest)`);
  const errLatest = await goInstall("fortio.org/fortio@latest", dir);
  v = errLatest ? undefined : await versionOf(cached);
  if (v) return { path: cached, version: v, source: `built @latest into ${dir}` };
  log(
    `fortio@latest did not build (${errLatest?.split("\n")[0]}); ` +
      `trying fortio.org/fortio@${FORTIO_FALLBACK_VERSION}`,
  );
  const errPinned = await goInstall(`fortio.org/fortio@${FORTIO_FALLBACK_VERSION}`, dir);
  v = errPinned ? undefined : await versionOf(cached);
  if (v) {
    return {
      path: cached,
      version: v,
      source: `built @${FORTIO_FALLBACK_VERSION} into ${dir} (@latest failed: ` +
        `${errLatest?.split("\n")[0]})`,
    };
  }
  return {
    error: `go install failed: @latest: ${errLatest}; @${FORTIO_FALLBACK_VERSION}: ${errPinned}`,
  };
}

/** What to load, in fortio's terms. */
export interface FortioLoad {
  kind: "http" | "h2" | "grpc" | "tcp";
  /** URL (http, h2), host:port (grpc) or tcp://host:port. */
  target: string;
  /** `Name: value` headers (for gRPC, `Host` sets the authority). */
  headers?: string[];
  connections: number;
  /** Requests per second over all connections; 0 for as fast as possible. */
  qps: number;
  /** Either a duration or an exact number of calls. */
  durationS?: number;
  calls?: number;
  /** Where fortio writes its JSON result. */
  jsonFile: string;
  /** TCP payload in bytes (echoed back). */
  payloadBytes?: number;
}

/** The fortio command line for a load. */
export function fortioArgs(l: FortioLoad): string[] {
  const args = [
    "load",
    "-loglevel",
    "Warning",
    "-c",
    String(l.connections),
    "-qps",
    String(l.qps),
    "-r",
    String(FORTIO_RESOLUTION_S),
    "-p",
    "50,90,99",
    "-timeout",
    "5s",
    "-json",
    l.jsonFile,
  ];
  if (l.calls !== undefined) args.push("-n", String(l.calls));
  else args.push("-t", `${l.durationS ?? 5}s`);
  if (l.kind === "h2") args.push("-h2");
  if (l.kind === "grpc") args.push("-grpc", "-ping", "-s", "1");
  if (l.kind === "tcp" && l.payloadBytes) args.push("-payload-size", String(l.payloadBytes));
  for (const h of l.headers ?? []) args.push("-H", h);
  args.push(l.target);
  return args;
}

/** The status codes that count as success, per kind of load. */
const OK_CODES = new Set(["200", "SERVING", "OK"]);

interface FortioJson {
  ActualQPS: number;
  DurationHistogram: { Count: number; Percentiles?: { Percentile: number; Value: number }[] };
  RetCodes?: Record<string, number>;
  SocketCount?: number;
}

/** Reduces fortio's `-json` output to a {@linkcode LoadResult}. */
export function parseFortioJson(text: string): LoadResult {
  const j = JSON.parse(text) as FortioJson;
  const pct = (p: number) => {
    const v = j.DurationHistogram.Percentiles?.find((x) => x.Percentile === p)?.Value;
    return v === undefined ? NaN : v * 1000;
  };
  const codes = j.RetCodes ?? {};
  const requests = j.DurationHistogram.Count;
  const ok = Object.entries(codes).reduce((n, [c, k]) => n + (OK_CODES.has(c) ? k : 0), 0);
  return {
    tool: "fortio",
    rps: j.ActualQPS,
    requests,
    errors: requests - ok,
    p50_ms: pct(50),
    p90_ms: pct(90),
    p99_ms: pct(99),
    codes,
    ...(j.SocketCount !== undefined ? { sockets: j.SocketCount } : {}),
  };
}

/**
 * The first warning or error fortio logged. fortio logs JSON lines
 * (`{"level":"warn",...,"msg":"..."}`) when stderr is not a terminal, and
 * `[W] file.go:108> msg` text otherwise.
 */
export function firstFortioError(stderr: string): string | undefined {
  for (const line of stderr.split("\n")) {
    if (line.startsWith("{")) {
      try {
        const j = JSON.parse(line) as { level?: string; msg?: unknown };
        if (/^(warn|err|error|crit|fatal)/i.test(j.level ?? "") && j.msg) {
          return String(j.msg).replace(/^\[[WECF]\]\s+\S+>\s*/, "").trim();
        }
      } catch { /* not JSON */ }
      continue;
    }
    const m = line.match(/\[[WECF]\]\s+\S+>\s*(.*)$/);
    if (m) return m[1].trim();
  }
  return undefined;
}

/** Runs one fortio load; killed if it overruns by 30 s. Throws if fortio fails. */
export async function fortioLoad(bin: string, l: FortioLoad): Promise<LoadResult> {
  const bound = l.durationS ?? 30;
  const out = await run(bin, fortioArgs(l), { timeoutMs: (bound + 30) * 1000 });
  const error = firstFortioError(out.stderr);
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(l.jsonFile);
    await Deno.remove(l.jsonFile);
  } catch { /* no JSON written */ }
  if (!out.success || text === undefined) {
    throw new Error(
      `fortio ${out.timedOut ? "overran its time bound" : `exited with ${out.code}`}: ` +
        (error ?? tail(out.stderr + out.stdout, 3)),
    );
  }
  const r = parseFortioJson(text);
  return error ? { ...r, error_sample: error } : r;
}

/** Arguments for `fortio server` with only its gRPC ping and TCP echo servers, on 127.0.0.1. */
export function fortioServerArgs(): string[] {
  return [
    "server",
    "-http-port",
    "disabled",
    "-redirect-port",
    "disabled",
    "-udp-port",
    "disabled",
    "-grpc-port",
    "127.0.0.1:0",
    "-tcp-port",
    "127.0.0.1:0",
  ];
}

/** The gRPC and TCP echo ports from `fortio server`'s log. */
export function fortioServerPorts(output: string): { grpc?: number; tcp?: number } {
  const grpc = output.match(/grpc 'ping' server listening on tcp 127\.0\.0\.1:(\d+)/);
  const tcp = output.match(/tcp-echo server listening on tcp 127\.0\.0\.1:(\d+)/);
  return {
    ...(grpc ? { grpc: Number(grpc[1]) } : {}),
    ...(tcp ? { tcp: Number(tcp[1]) } : {}),
  };
}
