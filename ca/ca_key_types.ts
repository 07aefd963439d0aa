/**
 * Key types for CA roots (kept apart from ca.ts so the CLI can list them
 * without loading a certificate library).
 * @module
 */

/** Key types for CA roots. Workload keys are always ECDSA P-256. */
export const CA_KEY_TYPES = ["ec-p256", "rsa-2048", "rsa-3072", "rsa-4096"] as const;
/** One of {@linkcode CA_KEY_TYPES}. */
export type CaKeyType = typeof CA_KEY_TYPES[number];

/** The smallest RSA modulus the CA accepts in a CSR (NIST SP 800-57: 2048 bits and up). */
export const MIN_RSA_BITS = 2048;
/** ECDSA curves the CA accepts in a CSR (those Istio's CA and every TLS stack mesh uses take). */
export const CSR_EC_CURVES = ["P-256", "P-384"] as const;

/** The public-key algorithm of a CSR as WebCrypto (or `@peculiar/x509`) describes it. */
export interface KeyAlgorithmInfo {
  /** `RSASSA-PKCS1-v1_5`, `RSA-PSS`, `ECDSA`, `Ed25519`, or an OID for an unknown one. */
  name: string;
  namedCurve?: string;
  modulusLength?: number;
}

/** Names of key algorithms the x509 library leaves as OIDs. */
const OID_NAMES: Record<string, string> = {
  "1.2.840.10040.4.1": "DSA",
  "1.2.840.10046.2.1": "DH",
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "1.2.643.7.1.1.1.1": "GOST R 34.10-2012",
};

/** Curve names the x509 library uses for curves WebCrypto lacks, as openssl names them. */
const CURVE_NAMES: Record<string, string> = { "K-256": "secp256k1" };

/** A key as a person would name it: `RSA 1024-bit`, `ECDSA P-521`, `Ed25519`, `DSA`. */
export function describeKey(alg: KeyAlgorithmInfo): string {
  if (/^RSA/.test(alg.name)) {
    return `RSA ${alg.modulusLength ?? "?"}-bit${alg.name === "RSA-PSS" ? " (PSS)" : ""}`;
  }
  if (alg.name === "ECDSA" || alg.name === "ECDH") {
    const c = alg.namedCurve ?? "unknown curve";
    return `EC ${CURVE_NAMES[c] ?? c}`;
  }
  return OID_NAMES[alg.name] ?? alg.name;
}

/** How to make a key the CA accepts. */
export const KEY_FIX = "generate a new key: ECDSA P-256 (`openssl req -new -newkey ec " +
  "-pkeyopt ec_paramgen_curve:P-256`, what mesh proxies use) or RSA of at least " +
  `${MIN_RSA_BITS} bits (\`openssl req -new -newkey rsa:${MIN_RSA_BITS}\`)`;

/**
 * Why the CA refuses a CSR's key, or undefined when it takes it: RSA (PKCS#1 v1.5) of at least
 * {@linkcode MIN_RSA_BITS} bits and ECDSA on {@linkcode CSR_EC_CURVES}; every other key
 * (weaker RSA, other curves, Ed25519, DSA, ...) is refused with a message naming the key and
 * the fix.
 */
export function csrKeyProblem(alg: KeyAlgorithmInfo): string | undefined {
  const key = describeKey(alg);
  if (alg.name === "RSASSA-PKCS1-v1_5") {
    const bits = alg.modulusLength ?? 0;
    if (bits >= MIN_RSA_BITS) return undefined;
    return `CSR key is ${key}, weaker than the ${MIN_RSA_BITS}-bit minimum; ${KEY_FIX}`;
  }
  if (alg.name === "ECDSA") {
    if ((CSR_EC_CURVES as readonly string[]).includes(alg.namedCurve ?? "")) return undefined;
    return `CSR key is ${key}; the CA signs EC keys only on ${CSR_EC_CURVES.join(" or ")}; ` +
      KEY_FIX;
  }
  return `CSR key is ${key}, a key type the CA doesn't sign; ${KEY_FIX}`;
}
