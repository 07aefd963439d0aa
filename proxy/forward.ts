/**
 * Upstream connection pools, one per endpoint: plain HTTP/1.1 to local apps
 * and non-mesh endpoints, mesh mTLS (client certificate, peer SPIFFE ID
 * checked on connect) to other proxies. Connections are kept alive and
 * reused; a certificate renewal starts new pools while requests in flight
 * finish on the old connections.
 * @module
 */
import net from "node:net";
import tls, { type PeerCertificate } from "node:tls";
import type { Endpoint } from "../api/proxy_config.ts";
import { urisFromAltNames } from "../ca/spiffe.ts";
import type { Credentials } from "./control_client.ts";
import { H1Pool, type H1Request, type H1Response } from "./h1_client.ts";

/** Checks a peer certificate carries the expected SPIFFE ID. */
export function identityChecker(expected: string | undefined) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    if (!expected) return undefined;
    const uris = urisFromAltNames(cert.subjectaltname);
    return uris.includes(expected)
      ? undefined
      : new Error(`peer identity ${uris.join(",") || "(none)"} is not the expected ${expected}`);
  };
}

/** Connection pools to upstreams, keyed by endpoint. */
export class Upstreams {
  #pools = new Map<string, H1Pool>();
  #creds?: Credentials;
  #roots = "";

  /**
   * Uses new credentials and trusted roots for new mTLS connections; open
   * ones finish the requests they carry.
   */
  setCredentials(creds: Credentials, roots: string = creds.rootsPem): void {
    this.#creds = creds;
    this.#roots = roots;
    for (const [key, pool] of this.#pools) {
      if (key.startsWith("mtls|")) {
        pool.drain();
        this.#pools.delete(key);
      }
    }
  }

  #key(ep: Endpoint): string {
    return ep.mtls
      ? `mtls|${ep.address}|${ep.port}|${ep.identity ?? ""}`
      : `plain|${ep.address}|${ep.port}`;
  }

  /** The pool for an endpoint, created on first use. */
  pool(ep: Endpoint): H1Pool {
    const key = this.#key(ep);
    let pool = this.#pools.get(key);
    if (pool) return pool;
    if (ep.mtls) {
      const creds = this.#creds;
      const roots = this.#roots;
      if (!creds) throw new Error("no mesh certificate yet");
      const checkServerIdentity = identityChecker(ep.identity);
      pool = new H1Pool(() =>
        tls.connect({
          host: ep.address,
          port: ep.port,
          key: creds.keyPem,
          cert: creds.certChainPem,
          ca: roots,
          checkServerIdentity,
        })
      );
    } else {
      pool = new H1Pool(() => net.connect({ host: ep.address, port: ep.port }));
    }
    this.#pools.set(key, pool);
    return pool;
  }

  /** Sends a request to an endpoint. */
  request(ep: Endpoint, req: H1Request): Promise<H1Response> {
    return this.pool(ep).request(req);
  }

  /** Closes the pools of endpoints that are no longer in `keep`. */
  retain(keep: Iterable<Endpoint>): void {
    const wanted = new Set<string>();
    for (const ep of keep) wanted.add(this.#key(ep));
    for (const [key, pool] of this.#pools) {
      if (!wanted.has(key)) {
        pool.drain();
        this.#pools.delete(key);
      }
    }
  }

  /** Closes every pooled connection. */
  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }
}
