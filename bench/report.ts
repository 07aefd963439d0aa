/**
 * Turning runs into results: per-row medians, overhead over the direct row,
 * CPU per 1,000 requests and memory per proxy, the issue's targets, and the
 * Markdown for stdout and `bench/RESULTS.md`.
 * @module
 */
import type { KubeResult } from "./kube.ts";
import type { PushCase, PushChangeSummary, PushResult } from "./push.ts";
import type { LoadResult } from "./tools/load.ts";

/** Which traffic a row carries. */
export type Group = "http" | "h2" | "grpc" | "tcp" | "ws";

/** One load run of one row. */
export type Run =
  & {
    round: number;
    mode: "fixed" | "max";
    duration_s: number;
    /** CPU seconds each proxy used during the run. */
    proxy_cpu_s: Record<string, number>;
    /** Max resident MB of each proxy over the run (sampled every 200 ms; max runs only). */
    rss_mb_max?: Record<string, number>;
    pss_mb_max?: Record<string, number>;
    /** New TCP connections opened on the whole machine during the run, per request. */
    machine_tcp_opens_per_req: number;
  }
  & (LoadResult | { failed: string });

/** A measured row. */
export interface MeasuredRow {
  supported: true;
  group: Group;
  path: string;
  baseline: string | null;
  tool: string;
  /** Median over the max-throughput runs. */
  rps: number;
  /** Medians over the fixed-rate runs (or the max runs when `latency_at` is "max"). */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  latency_at: "fixed_rate" | "max";
  /** Median rate the fixed-rate runs achieved. */
  fixed_rate_rps: number | null;
  added_p50_ms: number | null;
  added_p90_ms: number | null;
  added_p99_ms: number | null;
  /** Per proxy, over the fixed-rate runs (the max runs when there are none). */
  cpu_s_per_1k_req: Record<string, number> | null;
  /** Per proxy, over the max-throughput runs. */
  cpu_s_per_1k_req_max: Record<string, number> | null;
  /** Per proxy: before any load, and the median over max runs of each run's peak. */
  rss_mb: Record<string, { idle: number; load: number }> | null;
  pss_mb: Record<string, { idle: number; load: number }> | null;
  errors: number;
  tcp_opens_per_req: number | null;
  notes: string[];
  runs: Run[];
  /** Load settings and the peer's configuration summary. */
  settings?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** A row that could not be measured. */
export interface UnsupportedRow {
  supported: false;
  group: Group;
  path: string;
  reason: string;
  /** What a client saw when the bench tried anyway. */
  observed?: string;
  settings?: Record<string, unknown>;
}

/** Any row. */
export type Row = MeasuredRow | UnsupportedRow;

/** Median of a non-empty list (NaN if empty). */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Rounds to `digits` decimals (keeps NaN as null-able callers expect). */
export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

type Ok = Extract<Run, { rps: number }>;
const ok = (r: Run): r is Ok => !("failed" in r);

function perProxy(
  runs: Ok[],
  names: string[],
  f: (r: Ok, name: string) => number | undefined,
  agg: (xs: number[]) => number,
  digits: number,
): Record<string, number> | null {
  if (!names.length || !runs.length) return null;
  const out: Record<string, number> = {};
  for (const n of names) {
    const xs = runs.map((r) => f(r, n)).filter((x): x is number => x !== undefined);
    out[n] = round(agg(xs), digits);
  }
  return out;
}

function cpuPer1k(runs: Ok[], names: string[]): Record<string, number> | null {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  if (!requests) return null;
  return perProxy(
    runs,
    names,
    (r, n) => r.proxy_cpu_s[n],
    (xs) => (xs.reduce((a, b) => a + b, 0) / requests) * 1000,
    4,
  );
}

/** Summarizes a row's runs. `idle` holds each proxy's memory before any load. */
export function summarize(
  spec: { group: Group; path: string; baseline: string | null; tool: string },
  runs: Run[],
  idle: { rss: Record<string, number>; pss: Record<string, number> },
  latencyAt: "fixed_rate" | "max",
  fixedQps: number | null,
): Row {
  const good = runs.filter(ok);
  const fixed = good.filter((r) => r.mode === "fixed");
  const max = good.filter((r) => r.mode === "max");
  const lat = latencyAt === "fixed_rate" ? fixed : max;
  if (!max.length || !lat.length) {
    const failed = runs.find((r) => "failed" in r) as { failed: string } | undefined;
    return {
      supported: false,
      group: spec.group,
      path: spec.path,
      reason: failed ? `every run failed: ${failed.failed}` : "no successful runs",
    };
  }
  const names = Object.keys(idle.rss);
  const mem = (which: "rss" | "pss") => {
    if (!names.length) return null;
    const out: Record<string, { idle: number; load: number }> = {};
    for (const n of names) {
      const peaks = max.map((r) => r[which === "rss" ? "rss_mb_max" : "pss_mb_max"]?.[n])
        .filter((x): x is number => x !== undefined);
      out[n] = { idle: round(idle[which][n], 1), load: round(median(peaks), 1) };
    }
    return out;
  };
  const notes: string[] = [];
  const fixedRate = fixed.length ? round(median(fixed.map((r) => r.rps)), 1) : null;
  if (fixedQps && fixedRate !== null && fixedRate < 0.95 * fixedQps) {
    notes.push(`held only ${fixedRate} of ${fixedQps} req/s at the fixed rate`);
  }
  const errors = good.reduce((n, r) => n + r.errors, 0);
  if (errors) {
    const sample = good.find((r) => r.error_sample)?.error_sample;
    notes.push(`${errors} failed calls${sample ? ` (e.g. ${sample})` : ""}`);
  }
  const opens = median(max.map((r) => r.machine_tcp_opens_per_req));
  if (opens >= 0.05) {
    notes.push(
      `${round(opens, 2)} new TCP connections per request during the max runs (machine-wide ` +
        `count): some hop is not reusing its connections`,
    );
  }
  const failedRuns = runs.length - good.length;
  if (failedRuns) notes.push(`${failedRuns} run(s) failed`);
  return {
    supported: true,
    group: spec.group,
    path: spec.path,
    baseline: spec.baseline,
    tool: spec.tool,
    rps: round(median(max.map((r) => r.rps)), 1),
    p50_ms: round(median(lat.map((r) => r.p50_ms))),
    p90_ms: round(median(lat.map((r) => r.p90_ms))),
    p99_ms: round(median(lat.map((r) => r.p99_ms))),
    latency_at: latencyAt,
    fixed_rate_rps: fixedRate,
    added_p50_ms: null,
    added_p90_ms: null,
    added_p99_ms: null,
    cpu_s_per_1k_req: cpuPer1k(fixed.length ? fixed : max, names),
    cpu_s_per_1k_req_max: cpuPer1k(max, names),
    rss_mb: mem("rss"),
    pss_mb: mem("pss"),
    errors,
    tcp_opens_per_req: round(opens, 3),
    notes,
    runs,
  };
}

/** Fills in each row's latency added over its baseline row. */
export function addOverheads(rows: Record<string, Row>): void {
  for (const row of Object.values(rows)) {
    if (!row.supported || !row.baseline) continue;
    const base = rows[row.baseline];
    if (!base?.supported) continue;
    row.added_p50_ms = round(row.p50_ms - base.p50_ms);
    row.added_p90_ms = round(row.p90_ms - base.p90_ms);
    row.added_p99_ms = round(row.p99_ms - base.p99_ms);
  }
}

/** One of the issue's targets, evaluated. */
export interface Target {
  target: string;
  value: string;
  ratio: number | null;
  met: boolean | null;
  note?: string;
}

/** The limits from issue 3. */
export const LIMITS = {
  rpsVsNginx: 0.5,
  addedP99VsNginx: 2,
  cpuSPer1kReq: 0.2,
  rssMb: 60,
  grpcRpsVsHaproxy: 0.5,
};

/**
 * Evaluates the issue's targets for the mesh row against the nginx row, and
 * (when the gRPC rows ran) grpc_mesh's throughput against grpc_haproxy's.
 */
export function targets(rows: Record<string, Row>): Target[] {
  const mesh = rows.mesh?.supported ? rows.mesh : undefined;
  const nginx = rows.nginx?.supported ? rows.nginx : undefined;
  const out: Target[] = [];
  const none = (target: string, why: string): Target => ({
    target,
    value: "n/a",
    ratio: null,
    met: null,
    note: why,
  });
  const t1 = `throughput ≥ ${LIMITS.rpsVsNginx} × nginx pair`;
  if (mesh && nginx) {
    const ratio = round(mesh.rps / nginx.rps, 2);
    out.push({
      target: t1,
      value: `${mesh.rps.toFixed(0)} vs ${nginx.rps.toFixed(0)} req/s`,
      ratio,
      met: ratio >= LIMITS.rpsVsNginx,
    });
  } else out.push(none(t1, "mesh or nginx row missing"));
  const atMax = mesh?.latency_at === "max" || nginx?.latency_at === "max";
  const t2 = `added p99 ${atMax ? "(under max load: no fixed-rate run)" : "at the fixed rate"} ` +
    `≤ ${LIMITS.addedP99VsNginx} × nginx pair's`;
  if (mesh?.added_p99_ms != null && nginx?.added_p99_ms != null) {
    const value = `${mesh.added_p99_ms.toFixed(3)} vs ${nginx.added_p99_ms.toFixed(3)} ms`;
    if (nginx.added_p99_ms <= 0) {
      out.push({
        target: t2,
        value,
        ratio: null,
        met: mesh.added_p99_ms <= 0,
        note: "nginx added no p99 over direct (noise), so no ratio",
      });
    } else {
      const ratio = round(mesh.added_p99_ms / nginx.added_p99_ms, 2);
      out.push({ target: t2, value, ratio, met: ratio <= LIMITS.addedP99VsNginx });
    }
  } else out.push(none(t2, "mesh or nginx latency missing"));
  for (const [name, cpu] of Object.entries(mesh?.cpu_s_per_1k_req ?? {})) {
    const ratio = round(cpu / LIMITS.cpuSPer1kReq, 2);
    out.push({
      target:
        `${name}: ≤ ${LIMITS.cpuSPer1kReq} CPU-s per 1,000 requests (0.2 vCPU at 1,000 req/s)` +
        (mesh?.fixed_rate_rps === null ? ", measured under max load" : ""),
      value: `${cpu.toFixed(3)} CPU-s`,
      ratio,
      met: cpu <= LIMITS.cpuSPer1kReq,
    });
  }
  for (const [name, m] of Object.entries(mesh?.rss_mb ?? {})) {
    const ratio = round(m.load / LIMITS.rssMb, 2);
    const pss = mesh?.pss_mb?.[name]?.load;
    out.push({
      target: `${name}: ≤ ${LIMITS.rssMb} MB RSS under load`,
      value: `${m.load.toFixed(1)} MB`,
      ratio,
      met: m.load <= LIMITS.rssMb,
      ...(pss !== undefined && pss > 0
        ? {
          note: `PSS ${pss.toFixed(1)} MB: RSS counts in full the pages shared with other ` +
            `processes, mostly the Deno executable's code mapped from disk`,
        }
        : {}),
    });
  }
  if (!mesh) {
    out.push(none("per-proxy CPU and memory", "mesh row missing"));
  }
  const t5 = `gRPC ≥ ${LIMITS.grpcRpsVsHaproxy} × HAProxy pair (req/s, grpc_mesh vs grpc_haproxy)`;
  const grpcMesh = rows.grpc_mesh;
  const grpcHa = rows.grpc_haproxy;
  if (grpcMesh?.supported && grpcHa?.supported) {
    const ratio = round(grpcMesh.rps / grpcHa.rps, 2);
    out.push({
      target: t5,
      value: `${grpcMesh.rps.toFixed(0)} vs ${grpcHa.rps.toFixed(0)} req/s`,
      ratio,
      met: ratio >= LIMITS.grpcRpsVsHaproxy,
    });
  } else if (grpcMesh || grpcHa) {
    out.push(none(t5, `${grpcMesh?.supported ? "grpc_haproxy" : "grpc_mesh"} row not measured`));
  }
  return out;
}

/** The limits from issue 11 (Kubernetes). */
export const KUBE_LIMITS = { services: 1000, firstPushS: 3, endpointChangeMs: 200 };

/**
 * Issue 11's targets from the Kubernetes section: the first push with 1,000 Services, and an
 * EndpointSlice change acknowledged by the proxy (the median of the changes). None when the
 * section didn't run (`--no-kube`).
 */
export function kubeTargets(kube: KubeResult | undefined): Target[] {
  if (!kube) return [];
  const t1 = `first push with ${KUBE_LIMITS.services.toLocaleString("en")} Services ≤ ` +
    `${KUBE_LIMITS.firstPushS} s (issue 11)`;
  const t2 = `EndpointSlice change acknowledged ≤ ${KUBE_LIMITS.endpointChangeMs} ms (issue 11)`;
  if (!kube.supported) {
    const none = (target: string): Target => ({
      target,
      value: "n/a",
      ratio: null,
      met: null,
      note: kube.reason,
    });
    return [none(t1), none(t2)];
  }
  const full = kube.services >= KUBE_LIMITS.services;
  const push = round(kube.first_push_s / KUBE_LIMITS.firstPushS, 2);
  const change = round(kube.endpoint_change_median_ms / KUBE_LIMITS.endpointChangeMs, 2);
  return [
    {
      target: t1,
      value: `${kube.first_push_s.toFixed(2)} s with ${kube.services} Services`,
      ratio: push,
      met: full ? kube.first_push_s <= KUBE_LIMITS.firstPushS : null,
      ...(full ? {} : { note: `only ${kube.services} Services in this run (--quick)` }),
    },
    {
      target: t2,
      value: `median ${kube.endpoint_change_median_ms.toFixed(0)} ms, max ` +
        `${kube.endpoint_change_max_ms.toFixed(0)} ms`,
      ratio: change,
      met: kube.endpoint_change_median_ms <= KUBE_LIMITS.endpointChangeMs,
      ...(kube.endpoint_change_max_ms > KUBE_LIMITS.endpointChangeMs
        ? { note: `the slowest of ${kube.endpoint_change_ms.length} changes is over` }
        : {}),
    },
  ];
}

/** The Kubernetes section's Markdown (issue 11). */
export function kubeMarkdown(kube: KubeResult): string[] {
  const out = ["## Kubernetes (issue 11)", ""];
  if (!kube.supported) return [...out, `Not measured: ${kube.reason}`, ""];
  return [
    ...out,
    "| Services | endpoints | first push s | control-plane RSS MB | KB/Service | " +
    "endpoint change → ack ms (median / max) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${kube.services} | ${kube.endpoints} | ${kube.first_push_s.toFixed(2)} | ` +
    `${kube.control_rss_mb.toFixed(1)} | ${kube.control_kb_per_service.toFixed(1)} | ` +
    `${kube.endpoint_change_median_ms.toFixed(0)} / ${kube.endpoint_change_max_ms.toFixed(0)} |`,
    "",
    `On a real kube-apiserver + etcd (tests/k8s_peer.ts), ${kube.services} Services with one ` +
    `EndpointSlice of ${kube.endpoints_per_service} ready endpoints each (created in ` +
    `${kube.create_s.toFixed(1)} s). First push: control plane (\`--config-source=kube\`) ` +
    `spawned → one proxy acknowledged a config with every Service ` +
    `(${kube.first_push_from_proxy_start_s.toFixed(2)} s of it from the proxy's spawn; ` +
    `${kube.first_push_empty_s.toFixed(2)} s with no Services). RSS right after the first push ` +
    `(${kube.control_rss_mb_end.toFixed(1)} MB after the endpoint changes); KB/Service is over ` +
    `a control plane with no Services (${kube.control_rss_mb_empty.toFixed(1)} MB). Endpoint ` +
    `change: a merge patch of one address of one EndpointSlice → the proxy acknowledged ` +
    `(/debug/syncz) a config with the new address (its /config_dump), ` +
    `${kube.endpoint_change_ms.length} changes: ${kube.endpoint_change_ms.join(", ")} ms.`,
    "",
  ];
}

/** The limits from issue 12 (push). */
export const PUSH_LIMITS = {
  proxies: 1000,
  vsChangeMs: 1000,
  endpointChangeMs: 300,
  kbPerProxy: 100,
  /** Endpoint-change bytes per client, 200-service config over Bookinfo-sized: "similar". */
  endpointBytesRatio: 2,
  large: 5000,
  /** CPU per change per proxy at 5,000 over that at 1,000. */
  cpuPerProxyRatio: 1.5,
};

const CONFIG_LABEL: Record<string, string> = {
  bookinfo: "Bookinfo-sized",
  services200: "200 services",
};

/**
 * Issue 12's targets from the push section: convergence of a VirtualService and an endpoint
 * change with 1,000 proxies, control-plane memory per proxy, endpoint-change bytes independent
 * of the mesh's size, 5,000 proxies converging, CPU per change growing at most linearly.
 */
export function pushTargets(push: PushResult | undefined): Target[] {
  if (!push) return [];
  const out: Target[] = [];
  const cases = push.cases ?? [];
  const find = (cfg: string, n: number) => cases.find((c) => c.config === cfg && c.n === n);
  const na = (target: string, note: string): Target => ({
    target,
    value: "n/a",
    ratio: null,
    met: null,
    note,
  });
  const why = push.supported ? "not run" : push.reason;
  const P = PUSH_LIMITS.proxies.toLocaleString("en");
  const configs = [...new Set(cases.map((c) => c.config))];
  if (!configs.length) configs.push("bookinfo");
  const converge = (
    kind: "vs" | "endpoint",
    limit: number,
    what: string,
  ) => {
    for (const cfg of configs) {
      const t = `${what} converges (max over ${P} proxies) < ${limit} ms, ` +
        `${CONFIG_LABEL[cfg] ?? cfg} (issue 12)`;
      const c = find(cfg, PUSH_LIMITS.proxies);
      const s: PushChangeSummary | undefined = c?.[kind];
      if (!c || !s || s.max_ms === null) {
        out.push(na(t, c ? (c.notes[0] ?? "no change measured") : why));
        continue;
      }
      out.push({
        target: t,
        value: `max ${s.max_ms.toFixed(0)} ms, p99 ${f(s.p99_ms, 0)} ms (median of ${s.changes})`,
        ratio: round(s.max_ms / limit, 2),
        met: s.converged && s.max_ms < limit,
        ...(s.converged ? {} : { note: `only ${s.clients_min} of ${c.n} clients got it` }),
      });
    }
  };
  converge("vs", PUSH_LIMITS.vsChangeMs, "VirtualService change");
  converge("endpoint", PUSH_LIMITS.endpointChangeMs, "endpoint change");
  {
    const t = `control-plane memory < ${PUSH_LIMITS.kbPerProxy} KB per connected proxy (issue 12)`;
    const measured = cases.filter((c) => c.storm_s !== null);
    if (!measured.length) out.push(na(t, why));
    else {
      const worst = measured.filter((c) =>
        c.n >= PUSH_LIMITS.proxies
      ).sort((a, b) => b.kb_per_proxy - a.kb_per_proxy)[0] ?? measured[measured.length - 1];
      out.push({
        target: t,
        value: `${worst.kb_per_proxy.toFixed(1)} KB (${worst.n} proxies, ` +
          `${CONFIG_LABEL[worst.config] ?? worst.config}; the worst case with ≥ ${P})`,
        ratio: round(worst.kb_per_proxy / PUSH_LIMITS.kbPerProxy, 2),
        met: worst.kb_per_proxy < PUSH_LIMITS.kbPerProxy,
        ...(marginalKb(cases, worst.config) !== undefined
          ? {
            note: `marginal: ${marginalKb(cases, worst.config)!.toFixed(1)} KB per added proxy ` +
              `between the two largest N of that config; the rest is what the first proxies ` +
              `cost once (generated parts) and garbage V8 had not collected yet`,
          }
          : {}),
      });
    }
  }
  {
    const t = `endpoint-change bytes per proxy independent of the mesh's size (200-service vs ` +
      `Bookinfo-sized config, ${P} proxies, ≤ ${PUSH_LIMITS.endpointBytesRatio}×) (issue 12)`;
    const a = find("bookinfo", PUSH_LIMITS.proxies)?.endpoint.bytes_per_client;
    const b = find("services200", PUSH_LIMITS.proxies)?.endpoint.bytes_per_client;
    if (a == null || b == null || !a) {
      out.push(na(t, push.supported && push.quick ? "--quick: Bookinfo-sized config only" : why));
    } else {
      const ratio = round(b / a, 2);
      out.push({
        target: t,
        value: `${b.toFixed(0)} vs ${a.toFixed(0)} B`,
        ratio,
        met: ratio <= PUSH_LIMITS.endpointBytesRatio,
        note: `the mesh is 50× larger; the changed service has 5 endpoints (10 entries over its ` +
          `3 clusters: all, v1, v2) against Bookinfo's ratings' 1 (2 entries: all, v1)`,
      });
    }
  }
  for (const cfg of configs) {
    const t = `${PUSH_LIMITS.large.toLocaleString("en")} proxies converge, ` +
      `${CONFIG_LABEL[cfg] ?? cfg} (issue 12)`;
    const c = find(cfg, PUSH_LIMITS.large);
    if (!c) {
      out.push(na(t, push.supported && push.quick ? "--quick: up to 1,000 proxies" : why));
      continue;
    }
    const ok = c.storm_s !== null && c.vs.converged && c.endpoint.converged;
    out.push({
      target: t,
      value: c.storm_s !== null
        ? `storm ${c.storm_s.toFixed(1)} s; VS ${c.vs.clients_min}, endpoint ` +
          `${c.endpoint.clients_min} of ${c.n}`
        : `${c.storm_acked} of ${c.n} acked in ${c.storm_wait_s} s`,
      ratio: null,
      met: ok,
    });
  }
  for (const cfg of configs) {
    const t =
      `CPU per change grows ≤ linearly: per proxy at ${PUSH_LIMITS.large.toLocaleString("en")}` +
      ` ≤ ${PUSH_LIMITS.cpuPerProxyRatio}× that at ${P}, ${CONFIG_LABEL[cfg] ?? cfg} (issue 12)`;
    const perProxy = (c: PushCase | undefined) => {
      const xs = [c?.vs.cpu_s_net, c?.endpoint.cpu_s_net].filter((x): x is number =>
        typeof x === "number"
      );
      return c && xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length / c.n : undefined;
    };
    const a = perProxy(find(cfg, PUSH_LIMITS.proxies));
    const b = perProxy(find(cfg, PUSH_LIMITS.large));
    if (a === undefined || b === undefined || !a) {
      out.push(na(t, push.supported && push.quick ? "--quick: up to 1,000 proxies" : why));
      continue;
    }
    const ratio = round(b / a, 2);
    out.push({
      target: t,
      value: `${(b * 1e6).toFixed(0)} vs ${(a * 1e6).toFixed(0)} CPU-µs per proxy per change`,
      ratio,
      met: ratio <= PUSH_LIMITS.cpuPerProxyRatio,
    });
  }
  return out;
}

/**
 * Control-plane KB per added proxy between the two largest N of a config (RSS difference over
 * the N difference), or undefined with fewer than two converged cases.
 */
export function marginalKb(cases: PushCase[], config: string): number | undefined {
  const cs = cases.filter((c) => c.config === config && c.storm_s !== null).sort((a, b) =>
    a.n - b.n
  );
  if (cs.length < 2) return undefined;
  const [a, b] = cs.slice(-2);
  return round(((b.rss_mb_connected - a.rss_mb_connected) * 1024) / (b.n - a.n), 1);
}

const ms = (s: PushChangeSummary) =>
  s.p50_ms === null
    ? "–"
    : `${f(s.p50_ms, 0)} / ${f(s.p99_ms, 0)} / ${f(s.max_ms, 0)}${s.converged ? "" : " ⚠"}`;

/** The push section's Markdown (issue 12). */
export function pushMarkdown(push: PushResult): string[] {
  const out = ["## Push (issue 12)", ""];
  if (!push.supported && !push.cases?.length) return [...out, `Not measured: ${push.reason}`, ""];
  const cases = push.cases ?? [];
  out.push(
    "| proxies | config | sent as | connect storm s | VS change ms p50 / p99 / max | " +
      "endpoint change ms p50 / p99 / max | bytes/proxy VS / endpoint | CPU-s per change " +
      "VS / endpoint | KB/proxy | simulator busy |",
    "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const c of cases) {
    const storm = c.storm_s !== null
      ? c.storm_s.toFixed(2)
      : `${c.storm_acked}/${c.n} in ${c.storm_wait_s} ⚠`;
    const busy = Math.max(c.sim_storm_busy, ...c.changes.map((x) => x.sim_busy));
    out.push(
      `| ${c.n} | ${CONFIG_LABEL[c.config] ?? c.config} | ${c.protocol} | ${storm} | ` +
        `${ms(c.vs)} | ${ms(c.endpoint)} | ${f(c.vs.bytes_per_client, 0)} / ` +
        `${f(c.endpoint.bytes_per_client, 0)} | ${f(c.vs.cpu_s_net, 3)} / ` +
        `${f(c.endpoint.cpu_s_net, 3)} | ${c.kb_per_proxy.toFixed(1)} | ${busy.toFixed(2)} |`,
    );
  }
  out.push(
    "",
    `Simulated sidecars (bench/push_sim.ts: one push stream each, hello as a real sidecar, every ` +
      `message acked at once, nothing compiled), ${
        (push.supported ? push.settings.connecting_at_once : 64) ?? 64
      } connecting at once, over 20 service accounts sharing one certificate each, in the bench ` +
      `process; a fresh control plane per row. Connect storm: all clients started → every one ` +
      `acked its first config. Changes (${
        push.supported ? push.settings.changes_per_kind : "?"
      } of each kind, medians): one VirtualService's route weights, and one endpoint's address ` +
      `(a WorkloadEntry for Bookinfo, a ServiceEntry endpoint for 200 services), each a file in ` +
      `the config dir rewritten atomically; latency from the write to each client receiving ` +
      `(and acking) a message at ≥ the control plane's new revision; ⚠ = not every client got ` +
      `it in time. Bytes: mean per client from the change until pushes went quiet. CPU: ` +
      `control-plane utime+stime over the same time, minus its idle (keepalive) rate. KB/proxy: ` +
      `(RSS with every client connected − RSS with the config and none) / N, each the lowest ` +
      `sample (every 250 ms) over a window: up to 10 s after the storm went quiet (V8 collects ` +
      `the storm's garbage some seconds after it), and 1 s after the changes; the empty one ` +
      `over 3 s. Simulator busy: ` +
      `its CPU-s per wall-s (1.00 = one core, the JS thread saturated) at its worst.`,
    "",
  );
  for (const cfg of [...new Set(cases.map((c) => c.config))]) {
    const m = marginalKb(cases, cfg);
    if (m !== undefined) {
      out.push(
        `- ${CONFIG_LABEL[cfg] ?? cfg}: ${m.toFixed(1)} KB of control-plane RSS per added ` +
          `proxy between its two largest N`,
      );
    }
  }
  const saturated = cases.filter((c) =>
    Math.max(c.sim_storm_busy, ...c.changes.map((x) => x.sim_busy)) >= 0.9
  );
  if (saturated.length) {
    out.push(
      `- The simulator's JS thread was (nearly) saturated (busy ≥ 0.9) in ` +
        `${saturated.map((c) => `${CONFIG_LABEL[c.config] ?? c.config} N=${c.n}`).join(", ")}: ` +
        `there the storm times and latencies are upper bounds on the control plane's (it ` +
        `shares the machine's cores with the simulator)`,
    );
  }
  for (const c of cases) {
    for (const n of c.notes) out.push(`- ${c.config} N=${c.n}: ${n}`);
    if (c.streams_ended) {
      out.push(
        `- ${c.config} N=${c.n}: ${c.streams_ended} stream(s) ended (${c.stream_end_sample})`,
      );
    }
  }
  if (out[out.length - 1] !== "") out.push("");
  if (!push.supported) out.push(`Stopped early: ${push.reason}`, "");
  return out;
}

// ---------------------------------------------------------------- Markdown

const f = (x: number | null | undefined, d = 2) =>
  x === null || x === undefined || Number.isNaN(x) ? "–" : x.toFixed(d);
const signed = (x: number | null | undefined) =>
  x === null || x === undefined || Number.isNaN(x) ? "–" : (x >= 0 ? "+" : "") + x.toFixed(2);

function proxyCells(row: MeasuredRow): [string, string] {
  if (!row.cpu_s_per_1k_req || !row.rss_mb) return ["–", "–"];
  const names = Object.keys(row.rss_mb);
  const cpu = names.map((n) => f(row.cpu_s_per_1k_req?.[n], 3)).join(" / ");
  const rss = names.map((n) => `${f(row.rss_mb?.[n].idle, 0)}→${f(row.rss_mb?.[n].load, 0)}`)
    .join(" / ");
  return [cpu, rss];
}

/** The table of measured and unsupported rows of some groups. */
export function rowsTable(rows: Record<string, Row>, groups: Group[], qps: number): string {
  const lines = [
    `| row | path | req/s (max) | p50 ms | p90 ms | p99 ms | added p50 / p90 / p99 ms | ` +
    `CPU-s per 1k req (A / B) | RSS MB idle→load (A / B) |`,
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const notes: string[] = [];
  for (const [key, row] of Object.entries(rows)) {
    if (!groups.includes(row.group)) continue;
    if (!row.supported) {
      lines.push(`| \`${key}\` | ${row.path} | unsupported | | | | | | |`);
      notes.push(`- \`${key}\`: ${row.reason}`);
      continue;
    }
    const [cpu, rss] = proxyCells(row);
    // No star on a percentile the tool doesn't report (WebSocket rows).
    const at = row.latency_at === "max" && !Number.isNaN(row.p50_ms) ? "*" : "";
    const added = row.baseline
      ? `${signed(row.added_p50_ms)} / ${signed(row.added_p90_ms)} / ${signed(row.added_p99_ms)}`
      : "";
    lines.push(
      `| \`${key}\` | ${row.path} | ${f(row.rps, 0)} | ${f(row.p50_ms, 3)}${at} | ` +
        `${f(row.p90_ms, 3)}${at} | ${f(row.p99_ms, 3)}${at} | ${added} | ${cpu} | ${rss} |`,
    );
    for (const n of row.notes) notes.push(`- \`${key}\`: ${n}`);
  }
  const measured = Object.values(rows).filter((r): r is MeasuredRow =>
    groups.includes(r.group) && r.supported
  );
  if (measured.some((r) => r.latency_at === "max" && !Number.isNaN(r.p50_ms))) {
    notes.unshift(
      `- *: latency under max load (no fixed-rate run for this row)` +
        (measured.some((r) => r.fixed_rate_rps === null) ? "; CPU too, for rows without one" : ""),
    );
  }
  notes.unshift(
    `- req/s and memory under load from the max-throughput runs; latency percentiles and CPU ` +
      `per 1k requests at a fixed ${qps} req/s`,
  );
  return lines.join("\n") + "\n\n" + notes.join("\n") + "\n";
}

/** The targets as a Markdown table. */
export function targetsTable(ts: Target[]): string {
  const lines = ["| target | mesh | ratio | met? |", "|---|---:|---:|---|"];
  for (const t of ts) {
    const met = t.met === null ? "n/a" : t.met ? "**met**" : "**not met**";
    lines.push(
      `| ${t.target} | ${t.value} | ${t.ratio === null ? "–" : t.ratio.toFixed(2)} | ${met}${
        t.note ? ` (${t.note})` : ""
      } |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Everything the report needs. */
export interface Result {
  date: string;
  quick: boolean;
  wall_s: number;
  machine: Record<string, unknown>;
  tool: string;
  settings: Record<string, unknown>;
  rows: Record<string, Row>;
  targets: Target[];
  notes: string[];
  /** The CA: signing rates and a new proxy's start-to-first-request time. */
  ca?: {
    signing: { key_type: string; certs_per_s: number; signed: number; seconds: number }[];
    proxy_start_ms: number[];
  };
  /** The Kubernetes section (issue 11): bench/kube.ts. */
  kube?: KubeResult;
  /** The push section (issue 12): bench/push.ts. */
  push?: PushResult;
}

function machineLine(m: Record<string, unknown>): string {
  const parts = [
    m.cpu_model,
    `${m.cpus} vCPUs`,
    m.memory_gb ? `${m.memory_gb} GB RAM` : undefined,
    m.os ? `Linux ${m.os}` : undefined,
  ].filter(Boolean);
  const load = m.load_avg_start !== undefined
    ? `; 1-min load average ${m.load_avg_start} at start, ${m.load_avg_end} at end`
    : "";
  return parts.join(", ") + load;
}

/** The Markdown report (stdout, and RESULTS.md on full runs). */
export function markdown(r: Result): string {
  const s = r.settings;
  const versions = Object.entries((r.machine.versions ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k} ${v}`).join(", ");
  const out = [
    `Date: ${r.date}${r.quick ? " (**--quick** run)" : ""}; wall time ${r.wall_s.toFixed(0)} s.`,
    "",
    `Machine: ${machineLine(r.machine)}.`,
    "",
    `Versions: ${versions}.`,
    "",
    `Load: ${r.tool}, ${s.connections} connections, HTTP/1.1 GET, ${s.body_bytes}-byte ` +
    `response body; ` +
    (s.fixed_s
      ? `latency and CPU at a fixed ${s.fixed_qps} req/s for ${s.fixed_s} s, throughput and ` +
        `memory at max rate for ${s.max_s} s`
      : `no fixed-rate runs (wrk): everything at max rate for ${s.max_s} s`) +
    `; ${s.rounds} round(s), rows interleaved (${(s.main_rows as string[]).join(", ")}), ` +
    `medians.` +
    (s.extra_rounds
      ? ` Extra rows: ${s.extra_rounds} round, ${
        s.fixed_s ? `${s.extra_fixed_s} s fixed + ` : ""
      }` +
        `${s.extra_max_s} s max.`
      : ""),
    "",
    `## Targets (issue${r.kube || r.push ? "s" : ""} ${
      ["3", r.kube ? "11" : "", r.push ? "12" : ""].filter(Boolean).join(", ").replace(
        /, ([^,]*)$/,
        " and $1",
      )
    })`,
    "",
    targetsTable(r.targets),
    "## HTTP/1.1: client → proxy A → mTLS → proxy B → app",
    "",
    rowsTable(r.rows, ["http"], s.fixed_qps as number),
    "## HTTP/2 from the client, gRPC, TCP, WebSocket",
    "",
    rowsTable(r.rows, ["h2", "grpc", "tcp", "ws"], s.fixed_qps as number),
  ];
  if (r.ca) {
    out.push(
      "## CA (issue 5)",
      "",
      "| CA root key | certificates signed per second | signed | seconds |",
      "| --- | ---: | ---: | ---: |",
      ...r.ca.signing.map((x) =>
        `| ${x.key_type} | ${x.certs_per_s} | ${x.signed} | ${x.seconds} |`
      ),
      "",
      `A new proxy from start to its first served request: ${
        r.ca.proxy_start_ms.join(", ")
      } ms (median ${median(r.ca.proxy_start_ms)} ms).`,
      "",
    );
  }
  if (r.kube) out.push(...kubeMarkdown(r.kube));
  if (r.push) out.push(...pushMarkdown(r.push));
  if (r.notes.length) out.push("## Notes", "", ...r.notes.map((n) => `- ${n}`), "");
  return out.join("\n");
}
