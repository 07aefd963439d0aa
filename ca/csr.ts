/**
 * Certificate signing requests, made where the key lives (the proxy), so a
 * private key never leaves its host.
 *
 * @example
 * ```ts
 * const { keyPem, csrPem } = await createCsr("spiffe://cluster.local/ns/default/sa/reviews");
 * ```
 * @module
 */
import { EC_P256, generateKey, x509 } from "./pem.ts";

/** A fresh key with a CSR asking for `spiffeId`. */
export interface CsrMaterial {
  keyPem: string;
  csrPem: string;
  keys: CryptoKeyPair;
}

/** Generates an ECDSA P-256 key and a CSR for the given SPIFFE ID. */
export async function createCsr(spiffeId: string): Promise<CsrMaterial> {
  const { keys, keyPem } = await generateKey();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: EC_P256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeId }])],
  });
  return { keys, keyPem, csrPem: csr.toString("pem") + "\n" };
}
