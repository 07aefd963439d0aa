/**
 * Data-plane benchmark suite: the same app measured directly and through
 * three proxy pairs (nginx, HAProxy, mesh), each client → proxy A → mTLS →
 * proxy B → app, in one run with one load generator (fortio, as Istio's own
 * benchmarks use; wrk as a fallback). Rows are interleaved round by round and
 * reported as medians. Extra rows try HTTP/2 from the client (h2load; and
 * HTTP/2 between mesh's proxies), gRPC and raw TCP, and record what a pair
 * can't carry.
 *
 * Usage: `deno task bench [--quick] [--rounds=N] [--duration=Ns] ...` (see `--help`).
 *
 * Prints Markdown; writes `bench/results/latest.json` and, on full runs,
 * `bench/RESULTS.md`.
 * @module
 */
import { curl, Proc, ROOT } from "../tests/helpers.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { BODY_BYTES } from "./app.ts";
import { makeCerts } from "./certs.ts";
import { type Options, parseOptions, USAGE } from "./options.ts";
import { startHaproxy } from "./peers/haproxy.ts";
import { startMesh } from "./peers/mesh.ts";
import { nginxStreamMissing, startNginx } from "./peers/nginx.ts";
import { type Backends, type Endpoint, isUnsupported, type Pair } from "./peers/types.ts";
import {
  alive,
  cpuModel,
  cpuSeconds,
  initClockTicks,
  loadAverage,
  memoryGb,
  MemorySampler,
  pssMb,
  rssMb,
  tcpActiveOpens,
} from "./procfs.ts";
import {
  addOverheads,
  type Group,
  kubeTargets,
  markdown,
  pushMarkdown,
  pushTargets,
  type Result,
  round,
  type Row,
  type Run,
  summarize,
  targets,
  targetsTable,
} from "./report.ts";
import { ensureTools } from "./tools/install.ts";
import { proxyStartup, signRate } from "./ca_bench.ts";
import { type KubeResult, runKubeBench } from "./kube.ts";
import { type PushResult, runPushBench } from "./push.ts";
import { firstLine, have, isStopping, killRunning, reapChildren, tail } from "./spawn.ts";
import {
  findOrBuildFortio,
  type Fortio,
  FORTIO_RESOLUTION_S,
  fortioLoad,
  fortioServerArgs,
  fortioServerPorts,
} from "./tools/fortio.ts";
import { h2load } from "./tools/h2load.ts";
import type { LoadResult } from "./tools/load.ts";
import { wrk } from "./tools/wrk.ts";
import { wsLoad } from "./tools/ws.ts";
import { wsClient, wsServerPort } from "../tests/peers.ts";

const CONNECTIONS = 16;
/** Concurrent streams per connection for h2load's max-throughput runs. */
const H2_STREAMS = 10;
/** Bytes each TCP round trip sends (and gets echoed back). */
const TCP_PAYLOAD = 1024;
/** Bytes per WebSocket message (echoed back). */
const WS_MESSAGE_BYTES = 1024;
/** WebSocket messages per connection per second of the run's duration (count-bounded runs). */
const WS_MESSAGES_PER_S = 500;
/** Requests per connection-pool warm-up before the first round (count-bounded). */
const WARMUP_CALLS = 2000;
const RESULTS_JSON = `${ROOT}/bench/results/latest.json`;
const RESULTS_MD = `${ROOT}/bench/RESULTS.md`;
const MAIN_ROWS = ["direct", "nginx", "haproxy", "mesh"] as const;
const PAIRS = ["nginx", "haproxy", "mesh"] as const;

const log = (msg: string) => console.error(`bench: ${msg}`);

/** One row to measure (or to record as unsupported). */
interface Plan {
  key: string;
  group: Group;
  path: string;
  baseline: string | null;
  endpoint?: Endpoint;
  proxies: Record<string, number>;
  unsupported?: string;
  /** For unsupported rows: a target to try, so the row records the observed error. */
  probe?: string;
  /** The pair under test, if any. */
  peer?: (typeof PAIRS)[number];
}

/** What the run shares: options, tools, temp dir. */
interface Ctx {
  opts: Options;
  tmp: string;
  fortio?: Fortio;
  h2load: boolean;
  /** tests/peers/wsclient, or why not. */
  wsclient?: { path: string } | { skip: string };
  seq: number;
  /** The recent output of a row's pair, for diagnosing failed runs. */
  output?: (p: Plan) => string;
}

function jsonFile(ctx: Ctx): string {
  return `${ctx.tmp}/load-${ctx.seq++}.json`;
}

