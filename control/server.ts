/**
 * The control plane's TLS port: HTTP/1.1 over `node:tls` (ALPN `http/1.1`),
 * framed by mesh's own server loop (`proxy/h1_server.ts`). A client
 * certificate is requested but not required; requests that need one check it
 * here. No `node:http2` anywhere: on Deno 2.9 it can abort the whole process
 * when a peer goes away (denoland/deno#36788).
 *
 * - `GET /v1/root`: the trust bundle (PEM), for bootstrapping with a pinned hash;
 * - `POST /v1/certificates`: `{ "csr": PEM }` with `Authorization: Bearer <token>`
 *   or a valid mesh client certificate (renewal) → `{ certChain, roots, notAfter }`;
 * - `POST /v1/stream`: the long-lived push stream (`stream.ts`). The proxy (with
 *   its mesh certificate) sends a `hello` line and then acks; the control plane
 *   sends one JSON config per line whenever that proxy's config changes.
 *
 * Refused signing requests are rate-limited like issued ones: past the limit
 * they are answered 429 and counted instead of written to the audit log one
 * by one.
 * @module
 */
import tls from "node:tls";
import type { TLSSocket } from "node:tls";
import type { CertificateAuthority } from "../ca/ca.ts";
import { CaError, MAX_CSR_BYTES } from "../ca/ca.ts";
import { TokenError, type TokenIssuer } from "../ca/token.ts";
import { type UsedTokens, UsedTokensSaveError } from "../ca/used_tokens.ts";
import { parseSpiffeId, urisFromAltNames } from "../ca/spiffe.ts";
import { type H1ServerRequest, type H1ServerResponse, serveH1 } from "../proxy/h1_server.ts";
import type { PushHub } from "./push.ts";
import { KEEPALIVE_MS, servePushStream } from "./stream.ts";
import { logger } from "../util/log.ts";

const log = logger("server");
const audit = logger("ca-audit");

/** What the server needs. */
export interface ControlServerOptions {
  host: string;
  port: number;
  keyPem: string;
  certPem: string;
  /** The CA as it is now (it changes during a root rotation). */
  ca: () => CertificateAuthority;
  tokens: TokenIssuer;
  hub: PushHub;
  /** Spent single-use tokens. */
  usedTokens?: UsedTokens;
  /** Appends one audit record per certificate decision (issued or refused). */
  audit?: (record: Record<string, unknown>) => void;
  /** Certificates per identity per second, sustained (burst: 20). Default 10. */
  signRate?: number;
  /**
   * Refused signing requests audited per second, sustained, per remote address (or per
   * identity once known); burst 20. Beyond it refusals are answered 429 and only counted.
   * Default 1.
   */
  refusalRate?: number;
  /** Called when a proxy reports something (ack, certificate root). */
  onProxyReport?: () => void;
  /** Push stream keepalive interval (tests). */
  keepaliveMs?: number;
}

/** A running control server. */
export interface ControlServer {
  port: number;
  /** Serves a new certificate and trusts new roots for new connections. */
  updateTls(keyPem: string, certPem: string, rootsPem: string): void;
  close(): Promise<void>;
}

/** A token bucket per key (an identity, or `remote:<ip>`). */
export class RateLimiter {
  #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly rate: number, readonly burst: number, readonly maxKeys = 10_000) {}
  take(key: string): boolean {
    const now = Date.now();
    if (this.#buckets.size >= this.maxKeys && !this.#buckets.has(key)) this.#prune(now);
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
  /** Forgets buckets that refilled (they start full anyway), then the oldest if still too many. */
  #prune(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.#buckets.delete(k);
    }
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size < this.maxKeys) break;
      this.#buckets.delete(k);
    }
  }
  /** Keys tracked now. */
  get size(): number {
    return this.#buckets.size;
  }
}

const encoder = new TextEncoder();

function json(status: number, body: unknown): H1ServerResponse {
  return {
    status,
    headers: [["content-type", "application/json"]],
    body: encoder.encode(JSON.stringify(body)),
  };
}

