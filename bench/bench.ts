/**
 * Data-plane benchmark: the same small app measured directly and through the
 * mesh (client → proxy A outbound → mTLS → proxy B inbound → app), with wrk,
 * alternating the two rows so that drift in the machine hits both alike.
 *
 * Usage: `deno task bench [--quick] [--duration=10s] [--rounds=2]`
 *
 * Prints a Markdown table and writes `bench/results/latest.json`.
 * @module
 */
import { configDump, curl, eventually, Proc, ROOT, TestMesh } from "../tests/helpers.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { BODY_BYTES } from "./app.ts";

const CONNECTIONS = 16;
const THREADS = 2;
const CLUSTER = "outbound|8080||bench-app.default.svc.cluster.local";
const HOST_HEADER = "bench-app:8080";
const RESULTS = `${ROOT}/bench/results/latest.json`;
const INSTALL_HINT = "install the load tools with: apt-get install -y wrk nghttp2-client";

const SERVICE_ENTRY = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bench-app}
spec:
  hosts: [bench-app.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: bench-app}}
`;

const USAGE = `usage: deno task bench [--quick] [--duration=Ns] [--rounds=N]

  --quick         3 s per run instead of 10 s
  --duration=Ns   seconds per run (1..300), e.g. --duration=20s
  --rounds=N      runs per row, alternating direct/mesh (1..20, default 2)
`;

/** Benchmark settings from the command line. */
export interface Options {
  help: boolean;
  durationS: number;
  rounds: number;
}

/** Parses the command line; throws with a one-line message on bad input. */
export function parseOptions(args: string[]): Options {
  let durationS = 10;
  let explicitDuration: number | undefined;
  let rounds = 2;
  let help = false;
  for (const a of args) {
    if (a === "--help" || a === "-h") help = true;
    else if (a === "--quick") durationS = 3;
    else if (a.startsWith("--duration=")) {
      const m = a.slice(11).match(/^(\d+)s?$/);
      const n = m ? Number(m[1]) : NaN;
      if (!(n >= 1 && n <= 300)) throw new Error(`--duration wants 1s..300s, got ${a.slice(11)}`);
      explicitDuration = n;
    } else if (a.startsWith("--rounds=")) {
      const n = Number(a.slice(9));
      if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`--rounds wants 1..20`);
      rounds = n;
    } else throw new Error(`unknown argument ${a}`);
  }
  return { help, durationS: explicitDuration ?? durationS, rounds };
}

// ---------------------------------------------------------------- wrk

/** What one wrk run reported. */
export interface WrkResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: { connect: number; read: number; write: number; timeout: number; non2xx: number };
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

function latencyMs(text: string, pct: string): number {
  const m = text.match(new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m"));
  if (!m) throw new Error(`wrk output has no ${pct}% latency line`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** Parses the output of `wrk --latency`. */
export function parseWrk(text: string): WrkResult {
  const rps = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  const req = text.match(/^\s*(\d+) requests in /m);
  if (!rps || !req) throw new Error(`unexpected wrk output:\n${text}`);
  const sock = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
  return {
    rps: Number(rps[1]),
    p50_ms: latencyMs(text, "50"),
    p99_ms: latencyMs(text, "99"),
    requests: Number(req[1]),
    errors: {
      connect: Number(sock?.[1] ?? 0),
      read: Number(sock?.[2] ?? 0),
      write: Number(sock?.[3] ?? 0),
      timeout: Number(sock?.[4] ?? 0),
      non2xx: Number(non2xx?.[1] ?? 0),
    },
  };
}

/** Load-generator processes in flight, so an interrupt can stop them. */
const running = new Set<Deno.ChildProcess>();

/** Runs wrk once against `url`; killed if it overruns its duration by 30 s. */
async function wrk(url: string, durationS: number, headers: string[] = []): Promise<WrkResult> {
  const child = new Deno.Command("wrk", {
    args: [
      `-t${THREADS}`,
      `-c${CONNECTIONS}`,
      `-d${durationS}s`,
      "--timeout=5s",
      "--latency",
      ...headers.flatMap((h) => ["-H", h]),
      url,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  running.add(child);
  const guard = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, (durationS + 30) * 1000);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `wrk exited with ${out.code ?? out.signal}:\n${text}${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
    return parseWrk(text);
  } finally {
    clearTimeout(guard);
    running.delete(child);
  }
}

// ---------------------------------------------------------------- /proc sampling

let clockTicks = 100;

async function readClockTicks(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** `pid` and all its descendants (a launcher may leave the real work to a child). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of Deno.readDirSync(`/proc/${out[i]}/task`)) {
        const kids = Deno.readTextFileSync(`/proc/${out[i]}/task/${t.name}/children`).trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch { /* exited, or no /proc */ }
  }
  return [...new Set(out)];
}