// ---------------------------------------------------------------- load

async function load(ctx: Ctx, p: Plan, mode: "fixed" | "max", durationS: number) {
  const ep = p.endpoint!;
  const qps = mode === "fixed" ? ctx.opts.qps : 0;
  const base = { connections: CONNECTIONS, qps, durationS, headers: ep.headers };
  switch (p.group) {
    case "http":
      if (!ctx.fortio) {
        return await wrk(ep.target, {
          connections: CONNECTIONS,
          threads: 2,
          durationS,
          headers: ep.headers,
        });
      }
      return await fortioLoad(ctx.fortio.path, {
        ...base,
        kind: "http",
        target: ep.target,
        jsonFile: jsonFile(ctx),
      });
    case "h2":
      if (mode === "fixed") {
        return await fortioLoad(ctx.fortio!.path, {
          ...base,
          kind: "h2",
          target: ep.target,
          jsonFile: jsonFile(ctx),
        });
      }
      return await h2load({
        url: ep.target,
        headers: h2Headers(ep.headers),
        connections: CONNECTIONS,
        streams: H2_STREAMS,
        durationS,
        warmupMs: 500,
        logFile: `${ctx.tmp}/h2load-${ctx.seq++}.log`,
      });
    case "ws":
      return await wsLoad({
        bin: wsBin(ctx),
        url: ep.target,
        headers: ep.headers,
        connections: CONNECTIONS,
        messages: WS_MESSAGES_PER_S * durationS,
        size: WS_MESSAGE_BYTES,
        timeoutS: 60,
      });
    case "grpc":
    case "tcp":
      return await fortioLoad(ctx.fortio!.path, {
        ...base,
        kind: p.group,
        target: ep.target,
        jsonFile: jsonFile(ctx),
        payloadBytes: TCP_PAYLOAD,
      });
  }
}

function wsBin(ctx: Ctx): string {
  const w = ctx.wsclient;
  if (!w || !("path" in w)) throw new Error("wsclient unavailable");
  return w.path;
}

/** h2load sets the authority with `:authority`, not `Host`. */
function h2Headers(headers: string[]): string[] {
  return headers.map((h) => h.replace(/^host:/i, ":authority:"));
}

/** One measured run with the proxies' CPU (and memory, on max runs) around it. */
async function measure(
  ctx: Ctx,
  p: Plan,
  round_: number,
  mode: "fixed" | "max",
  durationS: number,
): Promise<Run> {
  const names = Object.keys(p.proxies);
  const cpu0 = Object.fromEntries(names.map((n) => [n, cpuSeconds(p.proxies[n])]));
  const opens0 = tcpActiveOpens();
  const sampler = mode === "max" && names.length ? new MemorySampler(p.proxies) : undefined;
  let r: LoadResult | { failed: string };
  try {
    r = await load(ctx, p, mode, durationS);
  } catch (err) {
    const gone = names.filter((n) => !alive(p.proxies[n]));
    r = {
      failed: (err as Error).message + (gone.length ? ` (${gone.join(", ")} not running)` : ""),
    };
    if (!isStopping()) {
      log(`${p.key}: ${mode} run failed: ${r.failed}`);
      if (gone.length && ctx.output) {
        log(`output of the ${p.peer} pair:\n${tail(ctx.output(p), 40)}`);
      }
    }
  }
  const mem = sampler?.stop();
  const opens = tcpActiveOpens() - opens0;
  const proxy_cpu_s = Object.fromEntries(
    names.map((n) => [n, round(cpuSeconds(p.proxies[n]) - cpu0[n], 2)]),
  );
  const requests = "requests" in r ? r.requests : 0;
  return {
    round: round_,
    mode,
    duration_s: durationS,
    ...r,
    proxy_cpu_s,
    ...(mem ? { rss_mb_max: roundAll(mem.rss, 1), pss_mb_max: roundAll(mem.pss, 1) } : {}),
    machine_tcp_opens_per_req: requests ? round(opens / requests) : 0,
  };
}

function roundAll(xs: Record<string, number>, d: number): Record<string, number> {
  return Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, round(v, d)]));
}

// ---------------------------------------------------------------- probes

