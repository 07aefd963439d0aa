/**
 * Request metrics in Istio's standard names, rendered for Prometheus:
 * `istio_requests_total` (counter) and `istio_request_duration_milliseconds`
 * (histogram), labelled by reporter, service and response code.
 *
 * @example
 * ```ts
 * const stats = new Stats({ namespace: "default", workload: "reviews-v1", principal: "spiffe://..." });
 * stats.record("source", { service: "ratings.default.svc.cluster.local" }, 200, 3.2);
 * stats.prometheus(); // "# TYPE istio_requests_total counter\n..."
 * ```
 * @module
 */

import type { MetricOverride } from "../api/proxy_config.ts";

/** Who reports: the client-side proxy or the server-side proxy, as Istio's `reporter` label. */
export type Reporter = "source" | "destination";

/** The labels a request is counted under besides the reporter and code. */
export interface RequestLabels {
  /** Destination service host, or "unknown". */
  service: string;
  /** The peer principal (inbound: the caller's SPIFFE ID). */
  peer?: string;
  mtls?: boolean;
}

const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

interface Series {
  reporter: Reporter;
  pairs: [string, string][];
  labels: string;
  count: number;
  buckets: number[];
  sum: number;
}

/** Istio's metric names, by the name each is exported under. */
const METRIC_NAMES: Record<string, string> = {
  istio_requests_total: "REQUEST_COUNT",
  istio_request_duration_milliseconds: "REQUEST_DURATION",
  istio_tcp_connections_opened_total: "TCP_OPENED_CONNECTIONS",
  istio_tcp_connections_closed_total: "TCP_CLOSED_CONNECTIONS",
  istio_tcp_sent_bytes_total: "TCP_SENT_BYTES",
  istio_tcp_received_bytes_total: "TCP_RECEIVED_BYTES",
};

function render(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `${k}="${esc(v)}"`).join(",");
}

/** The labels of `metric` for a series after `overrides`; null when the metric is off. */
export function overridden(
  overrides: readonly MetricOverride[],
  metric: string,
  reporter: Reporter,
  pairs: [string, string][],
): string | null {
  const name = METRIC_NAMES[metric];
  let out = pairs;
  let disabled = false;
  for (const o of overrides) {
    if (o.metric !== "ALL_METRICS" && o.metric !== name) continue;
    if (o.mode === "CLIENT" && reporter !== "source") continue;
    if (o.mode === "SERVER" && reporter !== "destination") continue;
    // The last (most specific) override that says turns the metric off or on again.
    if (o.disabled !== undefined) disabled = o.disabled;
    for (const [tag, change] of Object.entries(o.tags ?? {})) {
      out = out.filter(([k]) => k !== tag);
      if ("value" in change) out.push([tag, change.value]);
    }
  }
  return disabled ? null : render(out);
}

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** This proxy's own workload, for the `source_*`/`destination_*` labels. */
export interface SelfLabels {
  namespace: string;
  workload: string;
  principal: string;
}

/** Counters and histograms kept in memory. */
interface TcpSeries {
  reporter: Reporter;
  pairs: [string, string][];
  labels: string;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

export class Stats {
  #series = new Map<string, Series>();
  #tcp = new Map<string, TcpSeries>();
  #self: SelfLabels;
  /** Telemetry `metrics` overrides, applied when metrics are read (none: Istio's standard). */
  overrides: readonly MetricOverride[] = [];

  constructor(self: SelfLabels) {
    this.#self = self;
  }

  /**
   * Counts one finished request; `grpcStatus` is a gRPC request's `grpc-status` (the label
   * `grpc_response_status`, and `request_protocol="grpc"`).
   */
  record(
    reporter: Reporter,
    l: RequestLabels,
    code: number,
    ms: number,
    grpcStatus?: string,
  ): void {
    const key = `${reporter}|${l.service}|${code}|${l.peer ?? ""}|${l.mtls ? 1 : 0}|${
      grpcStatus ?? ""
    }`;
    let s = this.#series.get(key);
    if (!s) {
      const pairs = this.#pairs(reporter, l, code, grpcStatus);
      s = {
        reporter,
        pairs,
        labels: render(pairs),
        count: 0,
        buckets: BUCKETS.map(() => 0),
        sum: 0,
      };
      this.#series.set(key, s);
    }
    s.count++;
    s.sum += ms;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (ms <= BUCKETS[i]) {
        s.buckets[i]++;
        break;
      }
    }
  }

