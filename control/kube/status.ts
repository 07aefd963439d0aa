/**
 * `--write-status`: the `status` of each Istio resource in the Kubernetes API, written as
 * istiod writes it with `PILOT_ENABLE_STATUS` (istio.io/api `meta.v1alpha1.IstioStatus`):
 *
 * - `validationMessages`: Istio's `AnalysisMessageBase` (`type: {code, name}`, `level` in
 *   upper case, `documentationUrl` for `IST` codes), plus mesh's `description` (the message's
 *   text, which Istio leaves to `istioctl analyze`). mesh's own validation diagnostics become
 *   `IST0106 SchemaValidationError` (errors) and `IST0133 SchemaWarning` (warnings), as
 *   Istio reports schema problems;
 * - `conditions`: one `Reconciled` condition, `"True"` when mesh serves the resource, `"False"`
 *   (with the first error) when it rejected it; `lastTransitionTime` moves only when the
 *   status does;
 * - `observedGeneration`: the object's `metadata.generation`, a string, as protojson writes an
 *   int64.
 *
 * {@linkcode StatusWriter} writes only what changed (it reads the object first and compares,
 * timestamps aside), at most once per resource per second (the latest wins), a few at a time,
 * with `PATCH .../<plural>/<name>/status` (`application/merge-patch+json`). Failures are
 * logged once per distinct error and retried; a 404 drops the resource (it's gone), a 403
 * names the permission the role lacks. {@linkcode statusMessagesOf} computes the messages per
 * resource from a store snapshot: the store's diagnostics plus the analyzers that need nothing
 * but Istio resources and Services.
 *
 * @example
 * ```ts
 * const writer = new StatusWriter({ kube });
 * writer.update(statusMessagesOf(store.snapshot()));
 * await writer.close();
 * ```
 * @module
 */
import type { Diagnostic } from "../../api/diagnostic.ts";
import { type Kind, KIND_INFO, MESH } from "../../api/kinds.ts";
import type { Resource } from "../../api/resources.ts";
import { type Clock, realClock } from "../../util/clock.ts";
import { logger } from "../../util/log.ts";
import { analyze } from "../analyze/mod.ts";
import {
  documentationUrl,
  type Level,
  type Message,
  newMessage,
  SchemaValidationError,
  SchemaWarning,
} from "../analyze/messages.ts";
import { destinationHostAnalyzer } from "../analyze/destination_hosts.ts";
import { destinationSubsetAnalyzer } from "../analyze/destination_subsets.ts";
import { destinationRuleTlsAnalyzer } from "../analyze/destination_rule_tls.ts";
import { meshHostsAnalyzer } from "../analyze/mesh_hosts.ts";
import { serviceEntryAddressAnalyzer } from "../analyze/serviceentry_addresses.ts";
import { serviceEntryProtocolAnalyzer } from "../analyze/serviceentry_protocols.ts";
import { unreachableRulesAnalyzer } from "../analyze/unreachable_rules.ts";
import { vsGatewayAnalyzer } from "../analyze/vs_gateways.ts";
import { KubeApiError, type KubeClient, type KubeObject, resourcePath } from "./client.ts";

const log = logger("status");

/** One entry of `status.validationMessages` (Istio's `AnalysisMessageBase`, plus text). */
export interface ValidationMessage {
  type: { code: string; name: string };
  level: "ERROR" | "WARNING" | "INFO";
  documentationUrl?: string;
  /** mesh's addition: the message text. */
  description?: string;
}

/** One entry of `status.conditions` (Istio's `IstioCondition`). */
export interface IstioCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  lastProbeTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** Istio's `IstioStatus`, as JSON. */
export interface IstioStatus {
  conditions?: IstioCondition[];
  validationMessages?: ValidationMessage[];
  /** int64, a string in JSON. */
  observedGeneration?: string;
  [k: string]: unknown;
}

/** What a resource's status should say: its messages, and a token of its content. */
export interface StatusEntry {
  messages: readonly Message[];
  /**
   * Changes when the object's spec does (its generation then moves, and so must
   * `observedGeneration`, even when the messages stay the same).
   */
  version?: string;
}

