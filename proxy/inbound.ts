/**
 * The inbound listener, forwarding to the application on localhost. What it
 * accepts follows the workload's PeerAuthentication mode: STRICT (the default)
 * only mesh mTLS (a client certificate from the mesh CA), PERMISSIVE mesh mTLS
 * or plaintext on the same port (told apart by the first byte, as Envoy's TLS
 * inspector does), DISABLE only plaintext. Over mTLS the caller's identity
 * reaches the app in `x-forwarded-client-cert` as Istio sets it
 * (`By=<own id>;Hash=<peer cert sha256>;Subject="";URI=<peer id>`), appended to
 * one the peer proxy set (Istio's APPEND_FORWARD; a peer proxy only passes on what a
 * MUTUAL gateway listener verified). Over plaintext, an XFCC header is dropped.
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { urisFromAltNames } from "../ca/spiffe.ts";
import { logger } from "../util/log.ts";
import type { Credentials } from "./control_client.ts";
import { H1Pool } from "./h1_client.ts";
import { serveH1 as serveH1WithOptions } from "./h1_server.ts";
import { guardServer, h1Options, type ListenerLimits } from "./listener.ts";
import { splice } from "./tcp.ts";
import type { Stats } from "./stats.ts";
import type { AuthzDecision, AuthzRequest } from "./authz.ts";
import type { AccessLog } from "./access_log.ts";
import type { HeaderChanges, MtlsMode, PathNormalization } from "../api/proxy_config.ts";
import { normalizePath } from "./path_normalize.ts";
import { targetAuthority } from "./authority.ts";
import { hopFilter, withoutHopHeaders } from "./hop_headers.ts";
import { VIA_HEADER } from "./loop.ts";
import type { JwtAuthenticator, RequestAuth } from "./jwt.ts";
import { type Failure, failureAnswer } from "./errors.ts";
import { observe, type Telemetry } from "./stages/observe.ts";
import { type Span, type Tracer, withTraceHeaders } from "./tracing.ts";
import { pauseReading } from "./flow.ts";
import { carry, switchingHeaders, upgradeHeaders, upgradeOf } from "./upgrade.ts";

/** Settings of the inbound listener. */
export interface InboundOptions {
  address: string;
  port: number;
  appPort: number;
  /** The local service host for metrics. */
  service: string;
  credentials: Credentials;
  /** Roots to trust for client certificates. */
  roots: string;
  stats: Stats;
  /** Access log (off unless the mesh config turns it on). */
  accessLog?: AccessLog;
  /**
   * Resolves true once the first config is applied (at once after that), false when none
   * came in time: authorization must not be skipped for lack of a config.
   */
  waitForConfig?: () => Promise<boolean> | boolean;
  /** The current authorization decision (AuthorizationPolicies); everything is allowed without. */
  authorize?: () => ((r: AuthzRequest) => AuthzDecision) | undefined;
  /** The current PeerAuthentication mode; STRICT without. */
  mtlsMode?: () => MtlsMode | undefined;
  /** The current request authentication (RequestAuthentications); none without. */
  authenticate?: () => JwtAuthenticator | undefined;
  /** The tracer, while the config turns tracing on. */
  tracer?: () => Tracer | undefined;
  /**
   * The config's MeshConfig `trustDomainAliases`: peers whose SPIFFE IDs are in these trust
   * domains are accepted besides the mesh's own (the trust domain of this proxy's certificate).
   */
  trustDomainAliases?: () => readonly string[] | undefined;
  /** Connection limits and timeouts (listener.ts; defaults without). */
  limits?: ListenerLimits;
  /** The config's MeshConfig `pathNormalization` (BASE, Istio's default, when absent). */
  pathNormalization?: () => PathNormalization | undefined;
}

const log = logger("inbound");

/** The trust domain of a `spiffe://` URI, or undefined. */
function trustDomainOf(uri: string): string | undefined {
  return /^spiffe:\/\/([^/]+)\/./.exec(uri)?.[1];
}

/**
 * Checks a verified peer certificate's identity: exactly one URI SAN, a SPIFFE ID in the mesh's
 * trust domain or one of its aliases. Returns the peer's SPIFFE ID, or why it is refused.
 */
