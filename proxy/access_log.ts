/**
 * Access logs in Envoy's default format (what Istio prints with
 * `accessLogFile: /dev/stdout`), as text or JSON, one line per request, on
 * each proxy that handles it: the client side (outbound, gateway) and the
 * server side (inbound). Off unless the mesh config turns it on.
 *
 * @example
 * ```ts
 * const log = new AccessLog();
 * log.configure({ path: "/dev/stdout", encoding: "TEXT" });
 * log.write({ start: Date.now(), method: "GET", path: "/", status: 200, ... });
 * ```
 * @module
 */
import type { AccessLogSettings } from "../api/proxy_config.ts";

/** What one log line says about a request. */
export interface AccessEntry {
  /** Wall-clock start, ms since the epoch. */
  start: number;
  method: string;
  path: string;
  protocol?: string;
  status: number;
  /** Envoy response flags (`UO` overflow, `UF` connect failure, `UT` timeout, `FI` fault, ...). */
  flags?: string;
  bytesReceived?: number;
  bytesSent?: number;
  durationMs: number;
  forwardedFor?: string;
  userAgent?: string;
  requestId?: string;
  authority?: string;
  upstreamHost?: string;
  upstreamCluster?: string;
  routeName?: string;
}

const encoder = new TextEncoder();
const dash = (v: string | number | undefined) => v === undefined || v === "" ? "-" : String(v);
const quoted = (v: string | undefined) => `"${dash(v)}"`;

/** Envoy's default text format (fields mesh doesn't know print `-`). */
export function formatText(e: AccessEntry): string {
  return `[${new Date(e.start).toISOString()}] "${e.method} ${e.path} ${
    e.protocol ?? "HTTP/1.1"
  }" ${e.status} ${dash(e.flags)} - - "-" ${e.bytesReceived ?? 0} ${e.bytesSent ?? 0} ${
    Math.round(e.durationMs)
  } - ${quoted(e.forwardedFor)} ${quoted(e.userAgent)} ${quoted(e.requestId)} ${
    quoted(e.authority)
  } ${quoted(e.upstreamHost)} ${dash(e.upstreamCluster)} - - - - ${dash(e.routeName)}`;
}

/** Istio's JSON access log keys. */
export function formatJson(e: AccessEntry): string {
  return JSON.stringify({
    start_time: new Date(e.start).toISOString(),
    method: e.method,
    path: e.path,
    protocol: e.protocol ?? "HTTP/1.1",
    response_code: e.status,
    response_flags: e.flags ?? "-",
    bytes_received: e.bytesReceived ?? 0,
    bytes_sent: e.bytesSent ?? 0,
    duration: Math.round(e.durationMs),
    x_forwarded_for: e.forwardedFor ?? null,
    user_agent: e.userAgent ?? null,
    request_id: e.requestId ?? null,
    authority: e.authority ?? null,
    upstream_host: e.upstreamHost ?? null,
    upstream_cluster: e.upstreamCluster ?? null,
    route_name: e.routeName ?? null,
  });
}

/** The proxy's access log; reconfigured by each pushed config. */
export class AccessLog {
  #settings?: AccessLogSettings;
  #file?: Deno.FsFile;
  #failed = false;

  /** Whether lines are written (callers skip building entries otherwise). */
  get enabled(): boolean {
    return this.#settings !== undefined;
  }

  /** Applies the pushed settings (undefined turns logging off). */
  configure(settings: AccessLogSettings | undefined): void {
    if (
      settings?.path === this.#settings?.path && settings?.encoding === this.#settings?.encoding
    ) return;
    this.#file?.close();
    this.#file = undefined;
    this.#failed = false;
    this.#settings = settings;
  }

  /** Writes one entry; a log that can't be written is reported once and then skipped. */
  write(e: AccessEntry): void {
    const s = this.#settings;
    if (!s || this.#failed) return;
    const line = encoder.encode(
      (s.encoding === "JSON" ? formatJson(e) : formatText(e)) + "\n",
    );
    try {
      if (s.path === "/dev/stdout") Deno.stdout.writeSync(line);
      else if (s.path === "/dev/stderr") Deno.stderr.writeSync(line);
      else {
        this.#file ??= Deno.openSync(s.path, { append: true, create: true });
        this.#file.writeSync(line);
      }
    } catch (err) {
      this.#failed = true;
      console.error(
        `access log: can't write to ${s.path} (${(err as Error).message}); ` +
          "access logging is off until the setting changes",
      );
    }
  }
}
