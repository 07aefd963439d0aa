/**
 * Push benchmark (issue 12): the control plane's push path with N lightweight simulated sidecars
 * (bench/push_sim.ts), N = 100, 1,000 and 5,000, each against two configs generated here:
 *
 * - `bookinfo`: Bookinfo's 4 services (productpage, details, reviews, ratings) as ServiceEntries
 *   selecting 6 WorkloadEntries, DestinationRules with subsets, VirtualServices;
 * - `services200`: 200 ServiceEntries (MESH_INTERNAL, STATIC, port 9080 http, 5 endpoints each at
 *   10.x.y.z: nothing connects to them), 200 VirtualServices, 200 DestinationRules with 2 subsets.
 *
 * For each (N, config), on a fresh control plane (`mesh start --mode=control`):
 *
 * 1. control-plane RSS with the config loaded and no proxy;
 * 2. connect storm: all N clients started (64 connecting at once) → every one acked its first
 *    config; then RSS again: (RSS − RSS empty) / N is the memory per connected proxy;
 * 3. `changes` VirtualService changes (one route's weights) and as many endpoint changes (one
 *    WorkloadEntry's address; one ServiceEntry endpoint's address), each a file in the config dir
 *    rewritten atomically: change → the control plane's revision (`/debug/configz`) → each client
 *    received (and acked) a message at ≥ that revision. Per change: latency p50/p99/max over the
 *    clients, how many got it, mean bytes per client, control-plane CPU seconds (utime+stime).
 *
 * Every wait is bounded: a run that does not converge reports how many clients did.
 *
 *   deno run -A bench/push.ts [--n=100,1000] [--config=bookinfo,services200] [--changes=3] [--quick]
 * @module
 */
import process from "node:process";
import { TestMesh } from "../tests/helpers.ts";
import { TokenIssuer } from "../ca/token.ts";
import { atomicWrite } from "../util/atomic_write.ts";
import { cpuSeconds, rssMb } from "./procfs.ts";
import { issueIdentity, LoopLag, SimFleet, type SimIdentity } from "./push_sim.ts";

/** Bound of the connect storm. */
const STORM_WAIT_MS = 120_000;
/** Bound of one change's convergence. */
const CHANGE_WAIT_MS = 60_000;
/** Bound of the control plane's revision moving after a change. */
const REVISION_WAIT_MS = 15_000;
/** Quiet time (nothing received) that ends a change's byte count. */
const QUIET_MS = 300;
const IN_FLIGHT = 64;
/** RSS windows (ms): the lowest sample counts (see {@linkcode steadyRss}). */
const EMPTY_RSS_WINDOW_MS = 3000;
const CONNECTED_RSS_WINDOW_MS = 10_000;
const SERVICE_ACCOUNTS = 20;
const NS = "default";

/** The two configs. */
export type PushConfigName = "bookinfo" | "services200";

/** One change, measured. */
export interface PushChange {
  kind: "vs" | "endpoint";
  /** The control plane's revision after the change. */
  revision: number | null;
  /** Change written → `/debug/configz` showed the new revision, ms. */
  revision_ms: number | null;
  /** Clients that received a message at ≥ the revision, of those connected. */
  clients: number;
  of: number;
  converged: boolean;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** Mean bytes received per client from the change until the pushes went quiet. */
  bytes_per_client: number;
  /** Control-plane CPU seconds from the change until quiet, and minus its idle rate. */
  cpu_s: number;
  cpu_s_net: number;
  /** Simulator process: CPU seconds over wall seconds during the change, and its worst timer lag. */
  sim_busy: number;
  sim_lag_max_ms: number;
}

/** Medians over the changes of one kind. */
export interface PushChangeSummary {
  changes: number;
  converged: boolean;
  clients_min: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  bytes_per_client: number | null;
  cpu_s: number | null;
  cpu_s_net: number | null;
}

