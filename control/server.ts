/**
 * The control plane's TLS port over `node:tls`, ALPN `["h2", "http/1.1"]`: a
 * connection that negotiated `h2` is served by mesh's own HTTP/2 codec
 * (`proxy/h2/`, server role), any other (old proxies, curl `--http1.1`, no
 * ALPN) by mesh's HTTP/1.1 server loop (`proxy/h1_server.ts`). Both go
 * through one request handler: each HTTP/2 stream is adapted to the HTTP/1.1
 * server's request and response shapes ({@linkcode serveH2Control}), so every
 * route, its authentication and its answers are the same either way. A client
 * certificate is requested but not required; requests that need one check it
 * here. No `node:http2` anywhere: on Deno 2.9 it can abort the whole process
 * when a peer goes away (denoland/deno#36788); a GOAWAY or reset from a peer on
 * our codec only ends that connection or stream.
 *
 * - `GET /v1/root`: the trust bundle (PEM), for bootstrapping with a pinned hash;
 * - `POST /v1/certificates`: `{ "csr": PEM }` with `Authorization: Bearer <token>`
 *   or a valid mesh client certificate (renewal) → `{ certChain, roots, notAfter }`;
 * - `POST /validate`: the validating admission webhook (`admission.ts`), AdmissionReview v1;
 * - `POST /v1/stream`: the long-lived push stream (`stream.ts`). The proxy (with
 *   its mesh certificate) sends a `hello` line and then acks; the control plane
 *   sends one JSON config per line whenever that proxy's config changes.
 *
 * Refused signing requests are rate-limited like issued ones: past the limit
 * they are answered 429 and counted instead of written to the audit log one
 * by one.
 *
 * `close()` is graceful for HTTP/2: GOAWAY on every connection, the push
 * streams end (END_STREAM), and connections get up to `drainMs` to finish
 * before every socket is destroyed (HTTP/1.1 ones without that wait).
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
import { H2Connection } from "../proxy/h2/connection.ts";
import type { H2Stream } from "../proxy/h2/stream.ts";
import { H2_ERROR } from "../proxy/h2/errors.ts";
import { writeBody } from "../proxy/h2/pipe.ts";
import type { HeaderField } from "../proxy/h2/hpack.ts";
import type { PushHub } from "./push.ts";
import { KEEPALIVE_MS, servePushStream } from "./stream.ts";
import { logger } from "../util/log.ts";
import { MAX_REVIEW_BYTES, reviewAdmission } from "./admission.ts";

const log = logger("server");
/** How long `close()` lets closing sockets finish sending before destroying them. */
const CLOSE_LINGER_MS = 500;
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
  /** How long `close()` lets HTTP/2 connections finish after GOAWAY (ms). Default 2000. */
  drainMs?: number;
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
  const h2conns = new Set<H2Connection>();
  // Aborted by close(): push streams end cleanly, new ones are refused.
  const shutdown = new AbortController();
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
    opts.hub.metrics.csrs.inc();
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
      opts.hub.metrics.csrSigned.inc();
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
      if (shutdown.signal.aborted) {
        return json(503, { error: "the control plane is shutting down; reconnect" });
      }
      return servePushStream(req, {
        identity: id,
        hub,
        onProxyReport: opts.onProxyReport,
        keepaliveMs: opts.keepaliveMs,
        signal: shutdown.signal,
      });
    }
    if (req.method === "POST" && path === "/validate") return validate(req);
    return json(404, { error: `no route for ${req.method} ${path}` });
  };

  /** The validating admission webhook (`admission.ts`): the API server's AdmissionReviews. */
  async function validate(req: H1ServerRequest): Promise<H1ServerResponse> {
    const body = await readBody(req, MAX_REVIEW_BYTES).catch(() => undefined);
    if (body === undefined) {
      return json(413, { error: `AdmissionReview over ${MAX_REVIEW_BYTES} bytes` });
    }
    let review: unknown;
    try {
      review = JSON.parse(body);
    } catch {
      return json(400, { error: "the body is not JSON (an admission.k8s.io/v1 AdmissionReview)" });
    }
    return json(200, reviewAdmission(review));
  }

  const server = tls.createServer({
    key: opts.keyPem,
    cert: opts.certPem,
    ca: opts.ca().trustBundlePem,
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: ["h2", "http/1.1"],
  }, (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", (err: Error) => log.debug("control connection error", { error: err }));
    try {
      // A dead peer (no FIN) is noticed by TCP keepalive too, not only by the stream's own.
      socket.setKeepAlive?.(true, opts.keepaliveMs ?? KEEPALIVE_MS);
      if (shutdown.signal.aborted) {
        socket.destroy();
      } else if (socket.alpnProtocol === "h2") {
        const conn = serveH2Control(socket, handler);
        h2conns.add(conn);
        conn.closed.then(() => h2conns.delete(conn));
      } else {
        serveH1(socket, handler);
      }
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
        close: async () => {
          clearTimeout(reportTimer);
          if (suppressed.size) reportSuppressed();
          const closing = new Promise<void>((r) => server.close(() => r()));
          // HTTP/2: GOAWAY, then the push streams end; in-flight streams get a moment.
          const draining = [...h2conns].map((c) => c.closed);
          for (const c of h2conns) c.goaway(H2_ERROR.NO_ERROR, "control plane shutting down");
          shutdown.abort();
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            Promise.all(draining),
            new Promise((r) => timer = setTimeout(r, opts.drainMs ?? 2000)),
          ]);
          clearTimeout(timer);
          for (const c of h2conns) c.destroy(new Error("control plane shut down"));
          // A connection that ended cleanly still has its last frames (GOAWAY, END_STREAM) on
          // the way out: destroying its socket now could drop them. Give the sockets a moment
          // to close after their FIN, then destroy what is left.
          const open = [...sockets].filter((s) => !s.destroyed);
          if (open.length) {
            await Promise.race([
              Promise.all(open.map((s) => new Promise((r) => s.once("close", r)))),
              new Promise((r) => timer = setTimeout(r, CLOSE_LINGER_MS)),
            ]);
            clearTimeout(timer);
          }
          for (const s of sockets) s.destroy();
          sockets.clear();
          await closing;
        },
      });
    });
  });
}