/** The analyzers whose inputs a store snapshot has (no Pods, Secrets or Namespaces). */
export const STATUS_ANALYZERS = [
  destinationHostAnalyzer,
  destinationSubsetAnalyzer,
  destinationRuleTlsAnalyzer,
  meshHostsAnalyzer,
  serviceEntryAddressAnalyzer,
  serviceEntryProtocolAnalyzer,
  unreachableRulesAnalyzer,
  vsGatewayAnalyzer,
];

const LEVEL: Record<Level, ValidationMessage["level"]> = {
  Error: "ERROR",
  Warning: "WARNING",
  Info: "INFO",
};

/** A message as a `validationMessages` entry. */
export function validationMessageOf(m: Message): ValidationMessage {
  const url = documentationUrl(m.code);
  return {
    type: { code: m.code, name: m.name },
    level: LEVEL[m.level],
    ...(url ? { documentationUrl: url } : {}),
    description: m.message,
  };
}

/** A store diagnostic as an analyzer message (`IST0106` errors, `IST0133` warnings). */
export function diagnosticMessage(d: Diagnostic): Message {
  const text = d.path ? `${d.path}: ${d.message}` : d.message;
  return newMessage(d.severity === "error" ? SchemaValidationError : SchemaWarning, [text], {
    ...(d.kind && d.name
      ? { resource: { kind: d.kind, namespace: d.namespace, name: d.name } }
      : {}),
    file: d.file,
  });
}

/** Whether a store key names an Istio kind that lives in the Kubernetes API. */
export function isStatusKind(kind: string): kind is Kind {
  const info = KIND_INFO[kind as Kind];
  return !!info && info.group !== MESH && info.group.endsWith("istio.io");
}

/**
 * The status each Istio resource of the kube source should carry, by `Kind/namespace/name`:
 * every resource read from the Kubernetes API (served or rejected) is there, with no messages
 * when nothing is wrong. `analyzers: false` leaves the analyzers out (validation only).
 */
export function statusMessagesOf(
  snapshot: { resources: readonly Resource[]; diagnostics: readonly Diagnostic[] },
  o: { analyzers?: boolean } = {},
): Map<string, StatusEntry> {
  const out = new Map<string, { messages: Message[]; version?: string }>();
  const entry = (key: string) => {
    let e = out.get(key);
    if (!e) out.set(key, e = { messages: [] });
    return e;
  };
  for (const d of snapshot.diagnostics) {
    const m = /^kube:([^/]+)\/([^/]*)\/([^/]+)$/.exec(d.file);
    if (!m || !isStatusKind(m[1])) continue;
    const e = entry(`${m[1]}/${m[2]}/${m[3]}`);
    e.messages.push(diagnosticMessage(d));
    // A rejected object's diagnostics are its content token (it isn't among the resources).
    e.version = (e.version ?? "") + `${d.path}\n${d.message}\n`;
  }
  for (const r of snapshot.resources) {
    const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    if (r.source.file !== `kube:${key}` || !isStatusKind(r.kind)) continue;
    entry(key).version = JSON.stringify((r as { spec?: unknown }).spec ?? null);
  }
  if (o.analyzers ?? true) {
    const inputs = snapshot.resources.map((r) => {
      const { source, kind, ...doc } = r as Resource & { source: unknown };
      void source;
      return {
        file: r.source.file,
        text: JSON.stringify({ ...doc, kind: KIND_INFO[kind as Kind]?.kind ?? kind }),
      };
    });
    const { messages } = analyze(inputs, { analyzers: STATUS_ANALYZERS });
    for (const m of messages) {
      // Schema messages repeat the store's own diagnostics.
      if (m.code === SchemaValidationError.code || m.code === SchemaWarning.code) continue;
      if (!m.resource) continue;
      const key = `${m.resource.kind}/${m.resource.namespace ?? ""}/${m.resource.name}`;
      out.get(key)?.messages.push(m);
    }
  }
  return out;
}

/** A timestamp as Kubernetes writes them (seconds, UTC). */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

/**
 * The status `messages` give an object at `generation`, keeping the condition's transition
 * time from `previous` when its status didn't change; other fields of `previous` are kept.
 */
