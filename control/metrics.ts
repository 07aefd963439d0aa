/**
 * The control plane's own metrics, under istiod's names where it has them
 * (`pilot_xds_pushes`, `pilot_xds_push_time`, `pilot_proxy_convergence_time`,
 * `pilot_total_xds_rejects`, `pilot_xds`, `pilot_debounce_time`,
 * `citadel_server_csr_count`, ...), rendered in Prometheus' text format on the
 * admin port's `/metrics`.
 *
 * @example
 * ```ts
 * const m = new ControlMetrics();
 * m.pushes.inc({ type: "eds" });
 * m.convergence.observe(0.12);
 * m.render(); // "# HELP pilot_xds_pushes ...\n..."
 * ```
 * @module
 */

type Labels = Record<string, string>;

function labelText(l: Labels | undefined): string {
  if (!l) return "";
  const parts = Object.entries(l).map(([k, v]) =>
    `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A counter, per label set. */
export class Counter {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels?: Labels, by = 1): void {
    const k = labelText(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  /** The value of a label set (0 when never counted). */
  get(labels?: Labels): number {
    return this.#values.get(labelText(labels)) ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    if (this.#values.size === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.#values) out.push(`${this.name}${k} ${v}`);
  }
}

/** A gauge read when rendered. */
export class Gauge {
  constructor(readonly name: string, readonly help: string, readonly read: () => number) {}
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    out.push(`${this.name} ${this.read()}`);
  }
}

/** Istio's push-time buckets, seconds. */
export const SECONDS_BUCKETS = [0.01, 0.1, 0.5, 1, 3, 5, 10, 20, 30];

/** A histogram of seconds, per label set. */
export class Histogram {
  readonly #series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[] = SECONDS_BUCKETS,
  ) {}
  observe(value: number, labels?: Labels): void {
    const k = labelText(labels);
    let s = this.#series.get(k);
    if (!s) this.#series.set(k, s = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 });
    s.count++;
    s.sum += value;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]) s.buckets[i]++;
  }
  /** Observations of a label set. */
  count(labels?: Labels): number {
    return this.#series.get(labelText(labels))?.count ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const [k, s] of this.#series) {
      const inner = k ? k.slice(1, -1) + "," : "";
      this.bounds.forEach((b, i) =>
        out.push(`${this.name}_bucket{${inner}le="${b}"} ${s.buckets[i]}`)
      );
      out.push(`${this.name}_bucket{${inner}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k} ${s.sum}`, `${this.name}_count${k} ${s.count}`);
    }
  }
}

/** Envoy's xDS type names for the parts Istio has them for (metrics labels). */
export const XDS_TYPE = {
  secrets: "sds",
  clusters: "cds",
  endpoints: "eds",
  listeners: "lds",
  routes: "rds",
  policies: "policies",
} as const;

/** Every metric of the control plane. */
export class ControlMetrics {
  readonly pushes = new Counter("pilot_xds_pushes", "Pushes of each type, by xDS type.");
  readonly pushTime = new Histogram(
    "pilot_xds_push_time",
    "Seconds to build and write a push message, by xDS type of the parts in it.",
  );
  readonly convergence = new Histogram(
    "pilot_proxy_convergence_time",
    "Seconds from a config change to a proxy acknowledging everything it should have.",
  );
  readonly rejects = new Counter(
    "pilot_total_xds_rejects",
    "Parts proxies rejected, by xDS type.",
  );
  readonly debounce = new Histogram(
    "pilot_debounce_time",
    "Seconds from the first change of a push to the push starting (debounce).",
  );
  readonly csrs = new Counter("citadel_server_csr_count", "Certificate signing requests received.");
  readonly csrSigned = new Counter(
    "citadel_server_success_cert_issuance_count",
    "Certificates issued.",
  );
  readonly bytes = new Counter("mesh_control_push_bytes_total", "Bytes of push messages written.");
  readonly #gauges: Gauge[] = [];

  /** Adds a gauge read at render time (e.g. `pilot_xds`, the connected proxies). */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.push(new Gauge(name, help, read));
  }

  /** The Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const g of this.#gauges) g.render(out);
    for (
      const m of [
        this.pushes,
        this.pushTime,
        this.convergence,
        this.rejects,
        this.debounce,
        this.csrs,
        this.csrSigned,
        this.bytes,
      ]
    ) m.render(out);
    return out.join("\n") + "\n";
  }
}