export function checkPeerIdentity(
  subjectaltname: string | undefined,
  trustDomains: readonly string[],
): { id: string } | { refused: string } {
  const uris = urisFromAltNames(subjectaltname);
  const allowed = trustDomains.join(", ");
  if (uris.length === 0) {
    return {
      refused:
        `the peer certificate has no SPIFFE ID (no URI SAN); allowed trust domains: ${allowed}`,
    };
  }
  if (uris.length > 1) {
    return {
      refused: `the peer certificate has ${uris.length} URI SANs (${
        uris.join(", ")
      }); a SPIFFE certificate has exactly one`,
    };
  }
  const td = trustDomainOf(uris[0]);
  if (td === undefined) return { refused: `the peer's URI SAN ${uris[0]} is not a SPIFFE ID` };
  if (!trustDomains.includes(td)) {
    return {
      refused: `the peer ${uris[0]} is in trust domain ${td}, not the mesh's (${allowed}); ` +
        "add it to MeshConfig trustDomainAliases to accept it",
    };
  }
  return { id: uris[0] };
}

/** Logs refused peers, at most {@linkcode REFUSAL_LOG_BURST} lines per 10 s (then a count). */
const REFUSAL_LOG_BURST = 5;
function refusalLogger() {
  let windowStart = 0;
  let logged = 0;
  let suppressed = 0;
  return (fields: Record<string, unknown>) => {
    const now = performance.now();
    if (now - windowStart > 10_000) {
      if (suppressed) log.warn("more TLS peers refused", { count: suppressed });
      windowStart = now;
      logged = 0;
      suppressed = 0;
    }
    if (logged++ < REFUSAL_LOG_BURST) {
      log.warn("refused a TLS peer; connection closed", fields);
    } else suppressed++;
  };
}

/** The first byte of a TLS connection (a handshake record). */
const TLS_HANDSHAKE = 0x16;

/** How long a new connection may stay silent before it is closed. */
export const FIRST_BYTE_TIMEOUT_MS = 15_000;

/** A running inbound listener. */
export interface Inbound {
  port: number;
  /** Swaps the certificate and trusted roots for new connections; open ones keep theirs. */
  rotate(creds: Credentials, roots?: string): void;
  close(): Promise<void>;
}

