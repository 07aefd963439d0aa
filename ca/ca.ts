/**
 * The embedded certificate authority (Istio's Citadel role): a self-signed root
 * kept in the control plane's data dir, which signs short-lived SPIFFE workload
 * certificates from CSRs, and the control plane's own serving certificate.
 *
 * @example
 * ```ts
 * const ca = await CertificateAuthority.loadOrCreate("/var/lib/mesh/ca", { trustDomain: "cluster.local" });
 * const { certChainPem } = await ca.signCsr(csrPem, { namespace: "default", serviceAccount: "reviews" });
 * ```
 * @module
 */
import { EC_P256, generateKey, importKey, splitPem, x509 } from "./pem.ts";
import { spiffeId } from "./spiffe.ts";
import { atomicWrite } from "../util/atomic_write.ts";

/** Options for creating or loading a CA. */
export interface CaOptions {
  /** SPIFFE trust domain, e.g. `cluster.local`. */
  trustDomain: string;
  /** Lifetime of workload certificates in milliseconds. Default 24h. */
  workloadTtlMs?: number;
}

/** What the CA returns for a signed certificate. */
export interface SignedCertificate {
  /** Leaf first, then any intermediates, PEM. */
  certChainPem: string;
  /** The roots a peer should trust, PEM bundle. */
  rootsPem: string;
  serial: string;
  notAfter: Date;
  spiffeId: string;
}

const DAY = 24 * 60 * 60 * 1000;
/** The longest lifetime a workload certificate may have (90 days). */
export const MAX_WORKLOAD_TTL_MS = 90 * DAY;
/** Default workload certificate lifetime (24 hours), as Istio's. */
export const DEFAULT_WORKLOAD_TTL_MS = DAY;
/** Largest CSR the CA accepts. */
export const MAX_CSR_BYTES = 64 * 1024;

function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive
  if (b[0] === 0) b[0] = 1;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function fileMode(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).mode ?? undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** A root CA that signs workload certificates. */
export class CertificateAuthority {
  readonly trustDomain: string;
  readonly workloadTtlMs: number;
  #cert: x509.X509Certificate;
  #keys: CryptoKeyPair;
  readonly rootPem: string;

  private constructor(cert: x509.X509Certificate, keys: CryptoKeyPair, options: CaOptions) {
    this.#cert = cert;
    this.#keys = keys;
    this.rootPem = cert.toString("pem") + "\n";
    this.trustDomain = options.trustDomain;
    this.workloadTtlMs = Math.min(
      options.workloadTtlMs ?? DEFAULT_WORKLOAD_TTL_MS,
      MAX_WORKLOAD_TTL_MS,
    );
  }

  /** The root certificate's expiry. */
  get notAfter(): Date {
    return this.#cert.notAfter;
  }

