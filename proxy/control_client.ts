/**
 * The proxy's side of the control plane: trust bootstrap (a root file, or the
 * root pinned by the bootstrap token), its certificate (key made here, CSR
 * signed there, renewed at half its lifetime), and the push stream whose
 * configs arrive as a watched latest value. A lost control plane leaves the
 * last config serving while the client reconnects with capped, jittered
 * backoff (a returning control plane is found within a few seconds). The push
 * stream is HTTP/2 on mesh's own codec (`push_stream.ts`, HTTP/1.1 when the
 * server offers only that); the signing calls are HTTP/1.1 over `node:tls`.
 * Nothing here uses `node:http2`, which can abort the process on Deno 2.9
 * (denoland/deno#36788).
 * @module
 */
import { loadCredentials, saveCredentials } from "./saved_credentials.ts";
import tls from "node:tls";
import { H1Pool } from "./h1_client.ts";
import { createCsr } from "../ca/csr.ts";
import { X509Certificate } from "node:crypto";
import { splitPem } from "../ca/pem_text.ts";
import { peekClaims } from "../ca/token_claims.ts";
import { Backoff, sleep } from "../util/backoff.ts";
import { openPushStream, type PushStream } from "./push_stream.ts";
import { Watched } from "../util/watch.ts";
import { logger } from "../util/log.ts";
import type { NodeInfo, ProxyConfig, PushMessage } from "../api/proxy_config.ts";
import {
  type PartsAckMessage,
  type PartsNackMessage,
  type PartsPushMessage,
  PUSH_PROTOCOL,
} from "../api/push_protocol.ts";
import { PartsState } from "./parts_state.ts";

const log = logger("control-client");

/** The proxy's TLS identity. */
export interface Credentials {
  keyPem: string;
  certChainPem: string;
  /** The trust bundle the control plane returned with the certificate. */
  rootsPem: string;
  /** SHA-256 (hex) of the root this certificate chains to. */
  rootSha256: string;
  /** When this proxy received it (renewal is timed from here, not from a backdated notBefore). */
  issuedAt: Date;
  notBefore: Date;
  notAfter: Date;
  spiffeId: string;
}

/** Settings of the client. */
export interface ControlClientOptions {
  /** `https://host:port` of the control plane. */
  url: string;
  tokenFile: string;
  /** PEM file with the mesh root; when absent, the token's `root_sha256` pin is used. */
  rootCertFile?: string;
  namespace: string;
  serviceAccount: string;
  trustDomain: string;
  /** Checks a pushed config and serves it; returns an error message to NACK it instead. */
  validate?: (config: ProxyConfig) => string | undefined;
  /** Checks a config without serving it (to tell which part of a rejected push is at fault). */
  check?: (config: ProxyConfig) => string | undefined;
  /**
   * Where the certificate is kept across restarts (`--cert-dir`): a restarted proxy renews with
   * it instead of the bootstrap token (saved_credentials.ts).
   */
  certDir?: string;
}

/** Whether `err` says the control plane couldn't be reached at all (not that it refused). */
function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" &&
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]
      .includes(code);
}

/** Thrown for problems that retrying won't fix without the user's help. */
export class BootstrapError extends Error {
  override name = "BootstrapError";
}

interface Reply {
  status: number;
  body: string;
}

/** Backoff of the push stream and the first certificate: 250 ms doubling, capped at 2 s. */
export const RECONNECT_BASE_MS = 250;
/** Cap of reconnect delays, so a control plane that comes back is found within it. */
export const RECONNECT_MAX_MS = 2000;
/** A stream that stayed up this long counts as healthy: the next loss starts the backoff over. */
export const HEALTHY_STREAM_MS = 5000;

/** Host, port, SNI name and Host header of the control plane URL. */
function target(url: string) {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 443);
  const servername = /^[\d.]+$/.test(host) || host.includes(":") ? undefined : host;
  return { host, port, servername, authority: u.host };
}

