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
}

const isIp = (s: string) => /^[\d.]+$/.test(s) || s.includes(":");

/** The CA as the control plane runs it. */
export class CaManager {
  readonly opts: CaManagerOptions;
  ca!: CertificateAuthority;
  serving!: { keyPem: string; certPem: string };
  #fingerprint = "";
  #auditing: Promise<void> = Promise.resolve();

  private constructor(opts: CaManagerOptions) {
    this.opts = opts;
  }

  /** The directory of a self-signed CA. */
  get dir(): string {
    return this.opts.pluginDir ?? `${this.opts.dataDir}/ca`;
  }

  /** Loads the CA and issues the serving certificate. */
  static async start(opts: CaManagerOptions): Promise<CaManager> {
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

  /** Appends one JSON line to `<data-dir>/ca/audit.log` (and never throws). */
  audit(record: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }) + "\n";
    const path = `${this.opts.dataDir}/ca/audit.log`;
    this.#auditing = this.#auditing
      .then(() => Deno.writeTextFile(path, line, { append: true, mode: 0o600 }))
      .catch((err) => log.error("can't write the CA audit log", { path, error: err }));
  }
}