  /**
   * Loads the CA from `dir` (`root-cert.pem`, `root-key.pem`), creating a new
   * ECDSA P-256 root valid for 10 years when neither file exists.
   * Refuses a key readable by group or others, or a key that doesn't match the certificate.
   */
  static async loadOrCreate(dir: string, options: CaOptions): Promise<CertificateAuthority> {
    const certPath = `${dir}/root-cert.pem`;
    const keyPath = `${dir}/root-key.pem`;
    const keyMode = await fileMode(keyPath);
    const certMode = await fileMode(certPath);
    if (keyMode === undefined && certMode === undefined) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const ca = await CertificateAuthority.create(options);
      await atomicWrite(keyPath, ca.#keyPem!, { mode: 0o600 });
      await atomicWrite(certPath, ca.rootPem, { mode: 0o644 });
      return ca;
    }
    if (keyMode === undefined || certMode === undefined) {
      throw new Error(
        `CA in ${dir} is incomplete: ${keyMode === undefined ? keyPath : certPath} is missing; ` +
          `restore it from backup, or move the directory away to create a new CA`,
      );
    }
    if ((keyMode & 0o077) !== 0) {
      throw new Error(
        `CA key ${keyPath} is readable by others (mode ${(keyMode & 0o777).toString(8)}); ` +
          `run: chmod 600 ${keyPath}`,
      );
    }
    const certPem = await Deno.readTextFile(certPath);
    const keyPem = await Deno.readTextFile(keyPath);
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(splitPem(certPem)[0] ?? certPem);
    } catch (err) {
      throw new Error(
        `CA certificate ${certPath} is not a valid PEM certificate: ${(err as Error).message}`,
      );
    }
    let keys: CryptoKeyPair;
    try {
      keys = await importKey(keyPem, cert.toString("pem"));
    } catch (err) {
      throw new Error(
        `CA key ${keyPath} can't be read as a PKCS#8 PEM key: ${(err as Error).message}`,
      );
    }
    // The key must match the certificate: sign and verify a probe.
    const probe = new TextEncoder().encode("mesh-ca-probe");
    const alg = keys.privateKey.algorithm.name === "ECDSA"
      ? { name: "ECDSA", hash: "SHA-256" }
      : { name: "RSASSA-PKCS1-v1_5" };
    const sig = await crypto.subtle.sign(alg, keys.privateKey, probe);
    if (!(await crypto.subtle.verify(alg, keys.publicKey, sig, probe))) {
      throw new Error(`CA key ${keyPath} does not match certificate ${certPath}`);
    }
    return new CertificateAuthority(cert, keys, options);
  }

  #keyPem?: string;

  /** Creates a new in-memory root CA (ECDSA P-256, 10 years). */
  static async create(options: CaOptions): Promise<CertificateAuthority> {
    const { keys, keyPem } = await generateKey();
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `O=${options.trustDomain}, CN=mesh root CA`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3650 * DAY),
      signingAlgorithm: EC_P256,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign |
            x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const ca = new CertificateAuthority(cert, keys, options);
    ca.#keyPem = keyPem;
    return ca;
  }

  /**
   * Signs a PKCS#10 CSR for the given identity. The CSR's signature must verify;
   * whatever names it asks for are ignored: the certificate carries only the
   * SPIFFE ID of `identity`.
   */
  async signCsr(
    csrPem: string,
    identity: { namespace: string; serviceAccount: string },
    ttlMs = this.workloadTtlMs,
  ): Promise<SignedCertificate> {
    if (csrPem.length > MAX_CSR_BYTES) {
      throw new CaError(`CSR is ${csrPem.length} bytes; the limit is ${MAX_CSR_BYTES}`);
    }
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new CaError(`CSR is not a valid PEM certificate request: ${(err as Error).message}`);
    }
    if (!(await csr.verify().catch(() => false))) {
      throw new CaError("CSR signature does not verify; send a CSR signed by its own key");
    }
    const publicKey = await csr.publicKey.export().catch(() => undefined);
    if (!publicKey) throw new CaError("CSR public key is not a supported ECDSA or RSA key");
    const id = spiffeId(this.trustDomain, identity.namespace, identity.serviceAccount);
    return this.#issue(
      publicKey,
      [{ type: "url", value: id }],
      Math.min(ttlMs, MAX_WORKLOAD_TTL_MS),
      id,
    );
  }

  /** Issues a serving certificate for the control plane itself (DNS and IP SANs plus its SPIFFE ID). */
  issueServing(
    publicKey: CryptoKey,
    names: { dns: string[]; ips: string[]; spiffeId: string },
    ttlMs = 365 * DAY,
  ): Promise<SignedCertificate> {
    const sans: x509.JsonGeneralName[] = [
      ...names.dns.map((value) => ({ type: "dns" as const, value })),
      ...names.ips.map((value) => ({ type: "ip" as const, value })),
      { type: "url", value: names.spiffeId },
    ];
    return this.#issue(publicKey, sans, ttlMs, names.spiffeId);
  }

  async #issue(
    publicKey: CryptoKey,
    sans: x509.JsonGeneralName[],
    ttlMs: number,
    id: string,
  ): Promise<SignedCertificate> {
    const now = Date.now();
    const notAfter = new Date(Math.min(now + ttlMs, this.#cert.notAfter.getTime()));
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: "",
      issuer: this.#cert.subject,
      notBefore: new Date(now - 60_000),
      notAfter,
      signingAlgorithm: this.#keys.privateKey.algorithm.name === "ECDSA"
        ? EC_P256
        : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      publicKey,
      signingKey: this.#keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert, false),
        new x509.SubjectAlternativeNameExtension(sans, true),
      ],
    });
    return {
      certChainPem: cert.toString("pem") + "\n",
      rootsPem: this.rootPem,
      serial,
      notAfter,
      spiffeId: id,
    };
  }
}

/** A request the CA refuses; the message says why and what to send instead. */
export class CaError extends Error {
  override name = "CaError";
}
