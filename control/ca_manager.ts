/**
 * The control plane's CA, kept current: loads the CA (self-signed in the data
 * dir, or Istio's plug-in layout), issues the control plane's own serving
 * certificate, notices root-rotation steps on disk, drives a rotation to its
 * end once proxies have caught up, and writes the certificate audit log.
 *
 * A rotation goes: `mesh ca rotate-root` adds a pending root → every proxy
 * gets it in its trust bundle and acks → the pending root becomes the signing
 * root (the old one stays trusted) → every proxy renews under it → the old
 * root is retired. No step removes trust anyone still needs.
 * @module
 */
import {
  type CaKeyType,
  CertificateAuthority,
  promotePendingRoot,
  retirePreviousRoots,
} from "../ca/ca.ts";
import { generateKey } from "../ca/pem.ts";
import { spiffeId } from "../ca/spiffe.ts";
import type { ProxyConnection } from "./push.ts";
import { logger } from "../util/log.ts";
import { DEFAULT_KEEP_LOGS, DEFAULT_MAX_LOG_BYTES, RotatingLog } from "../util/rotating_log.ts";
import { StorageError, storageErrorCode, storageProblem } from "../util/atomic_write.ts";

const log = logger("ca");

/** Settings of the CA manager. */
export interface CaManagerOptions {
  dataDir: string;
  trustDomain: string;
  workloadTtlMs?: number;
  keyType?: CaKeyType;
  /** Istio plug-in CA directory (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem). */
  pluginDir?: string;
  /** Names for the serving certificate (DNS names and IPs). */
  servingNames: string[];
  /** Size at which `audit.log` is rotated. Default 10 MiB. */
  auditMaxBytes?: number;
  /** Rotated audit logs kept (`audit.log.1` … `audit.log.<n>`). Default 3. */
  auditKeep?: number;
}

/** How often at most a failing audit log is reported on stderr. */
export const AUDIT_ERROR_INTERVAL_MS = 10_000;

const isIp = (s: string) => /^[\d.]+$/.test(s) || s.includes(":");

/** The CA as the control plane runs it. */
export class CaManager {
  readonly opts: CaManagerOptions;
  ca!: CertificateAuthority;
  serving!: { keyPem: string; certPem: string };
  #fingerprint = "";
  readonly #auditLog: RotatingLog;
  #auditErrorAt = -Infinity;
  #auditErrorsSince = 0;