/** Checks that a row works end to end; returns why not, or undefined. */
async function probe(ctx: Ctx, p: Plan, target = p.endpoint?.target): Promise<string | undefined> {
  const headers = p.endpoint?.headers ?? [];
  try {
    switch (p.group) {
      case "http": {
        const r = await curl([...headers.flatMap((h) => ["-H", h]), target!]);
        if (r.status === 200 && r.body.length === BODY_BYTES) return undefined;
        return `status ${r.status}, ${r.body.length} bytes (want 200, ${BODY_BYTES}) ${r.stderr}`
          .trim();
      }
      case "h2": {
        const r = await h2load({
          url: target!,
          headers: h2Headers(headers),
          connections: 1,
          streams: 1,
          requests: 32,
          logFile: `${ctx.tmp}/h2probe-${ctx.seq++}.log`,
        });
        if (r.requests === 32 && r.errors === 0) return undefined;
        return `h2load: ${r.error_sample ?? `${r.errors} of ${r.requests} failed`}`;
      }
      case "ws": {
        const r = await wsLoad({
          bin: wsBin(ctx),
          url: target!,
          headers,
          connections: 1,
          messages: 20,
          size: WS_MESSAGE_BYTES,
          timeoutS: 20,
        });
        if (r.errors === 0 && r.requests === 20) return undefined;
        return `wsclient: ${r.error_sample ?? `${r.requests} of 20 messages echoed`}`;
      }
      case "grpc":
      case "tcp": {
        const r = await fortioLoad(ctx.fortio!.path, {
          kind: p.group,
          target: target!,
          headers,
          connections: 1,
          qps: 0,
          calls: 20,
          jsonFile: jsonFile(ctx),
          payloadBytes: TCP_PAYLOAD,
        });
        if (r.errors === 0 && r.requests > 0) return undefined;
        return r.error_sample ?? `${r.errors} of ${r.requests} calls failed: ` +
            JSON.stringify(r.codes);
      }
    }
  } catch (err) {
    return (err as Error).message;
  }
}

// ---------------------------------------------------------------- plans

const PATHS: Record<string, string> = {
  direct: "client → app",
  nginx: "client → nginx A → mTLS → nginx B → app",
  haproxy: "client → HAProxy A → mTLS → HAProxy B → app",
  mesh: "client → proxy A → mTLS → proxy B → app",
};

function plans(
  ctx: Ctx,
  backends: Backends,
  pairs: Partial<Record<(typeof PAIRS)[number], Pair | string>>,
): Plan[] {
  const out: Plan[] = [];
  const direct = (group: Group, key: string, target?: string, why?: string): Plan => ({
    key,
    group,
    baseline: null,
    path: PATHS.direct,
    proxies: {},
    ...(target ? { endpoint: { target, headers: [] } } : { unsupported: why ?? "no backend" }),
  });
  const forPair = (
    group: Group,
    key: string,
    name: (typeof PAIRS)[number],
    field: Group | "h2Upgrade" = group,
  ): Plan => {
    const pair = pairs[name];
    const plan: Plan = {
      key,
      group,
      baseline: group === "http" ? "direct" : `${group}_direct`,
      path: PATHS[name],
      proxies: {},
      peer: name,
    };
    if (pair === undefined || typeof pair === "string") {
      return { ...plan, unsupported: pair ?? `${name} pair not started` };
    }
    const ep = pair[field] ?? { unsupported: `the ${name} pair has no ${field} endpoint` };
    plan.proxies = pair.proxies;
    if (isUnsupported(ep)) {
      return { ...plan, unsupported: ep.unsupported, ...(ep.probe ? { probe: ep.probe } : {}) };
    }
    return { ...plan, endpoint: ep, proxies: ep.proxies ?? pair.proxies };
  };
  const httpUrl = `http://127.0.0.1:${backends.http}/`;
  out.push(direct("http", "direct", httpUrl));
  for (const name of PAIRS) out.push(forPair("http", name, name));
  if (!ctx.opts.extras) return out;

  const noH2load = "h2load not installed (apt-get install -y nghttp2-client)";
  const h2 = ctx.h2load ? undefined : noH2load;
  out.push(direct("h2", "h2_direct", h2 ? undefined : httpUrl, h2));
  for (const name of PAIRS) {
    const plan = forPair("h2", `${name}_h2`, name);
    out.push(h2 && !plan.unsupported ? { ...plan, endpoint: undefined, unsupported: h2 } : plan);
  }
  // The same h2c traffic, with HTTP/2 (not HTTP/1.1) between mesh's proxies.
  const upgrade = forPair("h2", "mesh_h2_upgrade", "mesh", "h2Upgrade");
  upgrade.path = PATHS.mesh.replace("mTLS", "HTTP/2 over mTLS") + " (HTTP/1.1)";
  out.push(
    h2 && !upgrade.unsupported ? { ...upgrade, endpoint: undefined, unsupported: h2 } : upgrade,
  );
  const noFortio = "fortio unavailable (its gRPC ping and TCP echo servers are the backends)";
  out.push(
    direct(
      "grpc",
      "grpc_direct",
      backends.grpc ? `127.0.0.1:${backends.grpc}` : undefined,
      noFortio,
    ),
  );
  for (const name of PAIRS) out.push(forPair("grpc", `grpc_${name}`, name));
  out.push(
    direct(
      "tcp",
      "tcp_direct",
      backends.tcp ? `tcp://127.0.0.1:${backends.tcp}` : undefined,
      noFortio,
    ),
  );
  for (const name of PAIRS) out.push(forPair("tcp", `tcp_${name}`, name));
  // WebSocket: mesh only (the nginx and HAProxy pairs have no WebSocket setup).
  const noWs = ctx.wsclient && "skip" in ctx.wsclient ? ctx.wsclient.skip : undefined;
  out.push(
    direct("ws", "ws_direct", backends.ws ? `ws://127.0.0.1:${backends.ws}/echo` : undefined, noWs),
  );
  out.push(forPair("ws", "ws_mesh", "mesh"));
  for (const p of out) {
    if (p.group !== "http") {
      p.path = p.path.replace(
        /^client/,
        { h2: "h2c client", grpc: "gRPC client", tcp: "TCP client", ws: "WebSocket client" }[
          p.group
        ]!,
      );
      if (p.group === "ws") p.path = p.path.replace(/app$/, "WebSocket echo server");
      if (p.group === "grpc") p.path = p.path.replace(/app$/, "fortio gRPC ping server");
      if (p.group === "tcp") p.path = p.path.replace(/app$/, "fortio TCP echo");
    }
  }
  return out;
}

