/**
 * The WorkloadGroup readiness probe, run by the sidecar against its app (as istio-agent runs a
 * VM's probe): `httpGet` (2xx and 3xx pass), `tcpSocket` (a connection opens) or `exec` (the
 * command exits 0), every `periodSeconds` after `initialDelaySeconds`, each attempt bounded by
 * `timeoutSeconds`. The result flips to ready after `successThreshold` passes in a row and to
 * not ready after `failureThreshold` failures in a row; each flip is reported (the control
 * plane takes a not-ready workload out of load balancing). One attempt at a time, whatever the
 * app does.
 *
 * @example
 * ```ts
 * const prober = new HealthProber({ probe: () => runtime?.config.healthProbe, report });
 * prober.start();
 * ```
 * @module
 */
import net from "node:net";
import type { HealthProbe } from "../api/proxy_config.ts";
import { logger } from "../util/log.ts";

const log = logger("probe");

/** What a {@linkcode HealthProber} needs. */
export interface HealthProberOptions {
  /** The probe of the current config (none: nothing runs). */
  probe: () => HealthProbe | undefined;
  /** Called when the result changes: ready or not, and why. */
  report: (healthy: boolean, message: string) => void;
  /** Where the app is when the probe names no host (default 127.0.0.1). */
  appHost?: string;
}

/** The outcome of one attempt. */
export interface ProbeResult {
  ok: boolean;
  message: string;
}

/** Runs one attempt of `p`. Never throws. */
export async function probeOnce(p: HealthProbe, appHost = "127.0.0.1"): Promise<ProbeResult> {
  const timeoutMs = p.timeoutSeconds * 1000;
  try {
    if (p.httpGet) {
      const h = p.httpGet;
      const host = h.host ?? appHost;
      const url = `${h.scheme.toLowerCase()}://${
        host.includes(":") ? `[${host}]` : host
      }:${h.port}${h.path.startsWith("/") ? h.path : `/${h.path}`}`;
      const headers = new Headers();
      for (const x of h.headers ?? []) if (x.name) headers.set(x.name, x.value);
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      const ok = res.status >= 200 && res.status < 400;
      return { ok, message: `GET ${h.path}: ${res.status}` };
    }
    if (p.tcpSocket) {
      const { port } = p.tcpSocket;
      const host = p.tcpSocket.host ?? appHost;
      await new Promise<void>((resolve, reject) => {
        const s = net.connect({ host, port });
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error("timed out"));
        }, timeoutMs);
        s.once("connect", () => {
          clearTimeout(timer);
          s.destroy();
          resolve();
        });
        s.once("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      return { ok: true, message: `tcp ${host}:${port}: connected` };
    }
    if (p.exec) {
      const [cmd, ...args] = p.exec.command;
      const out = await new Deno.Command(cmd, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        signal: AbortSignal.timeout(timeoutMs),
      }).output();
      const err = new TextDecoder().decode(out.stderr).trim().slice(0, 200);
      return out.success
        ? { ok: true, message: `exec: exit 0` }
        : { ok: false, message: `exec: exit ${out.code}${err ? `: ${err}` : ""}` };
    }
    return { ok: false, message: "the probe has no httpGet, tcpSocket or exec" };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** Runs the probe of the current config and reports each change of the result. */
export class HealthProber {
  readonly #o: HealthProberOptions;
  #timer?: ReturnType<typeof setTimeout>;
  #running = false;
  #stopped = false;
  #healthy?: boolean;
  #streak = 0;
  #streakOk = false;

  constructor(o: HealthProberOptions) {
    this.#o = o;
  }

  /** The last result reported (undefined before the first). */
  get healthy(): boolean | undefined {
    return this.#healthy;
  }

  /** Starts probing (after the probe's initial delay). */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const p = this.#o.probe();
    this.#schedule((p?.initialDelaySeconds ?? 0) * 1000);
  }

  /** Stops probing. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    const p = this.#o.probe();
    if (!p) {
      this.#schedule(1000); // no probe in this config (yet): look again soon
      return;
    }
    if (this.#running) return;
    this.#running = true;
    let r: ProbeResult;
    try {
      r = await probeOnce(p, this.#o.appHost);
    } finally {
      this.#running = false;
    }
    if (this.#stopped) return;
    this.#streak = r.ok === this.#streakOk ? this.#streak + 1 : 1;
    this.#streakOk = r.ok;
    const flip = r.ok
      ? this.#healthy !== true && this.#streak >= p.successThreshold
      : this.#healthy !== false && this.#streak >= p.failureThreshold;
    // Before any result, one failure is enough to say "not ready" (it isn't, yet).
    const first = this.#healthy === undefined && !r.ok;
    if (flip || first) {
      this.#healthy = r.ok;
      if (!r.ok) log.warn("readiness probe failing: out of load balancing", { why: r.message });
      else log.info("readiness probe passing", { why: r.message });
      this.#o.report(r.ok, r.message);
    }
    this.#schedule(p.periodSeconds * 1000);
  }
}