  #tcpSeries(reporter: Reporter, l: RequestLabels): TcpSeries {
    const key = `${reporter}|${l.service}|${l.peer ?? ""}|${l.mtls ? 1 : 0}`;
    let s = this.#tcp.get(key);
    if (!s) {
      const pairs = this.#pairs(reporter, l, 0)
        .filter(([k]) => k !== "response_code" && k !== "grpc_response_status")
        .map(([k, v]): [string, string] => k === "request_protocol" ? [k, "tcp"] : [k, v]);
      s = { reporter, pairs, labels: render(pairs), opened: 0, closed: 0, sent: 0, received: 0 };
      this.#tcp.set(key, s);
    }
    return s;
  }

  /** Connections transparent capture routed, by how (`mesh_captured_connections_total`). */
  readonly #captured = new Map<string, number>();

  /** Counts a captured connection: served as HTTP, carried as TCP, passed through, or closed. */
  captured(route: "http" | "tcp" | "passthrough" | "blackhole"): void {
    this.#captured.set(route, (this.#captured.get(route) ?? 0) + 1);
  }

  /** Counts a TCP connection opened (Istio's `istio_tcp_connections_opened_total`). */
  tcpOpened(reporter: Reporter, l: RequestLabels): void {
    this.#tcpSeries(reporter, l).opened++;
  }

  /** Counts a TCP connection closed and the bytes it carried each way. */
  tcpClosed(reporter: Reporter, l: RequestLabels, sent: number, received: number): void {
    const s = this.#tcpSeries(reporter, l);
    s.closed++;
    s.sent += sent;
    s.received += received;
  }

  #pairs(
    reporter: Reporter,
    l: RequestLabels,
    code: number,
    grpcStatus?: string,
  ): [string, string][] {
    const svc = l.service;
    const parts = svc.split(".");
    const inbound = reporter === "destination";
    const pairs: [string, string][] = [
      ["reporter", reporter],
      ["source_workload", inbound ? "unknown" : this.#self.workload],
      ["source_workload_namespace", inbound ? "unknown" : this.#self.namespace],
      ["source_principal", inbound ? (l.peer ?? "unknown") : this.#self.principal],
      ["destination_workload", inbound ? this.#self.workload : "unknown"],
      ["destination_workload_namespace", inbound ? this.#self.namespace : "unknown"],
      ["destination_service", svc],
      ["destination_service_name", parts[0] || "unknown"],
      ["destination_service_namespace", svc.endsWith(".svc.cluster.local") ? parts[1] : "unknown"],
      ["request_protocol", grpcStatus !== undefined ? "grpc" : "http"],
      ["response_code", String(code)],
      ["grpc_response_status", grpcStatus ?? ""],
      ["connection_security_policy", l.mtls ? "mutual_tls" : "none"],
    ];
    return pairs;
  }

  /** A series' labels for `metric`, overrides applied; null when the metric is off. */
  #labelsOf(metric: string, s: { reporter: Reporter; pairs: [string, string][]; labels: string }) {
    return this.overrides.length
      ? overridden(this.overrides, metric, s.reporter, s.pairs)
      : s.labels;
  }

  /** Total requests counted (all series). */
  total(): number {
    let n = 0;
    for (const s of this.#series.values()) n += s.count;
    return n;
  }

  /** Prometheus text exposition. */
  prometheus(): string {
    const lines: string[] = [];
    lines.push("# HELP istio_requests_total Requests handled by this proxy.");
    lines.push("# TYPE istio_requests_total counter");
    // With overrides, series whose labels became equal are added up into one.
    const merged = (metric: string) => {
      const out = new Map<string, { count: number; sum: number; buckets: number[] }>();
      for (const s of this.#series.values()) {
        const labels = this.#labelsOf(metric, s);
        if (labels === null) continue;
        const m = out.get(labels);
        if (!m) out.set(labels, { count: s.count, sum: s.sum, buckets: [...s.buckets] });
        else {
          m.count += s.count;
          m.sum += s.sum;
          s.buckets.forEach((b, i) => m.buckets[i] += b);
        }
      }
      return out;
    };
    for (const [labels, s] of merged("istio_requests_total")) {
      lines.push(`istio_requests_total{${labels}} ${s.count}`);
    }
    lines.push("# HELP istio_request_duration_milliseconds Request duration.");
    lines.push("# TYPE istio_request_duration_milliseconds histogram");
    for (const [labels, s] of merged("istio_request_duration_milliseconds")) {
      let cum = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        cum += s.buckets[i];
        lines.push(
          `istio_request_duration_milliseconds_bucket{${labels},le="${BUCKETS[i]}"} ${cum}`,
        );
      }
      lines.push(`istio_request_duration_milliseconds_bucket{${labels},le="+Inf"} ${s.count}`);
      lines.push(`istio_request_duration_milliseconds_sum{${labels}} ${s.sum}`);
      lines.push(`istio_request_duration_milliseconds_count{${labels}} ${s.count}`);
    }
    for (
      const [metric, field, help] of [
        ["istio_tcp_connections_opened_total", "opened", "TCP connections opened."],
        ["istio_tcp_connections_closed_total", "closed", "TCP connections closed."],
        ["istio_tcp_sent_bytes_total", "sent", "Bytes sent to the peer over TCP."],
        ["istio_tcp_received_bytes_total", "received", "Bytes received from the peer over TCP."],
      ] as const
    ) {
      if (this.#tcp.size === 0) break;
      lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} counter`);
      const sums = new Map<string, number>();
      for (const s of this.#tcp.values()) {
        const labels = this.#labelsOf(metric, s);
        if (labels !== null) sums.set(labels, (sums.get(labels) ?? 0) + s[field]);
      }
      for (const [labels, n] of sums) lines.push(`${metric}{${labels}} ${n}`);
    }
    if (this.#captured.size) {
      lines.push(
        "# HELP mesh_captured_connections_total Connections transparent capture routed, by how.",
        "# TYPE mesh_captured_connections_total counter",
      );
      for (const [route, n] of this.#captured) {
        lines.push(`mesh_captured_connections_total{route="${route}"} ${n}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}
