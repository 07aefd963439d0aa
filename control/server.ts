/**
 * The control plane's TLS port (HTTP/2, HTTP/1.1 allowed for plain tools):
 *
 * - `GET /v1/root`: the trust bundle (PEM), for bootstrapping with a pinned hash;
 * - `POST /v1/certificates`: `{ "csr": PEM }` with `Authorization: Bearer <token>`
 *   or a valid mesh client certificate (renewal) → `{ certChain, roots, notAfter }`;
 * - `POST /v1/stream`: the long-lived push stream. The proxy (with its mesh
 *   certificate) sends a `hello` line and then acks; the control plane sends
 *   one JSON config per line whenever that proxy's config changes.
 * @module
 */
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import type { CertificateAuthority } from "../ca/ca.ts";
import { CaError, MAX_CSR_BYTES } from "../ca/ca.ts";
import { TokenError, type TokenIssuer } from "../ca/token.ts";
import type { UsedTokens } from "../ca/used_tokens.ts";
import { parseSpiffeId, urisFromAltNames } from "../ca/spiffe.ts";
import type { NodeInfo, ProxyMessage } from "../api/proxy_config.ts";
import type { PushHub } from "./push.ts";
import { logger } from "../util/log.ts";

const log = logger("server");
const audit = logger("ca-audit");

type Req = http2.Http2ServerRequest;
type Res = http2.Http2ServerResponse;

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
  /** Called when a proxy reports something (ack, certificate root). */
  onProxyReport?: () => void;
}

/** A running control server. */
export interface ControlServer {
  port: number;
  /** Serves a new certificate and trusts new roots for new connections. */
  updateTls(keyPem: string, certPem: string, rootsPem: string): void;
  close(): Promise<void>;
}

