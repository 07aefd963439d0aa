/**
 * A gateway HTTPS listener with client certificates (Gateway `tls.mode: MUTUAL`):
 * `Deno.serve` can't ask clients for certificates, so this one is a `node:tls`
 * server with mesh's own HTTP/1.1 server loop, handing each request to the same
 * routed handler the other gateway listeners use. As Istio's gateway does, the
 * client certificate's details reach the upstream in `x-forwarded-client-cert`
 * (`Hash=...;Subject="...";URI=...;DNS=...`), and a client-sent one is replaced.
 * @module
 */
import tls from "node:tls";
import type net from "node:net";
import { serveH1 } from "./h1_server.ts";

const verified = new WeakSet<Request>();

/** Whether `req`'s `x-forwarded-client-cert` was set by a MUTUAL listener (so it goes on). */
export function hasVerifiedXfcc(req: Request): boolean {
  return verified.has(req);
}

/** Serving material of a MUTUAL gateway server: its certificate and the client CAs. */
export interface MutualTls {
  cert: string;
  key: string;
  /** CAs that client certificates must chain to. */
  ca: string;
}

/** The `x-forwarded-client-cert` value Envoy sets for a verified client certificate. */
export function xfccFor(cert: tls.PeerCertificate): string {
  const hash = (cert.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
  const subject = Object.entries(cert.subject ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`).reverse().join(",");
  const parts = [`Hash=${hash}`, `Subject="${subject.replace(/"/g, '\\"')}"`];
  for (const san of (cert.subjectaltname ?? "").split(/,\s*/)) {
    if (san.startsWith("URI:")) parts.push(`URI=${san.slice(4)}`);
    else if (san.startsWith("DNS:")) parts.push(`DNS=${san.slice(4)}`);
  }
  return parts.join(";");
}

/**
 * Starts a MUTUAL TLS listener on `address:port` whose requests go to `handler` (a
 * `Deno.serve`-style handler); resolves once listening, with a shutdown function.
 */
export function serveMutualTls(
  address: string,
  port: number,
  material: MutualTls,
  handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
): Promise<{ shutdown(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    if (!socket.authorized) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const xfcc = xfccFor(socket.getPeerCertificate());
    const info = {
      remoteAddr: {
        transport: "tcp",
        hostname: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
      },
    } as Deno.ServeHandlerInfo;
    serveH1(socket, async (r) => {
      const headers = new Headers();
      for (const [k, v] of r.headers) {
        if (k !== "x-forwarded-client-cert") headers.append(k, v);
      }
      headers.set("x-forwarded-client-cert", xfcc);
      const host = headers.get("host") ?? `${address}:${port}`;
      const target = r.target.startsWith("/") ? r.target : new URL(r.target).pathname;
      const req = new Request(`https://${host}${target}`, {
        method: r.method,
        headers,
        body: r.method === "GET" || r.method === "HEAD" ? null : r.body,
      });
      verified.add(req);
      let res: Response;
      try {
        res = await handler(req, info);
      } catch (err) {
        res = new Response(`gateway error: ${(err as Error).message}`, { status: 500 });
      }
      const out: [string, string][] = [];
      res.headers.forEach((v, k) => out.push([k, v]));
      const cl = res.headers.get("content-length");
      return {
        status: res.status,
        headers: out,
        body: res.body,
        length: cl !== null ? Number(cl) : undefined,
      };
    });
  });
  server.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve({
        shutdown: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