/** Reads a request body up to `limit` bytes; undefined when it is longer. */
async function readBody(req: H1ServerRequest, limit: number): Promise<string | undefined> {
  if (!req.body) return "";
  if (req.length !== undefined && req.length > limit) return undefined;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** The verified mesh identity of the client certificate, if any. */
function peerIdentity(socket: TLSSocket, trustDomain: string) {
  if (!socket?.authorized) return undefined;
  const cert = socket.getPeerCertificate?.();
  for (const uri of urisFromAltNames(cert?.subjectaltname)) {
    const id = parseSpiffeId(uri);
    if (id && id.trustDomain === trustDomain) return id;
  }
  return undefined;
}

function header(req: H1ServerRequest, name: string): string | undefined {
  return req.headers.find(([k]) => k === name)?.[1];
}

/** Starts the control server; resolves once it listens. */
export function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { tokens, hub } = opts;
  const limiter = new RateLimiter(opts.signRate ?? 10, 20);
  const refusals = new RateLimiter(opts.refusalRate ?? 1, 20);
  const record = (r: Record<string, unknown>) => opts.audit?.(r);
  const sockets = new Set<TLSSocket>();
  // Refusals over the limit, per key, reported as one line (and one audit record) per interval.
  const suppressed = new Map<string, number>();
  let reportTimer: ReturnType<typeof setTimeout> | undefined;
  const reportSuppressed = () => {
    reportTimer = undefined;
    for (const [key, count] of suppressed) {
      audit.warn("refused requests over the limit were not logged one by one", {
        key,
        suppressed: count,
      });
      record({ event: "refused-suppressed", key, count });
    }
    suppressed.clear();
  };

  /** Answers a refused signing request: audited within the refusal limit, else 429 and counted. */
  const refuse = (
    key: string,
    status: number,
    reason: string,
    fields: Record<string, unknown>,
  ): H1ServerResponse => {
    if (!refusals.take(key)) {
      if (suppressed.size < 1000 || suppressed.has(key)) {
        suppressed.set(key, (suppressed.get(key) ?? 0) + 1);
      } else suppressed.set("other", (suppressed.get("other") ?? 0) + 1);
      reportTimer ??= setTimeout(reportSuppressed, 10_000);
      return json(429, {
        error: `too many refused certificate requests (${
          key.replace(/^(remote|identity):/, "")
        }); retry in a few seconds. Last refusal: ${reason}`,
      });
    }
    audit.warn("refused", { reason, ...fields });
    record({ event: "refused", reason, ...fields });
    return json(status, { error: reason });
  };

  async function certificates(req: H1ServerRequest): Promise<H1ServerResponse> {
    const remote = req.socket.remoteAddress ?? "unknown";
    const body = await readBody(req, MAX_CSR_BYTES + 4096);
    if (body === undefined) {
      return json(413, {
        error: `request body over ${MAX_CSR_BYTES} bytes; send a smaller CSR`,
      });
    }
    let csr: unknown;
    try {
      csr = JSON.parse(body).csr;
    } catch {
      return json(400, { error: 'body is not JSON; send {"csr": "<PEM>"}' });
    }
    if (typeof csr !== "string") return json(400, { error: 'missing "csr" (a PEM string)' });
    let identity: { namespace: string; serviceAccount: string };
    let credential: string;
    let singleUse: { id: string; expiresAt: Date } | undefined;
    const auth = header(req, "authorization");
    if (auth?.startsWith("Bearer ")) {
      try {
        const claims = await tokens.verify(auth.slice(7).trim());
        if (claims.singleUse) {
          if (!claims.id) throw new TokenError("this single-use token carries no id");
          singleUse = { id: claims.id, expiresAt: claims.expiresAt };
        }
        identity = claims;
        credential = claims.singleUse ? "single-use-token" : "bootstrap-token";
      } catch (err) {
        const msg = err instanceof TokenError ? err.message : "token could not be verified";
        return refuse(`remote:${remote}`, 401, msg, { remote });
      }
    } else {
      const id = peerIdentity(req.socket as TLSSocket, opts.ca().trustDomain);
      if (!id) {
        return refuse(
          `remote:${remote}`,
          401,
          "no credential: send Authorization: Bearer <token from `mesh token create`>, " +
            "or a valid mesh client certificate to renew",
          { remote },
        );
      }
      identity = id;
      credential = "mesh-certificate";
    }
    const who = `${identity.namespace}/${identity.serviceAccount}`;
    // Before a single-use token is spent: a rate-limited request must not burn it.
    if (!limiter.take(who)) {
      return refuse(
        `identity:${who}`,
        429,
        `too many certificate requests for ${who}; retry in a few seconds`,
        { identity: who, remote },
      );
    }
    if (singleUse) {
      try {
        if (!opts.usedTokens || !(await opts.usedTokens.spend(singleUse.id, singleUse.expiresAt))) {
          return refuse(
            `remote:${remote}`,
            401,
            "this single-use token was already used; create a new one with `mesh token create`",
            { identity: who, remote },
          );
        }
      } catch (err) {
        const cause = err instanceof UsedTokensSaveError
          ? (err.cause as Error)?.message ?? err.message
          : (err as Error).message;
        const msg = `can't record the single-use token: ${cause}; free space in the data dir` +
          (opts.usedTokens ? ` (${opts.usedTokens.path})` : "") + " and retry";
        log.error("can't record a spent single-use token; it was not spent", { error: err });
        return refuse(`identity:${who}`, 503, msg, { identity: who, remote });
      }
    }
    try {
      const ca = opts.ca();
      const signed = await ca.signCsr(csr, identity);
      audit.info("issued", {
        serial: signed.serial,
        identity: signed.spiffeId,
        expires: signed.notAfter.toISOString(),
        credential,
      });
      record({
        event: "issued",
        serial: signed.serial,
        identity: signed.spiffeId,
        expires: signed.notAfter.toISOString(),
        credential,
        root: signed.rootSha256,
      });
      return json(200, {
        certChain: signed.certChainPem,
        roots: signed.rootsPem,
        rootSha256: signed.rootSha256,
        notAfter: signed.notAfter.toISOString(),
      });
    } catch (err) {
      const msg = err instanceof CaError
        ? err.message
        : `signing failed: ${(err as Error).message}`;
      return refuse(`identity:${who}`, err instanceof CaError ? 400 : 500, msg, {
        identity: who,
        remote,
      });
    }
  }

  const handler = (req: H1ServerRequest): Promise<H1ServerResponse> | H1ServerResponse => {
    const path = req.target.split("?")[0];
    if (req.method === "GET" && path === "/v1/root") {
      return {
        status: 200,
        headers: [["content-type", "application/x-pem-file"]],
        body: opts.ca().trustBundlePem,
      };
    }
    if (req.method === "POST" && path === "/v1/certificates") {
      return certificates(req).catch((err) => {
        log.error("certificate request failed", { error: err });
        return json(500, { error: "internal error" });
      });
    }
    if (req.method === "POST" && path === "/v1/stream") {
      const id = peerIdentity(req.socket as TLSSocket, opts.ca().trustDomain);
      if (!id) {
        return json(401, { error: "the push stream needs a valid mesh client certificate" });
      }
      return servePushStream(req, {
        identity: id,
        hub,
        onProxyReport: opts.onProxyReport,
        keepaliveMs: opts.keepaliveMs,
      });
    }
    return json(404, { error: `no route for ${req.method} ${path}` });
  };

  const server = tls.createServer({
    key: opts.keyPem,
    cert: opts.certPem,
    ca: opts.ca().trustBundlePem,
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: ["http/1.1"],
  }, (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", (err: Error) => log.debug("control connection error", { error: err }));
    try {
      // A dead peer (no FIN) is noticed by TCP keepalive too, not only by the stream's own.
      socket.setKeepAlive?.(true, opts.keepaliveMs ?? KEEPALIVE_MS);
      serveH1(socket, handler);
    } catch (err) {
      log.warn("can't serve a control connection", { error: err });
      socket.destroy();
    }
  });
  server.on("tlsClientError", (err: Error) => log.debug("TLS handshake failed", { error: err }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      server.on("error", (err: Error) => log.error("control server error", { error: err }));
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : opts.port;
      resolve({
        port,
        updateTls(keyPem, certPem, rootsPem) {
          server.setSecureContext({ key: keyPem, cert: certPem, ca: rootsPem });
        },
        close: () =>
          new Promise<void>((r) => {
            clearTimeout(reportTimer);
            if (suppressed.size) reportSuppressed();
            for (const s of sockets) s.destroy();
            sockets.clear();
            server.close(() => r());
          }),
      });
    });
  });
}
