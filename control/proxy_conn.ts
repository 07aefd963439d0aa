/**
 * One connected proxy, as the push protocol sees it (docs/push-protocol.md):
 * per part, what the proxy acknowledged, what is awaiting its ack (one message
 * at most) and what it rejected. {@linkcode ProxyConnection.send} works out
 * what differs from what the proxy should have now and writes one message;
 * proxies that announce no protocol get the whole config (the older form).
 *
 * @example
 * ```ts
 * const conn = new ProxyConnection({ node, identity, write, deps });
 * conn.send(generator);           // from the push queue
 * conn.ack({ type: "ack", nonce: "1", parts: { routes: "…" } });
 * ```
 * @module
 */
import type { NodeInfo } from "../api/proxy_config.ts";
import {
  PART_NAMES,
  type PartName,
  type PartsAckMessage,
  type PartsNackMessage,
  PUSH_PROTOCOL,
} from "../api/push_protocol.ts";
import type { Part, PartCache } from "./parts.ts";
import type { PartGenerator } from "./part_gen.ts";
import { type ControlMetrics, XDS_TYPE } from "./metrics.ts";
import { logger } from "../util/log.ts";

const log = logger("push");

/** Writes a line to the proxy; returns false when the transport buffer is full. */
export type LineWriter = (line: string) => boolean;

/** The one message awaiting the proxy's answer. */
interface Inflight {
  nonce: string;
  version: string;
  parts: Map<PartName, Part>;
  /** Resolves {@linkcode ProxyConnection.answered}. */
  done: () => void;
  answered: Promise<void>;
}

/** What a connection needs from its hub. */
export interface ConnectionDeps {
  cache: PartCache;
  metrics: ControlMetrics;
  /** Puts the connection back in the push queue. */
  requeue: (conn: ProxyConnection) => void;
}

/** Settings of a {@linkcode ProxyConnection}. */
export interface ProxyConnectionOptions {
  node: NodeInfo;
  identity: { namespace: string; serviceAccount: string };
  write: LineWriter;
  /** Ends the transport. */
  end?: () => void;
  /** The hello's `protocol` (absent: an older proxy that takes whole configs). */
  protocol?: number;
  /** The hello's `have`: the part versions the proxy serves. */
  have?: Partial<Record<PartName, string>>;
  deps: ConnectionDeps;
}

/** A part's state for `mesh proxy-status`. */
export interface PartStatus {
  /** The version the proxy should have. */
  version?: string;
  /** The version it acknowledged. */
  acked?: string;
  state: "SYNCED" | "STALE" | "NOT SENT";
  /** Why the proxy rejected `rejected`. */
  error?: string;
  rejected?: string;
}

interface Held {
  version: string;
  /** The part object, when still known (a delta can be made from it). */
  part?: Part;
}

/** One connected proxy. */
export class ProxyConnection {
  readonly node: NodeInfo;
  readonly identity: { namespace: string; serviceAccount: string };
  readonly connectedAt = new Date();
  readonly protocol: number;
  /** Snapshot revision of the last message sent (or found already in effect). */
  sentVersion?: string;
  /** Snapshot revision of the last message acknowledged (or found already in effect). */
  ackedVersion?: string;
  /** SHA-256 of the root the proxy's current certificate chains to (from its acks). */
  certRoot?: string;
  lastNack?: string;
  /** Its WorkloadGroup probe's last result (as the proxy reports it); none before the first. */
  healthy?: boolean;
  readonly #acked = new Map<PartName, Held>();
  readonly #rejected = new Map<PartName, { version: string; error: string }>();
  #inflight?: Inflight;
  /** A push came while a message was out: look again at the ack. */
  #stale = false;
  /** The first change not yet delivered (ms since the epoch), for the convergence metric. */
  #pendingSince?: number;
  #nonce = 0;
  #closed = false;
  #write: LineWriter;
  #end?: () => void;
  #deps: ConnectionDeps;
  /** Whole-config proxies: the part versions of the last config sent, the unsent line. */
  #legacyKey?: string;
  #pending?: string;
  #blocked = false;

  constructor(o: ProxyConnectionOptions) {
    this.node = o.node;
    this.identity = o.identity;
    this.protocol = o.protocol ?? 1;
    this.#write = o.write;
    this.#end = o.end;
    this.#deps = o.deps;
    if (this.protocol >= PUSH_PROTOCOL) {
      for (const p of PART_NAMES) {
        const v = o.have?.[p];
        if (typeof v === "string" && v) {
          this.#acked.set(p, { version: v, part: o.deps.cache.get(v) });
        }
      }
    }
  }