// ---------------------------------------------------------------- main

async function versions(fortio?: Fortio): Promise<Record<string, string>> {
  const v: Record<string, string> = { deno: Deno.version.deno };
  const nginx = await firstLine("nginx", ["-v"]);
  if (nginx) v.nginx = nginx.replace(/^nginx version: nginx\//, "");
  const ha = await firstLine("haproxy", ["-v"]);
  if (ha) v.haproxy = ha.match(/version (\S+)/)?.[1] ?? ha;
  if (fortio) v.fortio = fortio.version;
  const h2 = await firstLine("h2load", ["--version"]);
  if (h2) v.h2load = h2.replace(/^h2load /, "");
  const ssl = await firstLine("openssl", ["version"]);
  if (ssl) v.openssl = ssl.split(" ").slice(0, 2).join(" ");
  return v;
}

async function meshMetrics(admins: number[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [i, port] of admins.entries()) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/stats/prometheus`)).text();
      let n = 0;
      for (const m of text.matchAll(/^istio_requests_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
      out[i === 0 ? "proxy-a" : "proxy-b"] = n;
    } catch { /* admin gone */ }
  }
  return out;
}

/**
 * Formats Markdown with `deno fmt` (the repository's settings), so the
 * written RESULTS.md passes `deno fmt --check`. Returns the input if that fails.
 */
async function formatMarkdown(text: string): Promise<string> {
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--ext=md", "-"],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(text));
    await w.close();
    const out = await child.output();
    clearTimeout(guard);
    return out.success ? new TextDecoder().decode(out.stdout) : text;
  } catch {
    return text;
  }
}

/** A pair's settings, or why it is missing. */
function peerSettings(pair: Pair | string | undefined): unknown {
  return typeof pair === "object" ? pair.settings : pair ?? null;
}

/** Signing rates for P-256 and RSA 2048 roots, and new-proxy start times. */
async function caSection(quick: boolean): Promise<Result["ca"]> {
  log("CA: signing rate and proxy start time");
  const signing = [];
  for (const kt of ["ec-p256", "rsa-2048"] as const) {
    const r = await signRate(kt, quick ? 1 : 3);
    signing.push({
      key_type: kt,
      certs_per_s: r.certsPerSecond,
      signed: r.signed,
      seconds: round(r.seconds, 2),
    });
  }
  return { signing, proxy_start_ms: await proxyStartup(quick ? 2 : 5) };
}

/**
 * The Kubernetes section (issue 11): 1,000 Services with 5 endpoints each (100 with --quick) on a
 * real kube-apiserver; `supported: false` when its binaries aren't built or it fails.
 */
async function kubeSection(opts: Options): Promise<KubeResult> {
  log(`Kubernetes: ${opts.kubeServices} Services, time to first push, endpoint changes`);
  const r = await runKubeBench({ services: opts.kubeServices, endpointsPer: 5, log });
  if (!r.supported) log(`Kubernetes section not measured: ${r.reason}`);
  return r;
}

/**
 * The push section (issue 12): simulated sidecars on a control plane, 100 / 1,000 / 5,000 of
 * them, Bookinfo-sized and 200-service configs (Bookinfo-sized, up to 1,000, with --quick).
 */
async function pushSection(opts: Options): Promise<PushResult> {
  log(`push: simulated sidecars, ${opts.quick ? "100 and 1,000" : "100, 1,000 and 5,000"}`);
  const r = await runPushBench({ quick: opts.quick, log });
  if (!r.supported) log(`push section stopped: ${r.reason}`);
  return r;
}

/** `--only-push`: the push section alone, written to bench/results/push.json. */
async function onlyPush(opts: Options): Promise<number> {
  await initClockTicks();
  const push = await pushSection(opts);
  await Deno.mkdir(`${ROOT}/bench/results`, { recursive: true });
  const file = `${ROOT}/bench/results/push.json`;
  const ts = pushTargets(push);
  await atomicWrite(
    file,
    JSON.stringify({ date: new Date().toISOString(), push, targets: ts }, null, 2) + "\n",
  );
  const md = await formatMarkdown(
    `# Push benchmark (--only-push)\n\n## Targets (issue 12)\n\n${targetsTable(ts)}\n` +
      pushMarkdown(push).join("\n"),
  );
  console.log(`\n${md}`);
  log(`wrote bench/results/push.json`);
  return push.supported ? 0 : 1;
}

