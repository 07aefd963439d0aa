/**
 * A self-signed P-256 certificate made with openssl, for tests that need a TLS server (one
 * helper instead of a copy per test file).
 *
 * @example
 * ```ts
 * const { cert, key, certPath } = await selfSignedCert(dir, { san: "DNS:localhost,IP:127.0.0.1" });
 * ```
 * @module
 */

/** A certificate and key as PEM text, and where they were written. */
export interface SelfSigned {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/**
 * Writes `<name>.pem` and `<name>.key` into `dir`: a certificate valid for a day with
 * subject `CN=<cn>` (default `localhost`) and the subjectAltName `san`; throws with
 * openssl's output when it fails.
 */
export async function selfSignedCert(
  dir: string,
  o: { san: string; cn?: string; name?: string },
): Promise<SelfSigned> {
  const certPath = `${dir}/${o.name ?? "cert"}.pem`;
  const keyPath = `${dir}/${o.name ?? "cert"}.key`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      `/CN=${o.cn ?? "localhost"}`,
      "-addext",
      `subjectAltName=${o.san}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`openssl req failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    cert: await Deno.readTextFile(certPath),
    key: await Deno.readTextFile(keyPath),
    certPath,
    keyPath,
  };
}