  private constructor(opts: CaManagerOptions) {
    this.opts = opts;
    const path = `${opts.dataDir}/ca/audit.log`;
    this.#auditLog = new RotatingLog(path, {
      maxBytes: opts.auditMaxBytes ?? DEFAULT_MAX_LOG_BYTES,
      keep: opts.auditKeep ?? DEFAULT_KEEP_LOGS,
      mode: 0o600,
      // Rate-limited: a full disk must not turn every certificate into an error line.
      onError: (err, { pending, dropped }) => {
        this.#auditErrorsSince++;
        const now = performance.now();
        if (now - this.#auditErrorAt < AUDIT_ERROR_INTERVAL_MS) return;
        this.#auditErrorAt = now;
        log.error(
          "can't write the CA audit log; its records are kept in memory and written once it can be",
          {
            path,
            error: err,
            pending,
            dropped,
            failures: this.#auditErrorsSince,
            fix: err instanceof StorageError ? storageProblem(err.code, err.dir) : undefined,
          },
        );
        this.#auditErrorsSince = 0;
      },
      onRecover: ({ written, dropped }) => {
        this.#auditErrorAt = -Infinity;
        this.#auditErrorsSince = 0;
        log.info("the CA audit log is writable again", { path, written, dropped });
      },
    });
  }

  /** The directory of a self-signed CA. */
  get dir(): string {
    return this.opts.pluginDir ?? `${this.opts.dataDir}/ca`;
  }

  /**
   * Loads the CA and issues the serving certificate. Refuses to start on a data dir it can't
   * write (read-only), naming the dir: the audit log, spent tokens and registered workloads go
   * there.
   */
  static async start(opts: CaManagerOptions): Promise<CaManager> {
    await checkWritable(opts.dataDir);
    const m = new CaManager(opts);
    await m.#load();
    return m;
  }

  async #load(): Promise<void> {
    const o = {
      trustDomain: this.opts.trustDomain,
      workloadTtlMs: this.opts.workloadTtlMs,
      keyType: this.opts.keyType,
    };
    this.ca = this.opts.pluginDir
      ? await CertificateAuthority.loadPlugin(this.opts.pluginDir, o)
      : await CertificateAuthority.loadOrCreate(this.dir, o);
    this.#fingerprint = await this.#stat();
    const key = await generateKey();
    const cert = await this.ca.issueServing(key.keys.publicKey, {
      dns: this.opts.servingNames.filter((n) => !isIp(n)),
      ips: this.opts.servingNames.filter(isIp),
      spiffeId: spiffeId(this.opts.trustDomain, "istio-system", "istiod"),
    });
    this.serving = { keyPem: key.keyPem, certPem: cert.certChainPem };
  }

  /** Sizes and times of the CA files: changes when a rotation step is written. */
  async #stat(): Promise<string> {
    const parts: string[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (!e.name.endsWith(".pem")) continue;
        const st = await Deno.stat(`${this.dir}/${e.name}`);
        parts.push(`${e.name}:${st.size}:${st.mtime?.getTime()}`);
      }
    } catch { /* directory gone: keep serving what we have */ }
    return parts.sort().join(",");
  }

  /** Reloads when the CA files changed on disk; returns whether anything changed. */
  async reloadIfChanged(): Promise<boolean> {
    const fp = await this.#stat();
    if (fp === this.#fingerprint) return false;
    const before = `${this.ca.rootSha256}|${this.ca.trustBundlePem}`;
    try {
      await this.#load();
    } catch (err) {
      this.#fingerprint = fp; // don't retry a broken state every tick; the next write does
      log.error("CA files changed but can't be loaded; keeping the current CA", { error: err });
      return false;
    }
    const changed = `${this.ca.rootSha256}|${this.ca.trustBundlePem}` !== before;
    if (changed) {
      log.info("CA reloaded", {
        phase: this.ca.phase,
        signingRoot: this.ca.rootSha256.slice(0, 12),
      });
    }
    return changed;
  }

  /**
   * Moves a rotation on when proxies have caught up: promotes the pending
   * root once every proxy acked a config that trusts it (`trustedSince` is the
   * snapshot revision that first carried it), and retires the previous root
   * once every proxy's certificate chains to the new one.
   */
  async advanceRotation(
    conns: ProxyConnection[],
    trustedSince: number | undefined,
  ): Promise<boolean> {
    if (this.opts.pluginDir) return false;
    const phase = this.ca.phase;
    if (phase === "pending" && trustedSince !== undefined) {
      const behind = conns.filter((c) => Number(c.ackedVersion ?? -1) < trustedSince);
      if (behind.length > 0) return false;
      log.info("every proxy trusts the new root; it signs from now on", { proxies: conns.length });
      await promotePendingRoot(this.dir);
      await this.#load();
      return true;
    }
    if (phase === "promoted") {
      const behind = conns.filter((c) => c.certRoot !== this.ca.rootSha256);
      if (behind.length > 0) return false;
      log.info("every proxy renewed under the new root; retiring the previous root", {
        proxies: conns.length,
      });
      await retirePreviousRoots(this.dir);
      await this.#load();
      return true;
    }
    return false;
  }

  /**
   * Appends one JSON line to `<data-dir>/ca/audit.log`, rotated by size (`audit.log.1` …), and
   * never throws. While the disk refuses it the line is kept in memory (and the failure logged,
   * rate-limited) until a later write succeeds.
   */
  audit(record: Record<string, unknown>): Promise<void> {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }) + "\n";
    return this.#auditLog.append(line);
  }

  /** Audit records not written yet (the disk refused them). */
  get auditPending(): number {
    return this.#auditLog.pending;
  }
}

/** Throws a clear error when `dir` (created if missing) can't be written. */
async function checkWritable(dir: string): Promise<void> {
  const probe = `${dir}/.write-probe-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeFile(probe, new Uint8Array(0), { createNew: true, mode: 0o600 });
  } catch (err) {
    const code = storageErrorCode(err);
    if (code === "EROFS" || err instanceof Deno.errors.PermissionDenied) {
      const why = code === "EROFS" ? "a read-only file system" : "permission denied";
      throw new Error(
        `data dir ${dir} is not writable (${why}); the control plane keeps its CA, the audit ` +
          "log, spent tokens and registered workloads there: remount it read-write or pass a " +
          "writable --data-dir",
      );
    }
    // A full disk still lets the CA serve (with audit lines kept in memory); say so and go on.
    if (code) log.warn("data dir is full; serving anyway", { dir, fix: storageProblem(code, dir) });
    else throw err;
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
}