export function statusOf(
  messages: readonly Message[],
  generation: number | undefined,
  previous: IstioStatus | undefined,
  now: Date,
): IstioStatus {
  const vms = messages.map(validationMessageOf);
  const firstError = messages.find((m) => m.level === "Error");
  const status: IstioCondition["status"] = firstError ? "False" : "True";
  const before = previous?.conditions?.find((c) => c.type === "Reconciled");
  const t = kubeTime(now);
  const cond: IstioCondition = {
    type: "Reconciled",
    status,
    lastProbeTime: t,
    lastTransitionTime: before?.status === status && before.lastTransitionTime
      ? before.lastTransitionTime
      : t,
    ...(firstError ? { message: `rejected: [${firstError.code}] ${firstError.message}` } : {}),
  };
  const out: IstioStatus = { ...(previous ?? {}) };
  out.conditions = [
    ...(previous?.conditions ?? []).filter((c) => c.type !== "Reconciled"),
    cond,
  ];
  if (vms.length) out.validationMessages = vms;
  else delete out.validationMessages;
  if (generation !== undefined) out.observedGeneration = String(generation);
  return out;
}

/** The comparable form of a status: timestamps (`lastProbeTime`, `lastTransitionTime`) aside. */
function comparable(s: IstioStatus | undefined): string {
  const conds = (s?.conditions ?? []).map(({ lastProbeTime, lastTransitionTime, ...c }) => {
    void lastProbeTime, lastTransitionTime;
    return c;
  });
  return JSON.stringify([
    conds,
    s?.validationMessages ?? [],
    s?.observedGeneration === undefined ? null : String(s.observedGeneration),
  ]);
}

/** Whether two statuses say the same (timestamps aside). */
export function sameStatus(a: IstioStatus | undefined, b: IstioStatus | undefined): boolean {
  return comparable(a) === comparable(b);
}

/** The merge patch that turns an object's `status` into `next` (null clears messages). */
export function statusPatch(next: IstioStatus): { status: Record<string, unknown> } {
  return {
    status: {
      conditions: next.conditions ?? null,
      validationMessages: next.validationMessages ?? null,
      observedGeneration: next.observedGeneration ?? null,
    },
  };
}

/** What {@linkcode StatusWriter} takes. */
export interface StatusWriterOptions {
  kube: Pick<KubeClient, "request">;
  /** Timers (default the real clock). */
  clock?: Clock;
  /** Wall-clock time for the condition timestamps (default `new Date()`). */
  now?: () => Date;
  /** Least time between two writes of one resource (default 1000 ms). */
  minIntervalMs?: number;
  /** Writes in flight at once (default 4). */
  concurrency?: number;
  /** Wait before retrying a failed write (default 10 s). */
  retryMs?: number;
}

interface Tracked {
  entry: StatusEntry;
  /** Fingerprint of `entry`. */
  want: string;
  /** Fingerprint last written (or found already there). */
  done?: string;
  lastWriteAt?: number;
  timer?: unknown;
  queued: boolean;
  inFlight: boolean;
}

/** Writes Istio resources' status, as `update` calls say it should be. */
export class StatusWriter {
  readonly #kube: Pick<KubeClient, "request">;
  readonly #clock: Clock;
  readonly #now: () => Date;
  readonly #minIntervalMs: number;
  readonly #concurrency: number;
  readonly #retryMs: number;
  readonly #tracked = new Map<string, Tracked>();
  readonly #ready: string[] = [];
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #logged = new Set<string>();
  #closed = false;
  /** Writes done (PATCHes sent and answered), for tests and metrics. */
  writes = 0;

  constructor(o: StatusWriterOptions) {
    this.#kube = o.kube;
    this.#clock = o.clock ?? realClock;
    this.#now = o.now ?? (() => new Date());
    this.#minIntervalMs = o.minIntervalMs ?? 1000;
    this.#concurrency = o.concurrency ?? 4;
    this.#retryMs = o.retryMs ?? 10_000;
  }

