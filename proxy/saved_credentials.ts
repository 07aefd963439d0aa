/**
 * A proxy's certificate kept on disk (`mesh start --cert-dir=DIR`), so a restarted proxy
 * renews with the certificate it has instead of its bootstrap token, which may have expired
 * long ago (a VM's token is good for a day; its proxy restarts whenever the host does). Three
 * files, each written atomically with mode 0600: `key.pem`, `cert-chain.pem`, `roots.pem`.
 * What can't be read, parsed, or isn't this proxy's unexpired certificate is ignored (and
 * said so): the token is tried then, as on a first start.
 *
 * @example
 * ```ts
 * const saved = await loadCredentials(dir, spiffeId); // undefined: use the token
 * await saveCredentials(dir, creds);
 * ```
 * @module
 */
import { X509Certificate } from "node:crypto";
import { atomicWrite } from "../util/atomic_write.ts";
import { splitPem } from "../ca/pem_text.ts";
import { logger } from "../util/log.ts";
import type { Credentials } from "./control_client.ts";

const log = logger("certs");

const FILES = { key: "key.pem", chain: "cert-chain.pem", roots: "roots.pem" } as const;

/** Writes `c` to `dir` (made if missing, 0700). Failures are logged: serving goes on. */
export async function saveCredentials(dir: string, c: Credentials): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await atomicWrite(`${dir}/${FILES.key}`, c.keyPem, { mode: 0o600 });
    await atomicWrite(`${dir}/${FILES.chain}`, c.certChainPem, { mode: 0o600 });
    await atomicWrite(`${dir}/${FILES.roots}`, c.rootsPem, { mode: 0o600 });
  } catch (err) {
    log.warn("can't save the certificate to --cert-dir; a restart will need the token again", {
      dir,
      error: err,
    });
  }
}

/**
 * This proxy's certificate from `dir`, when there is one for `spiffeId` valid for at least
 * another minute; undefined otherwise.
 */
export async function loadCredentials(
  dir: string,
  spiffeId: string,
): Promise<Credentials | undefined> {
  let key: string, chain: string, roots: string;
  try {
    [key, chain, roots] = await Promise.all(
      [FILES.key, FILES.chain, FILES.roots].map((f) => Deno.readTextFile(`${dir}/${f}`)),
    );
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      log.warn("can't read the saved certificate; using the token", { dir, error: err });
    }
    return undefined;
  }
  try {
    const leaf = new X509Certificate(splitPem(chain)[0]);
    const notAfter = new Date(leaf.validTo);
    const uris = (leaf.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("URI:"));
    if (!uris.includes(`URI:${spiffeId}`)) {
      log.info("the saved certificate is another identity's; using the token", { dir });
      return undefined;
    }
    if (notAfter.getTime() < Date.now() + 60_000) {
      log.info("the saved certificate has expired; using the token", { dir });
      return undefined;
    }
    const notBefore = new Date(leaf.validFrom);
    return {
      keyPem: key,
      certChainPem: chain,
      rootsPem: roots,
      rootSha256: "",
      issuedAt: notBefore,
      notBefore,
      notAfter,
      spiffeId,
    };
  } catch (err) {
    log.warn("the saved certificate can't be parsed; using the token", { dir, error: err });
    return undefined;
  }
}
