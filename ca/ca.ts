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
import { EC_P256, generateKey, importKey, splitPem, toPem, x509 } from "./pem.ts";
import { spiffeId } from "./spiffe.ts";
import { atomicWrite } from "../util/atomic_write.ts";

import {
  CA_KEY_TYPES,
  type CaKeyType,
  csrKeyProblem,
  type KeyAlgorithmInfo,
} from "./ca_key_types.ts";
export { CA_KEY_TYPES, type CaKeyType };

/** Options for creating or loading a CA. */
export interface CaOptions {
  /** SPIFFE trust domain, e.g. `cluster.local`. */
  trustDomain: string;
  /** Lifetime of workload certificates in milliseconds. Default 24h. */
  workloadTtlMs?: number;
  /** Key type of a root created here. Default `ec-p256`. */
  keyType?: CaKeyType;
}

/** What the CA returns for a signed certificate. */
export interface SignedCertificate {
  /** Leaf first, then any intermediates, PEM. */
  certChainPem: string;
  /** The roots a peer should trust, PEM bundle. */
  rootsPem: string;
  /** SHA-256 (hex) of the root this certificate chains to. */
  rootSha256: string;
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

async function generateCaKey(keyType: CaKeyType): Promise<{ keys: CryptoKeyPair; keyPem: string }> {
  if (keyType === "ec-p256") return generateKey();
  const modulusLength = Number(keyType.slice(4));
  const keys = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { keys, keyPem: toPem(pkcs8, "PRIVATE KEY") };
}

function signingAlgorithm(key: CryptoKey) {
  return key.algorithm.name === "ECDSA" ? EC_P256 : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

/** Creates a self-signed root (10 years). */
async function createRoot(
  trustDomain: string,
  keyType: CaKeyType,
): Promise<{ cert: x509.X509Certificate; keys: CryptoKeyPair; keyPem: string }> {
  const { keys, keyPem } = await generateCaKey(keyType);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `O=${trustDomain}, CN=mesh root CA ${new Date(now).toISOString().slice(0, 10)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3650 * DAY),
    signingAlgorithm: signingAlgorithm(keys.privateKey),
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
  return { cert, keys, keyPem };
}

/** Whether a private key matches a public key (sign and verify a probe). */
async function keysMatch(keys: CryptoKeyPair): Promise<boolean> {
  const probe = new TextEncoder().encode("mesh-ca-probe");
  const alg = keys.privateKey.algorithm.name === "ECDSA"
    ? { name: "ECDSA", hash: "SHA-256" }
    : { name: "RSASSA-PKCS1-v1_5" };
  const sig = await crypto.subtle.sign(alg, keys.privateKey, probe);
  return await crypto.subtle.verify(alg, keys.publicKey, sig, probe);
}

/** Reads a private key file, refusing one readable by group or others. */
async function readPrivateKey(path: string): Promise<string> {
  const mode = await fileMode(path);
  if (mode === undefined) throw new Error(`${path} is missing`);
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `CA key ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); ` +
        `run: chmod 600 ${path}`,
    );
  }
  return await Deno.readTextFile(path);
}

function parseCert(pem: string, path: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(splitPem(pem)[0] ?? pem);
  } catch (err) {
    throw new Error(`${path} is not a valid PEM certificate: ${(err as Error).message}`);
  }
}

/** Loads a key for a certificate and checks they belong together. */
async function loadKeyFor(
  cert: x509.X509Certificate,
  keyPath: string,
  certPath: string,
): Promise<CryptoKeyPair> {
  const keyPem = await readPrivateKey(keyPath);
  let keys: CryptoKeyPair;
  try {
    keys = await importKey(keyPem, cert.toString("pem"));
  } catch (err) {
    throw new Error(
      `CA key ${keyPath} can't be read as a PKCS#8 PEM key: ${(err as Error).message}`,
    );
  }
  if (!(await keysMatch(keys))) {
    throw new Error(`CA key ${keyPath} does not match certificate ${certPath}`);
  }
  return keys;
}

/** SHA-256 of a certificate's DER, hex. */
async function sha256Of(cert: x509.X509Certificate): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", cert.rawData));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const pemOf = (c: x509.X509Certificate) => c.toString("pem") + "\n";

/** Where a CA stands in a root rotation. */
export type RotationPhase =
  | "stable" // one root
  | "pending" // a new root is trusted but not yet signing
  | "promoted"; // the new root signs; the previous one is still trusted

/** File names of a self-signed CA directory. */
export const CA_FILES = {
  cert: "root-cert.pem",
  key: "root-key.pem",
  pendingCert: "pending-root-cert.pem",
  pendingKey: "pending-root-key.pem",
  previous: "previous-roots.pem",
} as const;