/** Starts the inbound mTLS listener; resolves once listening. */
export function startInbound(opts: InboundOptions): Promise<Inbound> {
  const self = opts.credentials.spiffeId;
  // The mesh's trust domain is the one its CA put in this proxy's own certificate.
  let ownTrustDomain = trustDomainOf(self) ?? "cluster.local";
  const trustDomains = () => [ownTrustDomain, ...(opts.trustDomainAliases?.() ?? [])];
  const logRefused = refusalLogger();
  const app = new H1Pool(() => net.connect({ host: "127.0.0.1", port: opts.appPort }));
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const tlsServer = tls.createServer({
    key: opts.credentials.keyPem,
    cert: opts.credentials.certChainPem,
    ca: opts.roots,
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket: tls.TLSSocket) => {
    if (!socket.authorized) {
      socket.destroy();
      return;
    }
    const cert = socket.getPeerCertificate();
    // A certificate from the mesh's roots is not enough: its SPIFFE ID must be in the mesh's
    // trust domain (or an alias); anything else is closed before a request is read.
    const peer = checkPeerIdentity(cert.subjectaltname, trustDomains());
    if ("refused" in peer) {
      logRefused({ reason: peer.refused, remote: socket.remoteAddress });
      socket.destroy();
      return;
    }
    track(socket);
    const hash = (cert.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
    serveConnection(socket, { uri: peer.id, hash });
  });
  // A refused or stalled handshake: close the connection (Deno's node:tls leaves it open).
  tlsServer.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => socket.destroy());

  const mode = (): MtlsMode => opts.mtlsMode?.() ?? "STRICT";
  const telemetry: Telemetry = { stats: opts.stats, accessLog: opts.accessLog };
  // Every connection starts here; its first byte says TLS or plaintext.
  const server = net.createServer((socket) => {
    track(socket);
    socket.on("error", () => socket.destroy());
    // A client must speak within FIRST_BYTE_TIMEOUT_MS (Envoy's listener filter timeout).
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once("data", async (chunk: Uint8Array) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) {
        // Before the first config the mode isn't known: mTLS is allowed then (STRICT's way).
        if (mode() === "DISABLE") socket.destroy();
        else tlsServer.emit("connection", socket);
        return;
      }
      // Plaintext needs a config that allows it, so wait for the first one.
      const ready = !opts.waitForConfig || await opts.waitForConfig();
      if (!ready || mode() === "STRICT") {
        socket.destroy();
        return;
      }
      socket.resume();
      serveConnection(socket, undefined);
    });
  });
  // Connection limits and timeouts as the routed listeners have them (listener.ts).
  guardServer(server, "inbound", opts.limits);
  const h1 = h1Options(opts.limits);
  const serveH1: typeof serveH1WithOptions = (s, handler, connect) =>
    serveH1WithOptions(s, handler, connect, h1);

  /** Serves HTTP/1.1 (and CONNECT tunnels) on a connection, mTLS (`peer` known) or plaintext. */
  function serveConnection(
    socket: net.Socket,
    peerCert: { uri: string; hash: string } | undefined,
  ) {
    const peer = peerCert?.uri ?? "";
    const mtls = peerCert !== undefined;
    const xfcc = mtls ? `By=${self};Hash=${peerCert.hash};Subject="";URI=${peer}` : undefined;
    const labels = { service: opts.service, peer, mtls };
    const principal = peer.replace(/^spiffe:\/\//, "");
    const sourceIp = socket.remoteAddress ?? "";
    // A CONNECT tunnel (TCP through the mesh) goes to the app's port as raw bytes.
    // A plaintext connection lasts only while the mode allows plaintext (a switch to STRICT
    // closes it at its next request).
    const refused = () => !mtls && mode() === "STRICT";
    const onConnect = async (_target: string, tunnel: net.Socket, rest: Uint8Array) => {
      pauseReading(tunnel); // bytes wait until the tunnel is authorized and the app connection is there
      if (opts.waitForConfig && !(await opts.waitForConfig())) {
        tunnel.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      if (refused()) {
        tunnel.destroy();
        return;
      }
      const authorize = opts.authorize?.();
      const decision = authorize?.({
        principal,
        sourceIp,
        host: "",
        port: opts.appPort,
        method: "",
        path: "",
        header: () => undefined,
        tcp: true,
      });
      if (decision && !decision.allowed) {
        tunnel.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      const tcpLabels = { service: opts.service, peer, mtls };
      const app = net.connect({ host: "127.0.0.1", port: opts.appPort }, () => {
        tunnel.write("HTTP/1.1 200 OK\r\n\r\n");
        if (rest.length) app.write(rest);
        opts.stats.tcpOpened("destination", tcpLabels);
        splice(
          tunnel,
          app,
          (received, sent) => opts.stats.tcpClosed("destination", tcpLabels, sent, received),
        );
      });
      app.once("error", () => {
        if (!tunnel.destroyed) {
          tunnel.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        }
      });
    };
    const appHost = `127.0.0.1:${opts.appPort}`;
    const inboundCluster = `inbound|${opts.appPort}||`;
    serveH1(socket, async (req) => {
      const start = performance.now();
      const h = (n: string) => req.headers.find(([k]) => k === n)?.[1];
      // Request headers, `host` the request's one authority once decided.
      let header = h;
      // The one observe step (stats, access log, span), as the routed listeners have it.
      const done = (status: number, flags?: string, span?: Span) =>
        observe(telemetry, {
          reporter: "destination",
          labels,
          status,
          flags,
          start,
          method: req.method,
          path: req.target,
          authority: h("host"),
          header: h,
          upstreamHost: appHost,
          upstreamCluster: inboundCluster,
          span: span && {
            span,
            name: `${opts.service}:${opts.appPort}/*`,
            url: `http://${header("host") ?? ""}${req.target}`,
            peerAddress: sourceIp,
          },
        });
      // A refusal as errors.ts answers it, observed; the request body is not read.
      const refuse = async (f: Failure, span?: Span) => {
        const a = failureAnswer(f);
        done(a.status, a.flags, span);
        if (req.body) await req.body.cancel().catch(() => {});
        return { status: a.status, headers: a.headers, body: a.body };
      };
      if (opts.waitForConfig) {
        const waited = opts.waitForConfig();
        const ready = waited === true || await waited;
        if (!ready) return refuse({ kind: "no_config" });
      }
      if (refused()) {
        socket.destroy();
        return { status: 503, headers: [], body: "" };
      }
      // One authority and one normalized path (MeshConfig pathNormalization), decided once:
      // authorization and the app see the same ones.
      const authority = targetAuthority(req.target, req.headers.find(([k]) => k === "host")?.[1]);
      const normalized = normalizePath(req.target, opts.pathNormalization?.());
      if (authority.reject !== undefined || normalized.reject !== undefined) {
        return refuse({ kind: "bad_request", why: (authority.reject ?? normalized.reject)! });
      }
      req.target = normalized.path;
      const host = authority.authority;
      header = (name: string) => name === "host" ? host : h(name);
      if (opts.appPort === opts.port) {
        // The app port is this listener's own: forwarding would loop.
        return refuse({ kind: "loop", why: "the app port is the inbound listener's own" });
      }
      // A SERVER span sharing the caller's span id; its B3 headers go on to the app.
      const span = opts.tracer?.()?.start("SERVER", header);
      // RequestAuthentication: a token must verify; it gives the request an identity.
      let auth: RequestAuth | undefined;
      let extraHeaders: HeaderChanges | undefined;
      const jwt = opts.authenticate?.();
      if (jwt) {
        // Several values of one header are read together, as Envoy does.
        const joined = (name: string) => {
          const vs = req.headers.filter(([k]) => k === name).map(([, v]) => v);
          return vs.length ? vs.join(",") : undefined;
        };
        const out = await jwt.authenticate({ path: req.target, header: joined });
        if (!out.ok) {
          return refuse({
            kind: "jwt_denied",
            message: out.message,
            authority: header("host") ?? "",
            path: req.target,
            scheme: "http",
          }, span);
        }
        auth = out.auth;
        extraHeaders = out.headers;
      }
      const authorize = opts.authorize?.();
      if (authorize) {
        const decision = authorize({
          principal,
          sourceIp,
          host: header("host") ?? "",
          port: opts.appPort,
          method: req.method,
          path: req.target,
          header,
          auth,
        });
        if (!decision.allowed) return refuse({ kind: "rbac" }, span);
      }
      if (span) extraHeaders = withTraceHeaders(extraHeaders, span);
      const headers: [string, string][] = [];
      // From a mesh peer (mTLS), an XFCC it set (a MUTUAL gateway's) is kept and ours
      // appended, as Istio's APPEND_FORWARD; in plaintext, nothing a client sent is trusted.
      // Likewise the scheme a gateway saw (x-forwarded-proto) comes through from a peer.
      // Both are picked up in the one pass over the headers.
      let incomingXfcc: string | undefined;
      let incomingProto: string | undefined;
      const drop = extraHeaders && new Set([
        ...(extraHeaders.remove ?? []),
        ...Object.keys(extraHeaders.set ?? {}),
      ]);
      // Hop-by-hop headers and those `Connection` names stay here; Envoy's `x-envoy-*` only
      // come through from mesh peers (mTLS), and `x-mesh-via` (loop detection) ends here.
      const hop = hopFilter(
        req.headers.filter(([k]) => k === "connection").map(([, v]) => v),
        !mtls,
      );
      for (const h of req.headers) {
        const k = h[0];
        if (k === "host" || k === VIA_HEADER) continue;
        if (k === "x-forwarded-client-cert") {
          if (xfcc) incomingXfcc = h[1];
          continue;
        }
        if (k === "x-forwarded-proto") {
          if (xfcc) incomingProto = h[1];
          continue;
        }
        if (hop(k) || k === "content-length") continue;
        if (k === "expect" || drop?.has(k)) continue;
        headers.push(h);
      }
      if (host) headers.push(["host", host]);
      // A WebSocket upgrade (authorized like any request) asks the app for it in turn.
      const asked = req.body ? undefined : upgradeOf(req.headers);
      const upgrade = asked && "type" in asked ? asked.type : undefined;
      if (upgrade) headers.push(...upgradeHeaders(upgrade));
      for (const kv of Object.entries(extraHeaders?.set ?? {})) headers.push(kv);
      if (xfcc) {
        headers.push(
          ["x-forwarded-client-cert", incomingXfcc ? `${incomingXfcc},${xfcc}` : xfcc],
          ["x-forwarded-proto", incomingProto ?? "https"],
        );
      } else headers.push(["x-forwarded-proto", "http"]);
      try {
        const res = await app.request({
          method: req.method,
          path: req.target,
          headers,
          body: req.body,
          length: req.length,
        });
        done(res.status, undefined, span);
        const up = res.upgrade;
        if (up && upgrade) {
          return {
            status: 101,
            headers: switchingHeaders(res.headers, upgrade),
            body: null,
            upgrade: (s, rest) => carry(s, rest, up, { idleTimeoutMs: h1.idleTimeoutMs ?? 0 }),
          };
        }
        const resHeaders = withoutHopHeaders(res.headers);
        if (res.full) return { status: res.status, headers: resHeaders, body: res.full };
        const cl = res.headers.find(([k]) => k === "content-length");
        return {
          status: res.status,
          headers: resHeaders,
          body: res.body,
          length: cl ? Number(cl[1]) : undefined,
        };
      } catch (err) {
        const a = failureAnswer({ kind: "unreachable", detail: (err as Error).message });
        done(a.status, a.flags, span);
        return { status: a.status, headers: a.headers, body: a.body };
      }
    }, onConnect);
  }
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.address, () => {
      server.off("error", reject);
      const a = server.address();
      resolve({
        port: typeof a === "object" && a ? a.port : opts.port,
        rotate(creds, roots = creds.rootsPem) {
          ownTrustDomain = trustDomainOf(creds.spiffeId) ?? ownTrustDomain;
          tlsServer.setSecureContext({ key: creds.keyPem, cert: creds.certChainPem, ca: roots });
        },
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy();
            app.close();
          }),
      });
    });
  });
}
