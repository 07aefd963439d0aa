/**
 * The bench's command line.
 * @module
 */

/** Usage text for `deno task bench --help`. */
export const USAGE = `usage: deno task bench [--quick] [--rounds=N] [--duration=Ns] [--qps=N]
                       [--no-extras] [--no-kube] [--no-push] [--only-push] [--no-install]
                       [--tool=fortio|wrk] [--[no-]write-results]

  --quick             1 round, short runs: the whole suite in well under a minute
  --rounds=N          rounds of the main rows (direct, nginx, haproxy, mesh), 1..20
                      (default 3; 1 with --quick); medians are over rounds
  --duration=Ns       seconds of each main-row run, fixed-rate and max alike (1..300)
                      (default 8 s fixed-rate + 5 s max; 3 s + 2 s with --quick)
  --qps=N             the fixed rate for latency percentiles (default 1000)
  --no-extras         skip the HTTP/2, gRPC and TCP rows
  --no-kube           skip the Kubernetes section (a real kube-apiserver, 1,000 Services;
                      100 with --quick; skipped by itself when the binaries aren't built)
  --no-push           skip the push section (simulated sidecars on one control plane:
                      100, 1,000 and 5,000 of them, Bookinfo-sized and 200-service configs;
                      100 and 1,000, Bookinfo-sized only, with --quick)
  --only-push         run only the push section (results go to bench/results/push.json;
                      bench/RESULTS.md and latest.json are left alone)
  --no-install        don't install missing tools (by default, as root, apt-get installs them)
  --tool=wrk          force the wrk fallback (no fixed rate; no gRPC/TCP rows)
  --write-results     write bench/RESULTS.md (default on for full runs, off with --quick)
  --no-write-results  don't
`;

/** Benchmark settings from the command line. */
export interface Options {
  help: boolean;
  quick: boolean;
  rounds: number;
  /** Seconds of each fixed-rate run of a main row. */
  fixedS: number;
  /** Seconds of each max-throughput run of a main row. */
  maxS: number;
  /** Seconds of each run of an extra row (HTTP/2, gRPC, TCP). */
  extraFixedS: number;
  extraMaxS: number;
  qps: number;
  extras: boolean;
  /** Run the Kubernetes section (bench/kube.ts). */
  kube: boolean;
  /** Services (and EndpointSlices) the Kubernetes section creates. */
  kubeServices: number;
  /** Run the push section (bench/push.ts). */
  push: boolean;
  /** Run only the push section. */
  onlyPush: boolean;
  tool: "fortio" | "wrk";
  writeResults: boolean;
}

function seconds(flag: string, v: string): number {
  const m = v.match(/^(\d+)s?$/);
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 1 && n <= 300)) throw new Error(`${flag} wants 1s..300s, got ${v}`);
  return n;
}

/** Parses the command line; throws with a one-line message on bad input. */
export function parseOptions(args: string[]): Options {
  let quick = false;
  let help = false;
  let rounds: number | undefined;
  let duration: number | undefined;
  let qps = 1000;
  let extras = true;
  let kube = true;
  let push = true;
  let onlyPush = false;
  let tool: "fortio" | "wrk" = "fortio";
  let writeResults: boolean | undefined;
  for (const a of args) {
    if (a === "--help" || a === "-h") help = true;
    else if (a === "--quick") quick = true;
    else if (a === "--no-extras") extras = false;
    else if (a === "--no-kube") kube = false;
    else if (a === "--no-push") push = false;
    else if (a === "--only-push") onlyPush = true;
    else if (a === "--no-install") continue; // read in bench.ts: don't apt-get missing tools
    else if (a === "--write-results") writeResults = true;
    else if (a === "--no-write-results") writeResults = false;
    else if (a.startsWith("--duration=")) duration = seconds("--duration", a.slice(11));
    else if (a.startsWith("--rounds=")) {
      const n = Number(a.slice(9));
      if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`--rounds wants 1..20`);
      rounds = n;
    } else if (a.startsWith("--qps=")) {
      const n = Number(a.slice(6));
      if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--qps wants 1..100000`);
      qps = n;
    } else if (a.startsWith("--tool=")) {
      const t = a.slice(7);
      if (t !== "fortio" && t !== "wrk") throw new Error(`--tool wants fortio or wrk, got ${t}`);
      tool = t;
    } else throw new Error(`unknown argument ${a}`);
  }
  return {
    help,
    quick,
    rounds: rounds ?? (quick ? 1 : 3),
    fixedS: duration ?? (quick ? 3 : 8),
    maxS: duration ?? (quick ? 2 : 5),
    extraFixedS: quick ? 1 : 3,
    extraMaxS: quick ? 1 : 3,
    qps,
    extras,
    kube,
    kubeServices: quick ? 100 : 1000,
    push: push || onlyPush,
    onlyPush,
    tool,
    writeResults: writeResults ?? !quick,
  };
}