/** A CA that signs workload certificates: a self-signed root, or an intermediate plugged in. */
export class CertificateAuthority {
  readonly trustDomain: string;
  readonly workloadTtlMs: number;
  /** `self-signed` (root kept in the data dir) or `plugin` (Istio's plug-in CA files). */
  readonly mode: "self-signed" | "plugin";
  #signer: x509.X509Certificate;
  #keys: CryptoKeyPair;
  /** Intermediates between the signer and the root (PEM), appended to every leaf. */
  #chainPem: string;
  /** The root the signer chains to. */
  #root: x509.X509Certificate;
  #pending?: x509.X509Certificate;
  #previous: x509.X509Certificate[];
  #rootSha256 = "";

  private constructor(init: {
    signer: x509.X509Certificate;
    keys: CryptoKeyPair;
    chainPem?: string;
    root?: x509.X509Certificate;
    pending?: x509.X509Certificate;
    previous?: x509.X509Certificate[];
    mode: "self-signed" | "plugin";
    options: CaOptions;
  }) {
    this.#signer = init.signer;
    this.#keys = init.keys;
    this.#chainPem = init.chainPem ?? "";
    this.#root = init.root ?? init.signer;
    this.#pending = init.pending;
    this.#previous = init.previous ?? [];
    this.mode = init.mode;
    this.trustDomain = init.options.trustDomain;
    this.workloadTtlMs = Math.min(
      init.options.workloadTtlMs ?? DEFAULT_WORKLOAD_TTL_MS,
      MAX_WORKLOAD_TTL_MS,
    );
  }

