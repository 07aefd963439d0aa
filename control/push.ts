/**
 * The push side of the control plane: connected proxies, the parts generated
 * for them (control/part_gen.ts, shared per class of proxies), the push queue
 * that sends each proxy what differs (control/proxy_conn.ts), and the
 * workloads they auto-register.
 *
 * @example
 * ```ts
 * const hub = new PushHub(() => rebuild());
 * const conn = hub.connect({ node, identity, write: (line) => stream.write(line) });
 * hub.disconnect(conn); // when the stream closes
 * hub.push(snapshot, request);
 * ```
 * @module
 */
import type { NodeInfo } from "../api/proxy_config.ts";
import type { PartName } from "../api/push_protocol.ts";
import type { RegisteredWorkload, Snapshot } from "./snapshot.ts";
import { PartGenerator } from "./part_gen.ts";
import { PartCache } from "./parts.ts";
import { type LineWriter, ProxyConnection } from "./proxy_conn.ts";
import { PushQueue } from "./push_queue.ts";
import { ControlMetrics } from "./metrics.ts";
import type { PushRequest } from "./changes.ts";
import { logger } from "../util/log.ts";

export { type LineWriter, ProxyConnection };

const log = logger("push");

/** Istio's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD: a WorkloadGroup entry outlives its proxy this long. */
export const GROUP_GRACE_MS = 10_000;

/** All connected proxies, and the workloads they register. */
export class PushHub {
  #conns = new Set<ProxyConnection>();
  /** Connections by node id (a connect storm must not scan every connection per hello). */
  #byId = new Map<string, Set<ProxyConnection>>();
  #onMembership: () => void;
  #gen?: PartGenerator;
  readonly #cache = new PartCache();
  readonly metrics: ControlMetrics;
  readonly #queue: PushQueue<ProxyConnection>;
  readonly #deps;
  /** Identifies this control-plane process (`mesh proxy-status`'s ISTIOD column). */
  readonly instance: string;
  /** Workloads known from before a restart, kept until their proxy reconnects or `until`. */
  #restored = new Map<string, { workload: RegisteredWorkload; until: number }>();
  #expiry?: ReturnType<typeof setTimeout>;

  /** How long a WorkloadGroup workload stays registered after its proxy is gone. */
  readonly #groupGraceMs: number;

