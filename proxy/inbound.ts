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
import { DEFAULT_LIMITS, guardServer, h1Options, type ListenerLimits } from "./listener.ts";
import { splice } from "./tcp.ts";
import type { Stats } from "./stats.ts";
import type { AuthzDecision, AuthzRequest } from "./authz.ts";
import type { AccessLog } from "./access_log.ts";
import type { MtlsMode, PathNormalization } from "../api/proxy_config.ts";
import type { JwtAuthenticator } from "./jwt.ts";
import type { Telemetry } from "./stages/observe.ts";
import type { Tracer } from "./tracing.ts";
import { pauseReading } from "./flow.ts";
import { prefaceMatch, serveH2 } from "./h2_serve.ts";
import { byProtocol, H1EndpointClient } from "./stages/endpoint.ts";
import { H2EndpointClient } from "./stages/h2_endpoint.ts";
import {
  type InboundConn,
  type InboundContext,
  inboundHandler,
  inboundServeHandler,
} from "./inbound_handler.ts";

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
  /** What the app's port speaks (the config's `inboundProtocol`); HTTP/1.1 when undefined. */
  appProtocol?: () => "HTTP2" | "CLIENT" | undefined;
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

/**
 * The first bytes of a paused plaintext connection, read until they are or can't be the
 * HTTP/2 preface (usually the first chunk decides); undefined when the connection closed or
 * stalled meanwhile (then it is destroyed). The socket stays paused.
 */
function prefaceOf(socket: net.Socket): Promise<{ h2: boolean; bytes: Uint8Array } | undefined> {
  return new Promise((resolve) => {
    let buf = new Uint8Array(0);
    const done = (v: { h2: boolean; bytes: Uint8Array } | undefined) => {
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.setTimeout(0);
      socket.pause();
      resolve(v);
    };
    const onData = (chunk: Uint8Array) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      const m = prefaceMatch(buf);
      if (m !== "more") done({ h2: m === "h2", bytes: buf });
    };
    const onClose = () => done(undefined);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => {
      socket.destroy();
      done(undefined);
    });
    socket.resume();
  });
}

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
  // The app over h2c (prior knowledge) when its port speaks HTTP/2.
  const h2App = new H2EndpointClient({
    dialer: { key: () => "app", tlsOptions: () => undefined },
  });
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
    // Peer proxies speak HTTP/2 (ALPN h2); HTTP/1.1 (and CONNECT tunnels) otherwise.
    ALPNProtocols: ["h2", "http/1.1"],
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
    serveConnection(socket, { uri: peer.id, hash }, { http2: socket.alpnProtocol === "h2" });
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
      // h2c with prior knowledge (a peer proxy to a plaintext workload) or HTTP/1.1.
      const first = await prefaceOf(socket);
      if (first === undefined) return;
      if (first.h2) serveConnection(socket, undefined, { http2: true, initialBytes: first.bytes });
      else {
        socket.unshift(first.bytes);
        serveConnection(socket, undefined, { http2: false });
      }
      socket.resume();
    });
  });
  // Connection limits and timeouts as the routed listeners have them (listener.ts).
  guardServer(server, "inbound", opts.limits);
  const h1 = h1Options(opts.limits);
  const serveH1: typeof serveH1WithOptions = (s, handler, connect) =>
    serveH1WithOptions(s, handler, connect, h1);

  const inboundCtx: InboundContext = {
    self,
    appPort: opts.appPort,
    port: opts.port,
    service: opts.service,
    telemetry,
    app: byProtocol({
      http1: new H1EndpointClient({ request: (_ep, req) => app.request(req) }),
      http2: h2App,
    }),
    mode,
    waitForConfig: opts.waitForConfig,
    authorize: opts.authorize,
    authenticate: opts.authenticate,
    tracer: opts.tracer,
    pathNormalization: opts.pathNormalization,
    appProtocol: opts.appProtocol,
    idleTimeoutMs: h1.idleTimeoutMs ?? 0,
  };
  const h2Limits = opts.limits ?? DEFAULT_LIMITS;

  /**
   * Serves a connection, mTLS (`peer` known) or plaintext: HTTP/2 when ALPN (mTLS) or the
   * preface (plaintext) says so, else HTTP/1.1 and its CONNECT tunnels.
   */
  function serveConnection(
    socket: net.Socket,
    peerCert: { uri: string; hash: string } | undefined,
    o: { http2: boolean; initialBytes?: Uint8Array },
  ) {
    const conn: InboundConn = {
      ...(peerCert ? { peer: peerCert } : {}),
      sourceIp: socket.remoteAddress ?? "",
      http2: o.http2,
      close: () => socket.destroy(),
    };
    const handle = inboundHandler(inboundCtx, conn);
    // HTTP/1.1: the request in flight is abandoned when the peer's connection closes.
    const gone = new AbortController();
    if (!o.http2) socket.once("close", () => gone.abort(new Error("peer connection closed")));
    if (o.http2) {
      serveH2(socket, {
        scheme: peerCert ? "https" : "http",
        handler: inboundServeHandler(handle),
        limits: h2Limits,
        listenerPort: opts.port,
        upgrades: { idleTimeoutMs: inboundCtx.idleTimeoutMs },
        ...(o.initialBytes ? { initialBytes: o.initialBytes } : {}),
      });
      return;
    }
    serveH1(
      socket,
      (req) => handle({ ...req, signal: gone.signal }),
      tunnelHandler(peerCert, conn.sourceIp),
    );
  }

  /** CONNECT tunnels (TCP through the mesh) go to the app's port as raw bytes. */
  function tunnelHandler(peerCert: { uri: string } | undefined, sourceIp: string) {
    const peer = peerCert?.uri ?? "";
    const mtls = peerCert !== undefined;
    const principal = peer.replace(/^spiffe:\/\//, "");
    // A plaintext connection lasts only while the mode allows plaintext.
    const refused = () => !mtls && mode() === "STRICT";
    return async (_target: string, tunnel: net.Socket, rest: Uint8Array) => {
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
      const upstream = net.connect({ host: "127.0.0.1", port: opts.appPort }, () => {
        tunnel.write("HTTP/1.1 200 OK\r\n\r\n");
        if (rest.length) upstream.write(rest);
        opts.stats.tcpOpened("destination", tcpLabels);
        splice(
          tunnel,
          upstream,
          (received, sent) => opts.stats.tcpClosed("destination", tcpLabels, sent, received),
        );
      });
      upstream.once("error", () => {
        if (!tunnel.destroyed) {
          tunnel.end("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        }
      });
    };
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
            h2App.close();
          }),
      });
    });
  });
}
