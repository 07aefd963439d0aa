/**
 * PEM encoding helpers and key generation shared by the CA and the proxy.
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

/** ECDSA P-256 with SHA-256: the default key and signature algorithm, as Istio's. */
export const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export { fromPem, splitPem, toPem } from "./pem_text.ts";
import { fromPem, toPem } from "./pem_text.ts";

/** A key pair together with the PKCS#8 PEM of its private key (for node:tls). */
export interface KeyMaterial {
  keys: CryptoKeyPair;
  keyPem: string;
}

/** Generates a new ECDSA P-256 key pair. */
export async function generateKey(): Promise<KeyMaterial> {
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { keys, keyPem: toPem(pkcs8, "PRIVATE KEY") };
}

/** Imports a PKCS#8 PEM private key (ECDSA P-256 or RSA) together with its certificate's public key. */
export async function importKey(keyPem: string, certPem: string): Promise<CryptoKeyPair> {
  const cert = new x509.X509Certificate(certPem);
  const alg = cert.publicKey.algorithm as RsaHashedKeyAlgorithm | EcKeyAlgorithm;
  const params = alg.name === "ECDSA"
    ? { name: "ECDSA", namedCurve: (alg as EcKeyAlgorithm).namedCurve }
    : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    fromPem(keyPem, "PRIVATE KEY"),
    params,
    true,
    ["sign"],
  );
  const publicKey = await cert.publicKey.export(params, ["verify"]);
  return { privateKey, publicKey };
}

/** SHA-256 of a certificate's DER, as lowercase hex (Istio's XFCC `Hash`). */
export async function certSha256(certPem: string): Promise<string> {
  const der = fromPem(certPem, "CERTIFICATE");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export { x509 };