/** One (N, config) case. */
export interface PushCase {
  n: number;
  config: PushConfigName;
  /** What the control plane sent: `push` (protocol 2) or `config` (whole configs). */
  protocol: string;
  services: number;
  endpoints: number;
  resources: number;
  /** All clients started → all acked their first config, s (null if not all did). */
  storm_s: number | null;
  storm_acked: number;
  /** Seconds until the last one (or the bound). */
  storm_wait_s: number;
  /** Bytes each client received in the storm (its first config and any pushes), mean. */
  storm_bytes_per_client: number;
  /** Stream ends during the run, with a sample reason. */
  streams_ended: number;
  stream_end_sample?: string;
  rss_mb_empty: number;
  /** The lower of the two below (both with every client connected). */
  rss_mb_connected: number;
  /** Lowest RSS over up to 10 s once the storm's pushes went quiet, and over 1 s after the changes. */
  rss_mb_after_storm: number;
  rss_mb_after_changes: number;
  kb_per_proxy: number;
  /** Of which V8's heap in use and its external (buffer) memory, KB per proxy, from `/metrics`. */
  heap_kb_per_proxy: number;
  /** V8's heap committed (used or not), KB per proxy. */
  heap_total_kb_per_proxy: number;
  external_kb_per_proxy: number;
  /** Control-plane CPU rate with every client connected and nothing changing (keepalives). */
  idle_cpu_per_s: number;
  storm_cpu_s: number;
  sim_storm_busy: number;
  /** `/debug/syncz` at the end: proxies with every part SYNCED (or NOT SENT), STALE, rejected. */
  syncz: { proxies: number; synced: number; stale: number; rejected: number } | null;
  vs: PushChangeSummary;
  endpoint: PushChangeSummary;
  changes: PushChange[];
  notes: string[];
}

/** What {@linkcode runPushBench} measured, or why it could not. */
export type PushResult =
  | { supported: false; reason: string; cases?: PushCase[] }
  | { supported: true; quick: boolean; cases: PushCase[]; settings: Record<string, unknown> };

type Log = (msg: string) => void;

const r = (x: number, d = 1) => Number(x.toFixed(d));

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

// ---------------------------------------------------------------- configs

const host = (name: string) => `${name}.${NS}.svc.cluster.local`;

/** A generated config: its files, and how to make the changes. */
interface MeshConfig {
  name: PushConfigName;
  files: Record<string, string>;
  services: number;
  endpoints: number;
  resources: number;
  /** The file and its text for the k-th change of a kind. */
  vsChange(k: number): [string, string];
  endpointChange(k: number): [string, string];
}

const BOOKINFO: Record<string, string[]> = {
  productpage: ["v1"],
  details: ["v1"],
  reviews: ["v1", "v2", "v3"],
  ratings: ["v1"],
};

function workloadEntry(name: string, app: string, version: string, address: string): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  address: ${address}
  labels: {app: ${app}, version: ${version}}
  serviceAccount: bookinfo-${app}
`;
}

function reviewsVs(k: number): string {
  const w = [50, 60, 70, 80][k % 4];
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${NS}}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: ${w}}
    - {destination: {host: reviews, subset: v3}, weight: ${100 - w}}
`;
}

/** Bookinfo's four services, from ServiceEntries and WorkloadEntries. */
export function bookinfoConfig(): MeshConfig {
  const docs: string[] = [];
  let we = 0;
  for (const [app, versions] of Object.entries(BOOKINFO)) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${app}, namespace: ${NS}}
spec:
  hosts: [${host(app)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${app}}}
`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${app}, namespace: ${NS}}
spec:
  host: ${app}
  subsets:
${versions.map((v) => `  - {name: ${v}, labels: {version: ${v}}}`).join("\n")}
`);
    if (app !== "reviews") {
      docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${app}, namespace: ${NS}}
spec:
  hosts: [${app}]
  http: [{route: [{destination: {host: ${app}, subset: v1}}]}]
`);
    }
    for (const v of versions) {
      if (app === "ratings") continue; // its own file: the endpoint change
      docs.push(workloadEntry(`${app}-${v}`, app, v, `10.2.0.${++we}`));
    }
  }
  const ratings = (k: number) => workloadEntry("ratings-v1", "ratings", "v1", `10.2.1.${k + 1}`);
  return {
    name: "bookinfo",
    files: {
      "bookinfo.yaml": docs.join("---\n"),
      "reviews-vs.yaml": reviewsVs(0),
      "ratings-we.yaml": ratings(0),
    },
    services: 4,
    endpoints: 6,
    resources: docs.length + 2,
    vsChange: (k) => ["reviews-vs.yaml", reviewsVs(k + 1)],
    endpointChange: (k) => ["ratings-we.yaml", ratings(k + 1)],
  };
}

function svcEntry(i: number, per: number, shift = 0): string {
  const eps = Array.from({ length: per }, (_, j) => {
    const n = i * per + j + (j === 0 ? shift * 50_000 : 0);
    return `  - {address: 10.${3 + Math.floor(n / 65_000)}.${Math.floor(n / 254) % 256}.${
      (n % 254) + 1
    }, labels: {version: v${(j % 2) + 1}}}`;
  });
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${i}, namespace: ${NS}}
spec:
  hosts: [${host(`svc-${i}`)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
${eps.join("\n")}
`;
}