/** CPU seconds (user + system) used so far by `pid` and its descendants. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
      // Fields after "(comm)": state is [0], utime [11], stime [12].
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* exited */ }
  }
  return ticks / clockTicks;
}

/** The kernel's count of TCP connections opened from this machine (all processes). */
function tcpActiveOpens(): number {
  try {
    const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
      l.startsWith("Tcp:")
    );
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf("ActiveOpens")]) || 0;
  } catch {
    return 0;
  }
}

/** Resident memory in MB of `pid` and its descendants. */
function rssMb(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = Deno.readTextFileSync(`/proc/${p}/status`).match(/^VmRSS:\s+(\d+) kB/m);
      kb += Number(m?.[1] ?? 0);
    } catch { /* exited */ }
  }
  return kb / 1024;
}

// ---------------------------------------------------------------- helpers

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function haveTool(cmd: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

function errorsOf(r: WrkResult): number {
  const e = r.errors;
  return e.connect + e.read + e.write + e.timeout + e.non2xx;
}

// ---------------------------------------------------------------- main

type ProxyName = "proxy-a" | "proxy-b";
type Run = WrkResult & {
  round: number;
  /** New TCP connections opened on the whole machine during the run, per request. */
  machine_tcp_opens_per_req: number;
  /** CPU seconds each proxy used during the run (idle during a direct run). */
  proxy_cpu_s: Record<ProxyName, number>;
};

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(Deno.args);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (!(await haveTool("wrk", ["--version"]))) {
    console.error(`bench: wrk not found; ${INSTALL_HINT}`);
    return 1;
  }
  if (!(await haveTool("curl", ["--version"]))) {
    console.error("bench: curl not found; install it with: apt-get install -y curl");
    return 1;
  }
  clockTicks = await readClockTicks();

  let app: Proc | undefined;
  let m: TestMesh | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    cleaning ??= (async () => {
      for (const c of running) {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
      }
      await Promise.allSettled([m?.close(), app?.stop()]);
    })();
  const onSignal = () => {
    console.error("\nbench: interrupted; stopping processes");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  try {
    const est = opts.rounds * 2 * opts.durationS;
    console.error(
      `bench: ${opts.rounds} round(s) × (direct, mesh) × ${opts.durationS} s ≈ ${est} s of load`,
    );

    app = new Proc("app", Deno.execPath(), [
      "run",
      "--allow-net=127.0.0.1",
      `${ROOT}/bench/app.ts`,
      "--port=0",
    ]);
    const appPort = Number((await app.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);

    m = await TestMesh.start({ "bench-app.yaml": SERVICE_ENTRY });
    const [b, a] = await Promise.all([
      m.sidecar({
        name: "proxy-b",
        serviceAccount: "bench-app",
        labels: "app=bench-app",
        appPort,
      }),
      m.sidecar({ name: "proxy-a", serviceAccount: "bench-client", labels: "app=bench-client" }),
    ]);
    await eventually(
      async () => (await configDump(a.admin)).config?.clusters[CLUSTER]?.endpoints.length === 1,
      20_000,
      "proxy A to learn the bench-app endpoint",
    );

    const directUrl = `http://127.0.0.1:${appPort}/`;
    const meshUrl = `http://127.0.0.1:${a.outbound}/`;
    for (
      const [what, args] of [
        ["direct", [directUrl]],
        ["mesh", [meshUrl, "-H", `Host: ${HOST_HEADER}`]],
      ] as const
    ) {
      const r = await curl([...args]);
      if (r.status !== 200 || r.body.length !== BODY_BYTES) {
        throw new Error(
          `${what} warm-up: status ${r.status}, ${r.body.length} bytes (want 200, ${BODY_BYTES})` +
            `${r.stderr}\n--- proxy-a ---\n${a.proc.output}\n--- proxy-b ---\n${b.proc.output}`,
        );
      }
    }

    const proxies: Record<ProxyName, number> = {
      "proxy-a": a.proc.child.pid,
      "proxy-b": b.proc.child.pid,
    };
    const rssBefore = {
      "proxy-a": rssMb(proxies["proxy-a"]),
      "proxy-b": rssMb(proxies["proxy-b"]),
    };
    const measure = async (i: number, url: string, headers: string[]): Promise<Run> => {
      const opens = tcpActiveOpens();
      const cpu = {
        "proxy-a": cpuSeconds(proxies["proxy-a"]),
        "proxy-b": cpuSeconds(proxies["proxy-b"]),
      };
      const r = await wrk(url, opts.durationS, headers);
      const opened = tcpActiveOpens() - opens;
      return {
        round: i,
        ...r,
        machine_tcp_opens_per_req: r.requests ? round(opened / r.requests) : 0,
        proxy_cpu_s: {
          "proxy-a": round(cpuSeconds(proxies["proxy-a"]) - cpu["proxy-a"], 2),
          "proxy-b": round(cpuSeconds(proxies["proxy-b"]) - cpu["proxy-b"], 2),
        },
      };
    };
    const runs: Record<"direct" | "mesh", Run[]> = { direct: [], mesh: [] };
    for (let i = 1; i <= opts.rounds; i++) {
      console.error(`bench: round ${i}/${opts.rounds}: direct`);
      runs.direct.push(await measure(i, directUrl, []));
      console.error(`bench: round ${i}/${opts.rounds}: mesh`);
      runs.mesh.push(await measure(i, meshUrl, [`Host: ${HOST_HEADER}`]));
    }

    const summary = (rs: Run[]) => ({
      rps: round(median(rs.map((r) => r.rps)), 1),
      p50_ms: round(median(rs.map((r) => r.p50_ms))),
      p99_ms: round(median(rs.map((r) => r.p99_ms))),
    });
    const direct = summary(runs.direct);
    const mesh = summary(runs.mesh);
    const meshRequests = runs.mesh.reduce((n, r) => n + r.requests, 0);
    const proxyStat = (name: ProxyName) => {
      const cpu = runs.mesh.reduce((s, r) => s + r.proxy_cpu_s[name], 0);
      return {
        pid: proxies[name],
        cpu_s: round(cpu, 2),
        cpu_s_per_1k_req: meshRequests ? round((cpu / meshRequests) * 1000, 4) : null,
        rss_mb: round(rssMb(proxies[name]), 1),
        rss_mb_before: round(rssBefore[name], 1),
      };
    };
    const proxyStats = { "proxy-a": proxyStat("proxy-a"), "proxy-b": proxyStat("proxy-b") };
    const added = {
      added_p50_ms: round(mesh.p50_ms - direct.p50_ms),
      added_p99_ms: round(mesh.p99_ms - direct.p99_ms),
    };

    const result = {
      date: new Date().toISOString(),
      machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
      tool: "wrk",
      settings: {
        connections: CONNECTIONS,
        threads: THREADS,
        duration_s: opts.durationS,
        rounds: opts.rounds,
        body_bytes: BODY_BYTES,
      },
      rows: {
        direct: { ...direct, runs: runs.direct },
        mesh: { ...mesh, ...added, proxies: proxyStats, runs: runs.mesh },
      },
    };
    await Deno.mkdir(`${ROOT}/bench/results`, { recursive: true });
    await atomicWrite(RESULTS, JSON.stringify(result, null, 2) + "\n");

    const f = (x: number, d = 2) => x.toFixed(d);
    const sign = (x: number) => (x >= 0 ? "+" : "") + f(x);
    console.log(
      `\n### Data-plane benchmark (wrk, ${CONNECTIONS} connections, ${THREADS} threads, ` +
        `${opts.durationS} s × ${opts.rounds} rounds, medians)\n`,
    );
    console.log("| row | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms |");
    console.log("|---|---:|---:|---:|---:|---:|");
    console.log(`| direct | ${f(direct.rps, 0)} | ${f(direct.p50_ms)} | ${f(direct.p99_ms)} | | |`);
    console.log(
      `| mesh | ${f(mesh.rps, 0)} | ${f(mesh.p50_ms)} | ${f(mesh.p99_ms)} | ` +
        `${sign(added.added_p50_ms)} | ${sign(added.added_p99_ms)} |`,
    );
    console.log("\n| mesh proxy | CPU s / 1k req | RSS MB before → after |");
    console.log("|---|---:|---:|");
    for (const [name, s] of Object.entries(proxyStats)) {
      console.log(
        `| ${name} | ${s.cpu_s_per_1k_req?.toFixed(3) ?? "n/a"} | ` +
          `${f(s.rss_mb_before, 1)} → ${f(s.rss_mb, 1)} |`,
      );
    }
    const opens = (rs: Run[]) => f(median(rs.map((r) => r.machine_tcp_opens_per_req)));
    console.log(
      `\nnew TCP connections per request (machine-wide, median): direct ${opens(runs.direct)}, ` +
        `mesh ${opens(runs.mesh)}`,
    );
    console.log(
      `\nmachine: ${result.machine.cpus} CPUs, deno ${result.machine.deno}; ` +
        `results: bench/results/latest.json`,
    );
    for (const [row, rs] of Object.entries(runs)) {
      const bad = rs.reduce((n, r) => n + errorsOf(r), 0);
      if (bad) console.log(`warning: ${row}: ${bad} socket errors or non-2xx responses (see JSON)`);
    }
    return 0;
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
