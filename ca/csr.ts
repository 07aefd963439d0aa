/**
 * Certificate signing requests, made where the key lives (the proxy), so a
 * private key never leaves its host. Built with a few lines of DER rather
 * than a certificate library, to keep the proxy small.
 *
 * @example
 * ```ts
 * const { keyPem, csrPem } = await createCsr("spiffe://cluster.local/ns/default/sa/reviews");
 * ```
 * @module
 */
import { bitString, ecdsaSignatureToDer, octetString, oid, seq, set, tlv } from "./der.ts";
import { toPem } from "./pem_text.ts";

/** A fresh key with a CSR asking for `spiffeId`. */
export interface CsrMaterial {
  keyPem: string;
  csrPem: string;
  keys: CryptoKeyPair;
}

const encoder = new TextEncoder();

/** Generates an ECDSA P-256 key and a PKCS#10 CSR whose only name is the URI SAN `spiffeId`. */
export async function createCsr(spiffeId: string): Promise<CsrMaterial> {
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const san = seq(tlv(0x86, encoder.encode(spiffeId))); // GeneralNames { [6] uniformResourceIdentifier }
  const extensions = seq(seq(oid("2.5.29.17"), octetString(san)));
  const extensionRequest = seq(oid("1.2.840.113549.1.9.14"), set(extensions));
  const info = seq(
    tlv(0x02, Uint8Array.of(0)), // version v1
    seq(), // empty subject: the identity is in the SAN
    spki,
    tlv(0xa0, extensionRequest), // [0] attributes
  );
  const sig = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, info),
  );
  const csr = seq(info, seq(oid("1.2.840.10045.4.3.2")), bitString(ecdsaSignatureToDer(sig)));
  return { keys, keyPem: toPem(pkcs8, "PRIVATE KEY"), csrPem: toPem(csr, "CERTIFICATE REQUEST") };
}
