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
import type { Endpoint, UpstreamTls } from "../api/proxy_config.ts";
import { urisFromAltNames } from "../ca/spiffe.ts";
import type { Credentials } from "./control_client.ts";
import { H1Pool, type H1Request, type H1Response } from "./h1_client.ts";
import { connectTls, type TlsDialOptions } from "./flow.ts";

/**
 * The SPIFFE IDs a peer expected as `expected` may present: `expected` itself and, as Istio
 * expands a cluster's SANs with MeshConfig `trustDomainAliases`, the same path under each alias
 * (`spiffe://cluster.local/ns/x/sa/y` → `spiffe://<alias>/ns/x/sa/y`).
 */
export function acceptedIdentities(expected: string, aliases?: readonly string[]): string[] {
  const m = /^spiffe:\/\/([^/]+)(\/.*)$/.exec(expected);
  if (!m || !aliases?.length) return [expected];
  return [expected, ...aliases.filter((a) => a !== m[1]).map((a) => `spiffe://${a}${m[2]}`)];
}

/**
 * Checks a peer certificate carries the expected SPIFFE ID, or that ID under one of the trust
 * domain aliases (read at each handshake, so a config change applies to new connections).
 */
export function identityChecker(
  expected: string | undefined,
  aliases?: () => readonly string[] | undefined,
) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    if (!expected) return undefined;
    const uris = urisFromAltNames(cert.subjectaltname);
    const ok = acceptedIdentities(expected, aliases?.());
    return uris.some((u) => ok.includes(u)) ? undefined : new Error(
      `peer identity ${uris.join(",") || "(none)"} is not the expected ${expected}${
        ok.length > 1 ? ` (or ${ok.slice(1).join(", ")}, by trust domain alias)` : ""
      }`,
    );
  };
}

/** Connection pools to upstreams, keyed by endpoint. */
export class Upstreams {
  #pools = new Map<string, H1Pool>();
  #creds?: Credentials;
  #roots = "";
  #aliases: () => readonly string[] | undefined;
  #generation = 0;

  /** `trustDomainAliases`: the current config's aliases (ProxyConfig `trustDomainAliases`). */
  constructor(trustDomainAliases: () => readonly string[] | undefined = () => undefined) {
    this.#aliases = trustDomainAliases;
  }

  /**
   * Uses new credentials and trusted roots for new mTLS connections; open
   * ones finish the requests they carry.
   */
  setCredentials(creds: Credentials, roots: string = creds.rootsPem): void {
    this.#creds = creds;
    this.#roots = roots;
    this.#generation++;
    for (const [key, pool] of this.#pools) {
      if (key.startsWith("mtls|")) {
        pool.drain();
        this.#pools.delete(key);
      }
    }
  }

