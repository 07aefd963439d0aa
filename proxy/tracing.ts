/**
 * Distributed tracing, as Envoy's Zipkin tracer does it for Istio: B3 headers
 * (`x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled`, or the
 * single `b3` header) are read from each request and written onward, and each
 * sampled request becomes a Zipkin v2 span: CLIENT on the caller's proxy (and
 * gateways), SERVER on the callee's, both with the same span id (Zipkin's
 * shared span context). Spans are batched and sent to the collector in the
 * background; a collector that is down costs dropped spans, never requests.
 *
 * @example
 * ```ts
 * const tracer = new Tracer(settings, send);
 * const span = tracer.start("CLIENT", (n) => req.headers.get(n) ?? undefined);
 * upstreamHeaders.push(...span.headers());
 * span.end({ name: "reviews:9080/*", status: 200, method: "GET", url });
 * ```
 * @module
 */
import { isIP } from "node:net";
import type { HeaderChanges, TracingSettings } from "../api/proxy_config.ts";

/** A trace position read from B3 headers. */
export interface B3Context {
  traceId: string;
  spanId?: string;
  parentId?: string;
  /** The caller's sampling decision; undefined when it made none. */
  sampled?: boolean;
}

const HEX = /^[0-9a-f]{16}$|^[0-9a-f]{32}$/;
const SPAN = /^[0-9a-f]{16}$/;

function sampledOf(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === "1" || v === "true" || v === "d") return true;
  if (v === "0" || v === "false") return false;
  return undefined;
}

/** Reads B3 headers (multi-header form first, then the single `b3` header). */
export function readB3(header: (name: string) => string | undefined): B3Context | undefined {
  const traceId = header("x-b3-traceid")?.toLowerCase();
  const flags = header("x-b3-flags");
  const sampled = flags === "1" ? true : sampledOf(header("x-b3-sampled"));
  if (traceId !== undefined && HEX.test(traceId)) {
    const spanId = header("x-b3-spanid")?.toLowerCase();
    const parentId = header("x-b3-parentspanid")?.toLowerCase();
    return {
      traceId,
      spanId: spanId && SPAN.test(spanId) ? spanId : undefined,
      parentId: parentId && SPAN.test(parentId) ? parentId : undefined,
      sampled,
    };
  }
  // The single header `{traceid}-{spanid}[-{sampled}[-{parentid}]]` (a bare decision like
  // `b3: 0` carries no ids: see bareDecision).
  const single = header("b3")?.toLowerCase().trim();
  if (single?.includes("-")) {
    const [t, s, d, p] = single.split("-");
    if (t && HEX.test(t) && s && SPAN.test(s)) {
      return {
        traceId: t,
        spanId: s,
        parentId: p && SPAN.test(p) ? p : undefined,
        sampled: sampledOf(d),
      };
    }
  }
  return undefined;
}

/** A bare sampling decision sent without ids (`x-b3-sampled: 0`, `b3: 0`). */
function bareDecision(header: (name: string) => string | undefined): boolean | undefined {
  const flags = header("x-b3-flags");
  if (flags === "1") return true;
  const multi = sampledOf(header("x-b3-sampled"));
  if (multi !== undefined) return multi;
  const single = header("b3")?.trim();
  return single !== undefined && !single.includes("-") ? sampledOf(single) : undefined;
}

/** 16 random hex digits (a 64-bit id, as Envoy's default). */
export function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** What a finished request adds to its span. */
export interface SpanEnd {
  /** The operation, e.g. `reviews.default.svc.cluster.local:9080/*`. */
  name: string;
  status: number;
  method: string;
  url: string;
  upstreamCluster?: string;
  responseFlags?: string;
  requestId?: string;
  userAgent?: string;
  peerAddress?: string;
}

/** A request's span while it runs. */
export interface Span {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly sampled: boolean;
  /** The B3 headers to send onward (upstream, or to the app). */
  headers(): [string, string][];
  /** Ends the span (once); a sampled span is queued for the collector. */
  end(e: SpanEnd): void;
}

/** A Zipkin v2 span as sent to the collector. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: "CLIENT" | "SERVER";
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  remoteEndpoint?: { ipv4?: string; ipv6?: string };
  tags: Record<string, string>;
  shared?: boolean;
}

/** How a tracer sends a batch of spans (JSON text); rejections only drop the batch. */
export type SpanSender = (body: string) => Promise<void>;

/** Most spans kept waiting for the collector; past it, new spans are dropped. */
export const MAX_QUEUED_SPANS = 1000;
/** Most bytes of span data kept waiting (roughly); past it, new spans are dropped. */
export const MAX_QUEUED_BYTES = 4 << 20;
/** A batch this large is sent at once, without waiting for the interval. */
export const BATCH_SPANS = 100;
/** How often queued spans are sent. */
export const FLUSH_INTERVAL_MS = 1000;

/** Makes spans for one proxy and sends them in batches. */
export class Tracer {
  /** The current settings (a new config replaces them; spans already queued stay). */
  settings: TracingSettings;
  readonly #send: SpanSender;
  #queue: ZipkinSpan[] = [];
  #queuedBytes = 0;
  #closed = false;
  #timer?: ReturnType<typeof setTimeout>;
  #sending = false;
  /** Spans dropped because the queue was full or a send failed. */
  dropped = 0;

  constructor(
    settings: TracingSettings,
    send: SpanSender,
    readonly rand: () => number = Math.random,
  ) {
    this.settings = settings;
    this.#send = send;
  }