  /** Ends the transport (a newer stream of the same proxy replaced this one). */
  end(): void {
    this.#closed = true;
    this.#inflight?.done();
    const end = this.#end;
    this.#end = undefined;
    try {
      end?.();
    } catch (err) {
      log.debug("ending a replaced stream failed", { node: this.node.id, error: err });
    }
  }

  /** The stream closed: nothing more is sent. */
  closed(): void {
    this.#closed = true;
    this.#inflight?.done();
  }

  /**
   * Resolves when the message sent last is acknowledged or rejected, or the stream closes;
   * undefined when none is awaiting an answer. The push queue holds a send slot until then
   * (or its slot time runs out), which bounds the pushes being written at once.
   */
  answered(): Promise<void> | undefined {
    return this.#inflight?.answered;
  }

  /** A push is coming for changes made since `since` (ms since the epoch). */
  markDue(since: number | undefined): void {
    if (since !== undefined) this.#pendingSince = Math.min(this.#pendingSince ?? since, since);
  }

  /** Sends what differs from what the proxy should have under `gen`; returns bytes written. */
  send(gen: PartGenerator): number {
    if (this.#closed) return 0;
    if (this.protocol < PUSH_PROTOCOL) return this.#sendWhole(gen);
    if (this.#inflight) {
      this.#stale = true;
      return 0;
    }
    const started = performance.now();
    const revision = String(gen.snapshot.revision);
    let key = "";
    const parts = new Map<PartName, Part>();
    const bases = new Map<PartName, Part | undefined>();
    for (const p of PART_NAMES) {
      const target = gen.part(p, this.node);
      const held = this.#acked.get(p);
      if (held?.version === target.version) {
        if (!held.part) held.part = target;
        continue;
      }
      if (this.#rejected.get(p)?.version === target.version) continue;
      key += `|${p}:${held?.part?.version ?? ""}>${target.version}`;
      parts.set(p, target);
      bases.set(p, held?.part);
    }
    // The first exchange always happens, so the proxy learns the revision it is in sync with.
    if (parts.size === 0 && this.sentVersion !== undefined) {
      this.sentVersion = this.ackedVersion = revision;
      this.#converged();
      return 0;
    }
    const nonce = String(++this.#nonce);
    const line = gen.line(`${nonce}|${revision}${key}`, () => {
      const pieces = [...parts].map(([p, target]) => `"${p}":${target.wire(bases.get(p))}`);
      return `{"type":"push","nonce":"${nonce}","version":"${revision}","parts":{${
        pieces.join(",")
      }}}\n`;
    });
    const { promise: answered, resolve: done } = Promise.withResolvers<void>();
    this.#inflight = { nonce, version: revision, parts, done, answered };
    this.sentVersion = revision;
    this.#write(line);
    const m = this.#deps.metrics;
    const seconds = (performance.now() - started) / 1000;
    for (const p of parts.keys()) {
      m.pushes.inc({ type: XDS_TYPE[p] });
      m.pushTime.observe(seconds, { type: XDS_TYPE[p] });
    }
    m.bytes.inc(undefined, line.length);
    return line.length;
  }

  /** The older form: the whole config, when any part of it changed. */
  #sendWhole(gen: PartGenerator): number {
    const parts = gen.parts(this.node);
    const key = PART_NAMES.map((p) => parts[p].version).join(",");
    const revision = String(gen.snapshot.revision);
    if (key === this.#legacyKey) {
      if (this.ackedVersion === this.sentVersion) this.ackedVersion = revision;
      this.sentVersion = revision;
      this.#converged();
      return 0;
    }
    this.#legacyKey = key;
    this.#pending = gen.line(
      `whole|${revision}|${key}`,
      () => `{"type":"config","config":${wholeConfigText(revision, parts)}}\n`,
    );
    this.sentVersion = revision;
    const n = this.#pending.length;
    this.#deps.metrics.pushes.inc({ type: "full" });
    this.#deps.metrics.bytes.inc(undefined, n);
    this.#flush();
    return n;
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

  #converged(): void {
    if (this.#pendingSince === undefined) return;
    this.#deps.metrics.convergence.observe((Date.now() - this.#pendingSince) / 1000);
    this.#pendingSince = undefined;
  }

  /** The proxy applied a message (or, without a nonce, reports its certificate). */
  ack(msg: PartsAckMessage): void {
    if (typeof msg.certRoot === "string") this.certRoot = msg.certRoot;
    if (this.protocol < PUSH_PROTOCOL) {
      if (typeof msg.version === "string") this.ackedVersion = msg.version;
      if (this.ackedVersion === this.sentVersion) this.#converged();
      return;
    }
    const f = this.#inflight;
    if (!f || msg.nonce !== f.nonce) return;
    this.#inflight = undefined;
    f.done();
    for (const [p, part] of f.parts) {
      this.#acked.set(p, { version: part.version, part });
      this.#rejected.delete(p);
    }
    this.ackedVersion = f.version;
    if (this.#stale) {
      this.#stale = false;
      this.#deps.requeue(this);
    } else if (this.#rejected.size === 0) {
      this.#converged();
    }
  }

  /** The proxy did not apply a message: record why, and send the rest again. */
  nack(msg: PartsNackMessage): void {
    if (this.protocol < PUSH_PROTOCOL) {
      this.lastNack = msg.error ?? "rejected";
      log.warn("proxy rejected config", {
        node: this.node.id,
        version: msg.version,
        error: msg.error,
      });
      return;
    }
    const f = this.#inflight;
    if (!f || msg.nonce !== f.nonce) return;
    this.#inflight = undefined;
    f.done();
    this.#stale = false;
    // A nack is the proxy's word: anything that isn't a list of parts counts as none.
    const resync = (Array.isArray(msg.resync) ? msg.resync : []).filter((p) => f.parts.has(p));
    for (const p of resync) this.#acked.delete(p);
    const named = msg.errors && typeof msg.errors === "object" ? msg.errors : {};
    let errors = Object.entries(named).filter(([p]) => f.parts.has(p as PartName));
    if (errors.length === 0 && resync.length === 0) {
      errors = [...f.parts.keys()].map((p) => [p, msg.error ?? "rejected"]);
    }
    for (const [p, error] of errors) {
      const part = f.parts.get(p as PartName)!;
      this.#rejected.set(p as PartName, { version: part.version, error: String(error) });
      this.#deps.metrics.rejects.inc({ type: XDS_TYPE[p as PartName] });
    }
    if (errors.length) {
      this.lastNack = errors.map(([p, e]) => `${p}: ${e}`).join("; ");
      log.warn("proxy rejected config", {
        node: this.node.id,
        version: f.version,
        error: this.lastNack,
      });
    }
    this.#deps.requeue(this);
  }

  /** Per part: what the proxy should have under `gen`, what it acknowledged, and the state. */
  status(gen: PartGenerator | undefined): Record<PartName, PartStatus> {
    const out = {} as Record<PartName, PartStatus>;
    const whole = this.protocol < PUSH_PROTOCOL;
    for (const p of PART_NAMES) {
      const version = gen?.part(p, this.node).version;
      const acked = whole
        ? (this.ackedVersion !== undefined && this.ackedVersion === this.sentVersion &&
          this.#legacyKey?.split(",")[PART_NAMES.indexOf(p)]) || undefined
        : this.#acked.get(p)?.version;
      const rejected = this.#rejected.get(p);
      const state = acked === undefined && !this.#inflight?.parts.has(p)
        ? "NOT SENT"
        : acked === version && !this.#inflight?.parts.has(p)
        ? "SYNCED"
        : "STALE";
      out[p] = {
        ...(version !== undefined ? { version } : {}),
        ...(acked !== undefined ? { acked } : {}),
        state,
        ...(rejected ? { rejected: rejected.version, error: rejected.error } : {}),
      };
    }
    return out;
  }
}

/** The whole config as JSON text, from the parts' item texts (nothing stringified again). */
export function wholeConfigText(version: string, parts: Record<PartName, Part>): string {
  const fields = [`"version":${JSON.stringify(version)}`];
  for (const p of ["secrets", "listeners", "policies"] as const) {
    for (const k of parts[p].keys) fields.push(`${JSON.stringify(k)}:${parts[p].json.get(k)}`);
  }
  const routes = parts.routes;
  fields.push(`"virtualHosts":[${routes.keys.map((k) => routes.json.get(k)).join(",")}]`);
  const cl = parts.clusters;
  const ep = parts.endpoints;
  const clusters = cl.keys.map((k) => {
    const c = cl.json.get(k)!;
    const body = c.slice(0, -1); // "{…" without its "}"
    return `${JSON.stringify(k)}:${body}${body.length > 1 ? "," : ""}"endpoints":${
      ep.json.get(k) ?? "[]"
    }}`;
  });
  fields.push(`"clusters":{${clusters.join(",")}}`);
  return `{${fields.join(",")}}`;
}
