/**
 * PEM text helpers with no dependencies (the proxy uses these without loading
 * a certificate library).
 *
 * @example
 * ```ts
 * const blocks = splitPem(bundle); // one string per certificate
 * ```
 * @module
 */

/** Encodes DER bytes as PEM with the given label. */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  const b64 = btoa(bin).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** Splits a PEM bundle into its blocks (each returned with its BEGIN/END lines). */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN [A-Z0-9 ]+-----[\s\S]+?-----END [A-Z0-9 ]+-----\n?/g)?.map((b) =>
    b.endsWith("\n") ? b : b + "\n"
  ) ?? [];
}

/** Decodes the first PEM block with `label`; throws naming the label when absent. */
export function fromPem(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const m = pem.match(new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`));
  if (!m) throw new Error(`expected a PEM block "${label}" but found none`);
  const bin = atob(m[1].replace(/\s+/g, ""));
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