async function main(): Promise<number> {
  const started = Date.now();
  const loadAvgStart = loadAverage();
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
  if (opts.onlyPush) return await onlyPush(opts);
  if (!Deno.args.includes("--no-install")) await ensureTools(log, true);
  if (!(await have("curl"))) {
    log("curl not found; install it with: apt-get install -y curl");
    return 1;
  }
  await initClockTicks();
  const notes: string[] = [];

  const tmp = await Deno.makeTempDir({ prefix: "mesh-bench-" });
  const ctx: Ctx = { opts, tmp, h2load: await have("h2load"), seq: 0 };
  const procs: Proc[] = [];
  const pending: Promise<Pair & { admin?: number[] }>[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    cleaning ??= (async () => {
      killRunning();
      const started = await Promise.allSettled(pending);
      await Promise.allSettled(
        started.map((s) => s.status === "fulfilled" ? s.value.close() : undefined),
      );
      await Promise.allSettled(procs.map((p) => p.stop()));
      const strays = await reapChildren();
      if (strays.length) {
        log(`stopped ${strays.length} stray child process(es): ${strays.join(" ")}`);
      }
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    })();
  const onSignal = () => {
    console.error("\nbench: interrupted; stopping processes");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  try {
    // Tools.
    if (opts.tool === "fortio") {
      const f = await findOrBuildFortio(log);
      if ("error" in f) {
        const msg = `fortio unavailable (${f.error}); falling back to wrk: no fixed-rate ` +
          `percentiles (wrk reports latency at max load) and no gRPC/TCP rows`;
        log(msg);
        notes.push(msg);
      } else {
        ctx.fortio = f;
        log(`fortio ${f.version} (${f.source})`);
        if (/@v/.test(f.source)) notes.push(`fortio ${f.version} ${f.source}`);
      }
    } else notes.push("--tool=wrk: no fixed-rate percentiles; wrk's latency is at max load");
    if (!ctx.fortio && !(await have("wrk"))) {
      log("neither fortio nor wrk is available; install wrk (apt-get install -y wrk) or Go");
      return 1;
    }
    if (!ctx.h2load) notes.push("h2load not installed: no HTTP/2 rows");

    // Backends: the app, and fortio's gRPC ping + TCP echo servers.
    const app = new Proc("app", Deno.execPath(), [
      "run",
      "--allow-net=127.0.0.1",
      `${ROOT}/bench/app.ts`,
      "--port=0",
    ]);
    procs.push(app);
    const backends: Backends = {
      http: Number((await app.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]),
    };
    if (ctx.fortio && opts.extras) {
      const fs = new Proc("fortio-server", ctx.fortio.path, fortioServerArgs());
      procs.push(fs);
      await fs.waitFor(/servers started/);
      Object.assign(backends, fortioServerPorts(fs.output));
    }
    if (opts.extras) {
      // tests/peers/wsclient: the WebSocket echo server and the load client.
      ctx.wsclient = await wsClient().catch((err) => ({ skip: (err as Error).message }));
      if ("path" in ctx.wsclient && ctx.wsclient.path) {
        const ws = new Proc("ws-server", ctx.wsclient.path, ["-serve", "127.0.0.1:0"]);
        procs.push(ws);
        await ws.waitFor(/"listening"/);
        backends.ws = wsServerPort(ws.output);
      } else {
        const why = "skip" in ctx.wsclient ? ctx.wsclient.skip : "no path";
        ctx.wsclient = { skip: why };
        notes.push(`no WebSocket rows: ${why}`);
      }
    }

    // The pairs, started side by side.
    log("starting nginx, HAProxy and mesh pairs");
    const certs = makeCerts(`${tmp}/certs`);
    certs.catch(() => {});
    const missing = async (cmd: string, args: string[], pkg: string) =>
      (await have(cmd, args)) ? undefined : `${cmd} not installed (apt-get install -y ${pkg})`;
    const nginxMissing = await missing("nginx", ["-v"], "nginx-light");
    const haproxyMissing = await missing("haproxy", ["-v"], "haproxy");
    const tcpNginx = await nginxStreamMissing() ?? "";
    const starts: Record<(typeof PAIRS)[number], Promise<Pair & { admin?: number[] }> | string> = {
      nginx: nginxMissing ??
        certs.then((c) => startNginx(`${tmp}/nginx`, c, backends, tcpNginx)),
      haproxy: haproxyMissing ?? certs.then((c) => startHaproxy(`${tmp}/haproxy`, c, backends)),
      mesh: startMesh(backends),
    };
    const pairs: Partial<Record<(typeof PAIRS)[number], Pair | string>> = {};
    let meshAdmins: number[] = [];
    for (const name of PAIRS) {
      const s = starts[name];
      if (typeof s === "string") {
        pairs[name] = s;
        continue;
      }
      pending.push(s);
    }
    for (const name of PAIRS) {
      const s = starts[name];
      if (typeof s === "string") continue;
      try {
        const pair = await s;
        pairs[name] = pair;
        if (pair.admin) meshAdmins = pair.admin;
      } catch (err) {
        const msg = (err as Error).message;
        pairs[name] = `${name} pair failed to start: ${msg.split("\n")[0]}`;
        log(`${name} pair failed to start:\n${tail(msg, 20)}`);
      }
    }

    // Probe every row once; rows that fail become unsupported with the error.
    ctx.output = (p) => {
      const pair = p.peer ? pairs[p.peer] : undefined;
      return typeof pair === "object" ? pair.output() : "";
    };
    const all = plans(ctx, backends, pairs);
    const observed: Record<string, string> = {};
    for (const p of all) {
      if (p.unsupported) {
        if (p.probe && (ctx.fortio || p.group === "http")) {
          const why = await probe(ctx, p, p.probe);
          observed[p.key] = why ?? "the probe unexpectedly succeeded";
        }
        continue;
      }
      const why = await probe(ctx, p);
      if (why) {
        const expected = p.endpoint?.expectedFailure;
        p.unsupported = expected ? `${expected}; observed: ${why}` : `probe failed: ${why}`;
        if (!expected) log(`${p.key}: ${p.unsupported}`);
        p.endpoint = undefined;
      } else if (p.endpoint?.expectedFailure) {
        notes.push(
          `${p.key} works although it was expected not to (${p.endpoint.expectedFailure})`,
        );
      }
    }

    // Memory before any load.
    const pids: Record<string, number> = {};
    for (const p of all) {
      for (const [n, pid] of Object.entries(p.proxies)) pids[`${n}:${pid}`] = pid;
    }
    const idle = (p: Plan) => ({
      rss: Object.fromEntries(Object.entries(p.proxies).map(([n, pid]) => [n, idleRss[pid]])),
      pss: Object.fromEntries(Object.entries(p.proxies).map(([n, pid]) => [n, idlePss[pid]])),
    });
    const idleRss: Record<number, number> = {};
    const idlePss: Record<number, number> = {};
    for (const pid of Object.values(pids)) {
      idleRss[pid] = rssMb(pid);
      idlePss[pid] = pssMb(pid);
    }

    // Warm-up: fill each main pair's connection pools (count-bounded, not recorded).
    const runnable = (ps: Plan[]) => ps.filter((p) => !p.unsupported);
    const main = runnable(all.filter((p) => p.group === "http"));
    if (ctx.fortio) {
      for (const p of main) {
        await fortioLoad(ctx.fortio.path, {
          kind: "http",
          target: p.endpoint!.target,
          headers: p.endpoint!.headers,
          connections: CONNECTIONS,
          qps: 0,
          calls: WARMUP_CALLS,
          jsonFile: jsonFile(ctx),
        }).catch(() => {});
      }
    }

    // Main rows: rounds × (direct, nginx, haproxy, mesh), fixed rate then max each.
    const runs: Record<string, Run[]> = {};
    const fixedToo = !!ctx.fortio;
    const est = opts.rounds * main.length * ((fixedToo ? opts.fixedS : 0) + opts.maxS);
    log(`${opts.rounds} round(s) × ${main.length} rows ≈ ${est} s of load (main rows)`);
    for (let i = 1; i <= opts.rounds; i++) {
      for (const p of main) {
        log(`round ${i}/${opts.rounds}: ${p.key}`);
        runs[p.key] ??= [];
        if (fixedToo) runs[p.key].push(await measure(ctx, p, i, "fixed", opts.fixedS));
        runs[p.key].push(await measure(ctx, p, i, "max", opts.maxS));
        if (isStopping()) return 130;
      }
    }

    // Extra rows: one round, interleaved within each group.
    const extra = runnable(all.filter((p) => p.group !== "http"));
    if (extra.length) {
      log(`extra rows: ${extra.map((p) => p.key).join(", ")}`);
    }
    for (const p of extra) {
      runs[p.key] = [];
      // wsclient can't hold a fixed rate: WebSocket rows have max runs only.
      const fixed = p.group !== "ws" && (p.group !== "h2" || ctx.fortio);
      if (fixed) runs[p.key].push(await measure(ctx, p, 1, "fixed", opts.extraFixedS));
      runs[p.key].push(await measure(ctx, p, 1, "max", opts.extraMaxS));
      if (isStopping()) return 130;
    }

    // Summaries.
    const rows: Record<string, Row> = {};
    const rowSettings = (p: Plan) => {
      const pair = p.peer ? pairs[p.peer] : undefined;
      const fixed = p.group === "http" ? fixedToo : p.group !== "ws" && !!ctx.fortio;
      return {
        connections: CONNECTIONS,
        ...(fixed ? { fixed_qps: opts.qps } : {}),
        fixed_s: fixed ? (p.group === "http" ? opts.fixedS : opts.extraFixedS) : null,
        max_s: p.group === "http" ? opts.maxS : opts.extraMaxS,
        rounds: p.group === "http" ? opts.rounds : 1,
        ...(p.group === "h2" ? { h2load_streams_per_connection: H2_STREAMS } : {}),
        ...(p.group === "tcp" ? { payload_bytes: TCP_PAYLOAD } : p.group === "ws"
          ? {
            message_bytes: WS_MESSAGE_BYTES,
            messages_per_connection: WS_MESSAGES_PER_S * opts.extraMaxS,
          }
          : { body_bytes: BODY_BYTES }),
        target: p.endpoint?.target ?? p.probe ?? null,
        headers: p.endpoint?.headers ?? [],
        ...(pair ? { peer: peerSettings(pair) } : {}),
      };
    };
    for (const p of all) {
      if (p.unsupported) {
        rows[p.key] = {
          supported: false,
          group: p.group,
          path: p.path,
          reason: p.unsupported,
          ...(observed[p.key] ? { observed: observed[p.key] } : {}),
          settings: rowSettings(p),
        };
        continue;
      }
      const tool = p.group === "http"
        ? (ctx.fortio ? "fortio" : "wrk")
        : p.group === "h2"
        ? (ctx.fortio ? "h2load (max) + fortio -h2 (fixed rate)" : "h2load")
        : p.group === "ws"
        ? "wsclient (tests/peers/wsclient)"
        : "fortio";
      const latencyAt = ctx.fortio && p.group !== "ws" ? "fixed_rate" : "max";
      rows[p.key] = summarize(
        { group: p.group, path: p.path, baseline: p.baseline, tool },
        runs[p.key] ?? [],
        idle(p),
        latencyAt,
        latencyAt === "fixed_rate" ? opts.qps : null,
      );
      rows[p.key].settings = rowSettings(p);
    }
    for (const p of all) {
      const r = rows[p.key];
      if (!r.supported && observed[p.key]) {
        r.reason = `${r.reason}; observed: ${observed[p.key]}`;
      }
    }
    addOverheads(rows);
    if (rows.mesh?.supported && meshAdmins.length) {
      rows.mesh.metrics_requests_total = await meshMetrics(meshAdmins);
    }
    if (Object.values(rows).some((r) => r.group === "h2" && r.supported)) {
      notes.push(
        `h2 rows: req/s from h2load with ${CONNECTIONS} connections × ${H2_STREAMS} streams, ` +
          (ctx.fortio ? `latency from \`fortio load -h2\` at the fixed rate; ` : "") +
          `the proxies speak HTTP/1.1 over mTLS to each other, except in \`mesh_h2_upgrade\` ` +
          `(HTTP/2 over mTLS, by a DestinationRule with h2UpgradePolicy UPGRADE)`,
      );
    }
    if (Object.values(rows).some((r) => r.group === "ws" && r.supported)) {
      notes.push(
        `ws rows: messages/s (in the req/s column) of ${CONNECTIONS} wsclient connections side ` +
          `by side, each sending ${WS_MESSAGES_PER_S * opts.extraMaxS} messages of ` +
          `${WS_MESSAGE_BYTES} bytes and checking each echo before the next (one message in ` +
          `flight per connection), over the slowest connection's time; max runs only and no ` +
          `latency percentiles (wsclient reports none), CPU per 1k messages`,
      );
    }
    const failedMain = MAIN_ROWS.filter((k) => !rows[k]?.supported);

    const machine = {
      cpus: navigator.hardwareConcurrency,
      cpu_model: cpuModel(),
      memory_gb: memoryGb(),
      os: Deno.osRelease(),
      load_avg_start: loadAvgStart,
      load_avg_end: loadAverage(),
      versions: await versions(ctx.fortio),
    };
    const ca = isStopping() ? undefined : await caSection(opts.quick);
    const kube = opts.kube && !isStopping() ? await kubeSection(opts) : undefined;
    const push = opts.push && !isStopping() ? await pushSection(opts) : undefined;
    const result: Result = {
      date: new Date().toISOString(),
      quick: opts.quick,
      wall_s: round((Date.now() - started) / 1000, 1),
      machine,
      tool: ctx.fortio ? `fortio ${ctx.fortio.version}` : "wrk",
      settings: {
        connections: CONNECTIONS,
        protocol: "HTTP/1.1 (client → proxy A), GET",
        body_bytes: BODY_BYTES,
        fixed_qps: opts.qps,
        fixed_s: fixedToo ? opts.fixedS : null,
        max_s: opts.maxS,
        rounds: opts.rounds,
        main_rows: [...MAIN_ROWS],
        extra_rounds: opts.extras ? 1 : 0,
        extra_fixed_s: opts.extraFixedS,
        extra_max_s: opts.extraMaxS,
        h2load: { connections: CONNECTIONS, streams_per_connection: H2_STREAMS },
        tcp_payload_bytes: TCP_PAYLOAD,
        ws: {
          connections: CONNECTIONS,
          message_bytes: WS_MESSAGE_BYTES,
          messages_per_connection: WS_MESSAGES_PER_S * opts.extraMaxS,
        },
        warmup_calls_per_row: ctx.fortio ? WARMUP_CALLS : 0,
        fortio_resolution_s: FORTIO_RESOLUTION_S,
        cpu: "utime+stime from /proc/<pid>/stat over the process and its descendants",
        rss: "VmRSS summed over the process and its descendants; idle before any load, " +
          "load = peak over 200 ms samples during each max run (median over rounds)",
        peers: Object.fromEntries(PAIRS.map((n) => [n, peerSettings(pairs[n])])),
      },
      rows,
      targets: [...targets(rows), ...kubeTargets(kube), ...pushTargets(push)],
      notes,
      ca,
      kube,
      push,
    };
    if (isStopping()) return 130;
    await Deno.mkdir(`${ROOT}/bench/results`, { recursive: true });
    await atomicWrite(RESULTS_JSON, JSON.stringify(result, null, 2) + "\n");
    const header = opts.writeResults
      ? `Written by \`deno task bench\` on a full run; the next full run replaces it. See ` +
        `[README.md](README.md) for what each row means and how to run it.`
      : `Not written to bench/RESULTS.md (${opts.quick ? "--quick run" : "--no-write-results"}).`;
    const md = await formatMarkdown(`# Benchmark results\n\n${header}\n\n${markdown(result)}`);
    console.log(`\n${md}`);
    if (opts.writeResults) {
      await atomicWrite(RESULTS_MD, md);
      log(`wrote bench/RESULTS.md`);
    }
    log(`wrote bench/results/latest.json (${result.wall_s} s)`);
    if (failedMain.length) {
      log(`main rows not measured: ${failedMain.join(", ")}`);
      return 1;
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
    console.error(`bench: ${err instanceof Error ? err.stack ?? err.message : err}`);
    Deno.exit(1);
  }
}