  #key(ep: Endpoint, origination?: Origination): string {
    return ep.mtls
      ? `mtls|${ep.address}|${ep.port}|${ep.identity ?? ""}`
      : origination && !ep.sidecar
      ? `tls|${ep.address}|${ep.port}|${tlsKey(origination)}`
      : `plain|${ep.address}|${ep.port}`;
  }

  /**
   * How connections to `ep` are keyed: the address, port and TLS (mesh identity or origination
   * settings); mesh mTLS keys carry the credentials' generation, so a renewal keys anew.
   */
  key(ep: Endpoint, origination?: Origination): string {
    const k = this.#key(ep, origination);
    return ep.mtls ? `${k}|${this.#generation}` : k;
  }

  /**
   * The `tls.connect` options for `ep` (mesh mTLS with the current certificate, or TLS
   * origination to an endpoint outside the mesh), undefined for plaintext. Throws when there
   * is no mesh certificate yet or a file the origination names can't be read.
   */
  tlsOptions(ep: Endpoint, origination?: Origination): TlsDialOptions | undefined {
    // TLS origination is for endpoints outside the mesh; a sidecar speaks mesh mTLS or plaintext.
    if (!ep.mtls && !ep.sidecar && origination) return originationOptions(ep, origination);
    if (!ep.mtls) return undefined;
    const creds = this.#creds;
    if (!creds) throw new Error("no mesh certificate yet");
    return {
      host: ep.address,
      port: ep.port,
      key: creds.keyPem,
      cert: creds.certChainPem,
      ca: this.#roots,
      checkServerIdentity: identityChecker(ep.identity, this.#aliases),
    };
  }

  /**
   * The pool for an endpoint, created on first use. `origination` opens TLS to an endpoint
   * outside the mesh (DestinationRule SIMPLE or MUTUAL); it throws when a file it names
   * can't be read.
   */
  pool(ep: Endpoint, origination?: Origination, connectTimeoutMs?: number): H1Pool {
    const key = this.#key(ep, origination);
    let pool = this.#pools.get(key);
    if (pool) {
      if (connectTimeoutMs !== undefined) pool.connectTimeoutMs = connectTimeoutMs;
      return pool;
    }
    const tlsOptions = this.tlsOptions(ep, origination);
    pool = tlsOptions
      ? new H1Pool(() => connectTls(tlsOptions))
      : new H1Pool(() => net.connect({ host: ep.address, port: ep.port }));
    if (connectTimeoutMs !== undefined) pool.connectTimeoutMs = connectTimeoutMs;
    this.#pools.set(key, pool);
    return pool;
  }

  /** Sends a request to an endpoint. */
  request(
    ep: Endpoint,
    req: H1Request,
    origination?: Origination,
    connectTimeoutMs?: number,
  ): Promise<H1Response> {
    return this.pool(ep, origination, connectTimeoutMs).request(req);
  }

  /** Closes the pools of endpoints that are no longer in `keep`. */
  retain(keep: Iterable<Endpoint | [Endpoint, Origination | undefined]>): void {
    const wanted = new Set<string>();
    for (const k of keep) wanted.add(Array.isArray(k) ? this.#key(k[0], k[1]) : this.#key(k));
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

/** TLS origination for one cluster: its settings and the service host (for SNI). */
export interface Origination {
  tls: UpstreamTls;
  /** The cluster's service host, the SNI for an endpoint given by IP address. */
  host: string;
}

const tlsKeys = new WeakMap<UpstreamTls, string>();
function tlsKey(o: Origination): string {
  let k = tlsKeys.get(o.tls);
  if (k === undefined) tlsKeys.set(o.tls, k = JSON.stringify(o.tls));
  return `${o.host}|${k}`;
}

function readPem(path: string, field: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new Error(
      `can't read the DestinationRule's tls.${field} ${path}: ${(err as Error).message}; ` +
        "put the file on this proxy's host or fix the path",
    );
  }
}

function isIp(host: string): boolean {
  return net.isIP(host) !== 0;
}

/** `tls.connect` options for TLS origination to `ep`, as Istio's ClientTLSSettings describe. */
export function originationOptions(ep: Endpoint, o: Origination): TlsDialOptions {
  const t = o.tls;
  const servername = t.sni ?? (isIp(ep.address) ? o.host : ep.address);
  const options: TlsDialOptions = {
    host: ep.address,
    port: ep.port,
    servername: isIp(servername) ? undefined : servername,
    rejectUnauthorized: !t.insecureSkipVerify,
  };
  if (t.caCertificates) options.ca = readPem(t.caCertificates, "caCertificates");
  if (t.mode === "MUTUAL") {
    if (t.clientCertificate) options.cert = readPem(t.clientCertificate, "clientCertificate");
    if (t.privateKey) options.key = readPem(t.privateKey, "privateKey");
  }
  const sans = t.subjectAltNames;
  if (sans?.length) {
    options.checkServerIdentity = (_host, cert) => {
      const names = (cert.subjectaltname ?? "").split(/,\s*/).map((n) =>
        n.replace(/^(DNS|URI|IP Address):/, "")
      );
      return sans.some((s) => names.includes(s)) ? undefined : new Error(
        `server certificate names ${names.join(",") || "(none)"} match none of subjectAltNames ${
          sans.join(",")
        }`,
      );
    };
  } else if (t.insecureSkipVerify) {
    options.checkServerIdentity = () => undefined;
  } else {
    options.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(servername, cert);
  }
  return options;
}
