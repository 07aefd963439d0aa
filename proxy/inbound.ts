/**
 * The inbound listener: mesh mTLS only (a client certificate from the mesh CA
 * is required), forwarding to the application on localhost with the caller's
 * identity in `x-forwarded-client-cert` as Istio sets it
 * (`By=<own id>;Hash=<peer cert sha256>;Subject="";URI=<peer id>`). An XFCC
 * header sent by the caller is dropped, never trusted.
 * @module
 */
import type http from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { urisFromAltNames } from "../ca/spiffe.ts";
import { forwardableHeaders, sendError, type Upstreams } from "./forward.ts";
import type { Credentials } from "./control_client.ts";
import type { Endpoint } from "../api/proxy_config.ts";
import type { Stats } from "./stats.ts";

/** Settings of the inbound listener. */
export interface InboundOptions {
  address: string;
  port: number;
  appPort: number;
  /** The local service host for metrics. */
  service: string;
  credentials: Credentials;
  upstreams: Upstreams;
  stats: Stats;
}

interface Peer {
  xfcc: string;
  uri: string;
}

/** Starts the inbound mTLS listener; resolves with the server once listening. */
export function startInbound(opts: InboundOptions): Promise<https.Server> {
  const self = opts.credentials.spiffeId;
  const app: Endpoint = { address: "127.0.0.1", port: opts.appPort, mtls: false, labels: {} };
  const peers = new WeakMap<TLSSocket, Peer>();
  const peerOf = (sock: TLSSocket): Peer => {
    let p = peers.get(sock);
    if (!p) {
      const cert = sock.getPeerCertificate();
      const uri = urisFromAltNames(cert.subjectaltname)[0] ?? "";
      const hash = (cert.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
      p = { uri, xfcc: `By=${self};Hash=${hash};Subject="";URI=${uri}` };
      peers.set(sock, p);
    }
    return p;
  };
  const server = https.createServer({
    key: opts.credentials.keyPem,
    cert: opts.credentials.certChainPem,
    ca: opts.credentials.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
  }, (req: http.IncomingMessage, res: http.ServerResponse) => {
    const start = performance.now();
    const sock = req.socket as TLSSocket;
    if (!sock.authorized) return sendError(res, 403, "client certificate required");
    const peer = peerOf(sock);
    const headers = forwardableHeaders(req.headers, "x-forwarded-client-cert");
    headers["x-forwarded-client-cert"] = peer.xfcc;
    headers["x-forwarded-proto"] = "https";
    opts.upstreams.forward(req, res, app, req.url ?? "/", headers, (code) =>
      opts.stats.record(
        "destination",
        { service: opts.service, peer: peer.uri, mtls: true },
        code,
        performance.now() - start,
      ));
  });
  server.on("tlsClientError", () => {}); // refused handshakes are expected noise
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.address, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** Swaps the inbound listener's certificate; connections already open keep theirs. */
export function rotateInbound(server: https.Server, creds: Credentials): void {
  server.setSecureContext({
    key: creds.keyPem,
    cert: creds.certChainPem,
    ca: creds.rootsPem,
  });
}