function svcVs(i: number, k = 0): string {
  const w = [90, 80, 70, 60][k % 4];
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-${i}, namespace: ${NS}}
spec:
  hosts: [${host(`svc-${i}`)}]
  http:
  - route:
    - {destination: {host: ${host(`svc-${i}`)}, subset: v1}, weight: ${w}}
    - {destination: {host: ${host(`svc-${i}`)}, subset: v2}, weight: ${100 - w}}
`;
}

function svcDr(i: number): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-${i}, namespace: ${NS}}
spec:
  host: ${host(`svc-${i}`)}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;
}

/** 200 ServiceEntries with 5 endpoints each, a VirtualService and a DestinationRule each. */
export function services200Config(services = 200, per = 5): MeshConfig {
  const se: string[] = [];
  const vs: string[] = [];
  const dr: string[] = [];
  for (let i = 1; i < services; i++) {
    se.push(svcEntry(i, per));
    vs.push(svcVs(i));
  }
  for (let i = 0; i < services; i++) dr.push(svcDr(i));
  return {
    name: "services200",
    files: {
      "service-entries.yaml": se.join("---\n"),
      "virtual-services.yaml": vs.join("---\n"),
      "destination-rules.yaml": dr.join("---\n"),
      "svc-0-se.yaml": svcEntry(0, per),
      "svc-0-vs.yaml": svcVs(0),
    },
    services,
    endpoints: services * per,
    resources: services * 3,
    vsChange: (k) => ["svc-0-vs.yaml", svcVs(0, k + 1)],
    endpointChange: (k) => ["svc-0-se.yaml", svcEntry(0, per, k + 1)],
  };
}

// ---------------------------------------------------------------- admin

async function revision(adminPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/debug/configz`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = await res.json();
  return Number(body.revision ?? NaN);
}

async function configz(adminPort: number): Promise<{ revision: number; resources: number }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/debug/configz`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = await res.json();
  return { revision: Number(body.revision ?? NaN), resources: body.resources?.length ?? 0 };
}

/** The control plane's V8 heap in use and external (buffer) memory, MB, from its `/metrics`. */
async function v8Memory(
  adminPort: number,
): Promise<{ heap: number; heapTotal: number; external: number }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const read = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) / 1048576 : NaN;
  };
  return {
    heap: read("mesh_control_heap_used_bytes"),
    heapTotal: read("mesh_control_heap_total_bytes"),
    external: read("mesh_control_external_bytes"),
  };
}

/** How many connected proxies `/debug/syncz` reports fully synced, stale, or with a rejection. */
async function syncState(adminPort: number) {
  const res = await fetch(`http://127.0.0.1:${adminPort}/debug/syncz`, {
    signal: AbortSignal.timeout(20_000),
  });
  const rows = await res.json() as {
    lastNack?: unknown;
    parts?: Record<string, { state?: string; rejected?: unknown }>;
  }[];
  let synced = 0, stale = 0, rejected = 0;
  for (const row of rows) {
    const parts = Object.values(row.parts ?? {});
    if (parts.some((p) => p.rejected !== undefined) || row.lastNack) rejected++;
    if (parts.length && parts.every((p) => p.state === "SYNCED" || p.state === "NOT SENT")) {
      synced++;
    } else stale++;
  }
  return { proxies: rows.length, synced, stale, rejected };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Polls until `f()` is truthy or `ms` pass; returns its last value. */
async function poll<T>(f: () => Promise<T> | T, ms: number, every = 10): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v || performance.now() >= deadline) return v;
    await sleep(every);
  }
}

// ---------------------------------------------------------------- one case

/**
 * The control plane's lowest RSS (MB) over a window, sampled every 250 ms: V8's memory reducer
 * runs a full collection some seconds after a burst of allocation (in a trial, 740 → 267 MB
 * 7 s after a storm of 1,000 200-service configs), so a single sample mostly counts garbage.
 * Ends early, 500 ms after RSS fell 15 % below its peak in the window.
 */