  /**
   * Starts the span of a request: a CLIENT span is a child of the caller's span (or a new
   * trace); a SERVER span shares the caller's span id when there is one.
   */
  start(kind: "CLIENT" | "SERVER", header: (name: string) => string | undefined): Span {
    const incoming = readB3(header);
    const decided = incoming?.sampled ?? bareDecision(header);
    const sampled = decided ?? this.rand() * 100 < this.settings.samplingPercent;
    let traceId: string;
    let id: string;
    let parentId: string | undefined;
    let shared = false;
    if (incoming && kind === "SERVER" && incoming.spanId) {
      traceId = incoming.traceId;
      id = incoming.spanId;
      parentId = incoming.parentId;
      shared = true;
    } else if (incoming) {
      traceId = incoming.traceId;
      id = newId();
      parentId = incoming.spanId;
    } else {
      traceId = newId() + newId(); // 128 bits, Istio's default for Zipkin
      id = newId();
    }
    const startUs = Date.now() * 1000;
    const t0 = performance.now();
    let ended = false;
    return {
      traceId,
      id,
      parentId,
      sampled,
      headers: () => {
        const h: [string, string][] = [
          ["x-b3-traceid", traceId],
          ["x-b3-spanid", id],
          ["x-b3-sampled", sampled ? "1" : "0"],
        ];
        if (parentId) h.push(["x-b3-parentspanid", parentId]);
        return h;
      },
      end: (e) => {
        if (ended) return;
        ended = true;
        if (!sampled || this.settings.disableSpanReporting || this.#closed) return;
        // Tracing never fails a request: a span that can't be made is dropped.
        try {
          this.#report(e, kind, traceId, id, parentId, shared, startUs, t0, header);
        } catch {
          this.dropped++;
        }
      },
    };
  }

  #report(
    e: SpanEnd,
    kind: "CLIENT" | "SERVER",
    traceId: string,
    id: string,
    parentId: string | undefined,
    shared: boolean,
    startUs: number,
    t0: number,
    header: (name: string) => string | undefined,
  ): void {
    this.#enqueue({
      traceId,
      id,
      ...(parentId ? { parentId } : {}),
      name: e.name,
      kind,
      timestamp: startUs,
      duration: Math.max(1, Math.round((performance.now() - t0) * 1000)),
      localEndpoint: { serviceName: this.settings.serviceName },
      ...(e.peerAddress && remoteOf(e.peerAddress)
        ? { remoteEndpoint: remoteOf(e.peerAddress) }
        : {}),
      tags: this.#tags(e, header),
      ...(shared ? { shared: true } : {}),
    });
  }

  #tags(e: SpanEnd, header: (name: string) => string | undefined): Record<string, string> {
    const tags: Record<string, string> = {
      "component": "proxy",
      "http.method": e.method,
      "http.url": e.url,
      "http.status_code": String(e.status),
      "http.protocol": "HTTP/1.1",
      "response_flags": e.responseFlags ?? "-",
    };
    if (e.upstreamCluster) tags["upstream_cluster"] = e.upstreamCluster;
    if (e.requestId) tags["guid:x-request-id"] = e.requestId;
    if (e.userAgent) tags["user_agent"] = e.userAgent;
    if (e.status >= 500 || e.status === 0) tags["error"] = "true";
    for (const [name, t] of Object.entries(this.settings.customTags ?? {})) {
      const v = "literal" in t
        ? t.literal
        : "header" in t
        ? header(t.header) ?? t.defaultValue
        : envOf(t.environment) ?? t.defaultValue;
      if (v !== undefined) tags[name] = v;
    }
    // Every tag is cut to the provider's maxTagLength (a client controls most of them).
    const max = this.settings.maxTagLength;
    for (const k in tags) if (tags[k].length > max) tags[k] = tags[k].slice(0, max);
    return tags;
  }

  #enqueue(span: ZipkinSpan): void {
    let size = 256;
    for (const k in span.tags) size += k.length + span.tags[k].length;
    if (this.#queue.length >= MAX_QUEUED_SPANS || this.#queuedBytes + size > MAX_QUEUED_BYTES) {
      this.dropped++;
      return;
    }
    this.#queue.push(span);
    this.#queuedBytes += size;
    // A full batch goes at once; otherwise within FLUSH_INTERVAL_MS.
    if (this.#queue.length >= BATCH_SPANS) {
      void this.flush();
      return;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer === undefined && !this.#closed) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, FLUSH_INTERVAL_MS);
      // Pending spans never keep a stopping proxy alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Sends what is queued now (one batch at a time; what queues meanwhile goes next). */
  async flush(): Promise<void> {
    if (this.#sending || this.#queue.length === 0 || this.#closed) return;
    this.#sending = true;
    const batch = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    try {
      await this.#send(JSON.stringify(batch));
    } catch {
      this.dropped += batch.length;
    } finally {
      this.#sending = false;
    }
    if (this.#queue.length) this.#schedule();
  }

  /** Stops: queued spans are dropped, and no span is queued or sent any more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
  }
}

/** Zipkin's remote endpoint for an address: only IP addresses have a field (names don't). */
function remoteOf(address: string): { ipv4?: string; ipv6?: string } | undefined {
  const kind = isIP(address);
  return kind === 4 ? { ipv4: address } : kind === 6 ? { ipv6: address } : undefined;
}

function envOf(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env permission
  }
}

/** The B3 headers any caller sent, replaced by those of this proxy's span. */
const B3_HEADERS = [
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "b3",
];

/** `changes` plus the replacement of the B3 headers by `span`'s. */
export function withTraceHeaders(changes: HeaderChanges | undefined, span: Span): HeaderChanges {
  return {
    ...changes,
    remove: [...(changes?.remove ?? []), ...B3_HEADERS],
    set: { ...changes?.set, ...Object.fromEntries(span.headers()) },
  };
}