/** One request over HTTP/1.1 on its own TLS connection (root bundle, certificates). */
async function call(
  url: string,
  tlsOptions: tls.ConnectionOptions,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  const { host, port, servername, authority } = target(url);
  const pool = new H1Pool(
    () => tls.connect({ host, port, servername, ALPNProtocols: ["http/1.1"], ...tlsOptions }),
    0,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const res = await Promise.race([
      pool.request({
        method,
        path,
        headers: [["host", authority], ...Object.entries(headers)],
        body: body === undefined ? null : new TextEncoder().encode(body),
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${method} ${path} timed out after 10 s`)),
          10_000,
        );
      }),
    ]);
    const text = res.full
      ? new TextDecoder().decode(res.full)
      : await new Response(res.body).text();
    return { status: res.status, body: text };
  } finally {
    clearTimeout(timer);
    pool.close();
  }
}

async function sha256Hex(der: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Talks to the control plane on behalf of one proxy. */
export class ControlClient {
  readonly credentials = new Watched<Credentials | undefined>(undefined);
  readonly config = new Watched<ProxyConfig | undefined>(undefined);
  /** The roots to trust now: from the certificate response, then from each pushed config. */
  readonly trust = new Watched<string | undefined>(undefined);
  /** Whether the push stream is up now. */
  connected = false;
  #opts: ControlClientOptions;
  #roots?: string;
  #abort = new AbortController();
  #stream?: PushStream;
  #wake?: () => void;
  /** Push stream attempts since it was last up (for logs and tests). */
  reconnectAttempts = 0;
  #reply?: (line: string) => void;
  /** The last health report (a WorkloadGroup probe), sent again on every new stream. */
  #health?: string;

  /** Reports the WorkloadGroup probe's result to the control plane (now, and after reconnects). */
  reportHealth(healthy: boolean, message?: string): void {
    this.#health = JSON.stringify({ type: "health", healthy, ...(message ? { message } : {}) }) +
      "\n";
    this.#reply?.(this.#health);
  }
  /** The parts served (push protocol 2). */
  readonly parts = new PartsState();

  constructor(opts: ControlClientOptions) {
    this.#opts = opts;
  }

  get #spiffe(): string {
    return `spiffe://${this.#opts.trustDomain}/ns/${this.#opts.namespace}/sa/${this.#opts.serviceAccount}`;
  }

  async #readToken(): Promise<string> {
    try {
      return (await Deno.readTextFile(this.#opts.tokenFile)).trim();
    } catch (err) {
      throw new BootstrapError(
        `can't read --token-file ${this.#opts.tokenFile}: ${(err as Error).message}; ` +
          "create a token with `mesh token create` and write it there",
      );
    }
  }

  async #trustRoots(token: string): Promise<string> {
    if (this.#roots) return this.#roots;
    if (this.#opts.rootCertFile) {
      this.#roots = await Deno.readTextFile(this.#opts.rootCertFile);
      return this.#roots;
    }
    const pin = peekClaims(token)?.root_sha256;
    if (typeof pin !== "string") {
      throw new BootstrapError(
        "the token carries no root pin (root_sha256) and no --root-cert was given; " +
          "pass --root-cert with the mesh root, or create the token with `mesh token create`",
      );
    }
    // Fetch the bundle over an unverified connection, then accept it only if it holds the pinned root.
    {
      const reply = await call(this.#opts.url, { rejectUnauthorized: false }, "GET", "/v1/root");
      if (reply.status !== 200) throw new Error(`GET /v1/root answered ${reply.status}`);
      for (const pem of splitPem(reply.body)) {
        const der = new Uint8Array(new X509Certificate(pem).raw).buffer;
        if ((await sha256Hex(der)) === pin) {
          this.#roots = reply.body;
          return reply.body;
        }
      }
      throw new BootstrapError(
        `the control plane at ${this.#opts.url} does not hold the root pinned by the token; ` +
          "check --control, or create a new token",
      );
    }
  }

  /** Obtains a certificate, with the token or (renewal) the current certificate. */
  async #obtain(useCert: Credentials | undefined): Promise<Credentials> {
    const token = useCert ? undefined : await this.#readToken();
    const roots = this.#roots ?? await this.#trustRoots(token ?? await this.#readToken());
    const { keyPem, csrPem } = await createCsr(this.#spiffe);
    const tlsOptions: tls.ConnectionOptions = { ca: roots };
    if (useCert) Object.assign(tlsOptions, { key: useCert.keyPem, cert: useCert.certChainPem });
    {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const reply = await call(
        this.#opts.url,
        tlsOptions,
        "POST",
        "/v1/certificates",
        headers,
        JSON.stringify({ csr: csrPem }),
      );
      if (reply.status !== 200) {
        let msg = reply.body;
        try {
          msg = JSON.parse(reply.body).error ?? msg;
        } catch { /* not JSON */ }
        throw new Error(`certificate request refused (${reply.status}): ${msg}`);
      }
      const { certChain, roots: newRoots, rootSha256 } = JSON.parse(reply.body);
      const leaf = new X509Certificate(splitPem(certChain)[0]);
      this.#roots = newRoots;
      return {
        keyPem,
        certChainPem: certChain,
        rootsPem: newRoots,
        rootSha256: typeof rootSha256 === "string" ? rootSha256 : "",
        issuedAt: new Date(),
        notBefore: new Date(leaf.validFrom),
        notAfter: new Date(leaf.validTo),
        spiffeId: this.#spiffe,
      };
    }
  }

  /** Gets the first certificate, retrying with backoff; resolves when it has one (or on close). */
  async bootstrap(): Promise<void> {
    const backoff = new Backoff(RECONNECT_BASE_MS, RECONNECT_MAX_MS);
    const dir = this.#opts.certDir;
    let saved = dir ? await loadCredentials(dir, this.#spiffe) : undefined;
    while (!this.#abort.signal.aborted) {
      try {
        let creds: Credentials;
        if (saved) {
          // Renew with the certificate kept from before the restart (no token needed).
          this.#roots ??= saved.rootsPem;
          try {
            creds = await this.#obtain(saved);
            log.info("renewed the saved certificate", { dir });
          } catch (err) {
            // The control plane unreachable: retry with it (it may work where an expired token
            // no longer would). Anything else (refused, roots that don't verify) means the
            // saved certificate is no good here: the token.
            if (isUnreachable(err)) throw err;
            log.warn("the saved certificate didn't work; using the token", { error: err });
            saved = undefined;
            this.#roots = undefined;
            creds = await this.#obtain(undefined);
          }
        } else creds = await this.#obtain(undefined);
        if (dir) await saveCredentials(dir, creds);
        if (!this.trust.get()) this.trust.set(creds.rootsPem);
        this.credentials.set(creds);
        log.info("certificate issued", {
          identity: creds.spiffeId,
          expires: creds.notAfter.toISOString(),
        });
        this.#renewLoop().catch((err) =>
          log.error("certificate renewal stopped; the current certificate serves until expiry", {
            error: err,
          })
        );
        return;
      } catch (err) {
        const delay = backoff.next();
        log.error("can't get a certificate; retrying", { error: err, retryInMs: delay });
        if (!(await sleep(delay, this.#abort.signal))) return;
      }
    }
  }

  async #renewLoop(): Promise<void> {
    const backoff = new Backoff(1000, 5000);
    while (!this.#abort.signal.aborted) {
      const c = this.credentials.get()!;
      const half = c.issuedAt.getTime() + (c.notAfter.getTime() - c.issuedAt.getTime()) / 2;
      // Sleep until half the lifetime, or until woken (the signing root changed).
      const woke = new AbortController();
      this.#wake = () => woke.abort();
      const onAbort = () => woke.abort();
      this.#abort.signal.addEventListener("abort", onAbort, { once: true });
      await sleep(Math.max(0, half - Date.now()), woke.signal);
      this.#abort.signal.removeEventListener("abort", onAbort);
      this.#wake = undefined;
      while (!this.#abort.signal.aborted) {
        const cur = this.credentials.get()!;
        try {
          const expired = cur.notAfter.getTime() <= Date.now();
          const next = await this.#obtain(expired ? undefined : cur);
          if (this.#opts.certDir) await saveCredentials(this.#opts.certDir, next);
          this.credentials.set(next);
          backoff.reset();
          log.info("certificate renewed", {
            expires: next.notAfter.toISOString(),
            root: next.rootSha256.slice(0, 12),
          });
          this.#reportCertificate();
          break;
        } catch (err) {
          const delay = backoff.next();
          log.error("certificate renewal failed; retrying", { error: err, retryInMs: delay });
          if (!(await sleep(delay, this.#abort.signal))) return;
        }
      }
    }
  }

  /** Renews the certificate now (e.g. when the control plane signs under a new root). */
  renewNow(): void {
    this.#wake?.();
  }

  #reportCertificate(): void {
    const version = this.config.get()?.version;
    const certRoot = this.credentials.get()?.rootSha256;
    if (version !== undefined && this.#reply) {
      this.#reply(JSON.stringify({ type: "ack", version, certRoot }) + "\n");
    }
  }

  /**
   * Keeps the push stream open until {@linkcode close}, reconnecting with
   * capped, jittered backoff. Never throws: a failure of any kind leaves the
   * last config serving and tries again.
   */
  async run(node: () => NodeInfo): Promise<void> {
    const backoff = new Backoff(RECONNECT_BASE_MS, RECONNECT_MAX_MS);
    while (!this.#abort.signal.aborted) {
      this.reconnectAttempts++;
      let upAt: number | undefined;
      try {
        const end = await this.#openStream(node(), () => {
          upAt = Date.now();
          log.info("push stream open", {
            control: this.#opts.url,
            attempts: this.reconnectAttempts,
          });
          this.reconnectAttempts = 0;
        });
        if (this.#abort.signal.aborted) return;
        if (end.opened) {
          log.warn("push stream lost; serving the last config while reconnecting", {
            error: end.reason,
          });
        } else {
          log.warn("can't open the push stream; serving the last config, retrying", {
            error: end.reason,
            attempt: this.reconnectAttempts,
          });
        }
      } catch (err) {
        // #openStream doesn't throw; this is the last line of defence for the loop.
        if (this.#abort.signal.aborted) return;
        log.error("push stream failed; retrying", { error: err });
      }
      this.connected = false;
      // Start over only after a stream that stayed up: one that is refused or cut at once
      // keeps backing off (up to the cap) instead of spinning.
      if (upAt !== undefined && Date.now() - upAt >= HEALTHY_STREAM_MS) backoff.reset();
      if (!(await backoff.wait(this.#abort.signal))) return;
    }
  }

  /** One push stream, from connect to its end; resolves with how it ended. */
  async #openStream(
    node: NodeInfo,
    onUp: () => void,
  ): Promise<{ opened: boolean; reason: Error }> {
    const creds = this.credentials.get();
    if (!creds) return { opened: false, reason: new Error("no certificate yet") };
    const { host, port, servername, authority } = target(this.#opts.url);
    const stream = openPushStream({
      host,
      port,
      servername,
      authority,
      tls: { ca: this.#roots, key: creds.keyPem, cert: creds.certChainPem },
      first: JSON.stringify({
        type: "hello",
        node,
        protocol: PUSH_PROTOCOL,
        have: this.parts.have(),
      }) + "\n",
      onOpen: () => {
        this.connected = true;
        this.#reply = (l) => void stream.send(l);
        if (this.#health) this.#reply(this.#health);
        onUp();
      },
      onLine: (line) => {
        try {
          this.#onMessage(line, (l) => void stream.send(l));
        } catch (err) {
          log.error("handling a pushed line failed; keeping the current config", { error: err });
        }
      },
    });
    this.#stream = stream;
    // close() may have run while this stream was being set up.
    if (this.#abort.signal.aborted) stream.close("proxy stopping");
    try {
      return await stream.done;
    } finally {
      this.#reply = undefined;
      if (this.#stream === stream) this.#stream = undefined;
      this.connected = false;
    }
  }

  #onMessage(line: string, reply: (line: string) => void): void {
    let msg: PushMessage | PartsPushMessage;
    try {
      msg = JSON.parse(line);
    } catch {
      log.warn("ignoring a push line that is not JSON");
      return;
    }
    if (msg.type === "error") {
      log.error("control plane reported an error", { message: msg.message });
      return;
    }
    if (msg.type === "push") {
      const m = msg;
      const r = this.parts.apply(m, {
        install: (config) => this.#opts.validate?.(config),
        check: this.#opts.check,
      });
      if (r.config) {
        this.#installed(r.config);
        (r.reply as PartsAckMessage).certRoot = this.credentials.get()?.rootSha256;
      } else {
        log.error("rejected pushed config; keeping the current one", {
          version: m.version,
          errors: (r.reply as PartsNackMessage).errors,
          resync: (r.reply as PartsNackMessage).resync,
        });
      }
      reply(JSON.stringify(r.reply) + "\n");
      return;
    }
    if (msg.type !== "config") return;
    const err = this.#opts.validate?.(msg.config);
    if (err) {
      log.error("rejected pushed config; keeping the current one", {
        version: msg.config.version,
        error: err,
      });
      reply(JSON.stringify({ type: "nack", version: msg.config.version, error: err }) + "\n");
      return;
    }
    this.#installed(msg.config);
    reply(
      JSON.stringify({
        type: "ack",
        version: msg.config.version,
        certRoot: this.credentials.get()?.rootSha256,
      }) + "\n",
    );
  }

  /** A config now served: trust its roots, renew when it signs under another root. */
  #installed(config: ProxyConfig): void {
    this.config.set(config);
    if (config.roots && config.roots !== this.trust.get()) {
      this.#roots = config.roots;
      this.trust.set(config.roots);
    }
    const creds = this.credentials.get();
    if (config.signingRoot && creds && creds.rootSha256 !== config.signingRoot) {
      log.info("the control plane signs under a new root; renewing now");
      this.renewNow();
    }
  }

  /** Stops streaming and renewing. */
  close(): void {
    this.#abort.abort();
    this.#stream?.close("proxy stopping");
  }
}