  async #init(): Promise<this> {
    this.#rootSha256 = await sha256Of(this.#root);
    return this;
  }

  /** The root the CA signs under (PEM). */
  get rootPem(): string {
    return pemOf(this.#root);
  }

  /** SHA-256 (hex) of {@linkcode rootPem}. */
  get rootSha256(): string {
    return this.#rootSha256;
  }

  /** Every root peers must trust now: the signing root, a pending one, previous ones. */
  get trustBundlePem(): string {
    const all = [this.#root, ...(this.#pending ? [this.#pending] : []), ...this.#previous];
    return all.map(pemOf).join("");
  }

  /** Where a rotation stands. */
  get phase(): RotationPhase {
    return this.#pending ? "pending" : this.#previous.length ? "promoted" : "stable";
  }

  /** The signing root's expiry. */
  get notAfter(): Date {
    return this.#root.notAfter;
  }

  /** Roots for `mesh ca status`. */
  roots(): {
    role: "signing" | "pending" | "previous";
    subject: string;
    notAfter: Date;
    serial: string;
  }[] {
    const row = (role: "signing" | "pending" | "previous", c: x509.X509Certificate) => ({
      role,
      subject: c.subject,
      notAfter: c.notAfter,
      serial: c.serialNumber,
    });
    return [
      row("signing", this.#root),
      ...(this.#pending ? [row("pending" as const, this.#pending)] : []),
      ...this.#previous.map((c) => row("previous" as const, c)),
    ];
  }

  /**
   * Loads the CA from `dir`, creating a new root (10 years; ECDSA P-256 unless
   * `keyType` says otherwise) when the directory holds none. Picks up a root
   * rotation in progress. Refuses a key readable by group or others, or a key
   * that doesn't match its certificate.
   */
  static async loadOrCreate(dir: string, options: CaOptions): Promise<CertificateAuthority> {
    const p = (f: string) => `${dir}/${f}`;
    const keyMode = await fileMode(p(CA_FILES.key));
    const certMode = await fileMode(p(CA_FILES.cert));
    if (keyMode === undefined && certMode === undefined) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const root = await createRoot(options.trustDomain, options.keyType ?? "ec-p256");
      await atomicWrite(p(CA_FILES.key), root.keyPem, { mode: 0o600 });
      await atomicWrite(p(CA_FILES.cert), pemOf(root.cert), { mode: 0o644 });
      return await new CertificateAuthority({
        signer: root.cert,
        keys: root.keys,
        mode: "self-signed",
        options,
      }).#init();
    }
    if (keyMode === undefined || certMode === undefined) {
      const missing = keyMode === undefined ? p(CA_FILES.key) : p(CA_FILES.cert);
      throw new Error(
        `CA in ${dir} is incomplete: ${missing} is missing; ` +
          `restore it from backup, or move the directory away to create a new CA`,
      );
    }
    await readPrivateKey(p(CA_FILES.key)); // mode check first, with its clear message
    let cert = parseCert(await Deno.readTextFile(p(CA_FILES.cert)), p(CA_FILES.cert));
    let pending: x509.X509Certificate | undefined;
    if (await fileMode(p(CA_FILES.pendingCert)) !== undefined) {
      pending = parseCert(
        await Deno.readTextFile(p(CA_FILES.pendingCert)),
        p(CA_FILES.pendingCert),
      );
    }
    let keys: CryptoKeyPair;
    try {
      keys = await loadKeyFor(cert, p(CA_FILES.key), p(CA_FILES.cert));
    } catch (err) {
      // A promotion interrupted between its two renames: the key is already the new root's.
      if (!pending || !/does not match/.test((err as Error).message)) throw err;
      keys = await loadKeyFor(pending, p(CA_FILES.key), p(CA_FILES.pendingCert));
      await Deno.rename(p(CA_FILES.pendingCert), p(CA_FILES.cert));
      cert = pending;
      pending = undefined;
    }
    if (pending) {
      if (await fileMode(p(CA_FILES.pendingKey)) === undefined) {
        throw new Error(
          `root rotation in ${dir} is incomplete: ${p(CA_FILES.pendingKey)} is missing; ` +
            `remove ${p(CA_FILES.pendingCert)} to abandon the rotation`,
        );
      }
      await loadKeyFor(pending, p(CA_FILES.pendingKey), p(CA_FILES.pendingCert));
    }
    const previous: x509.X509Certificate[] = [];
    try {
      const text = await Deno.readTextFile(p(CA_FILES.previous));
      for (const block of splitPem(text)) {
        const c = parseCert(block, p(CA_FILES.previous));
        if (c.serialNumber !== cert.serialNumber) previous.push(c);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return await new CertificateAuthority({
      signer: cert,
      keys,
      pending,
      previous,
      mode: "self-signed",
      options,
    }).#init();
  }

  /**
   * Loads an intermediate CA from Istio's plug-in layout in `dir`:
   * `ca-cert.pem` and `ca-key.pem` (the signing intermediate), `root-cert.pem`
   * (the root) and `cert-chain.pem` (the intermediate's chain). Refuses a key
   * readable by others, a key that doesn't match, or a chain that doesn't
   * verify up to the root.
   */
  static async loadPlugin(dir: string, options: CaOptions): Promise<CertificateAuthority> {
    const p = (f: string) => `${dir}/${f}`;
    for (const f of ["ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"]) {
      if (await fileMode(p(f)) === undefined) {
        throw new Error(
          `plug-in CA in ${dir} lacks ${f}; it needs ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem`,
        );
      }
    }
    const signer = parseCert(await Deno.readTextFile(p("ca-cert.pem")), p("ca-cert.pem"));
    const keys = await loadKeyFor(signer, p("ca-key.pem"), p("ca-cert.pem"));
    const root = parseCert(await Deno.readTextFile(p("root-cert.pem")), p("root-cert.pem"));
    const chain = splitPem(await Deno.readTextFile(p("cert-chain.pem")))
      .map((b) => parseCert(b, p("cert-chain.pem")));
    // Intermediates: the chain without the signer itself and without the root.
    const intermediates = chain.filter((c) =>
      c.serialNumber !== signer.serialNumber && c.serialNumber !== root.serialNumber
    );
    // Verify signer → intermediates → root.
    let child = signer;
    for (const parent of [...intermediates, root]) {
      const ok = await child.verify({ publicKey: parent.publicKey, signatureOnly: true })
        .catch(() => false);
      if (!ok) {
        throw new Error(
          `plug-in CA chain in ${dir} does not verify: "${child.subject}" is not signed by "${parent.subject}"; ` +
            `check that cert-chain.pem and root-cert.pem belong to ca-cert.pem`,
        );
      }
      child = parent;
    }
    if (!(await root.isSelfSigned().catch(() => false))) {
      throw new Error(`${p("root-cert.pem")} is not a self-signed root`);
    }
    if (!signer.getExtension(x509.BasicConstraintsExtension)?.ca) {
      throw new Error(`${p("ca-cert.pem")} is not a CA certificate (basicConstraints CA:TRUE)`);
    }
    return await new CertificateAuthority({
      signer,
      keys,
      chainPem: intermediates.map(pemOf).join("") +
        (signer.serialNumber !== root.serialNumber ? pemOf(signer) : ""),
      root,
      mode: "plugin",
      options,
    }).#init();
  }

  /** Creates a new in-memory root CA (10 years). */
  static async create(options: CaOptions): Promise<CertificateAuthority> {
    const root = await createRoot(options.trustDomain, options.keyType ?? "ec-p256");
    return await new CertificateAuthority({
      signer: root.cert,
      keys: root.keys,
      mode: "self-signed",
      options,
    }).#init();
  }

  /**
   * Signs a PKCS#10 CSR for the given identity. The CSR's key must be ECDSA P-256/P-384
   * or RSA of at least 2048 bits (see `csrKeyProblem`), and its signature must verify;
   * it may ask for no name but the SPIFFE ID of `identity`, the only name the
   * certificate carries.
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
    // The key first: a weak or unknown key is named as such, not as a signature that fails.
    const keyProblem = csrKeyProblem(csr.publicKey.algorithm as KeyAlgorithmInfo);
    if (keyProblem) throw new CaError(keyProblem);
    if (!(await csr.verify().catch(() => false))) {
      throw new CaError("CSR signature does not verify; send a CSR signed by its own key");
    }
    const publicKey = await csr.publicKey.export().catch(() => undefined);
    if (!publicKey) {
      throw new CaError("CSR public key can't be read as an ECDSA or RSA key; send a new CSR");
    }
    const id = spiffeId(this.trustDomain, identity.namespace, identity.serviceAccount);
    const sanExt = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension) as
      | x509.SubjectAlternativeNameExtension
      | undefined;
    const asked: string[] = (sanExt?.names.toJSON() ?? [])
      .filter((n) => n.type === "url")
      .map((n) => n.value);
    const other = asked.find((u: string) => u !== id);
    if (other) {
      throw new CaError(
        `CSR asks for ${other} but the credential allows only ${id}; request that identity`,
      );
    }
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
    const notAfter = new Date(Math.min(now + ttlMs, this.#signer.notAfter.getTime()));
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: "",
      issuer: this.#signer.subject,
      notBefore: new Date(now - 60_000),
      notAfter,
      signingAlgorithm: signingAlgorithm(this.#keys.privateKey),
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
        await x509.AuthorityKeyIdentifierExtension.create(this.#signer, false),
        new x509.SubjectAlternativeNameExtension(sans, true),
      ],
    });
    return {
      certChainPem: cert.toString("pem") + "\n" + this.#chainPem,
      rootsPem: this.trustBundlePem,
      rootSha256: this.#rootSha256,
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

/**
 * Starts a root rotation in a self-signed CA directory: creates a new root
 * as `pending-root-*.pem`. Peers get it in their trust bundle at once; the
 * control plane makes it the signing root once every proxy trusts it.
 */
export async function beginRootRotation(
  dir: string,
  options: CaOptions,
): Promise<{ serial: string }> {
  const p = (f: string) => `${dir}/${f}`;
  if (await fileMode(p(CA_FILES.cert)) === undefined) {
    throw new Error(`no CA in ${dir}: start the control plane or run \`mesh ca init\` first`);
  }
  if (await fileMode(p(CA_FILES.pendingCert)) !== undefined) {
    throw new Error(`a root rotation is already in progress in ${dir} (see \`mesh ca status\`)`);
  }
  const current = await CertificateAuthority.loadOrCreate(dir, options);
  if (current.phase === "promoted") {
    throw new Error(
      `the previous root in ${dir} is not retired yet; wait until \`mesh ca status\` shows one root`,
    );
  }
  const root = await createRoot(options.trustDomain, options.keyType ?? "ec-p256");
  await atomicWrite(p(CA_FILES.pendingKey), root.keyPem, { mode: 0o600 });
  await atomicWrite(p(CA_FILES.pendingCert), pemOf(root.cert), { mode: 0o644 });
  return { serial: root.cert.serialNumber };
}

/**
 * Makes the pending root the signing root; the old root stays trusted (in
 * `previous-roots.pem`) until {@linkcode retirePreviousRoots}. Each step is
 * an atomic rename, and loading finishes a promotion a crash interrupted.
 */
export async function promotePendingRoot(dir: string): Promise<void> {
  const p = (f: string) => `${dir}/${f}`;
  const current = await Deno.readTextFile(p(CA_FILES.cert));
  let previous = "";
  try {
    previous = await Deno.readTextFile(p(CA_FILES.previous));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await atomicWrite(p(CA_FILES.previous), previous + current, { mode: 0o644 });
  await Deno.rename(p(CA_FILES.pendingKey), p(CA_FILES.key));
  await Deno.rename(p(CA_FILES.pendingCert), p(CA_FILES.cert));
}

/** Stops trusting previous roots (the last step of a rotation). */
export async function retirePreviousRoots(dir: string): Promise<void> {
  await Deno.remove(`${dir}/${CA_FILES.previous}`).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}