/**
 * Serves the control port's HTTP/2 (a TLS socket that negotiated ALPN `h2`) with the same
 * `handler` as HTTP/1.1: each stream becomes an {@linkcode H1ServerRequest} (`:method`,
 * `:path` as the target, the fields with `host` from `:authority`, the body pulled from the
 * stream so the client's window grows only as it is read, the TLS socket for the client
 * certificate) and the {@linkcode H1ServerResponse} goes back on the stream, a streamed body
 * chunk by chunk within the client's windows. The push stream also gets `closed` and
 * `abort` (the stream, not the shared socket). A peer's GOAWAY or RST_STREAM only ends its
 * connection or stream; nothing here throws into the event loop.
 */
export function serveH2Control(
  socket: TLSSocket,
  handler: (req: H1ServerRequest) => Promise<H1ServerResponse> | H1ServerResponse,
): H2Connection {
  const conn: H2Connection = new H2Connection(socket, {
    role: "server",
    onStream: (stream): Promise<void> => serveControlStream(conn, socket, stream, handler),
  });
  conn.closed.then((reason) => {
    if (reason.error) log.debug("control h2 connection closed", { error: reason.error });
    // A graceful close has just ended the socket with its last frames (GOAWAY, END_STREAM)
    // still being written: the codec destroys it after a short linger. Only a failed one is
    // destroyed now.
    if (reason.error) socket.destroy();
  });
  return conn;
}

async function serveControlStream(
  conn: H2Connection,
  socket: TLSSocket,
  stream: H2Stream,
  handler: (req: H1ServerRequest) => Promise<H1ServerResponse> | H1ServerResponse,
): Promise<void> {
  let authority: string | undefined;
  let path = "/";
  const headers: [string, string][] = [];
  for (const [k, v] of stream.headers) {
    if (k === ":authority") authority = v;
    else if (k === ":path") path = v;
    else if (k.charCodeAt(0) !== 58) headers.push([k, v]);
  }
  if (authority !== undefined && !headers.some(([k]) => k === "host")) {
    headers.push(["host", authority]);
  }
  const cl = headers.find(([k]) => k === "content-length")?.[1];
  // The request body as a pulling stream. Cancelling it doesn't reset the stream: the
  // response (an error line, a refusal) still goes out, and a request body still open when
  // the response ends is closed by the codec then (RST_STREAM NO_ERROR, §8.1).
  const body = stream.body.done ? null : new ReadableStream<Uint8Array>({
    pull: async (ctl) => {
      const c = await stream.body.read();
      if (c === null) ctl.close();
      else ctl.enqueue(c);
    },
  }, { highWaterMark: 0 });
  const req: H1ServerRequest & { closed: Promise<unknown>; abort: () => void } = {
    method: stream.method,
    target: path,
    headers,
    body,
    length: cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined,
    socket,
    closed: stream.closed,
    abort: () => {
      stream.reset(H2_ERROR.CANCEL);
      // A push stream dropped (a silent or replaced proxy) was its connection's only use.
      if (conn.activeStreams === 0) conn.destroy(new Error("push stream dropped"));
    },
  };
  let res: H1ServerResponse;
  try {
    res = await handler(req);
  } catch (err) {
    log.error("control request failed", { error: err });
    res = {
      status: 500,
      headers: [["content-type", "application/json"]],
      body: encoder.encode(JSON.stringify({ error: "internal error" })),
    };
  }
  const head: HeaderField[] = [[":status", String(res.status)]];
  // Connection-specific fields HTTP/2 can't carry (§8.2.2) are dropped by the codec.
  for (const [k, v] of res.headers) if (k.toLowerCase() !== "content-length") head.push([k, v]);
  const payload = typeof res.body === "string" ? encoder.encode(res.body) : res.body;
  try {
    if (payload === null || payload instanceof Uint8Array) {
      if (!payload?.length) {
        stream.respond([...head, ["content-length", "0"]], { endStream: true });
      } else {
        stream.respond([...head, ["content-length", String(payload.length)]]);
        await stream.write(payload);
        await stream.end();
      }
    } else {
      await pipeToStream(stream, head, res.length, payload);
    }
  } catch (err) {
    log.debug("control h2 stream ended before its response", { error: err });
    stream.reset(H2_ERROR.CANCEL);
  } finally {
    // Whatever the handler didn't read: its window goes back (the stream is closed by now).
    if (body && !body.locked) body.cancel().catch(() => {});
  }
}

/** Writes a streamed response body on `stream`; a failed stream cancels the body. */
async function pipeToStream(
  stream: H2Stream,
  head: HeaderField[],
  length: number | undefined,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  if (stream.state === "closed") {
    await body.cancel().catch(() => {});
    return;
  }
  stream.respond(length !== undefined ? [...head, ["content-length", String(length)]] : head);
  // A reset while the body waits on its source cancels the source now (the push stream ends).
  await writeBody(stream, body);
  await stream.end();
}
