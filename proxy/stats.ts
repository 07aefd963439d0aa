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
  labels: string;
  count: number;
  buckets: number[];
  sum: number;
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

  constructor(self: SelfLabels) {
    this.#self = self;
  }

  /** Counts one finished request. */
  record(reporter: Reporter, l: RequestLabels, code: number, ms: number): void {
    const key = `${reporter}|${l.service}|${code}|${l.peer ?? ""}|${l.mtls ? 1 : 0}`;
    let s = this.#series.get(key);
    if (!s) {
      s = {
        labels: this.#labels(reporter, l, code),
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
      const labels = this.#labels(reporter, l, 0)
        .replace(',request_protocol="http"', ',request_protocol="tcp"')
        .replace(/,response_code="0"/, "");
      s = { labels, opened: 0, closed: 0, sent: 0, received: 0 };
      this.#tcp.set(key, s);
    }
    return s;
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

  #labels(reporter: Reporter, l: RequestLabels, code: number): string {
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
      ["request_protocol", "http"],
      ["response_code", String(code)],
      ["connection_security_policy", l.mtls ? "mutual_tls" : "none"],
    ];
    return pairs.map(([k, v]) => `${k}="${esc(v)}"`).join(",");
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
    for (const s of this.#series.values()) {
      lines.push(`istio_requests_total{${s.labels}} ${s.count}`);
    }
    lines.push("# HELP istio_request_duration_milliseconds Request duration.");
    lines.push("# TYPE istio_request_duration_milliseconds histogram");
    for (const s of this.#series.values()) {
      let cum = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        cum += s.buckets[i];
        lines.push(
          `istio_request_duration_milliseconds_bucket{${s.labels},le="${BUCKETS[i]}"} ${cum}`,
        );
      }
      lines.push(`istio_request_duration_milliseconds_bucket{${s.labels},le="+Inf"} ${s.count}`);
      lines.push(`istio_request_duration_milliseconds_sum{${s.labels}} ${s.sum}`);
      lines.push(`istio_request_duration_milliseconds_count{${s.labels}} ${s.count}`);
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
      for (const s of this.#tcp.values()) lines.push(`${metric}{${s.labels}} ${s[field]}`);
    }
    return lines.join("\n") + "\n";
  }
}