/** A token bucket per identity. */
class RateLimiter {
  #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly rate: number, readonly burst: number) {}
  take(key: string): boolean {
    const now = Date.now();
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function json(res: Res, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: Req, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.removeAllListeners("data");
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The verified mesh identity of the client certificate, if any. */
function peerIdentity(req: Req, trustDomain: string) {
  const sock = req.socket as unknown as TLSSocket;
  if (!sock?.authorized) return undefined;
  const cert = sock.getPeerCertificate?.();
  for (const uri of urisFromAltNames(cert?.subjectaltname)) {
    const id = parseSpiffeId(uri);
    if (id && id.trustDomain === trustDomain) return id;
  }
  return undefined;
}

/** Starts the control server; resolves once it listens. */
export function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { tokens, hub } = opts;
  const limiter = new RateLimiter(opts.signRate ?? 10, 20);
  const record = (r: Record<string, unknown>) => opts.audit?.(r);
  const sessions = new Set<http2.ServerHttp2Session>();

  async function certificates(req: Req, res: Res) {
    const body = await readBody(req, MAX_CSR_BYTES + 4096);
    if (body === undefined) {
      return json(res, 413, {
        error: `request body over ${MAX_CSR_BYTES} bytes; send a smaller CSR`,
      });
    }
    let csr: unknown;
    try {
      csr = JSON.parse(body).csr;
    } catch {
      return json(res, 400, { error: 'body is not JSON; send {"csr": "<PEM>"}' });
    }
    if (typeof csr !== "string") return json(res, 400, { error: 'missing "csr" (a PEM string)' });
    let identity: { namespace: string; serviceAccount: string };
    let credential: string;
    const auth = req.headers["authorization"];
    if (typeof auth === "string" && auth.startsWith("Bearer ")) {
      try {
        const claims = await tokens.verify(auth.slice(7).trim());
        if (claims.singleUse) {
          if (!claims.id || !opts.usedTokens?.claim(claims.id, claims.expiresAt)) {
            throw new TokenError(
              "this single-use token was already used; create a new one with `mesh token create`",
            );
          }
          await opts.usedTokens.save();
        }
        identity = claims;
        credential = claims.singleUse ? "single-use-token" : "bootstrap-token";
      } catch (err) {
        const msg = err instanceof TokenError ? err.message : "token could not be verified";
        audit.warn("refused", { reason: msg, remote: req.socket.remoteAddress });
        record({ event: "refused", reason: msg });
        return json(res, 401, { error: msg });
      }
    } else {
      const id = peerIdentity(req, opts.ca().trustDomain);
      if (!id) {
        audit.warn("refused", { reason: "no credential", remote: req.socket.remoteAddress });
        record({ event: "refused", reason: "no credential" });
        return json(res, 401, {
          error: "no credential: send Authorization: Bearer <token from `mesh token create`>, " +
            "or a valid mesh client certificate to renew",
        });
      }
      identity = id;
      credential = "mesh-certificate";
    }
    const who = `${identity.namespace}/${identity.serviceAccount}`;
    if (!limiter.take(who)) {
      audit.warn("refused", { reason: "rate limited", identity: who });
      record({ event: "refused", reason: "rate limited", identity: who });
      return json(res, 429, {
        error: `too many certificate requests for ${who}; retry in a few seconds`,
      });
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
      return json(res, 200, {
        certChain: signed.certChainPem,
        roots: signed.rootsPem,
        rootSha256: signed.rootSha256,
        notAfter: signed.notAfter.toISOString(),
      });
    } catch (err) {
      const msg = err instanceof CaError
        ? err.message
        : `signing failed: ${(err as Error).message}`;
      audit.warn("refused", { reason: msg, identity: who });
      record({ event: "refused", reason: msg, identity: who });
      return json(res, err instanceof CaError ? 400 : 500, { error: msg });
    }
  }

  function stream(req: Req, res: Res) {
    const id = peerIdentity(req, opts.ca().trustDomain);
    if (!id) {
      return json(res, 401, { error: "the push stream needs a valid mesh client certificate" });
    }
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    let conn: ReturnType<PushHub["connect"]> | undefined;
    let buf = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > 1 << 20) {
        log.warn("stream line too long; closing", {
          identity: `${id.namespace}/${id.serviceAccount}`,
        });
        res.end();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let msg: ProxyMessage;
        try {
          msg = JSON.parse(line);
        } catch {
          res.write(JSON.stringify({ type: "error", message: "line is not JSON" }) + "\n");
          continue;
        }
        if (msg.type === "hello" && !conn) {
          const node = msg.node as NodeInfo;
          if (node.namespace !== id.namespace || node.serviceAccount !== id.serviceAccount) {
            res.write(
              JSON.stringify({
                type: "error",
                message:
                  `hello names ${node.namespace}/${node.serviceAccount} but the certificate is ` +
                  `${id.namespace}/${id.serviceAccount}`,
              }) + "\n",
            );
            res.end();
            return;
          }
          conn = hub.connect(node, id, (l) => res.write(l));
        } else if (msg.type === "ack" && conn) {
          conn.ackedVersion = msg.version;
          if (msg.certRoot) conn.certRoot = msg.certRoot;
          opts.onProxyReport?.();
        } else if (msg.type === "nack" && conn) {
          conn.lastNack = msg.error;
          log.warn("proxy rejected config", {
            node: conn.node.id,
            version: msg.version,
            error: msg.error,
          });
        }
      }
    });
    res.on("drain", () => conn?.drained());
    const done = () => {
      if (conn) hub.disconnect(conn);
      conn = undefined;
    };
    req.on("close", done);
    res.on("close", done);
    req.on("error", done);
  }

  const server = http2.createSecureServer({
    key: opts.keyPem,
    cert: opts.certPem,
    ca: opts.ca().trustBundlePem,
    requestCert: true,
    rejectUnauthorized: false,
    allowHTTP1: true,
  }, (req: Req, res: Res) => {
    const path = req.url.split("?")[0];
    if (req.method === "GET" && path === "/v1/root") {
      res.writeHead(200, { "content-type": "application/x-pem-file" });
      res.end(opts.ca().trustBundlePem);
    } else if (req.method === "POST" && path === "/v1/certificates") {
      certificates(req, res).catch((err) => {
        log.error("certificate request failed", { error: err });
        if (!res.headersSent) json(res, 500, { error: "internal error" });
      });
    } else if (req.method === "POST" && path === "/v1/stream") {
      stream(req, res);
    } else {
      json(res, 404, { error: `no route for ${req.method} ${path}` });
    }
  });
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("tlsClientError", () => {});
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : opts.port;
      resolve({
        port,
        updateTls(keyPem, certPem, rootsPem) {
          server.setSecureContext({ key: keyPem, cert: certPem, ca: rootsPem });
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sessions) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