async function steadyRss(pid: number, windowMs: number): Promise<number> {
  const end = performance.now() + windowMs;
  let max = rssMb(pid);
  let min = max;
  let droppedAt = Infinity;
  while (performance.now() < end && performance.now() - droppedAt < 500) {
    await sleep(250);
    const x = rssMb(pid);
    max = Math.max(max, x);
    if (x < min) min = x;
    if (droppedAt === Infinity && min < 0.85 * max) droppedAt = performance.now();
  }
  return min;
}

/** CPU seconds of this process alone (the simulator; not the control plane, a child). */
function processCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Waits until no client received anything (keepalives aside) for `quietMs` (bounded). */
async function quiet(fleet: SimFleet, quietMs: number, boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (performance.now() < deadline) {
    if (performance.now() - fleet.lastRxAt >= quietMs) return;
    await sleep(50);
  }
}

async function measureChange(
  mesh: TestMesh,
  fleet: SimFleet,
  lag: LoopLag,
  kind: "vs" | "endpoint",
  file: [string, string],
  idleCpuPerS: number,
): Promise<PushChange> {
  const pid = mesh.control.child.pid;
  const rev0 = await revision(mesh.adminPort);
  const cpu0 = cpuSeconds(pid);
  const sim0 = processCpu();
  lag.reset();
  fleet.arm();
  const t0 = performance.now();
  await atomicWrite(`${mesh.configDir}/${file[0]}`, file[1]);
  let rev = NaN;
  await poll(async () => {
    rev = await revision(mesh.adminPort).catch(() => NaN);
    return rev > rev0;
  }, REVISION_WAIT_MS);
  const revMs = performance.now() - t0;
  const of = fleet.clients.filter((c) => !c.ended).length;
  let converged = false;
  if (rev > rev0) {
    fleet.watch(rev);
    converged = await fleet.until(
      () => fleet.reached >= fleet.clients.filter((c) => !c.ended).length,
      CHANGE_WAIT_MS,
    );
    await quiet(fleet, QUIET_MS, 10_000);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const sim = processCpu() - sim0;
  fleet.unwatch();
  const lat = fleet.clients.filter((c) => c.reachedAt === c.reachedAt).map((c) => c.reachedAt - t0)
    .sort((a, b) => a - b);
  const bytes = fleet.clients.reduce((n, c) => n + c.changeBytes, 0) / fleet.clients.length;
  return {
    kind,
    revision: rev > rev0 ? rev : null,
    revision_ms: rev > rev0 ? r(revMs) : null,
    clients: lat.length,
    of,
    converged,
    p50_ms: lat.length ? r(percentile(lat, 0.5)) : null,
    p99_ms: lat.length ? r(percentile(lat, 0.99)) : null,
    max_ms: lat.length ? r(lat[lat.length - 1]) : null,
    bytes_per_client: r(bytes, 0),
    cpu_s: r(cpu, 3),
    cpu_s_net: r(Math.max(0, cpu - idleCpuPerS * wall), 3),
    sim_busy: r(sim / wall, 2),
    sim_lag_max_ms: r(lag.maxMs),
  };
}

function summarizeChanges(cs: PushChange[]): PushChangeSummary {
  const med = (f: (c: PushChange) => number | null) => {
    const xs = cs.map(f).filter((x): x is number => x !== null);
    const m = median(xs);
    return m === null ? null : r(m, 3);
  };
  return {
    changes: cs.length,
    converged: cs.length > 0 && cs.every((c) => c.converged),
    clients_min: cs.length ? Math.min(...cs.map((c) => c.clients)) : 0,
    p50_ms: med((c) => c.p50_ms),
    p99_ms: med((c) => c.p99_ms),
    max_ms: med((c) => c.max_ms),
    bytes_per_client: med((c) => c.bytes_per_client),
    cpu_s: med((c) => c.cpu_s),
    cpu_s_net: med((c) => c.cpu_s_net),
  };
}

/** Runs one (N, config) case on a fresh control plane. */
export async function runPushCase(
  n: number,
  cfg: MeshConfig,
  changes: number,
  log: Log,
): Promise<PushCase> {
  const notes: string[] = [];
  const mesh = await TestMesh.start(cfg.files);
  const lag = new LoopLag();
  let fleet: SimFleet | undefined;
  try {
    const pid = mesh.control.child.pid;
    const trustDomain = mesh.control.output.match(/trustDomain=(\S+)/)?.[1] ?? "cluster.local";
    // The config loaded: every resource in the store and a revision.
    const loaded = await poll(
      async () => {
        const z = await configz(mesh.adminPort).catch(() => undefined);
        return z && z.resources >= cfg.resources && z.revision > 0 ? z : undefined;
      },
      30_000,
      100,
    );
    if (!loaded) notes.push(`config not fully loaded after 30 s`);
    const rootPem = await Deno.readTextFile(`${mesh.dataDir}/ca/root-cert.pem`);
    const issuer = await TokenIssuer.loadOrCreate(mesh.dataDir, false);
    const identities: SimIdentity[] = await Promise.all(
      Array.from({ length: Math.min(SERVICE_ACCOUNTS, n) }, async (_, k) =>
        issueIdentity({
          port: mesh.port,
          rootPem,
          token: await issuer.create({ namespace: NS, serviceAccount: `sa-${k}` }),
          trustDomain,
          namespace: NS,
          serviceAccount: `sa-${k}`,
        })),
    );
    const rssEmpty = await steadyRss(pid, EMPTY_RSS_WINDOW_MS);
    const v8Empty = await v8Memory(mesh.adminPort).catch(() => ({
      heap: NaN,
      heapTotal: NaN,
      external: NaN,
    }));

    fleet = new SimFleet({ port: mesh.port, identities, namespace: NS, inFlight: IN_FLIGHT });
    const f = fleet;
    const cpu0 = cpuSeconds(pid);
    const sim0 = processCpu();
    const t0 = performance.now();
    const connecting = f.connect(n);
    const all = await f.until(() => f.firstAcks >= n, STORM_WAIT_MS);
    const stormWall = (performance.now() - t0) / 1000;
    const stormCpu = cpuSeconds(pid) - cpu0;
    const simBusy = (processCpu() - sim0) / stormWall;
    await Promise.race([connecting, sleep(10_000)]);
    const stormBytes = f.clients.reduce((s, c) => s + c.bytes, 0) / Math.max(1, f.clients.length);
    log(
      `push: ${cfg.name} N=${n}: storm ${all ? "" : "NOT converged, "}${f.firstAcks}/${n} acked ` +
        `in ${stormWall.toFixed(2)} s`,
    );
    // Settle: the auto-registered workloads' pushes done: the revision steady and nothing
    // received for a second (a client whose parts didn't change gets nothing for a revision).
    const settle0 = performance.now();
    let lastRev = NaN;
    let revSince = performance.now();
    const settled = await poll(
      async () => {
        const rev = await revision(mesh.adminPort).catch(() => NaN);
        if (rev !== lastRev) [lastRev, revSince] = [rev, performance.now()];
        const now = performance.now();
        return now - revSince > 1000 && now - f.lastRxAt > 1000;
      },
      60_000,
      100,
    );
    const settleS = (performance.now() - settle0) / 1000;
    if (!settled) notes.push(`pushes still going 60 s after the storm`);
    log(`push: ${cfg.name} N=${n}: settled in ${settleS.toFixed(1)} s`);
    await sleep(500);
    // V8 collects the storm's garbage (its output) a few seconds after it: the low point.
    const rssConnected = await steadyRss(pid, CONNECTED_RSS_WINDOW_MS);
    const v8Connected = await v8Memory(mesh.adminPort).catch(() => ({
      heap: NaN,
      heapTotal: NaN,
      external: NaN,
    }));
    const idle0 = cpuSeconds(pid);
    await sleep(1000);
    const idleRate = cpuSeconds(pid) - idle0;

    const measured: PushChange[] = [];
    if (all) {
      for (const kind of ["vs", "endpoint"] as const) {
        for (let k = 0; k < changes; k++) {
          const c = await measureChange(
            mesh,
            f,
            lag,
            kind,
            kind === "vs" ? cfg.vsChange(k) : cfg.endpointChange(k),
            idleRate,
          );
          measured.push(c);
          log(
            `push: ${cfg.name} N=${n}: ${kind} change ${k + 1}: ${c.clients}/${c.of} in max ` +
              `${c.max_ms ?? "–"} ms (p50 ${c.p50_ms ?? "–"}), ${c.bytes_per_client} B/client, ` +
              `${c.cpu_s} CPU-s`,
          );
          if (!c.converged) {
            notes.push(`${kind} change ${k + 1} did not converge; no more ${kind} changes`);
            break;
          }
          await sleep(200);
        }
      }
    } else notes.push(`storm did not converge in ${STORM_WAIT_MS / 1000} s: no changes measured`);
    await sleep(500);
    const rssEnd = await steadyRss(pid, 1000);
    const sync = await syncState(mesh.adminPort).catch((err) => {
      notes.push(`/debug/syncz unreadable: ${(err as Error).message}`);
      return undefined;
    });
    if (sync && sync.synced < sync.proxies) {
      notes.push(
        `after the changes, /debug/syncz has ${sync.synced} of ${sync.proxies} proxies with ` +
          `every part SYNCED (${sync.stale} stale, ${sync.rejected} with a rejection)`,
      );
    }
    const rssProxies = Math.min(rssConnected, rssEnd);
    const ended = f.clients.filter((c) => c.ended);
    const protocol = f.protocol ?? "none";
    return {
      n,
      config: cfg.name,
      protocol,
      services: cfg.services,
      endpoints: cfg.endpoints,
      resources: cfg.resources,
      storm_s: all ? r(stormWall, 3) : null,
      storm_acked: f.firstAcks,
      storm_wait_s: r(stormWall, 2),
      storm_bytes_per_client: r(stormBytes, 0),
      streams_ended: ended.length,
      ...(ended.length ? { stream_end_sample: ended[0].ended } : {}),
      rss_mb_empty: r(rssEmpty),
      rss_mb_connected: r(rssProxies),
      rss_mb_after_storm: r(rssConnected),
      rss_mb_after_changes: r(rssEnd),
      kb_per_proxy: r(((rssProxies - rssEmpty) * 1024) / n),
      heap_kb_per_proxy: r(((v8Connected.heap - v8Empty.heap) * 1024) / n),
      heap_total_kb_per_proxy: r(((v8Connected.heapTotal - v8Empty.heapTotal) * 1024) / n),
      external_kb_per_proxy: r(((v8Connected.external - v8Empty.external) * 1024) / n),
      idle_cpu_per_s: r(idleRate, 3),
      storm_cpu_s: r(stormCpu, 2),
      sim_storm_busy: r(simBusy, 2),
      syncz: sync ?? null,
      vs: summarizeChanges(measured.filter((c) => c.kind === "vs")),
      endpoint: summarizeChanges(measured.filter((c) => c.kind === "endpoint")),
      changes: measured,
      notes,
    };
  } finally {
    lag.stop();
    await fleet?.close();
    await mesh.close();
  }
}

/** Runs the section: every N for every config (bookinfo only and N ≤ 1,000 with `quick`). */
export async function runPushBench(opts: {
  quick: boolean;
  ns?: number[];
  configs?: PushConfigName[];
  changes?: number;
  log: Log;
}): Promise<PushResult> {
  const ns = opts.ns ?? (opts.quick ? [100, 1000] : [100, 1000, 5000]);
  const configs = opts.configs ?? (opts.quick ? ["bookinfo"] : ["bookinfo", "services200"]);
  const changes = opts.changes ?? (opts.quick ? 2 : 3);
  const cases: PushCase[] = [];
  const started = performance.now();
  try {
    for (const name of configs) {
      for (const n of ns) {
        const cfg = name === "bookinfo" ? bookinfoConfig() : services200Config();
        cases.push(await runPushCase(n, cfg, changes, opts.log));
      }
    }
  } catch (err) {
    return { supported: false, reason: (err as Error).message, cases };
  }
  return {
    supported: true,
    quick: opts.quick,
    cases,
    settings: {
      ns,
      configs,
      changes_per_kind: changes,
      service_accounts: SERVICE_ACCOUNTS,
      connecting_at_once: IN_FLIGHT,
      storm_wait_s: STORM_WAIT_MS / 1000,
      change_wait_s: CHANGE_WAIT_MS / 1000,
      quiet_ms: QUIET_MS,
      wall_s: r((performance.now() - started) / 1000),
    },
  };
}

if (import.meta.main) {
  const arg = (name: string) =>
    Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = Deno.args.includes("--quick");
  const ns = arg("n")?.split(",").map(Number);
  const configs = arg("config")?.split(",") as PushConfigName[] | undefined;
  const changes = arg("changes") ? Number(arg("changes")) : undefined;
  const res = await runPushBench({
    quick,
    ns,
    configs,
    changes,
    log: (m) => console.error(m),
  });
  const { pushMarkdown } = await import("./report.ts");
  console.log(JSON.stringify(res, null, 2));
  console.log(pushMarkdown(res).join("\n"));
}