  /** `onMembership` runs when the set of registered workloads changes. */
  constructor(
    onMembership: () => void,
    opts: { metrics?: ControlMetrics; instance?: string; groupGraceMs?: number } = {},
  ) {
    this.#groupGraceMs = opts.groupGraceMs ?? GROUP_GRACE_MS;
    this.#onMembership = onMembership;
    this.metrics = opts.metrics ?? new ControlMetrics();
    this.instance = opts.instance ?? `mesh-${Deno.hostname()}-${Deno.pid}`;
    this.#queue = new PushQueue({
      send: (c) => {
        if (!this.#gen || !this.#conns.has(c)) return;
        return { bytes: c.send(this.#gen), answered: c.answered() };
      },
    });
    this.#deps = {
      cache: this.#cache,
      metrics: this.metrics,
      requeue: (c: ProxyConnection) => this.#queue.add(c),
    };
    this.metrics.gauge("pilot_xds", "Connected proxies.", () => this.#conns.size);
    this.metrics.gauge(
      "mesh_control_push_queue",
      "Proxies waiting for their turn in the push queue.",
      () => this.#queue.size,
    );
    this.metrics.gauge(
      "process_resident_memory_bytes",
      "Resident memory of the control plane.",
      () => Deno.memoryUsage().rss,
    );
    this.metrics.gauge(
      "mesh_control_heap_used_bytes",
      "JavaScript heap in use (V8).",
      () => Deno.memoryUsage().heapUsed,
    );
    this.metrics.gauge(
      "mesh_control_heap_total_bytes",
      "JavaScript heap committed (V8), in use or not.",
      () => Deno.memoryUsage().heapTotal,
    );
    this.metrics.gauge(
      "mesh_control_external_bytes",
      "Memory V8 accounts outside its heap (buffers).",
      () => Deno.memoryUsage().external,
    );
  }

  /** The parts generator of the latest snapshot (none before the first push). */
  get generator(): PartGenerator | undefined {
    return this.#gen;
  }

  /** Resolves when every queued proxy has had its turn. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** Proxies waiting for their turn in the push queue. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Registers a proxy; it receives the current snapshot at once when there is one.
   * A proxy that reconnects while its previous stream still looks open (a
   * half-open connection the control plane hasn't noticed yet) replaces it: the
   * stale stream is ended and its later close changes nothing, so the
   * workload stays registered throughout. `end` closes this stream's transport.
   */
  connect(o: {
    node: NodeInfo;
    identity: { namespace: string; serviceAccount: string };
    write: LineWriter;
    end?: () => void;
    /** The hello's protocol and the part versions the proxy has (docs/push-protocol.md). */
    protocol?: number;
    have?: Partial<Record<PartName, string>>;
  }): ProxyConnection {
    const { node, identity } = o;
    const conn = new ProxyConnection({ ...o, deps: this.#deps });
    let replaced = false;
    for (const old of [...(this.#byId.get(node.id) ?? [])]) {
      if (
        old.identity.namespace !== identity.namespace ||
        old.identity.serviceAccount !== identity.serviceAccount
      ) {
        log.warn("a proxy of another identity uses a connected node id; keeping both", {
          node: node.id,
        });
        continue;
      }
      this.#forget(old);
      old.end();
      replaced = true;
    }
    this.#conns.add(conn);
    let same = this.#byId.get(node.id);
    if (!same) this.#byId.set(node.id, same = new Set());
    same.add(conn);
    log.info(replaced ? "proxy reconnected; replaced its previous stream" : "proxy connected", {
      node: node.id,
      identity: `${identity.namespace}/${identity.serviceAccount}`,
    });
    // Its first config goes out on its turn in the queue, not in the hello's handler.
    this.#queue.add(conn);
    const wasRestored = this.#restored.delete(node.id);
    // A restarted proxy that took over a restored workload's address is that workload, back:
    // the restored entry is gone for good.
    let superseded = 0;
    if (node.mode === "sidecar" && node.inboundPort) {
      for (const [id, r] of this.#restored) {
        if (r.workload.address === node.address && r.workload.inboundPort === node.inboundPort) {
          this.#restored.delete(id);
          superseded++;
        }
      }
    }
    if (this.#restored.size === 0) clearTimeout(this.#expiry);
    const registers = node.mode === "sidecar" && !!node.inboundPort;
    if ((registers && !wasRestored && !replaced) || superseded) this.#onMembership();
    return conn;
  }

  /** Forgets a proxy whose stream closed (nothing, when a newer stream replaced it). */
  disconnect(conn: ProxyConnection): void {
    if (!this.#conns.has(conn)) return;
    this.#forget(conn);
    conn.closed();
    log.info("proxy disconnected", { node: conn.node.id });
    if (conn.node.mode !== "sidecar" || !conn.node.inboundPort) return;
    // A WorkloadGroup's entry outlives its proxy for the grace period (Istio's
    // PILOT_WORKLOAD_ENTRY_GRACE_PERIOD): a proxy that reconnects soon keeps it throughout.
    const w = conn.node.workloadGroup && !this.#byId.has(conn.node.id)
      ? this.#workloadOf(conn)
      : undefined;
    if (w && this.#groupGraceMs > 0) {
      this.#restored.set(w.nodeId, { workload: w, until: Date.now() + this.#groupGraceMs });
      this.#scheduleExpiry();
      return;
    }
    this.#onMembership();
  }

  #forget(conn: ProxyConnection): void {
    this.#conns.delete(conn);
    this.#queue.delete(conn);
    const same = this.#byId.get(conn.node.id);
    same?.delete(conn);
    if (same?.size === 0) this.#byId.delete(conn.node.id);
  }

  /** Node ids of workloads restored from before a restart whose proxies haven't reconnected. */
  restoredPending(): string[] {
    return [...this.#restored.keys()];
  }

  /** Connected proxies. */
  connections(): ProxyConnection[] {
    return [...this.#conns];
  }

  /**
   * Keeps workloads registered before a restart (loaded from disk) as
   * endpoints until their proxy reconnects (which ends the grace for that
   * workload alone) or `graceMs` passes, so proxies that reconnect first
   * don't lose the endpoints of those that reconnect later (Istio keeps
   * auto-registered WorkloadEntries for a grace period the same way).
   */
  restore(workloads: readonly RegisteredWorkload[], graceMs: number): void {
    const until = Date.now() + graceMs;
    const live = new Set([...this.#conns].map((c) => c.node.id));
    for (const w of workloads) {
      if (!live.has(w.nodeId)) this.#restored.set(w.nodeId, { workload: w, until });
    }
    this.#scheduleExpiry();
  }

  /** Drops kept workloads whose time is up, at the earliest `until`. */
  #scheduleExpiry(): void {
    clearTimeout(this.#expiry);
    if (this.#restored.size === 0) return;
    let next = Infinity;
    for (const r of this.#restored.values()) if (r.until < next) next = r.until;
    this.#expiry = setTimeout(() => {
      const now = Date.now();
      let dropped = 0;
      for (const [id, r] of this.#restored) {
        if (r.until <= now) {
          this.#restored.delete(id);
          dropped++;
        }
      }
      if (dropped) {
        log.info("dropped workloads whose proxies did not come back in time", { dropped });
        this.#onMembership();
      }
      this.#scheduleExpiry();
    }, Math.max(0, next - Date.now()) + 10);
  }

  /** A proxy's group probe result changed (it reports each change). */
  reportHealth(conn: ProxyConnection, healthy: boolean): void {
    // Only a WorkloadGroup's proxy has a probe to report: from any other it means nothing,
    // and a flapping report would rebuild and push for nothing.
    if (!conn.node.workloadGroup || conn.healthy === healthy) return;
    conn.healthy = healthy;
    log.info(healthy ? "workload ready" : "workload not ready: out of load balancing", {
      node: conn.node.id,
      group: conn.node.workloadGroup,
    });
    if (this.#conns.has(conn) && conn.node.inboundPort) this.#onMembership();
  }

  /** Stops the grace timer and the queue. */
  close(): void {
    clearTimeout(this.#expiry);
    this.#queue.close();
  }

  /** Workloads auto-registered by connected sidecars (and restored ones still in their grace period). */
  workloads(): RegisteredWorkload[] {
    const out: RegisteredWorkload[] = [...this.#restored.values()].map((r) => r.workload);
    for (const c of this.#conns) {
      const w = this.#workloadOf(c);
      if (w) out.push(w);
    }
    return out;
  }

  /** The workload a connected sidecar registers (none for gateways and sidecars without inbound). */
  #workloadOf(c: ProxyConnection): RegisteredWorkload | undefined {
    const n = c.node;
    if (n.mode !== "sidecar" || !n.inboundPort) return undefined;
    return {
      name: n.workloadName ?? n.id,
      namespace: c.identity.namespace,
      serviceAccount: c.identity.serviceAccount,
      labels: n.labels,
      address: n.address,
      inboundPort: n.inboundPort,
      ...(n.appPort ? { appPort: n.appPort } : {}),
      nodeId: n.id,
      ...(typeof n.locality === "string" && n.locality ? { locality: n.locality } : {}),
      ...(n.workloadGroup ? { group: n.workloadGroup } : {}),
      ...(c.healthy !== undefined ? { healthy: c.healthy } : {}),
    };
  }

  /**
   * Makes `snapshot` current and queues every proxy: each gets, on its turn, the parts that
   * `request` can have changed and that differ for it (nothing, when none does).
   */
  push(snapshot: Snapshot, request?: PushRequest): void {
    const started = performance.now();
    const live = [...this.#conns].map((c) => c.node);
    this.#gen = this.#gen && request
      ? this.#gen.next({ snapshot, affected: request.affected, live })
      : new PartGenerator({ snapshot, cache: this.#cache });
    const since = request?.firstAt;
    if (since !== undefined) this.metrics.debounce.observe(Math.max(0, Date.now() - since) / 1000);
    for (const c of this.#conns) {
      c.markDue(since);
      this.#queue.add(c);
    }
    log.info("push", {
      revision: snapshot.revision,
      proxies: this.#conns.size,
      changed: request ? [...request.reasons].join(",") : "everything",
      parts: request ? [...request.affected].join(",") : "all",
      ms: Math.round(performance.now() - started),
    });
  }
}