  /**
   * The status every tracked resource should have now, by `Kind/namespace/name`. Resources
   * left out are forgotten (they're gone); one with no messages gets its messages cleared.
   */
  update(entries: ReadonlyMap<string, StatusEntry>): void {
    if (this.#closed) return;
    for (const [key, t] of this.#tracked) {
      if (entries.has(key)) continue;
      this.#clock.clearTimeout(t.timer);
      this.#tracked.delete(key);
    }
    for (const [key, entry] of entries) {
      const want = fingerprint(entry);
      let t = this.#tracked.get(key);
      if (!t) {
        t = { entry, want, queued: false, inFlight: false };
        this.#tracked.set(key, t);
      }
      t.entry = entry;
      t.want = want;
      if (t.done === want) continue;
      this.#schedule(key, t);
    }
    this.#pump();
  }

  /** Puts `key` in the ready queue now, or sets a timer for when its interval allows. */
  #schedule(key: string, t: Tracked, delayMs?: number): void {
    if (t.queued || t.inFlight || t.timer !== undefined) return;
    const since = t.lastWriteAt === undefined ? Infinity : this.#clock.now() - t.lastWriteAt;
    const wait = delayMs ?? Math.max(0, this.#minIntervalMs - since);
    if (wait <= 0) {
      t.queued = true;
      this.#ready.push(key);
      return;
    }
    t.timer = this.#clock.setTimeout(() => {
      t.timer = undefined;
      if (this.#closed || this.#tracked.get(key) !== t || t.done === t.want) return;
      t.queued = true;
      this.#ready.push(key);
      this.#pump();
    }, wait);
  }

  #pump(): void {
    while (!this.#closed && this.#inFlight.size < this.#concurrency && this.#ready.length) {
      const key = this.#ready.shift()!;
      const t = this.#tracked.get(key);
      if (!t) continue;
      t.queued = false;
      if (t.done === t.want) continue;
      t.inFlight = true;
      const p: Promise<void> = this.#write(key, t).catch(() => true).then((failed) => {
        this.#inFlight.delete(p);
        t.inFlight = false;
        if (!this.#closed && this.#tracked.get(key) === t && t.done !== t.want) {
          this.#schedule(key, t, failed ? this.#retryMs : undefined);
        }
        this.#pump();
      });
      this.#inFlight.add(p);
    }
  }

  /** Writes `key`'s status if it differs; resolves true when it failed (to be retried). */
  async #write(key: string, t: Tracked): Promise<boolean> {
    const want = t.want;
    const entry = t.entry;
    const [kind, namespace, name] = key.split("/");
    const info = KIND_INFO[kind as Kind];
    if (!info) {
      t.done = want;
      return false;
    }
    const ref = {
      group: info.group,
      version: info.versions[0],
      plural: info.plural,
      namespace: namespace || undefined,
      name,
    };
    t.lastWriteAt = this.#clock.now();
    try {
      const obj = await this.#kube.request<KubeObject>("GET", resourcePath(ref), {
        signal: this.#abort.signal,
      });
      const previous = obj.status as IstioStatus | undefined;
      const next = statusOf(entry.messages, obj.metadata.generation, previous, this.#now());
      if (!sameStatus(previous, next)) {
        await this.#kube.request("PATCH", resourcePath({ ...ref, subresource: "status" }), {
          body: statusPatch(next),
          contentType: "application/merge-patch+json",
          signal: this.#abort.signal,
        });
        this.writes++;
      }
      t.done = want;
      return false;
    } catch (err) {
      if (this.#closed) return false;
      if (err instanceof KubeApiError && err.status === 404) {
        t.done = want; // gone: the store's next snapshot forgets it
        return false;
      }
      let text = err instanceof Error ? err.message : String(err);
      let once = text;
      if (err instanceof KubeApiError && err.status === 403) {
        once = `403 ${info.plural}`; // once per kind, not per object
        text = `the role may not write ${info.plural}/status: grant verb "patch" on resource ` +
          `"${info.plural}/status" in API group "${info.group}" (${text})`;
      }
      if (!this.#logged.has(once)) {
        if (this.#logged.size >= 1000) this.#logged.clear();
        this.#logged.add(once);
        log.warn("can't write a resource's status; will retry", { resource: key, error: text });
      }
      // Retried later (a timer, not the ready queue, so a failing server isn't hammered).
      return true;
    }
  }

  /** Resolves when nothing is queued or in flight (timers may still be set). */
  async idle(): Promise<void> {
    while (this.#inFlight.size) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops: timers cleared, writes in flight aborted and waited for. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#tracked.values()) this.#clock.clearTimeout(t.timer);
    this.#ready.length = 0;
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight]);
    this.#tracked.clear();
  }
}

function fingerprint(e: StatusEntry): string {
  return JSON.stringify([
    e.version ?? "",
    e.messages.map((m) => [m.code, m.name, m.level, m.message]),
  ]);
}
