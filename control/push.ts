/**
 * The push side of the control plane: connected proxies, each with a push
 * queue that only ever holds the latest config (a slow proxy skips versions,
 * never reads stale ones), and the workloads they auto-register.
 *
 * @example
 * ```ts
 * const hub = new PushHub(() => rebuild());
 * const conn = hub.connect(node, identity, (line) => stream.write(line), () => stream.end());
 * hub.disconnect(conn); // when the stream closes
 * hub.push(snapshot);
 * ```
 * @module
 */
import type { NodeInfo, ProxyConfig, PushMessage } from "../api/proxy_config.ts";
import type { RegisteredWorkload, Snapshot } from "./snapshot.ts";
import { generateProxyConfig } from "./generate.ts";
import { ServiceRegistry } from "./registry.ts";
import { buildClusters } from "./clusters.ts";
import { logger } from "../util/log.ts";

const log = logger("push");

/** Writes a line to the proxy; returns false when the transport buffer is full. */
export type LineWriter = (line: string) => boolean;

/** One connected proxy. */
export class ProxyConnection {
  readonly node: NodeInfo;
  readonly identity: { namespace: string; serviceAccount: string };
  readonly connectedAt = new Date();
  sentVersion?: string;
  ackedVersion?: string;
  /** SHA-256 of the root the proxy's current certificate chains to (from its acks). */
  certRoot?: string;
  lastNack?: string;
  #lastJson?: string;
  #pending?: string;
  #blocked = false;
  #write: LineWriter;
  #end?: () => void;

  constructor(
    node: NodeInfo,
    identity: { namespace: string; serviceAccount: string },
    write: LineWriter,
    end?: () => void,
  ) {
    this.node = node;
    this.identity = identity;
    this.#write = write;
    this.#end = end;
  }

  /** Ends the transport (a newer stream of the same proxy replaced this one). */
  end(): void {
    const end = this.#end;
    this.#end = undefined;
    try {
      end?.();
    } catch (err) {
      log.debug("ending a replaced stream failed", { node: this.node.id, error: err });
    }
  }

  /** Queues `config`, replacing anything not yet written. Returns whether it differed from the last one. */
  offer(config: ProxyConfig): boolean {
    const { version: _, ...body } = config;
    const json = JSON.stringify(body);
    if (json === this.#lastJson) return false;
    this.#lastJson = json;
    const msg: PushMessage = { type: "config", config };
    this.#pending = JSON.stringify(msg) + "\n";
    this.sentVersion = config.version;
    this.#flush();
    return true;
  }

  /** Called by the transport when its buffer has room again. */
  drained(): void {
    this.#blocked = false;
    this.#flush();
  }

  #flush(): void {
    if (this.#blocked || this.#pending === undefined) return;
    const line = this.#pending;
    this.#pending = undefined;
    if (!this.#write(line)) this.#blocked = true;
  }
}

/** All connected proxies, and the workloads they register. */
export class PushHub {
  #conns = new Set<ProxyConnection>();
  #onMembership: () => void;
  #snapshot?: Snapshot;
  /** Workloads known from before a restart, kept until their proxy reconnects or `until`. */
  #restored = new Map<string, { workload: RegisteredWorkload; until: number }>();
  #expiry?: ReturnType<typeof setTimeout>;

  /** `onMembership` runs when the set of registered workloads changes. */
  constructor(onMembership: () => void) {
    this.#onMembership = onMembership;
  }

  /**
   * Registers a proxy; it receives the current snapshot at once when there is one.
   * A proxy that reconnects while its previous stream still looks open (a
   * half-open connection the control plane hasn't noticed yet) replaces it: the
   * stale stream is ended and its later close changes nothing, so the
   * workload stays registered throughout. `end` closes this stream's transport.
   */
  connect(
    node: NodeInfo,
    identity: { namespace: string; serviceAccount: string },
    write: LineWriter,
    end?: () => void,
  ): ProxyConnection {
    const conn = new ProxyConnection(node, identity, write, end);
    let replaced = false;
    for (const old of this.#conns) {
      if (old.node.id !== node.id) continue;
      if (
        old.identity.namespace !== identity.namespace ||
        old.identity.serviceAccount !== identity.serviceAccount
      ) {
        log.warn("a proxy of another identity uses a connected node id; keeping both", {
          node: node.id,
        });
        continue;
      }
      this.#conns.delete(old);
      old.end();
      replaced = true;
    }
    this.#conns.add(conn);
    log.info(replaced ? "proxy reconnected; replaced its previous stream" : "proxy connected", {
      node: node.id,
      identity: `${identity.namespace}/${identity.serviceAccount}`,
    });
    if (this.#snapshot) conn.offer(generateProxyConfig(this.#snapshot, node));
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
    if (!this.#conns.delete(conn)) return;
    log.info("proxy disconnected", { node: conn.node.id });
    if (conn.node.mode === "sidecar" && conn.node.inboundPort) this.#onMembership();
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
    clearTimeout(this.#expiry);
    if (this.#restored.size === 0) return;
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
        log.info("dropped workloads that did not reconnect after the restart", { dropped });
        this.#onMembership();
      }
    }, graceMs + 10);
  }

  /** Stops the grace timer. */
  close(): void {
    clearTimeout(this.#expiry);
  }

  /** Workloads auto-registered by connected sidecars (and restored ones still in their grace period). */
  workloads(): RegisteredWorkload[] {
    const out: RegisteredWorkload[] = [...this.#restored.values()].map((r) => r.workload);
    for (const c of this.#conns) {
      const n = c.node;
      if (n.mode !== "sidecar" || !n.inboundPort) continue;
      out.push({
        name: n.workloadName ?? n.id,
        namespace: c.identity.namespace,
        serviceAccount: c.identity.serviceAccount,
        labels: n.labels,
        address: n.address,
        inboundPort: n.inboundPort,
        ...(n.appPort ? { appPort: n.appPort } : {}),
        nodeId: n.id,
      });
    }
    return out;
  }

  /** Generates and queues config for every proxy from `snapshot`. */
  push(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    const registry = new ServiceRegistry(snapshot);
    // Clusters depend on the client's namespace only (which DestinationRule applies), so
    // proxies of one namespace share them.
    const byNamespace = new Map<string, ReturnType<typeof buildClusters>>();
    const clustersOf = (ns: string) => {
      let c = byNamespace.get(ns);
      if (!c) byNamespace.set(ns, c = buildClusters(registry, ns));
      return c;
    };
    let pushed = 0;
    for (const c of this.#conns) {
      const cfg = generateProxyConfig(snapshot, c.node, registry, clustersOf(c.node.namespace));
      if (c.offer(cfg)) pushed++;
    }
    log.info("push", { revision: snapshot.revision, proxies: this.#conns.size, changed: pushed });
  }
}
