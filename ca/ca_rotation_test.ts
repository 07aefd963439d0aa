/**
 * RSA roots, Istio's plug-in (intermediate) layout, and root rotation on disk.
 */
import assert from "node:assert/strict";
import {
  beginRootRotation,
  CA_FILES,
  CertificateAuthority,
  promotePendingRoot,
  retirePreviousRoots,
} from "./ca.ts";
import { createCsr } from "./csr.ts";
import { splitPem, x509 } from "./pem.ts";

const OPTS = { trustDomain: "cluster.local" };
const ID = { namespace: "default", serviceAccount: "reviews" };

async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout) + d.decode(o.stderr) };
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mesh-ca-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an RSA 2048 root signs chains openssl verifies", async () => {
  await withDir(async (dir) => {
    const ca = await CertificateAuthority.loadOrCreate(`${dir}/ca`, {
      ...OPTS,
      keyType: "rsa-2048",
    });
    const text = await openssl(["x509", "-in", `${dir}/ca/root-cert.pem`, "-noout", "-text"]);
    assert.match(text.out, /Public-Key: \(2048 bit\)/);
    assert.match(text.out, /sha256WithRSAEncryption/);
    const signed = await ca.signCsr(
      (await createCsr("spiffe://cluster.local/ns/default/sa/reviews")).csrPem,
      ID,
    );
    await Deno.writeTextFile(`${dir}/leaf.pem`, signed.certChainPem);
    const v = await openssl(["verify", "-CAfile", `${dir}/ca/root-cert.pem`, `${dir}/leaf.pem`]);
    assert.equal(v.code, 0, v.out);
  });
});

/** Makes Istio's plug-in layout: a root and an intermediate signed by it. */
async function pluginLayout(dir: string, opts: { wrongRoot?: boolean } = {}) {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const gen = async () =>
    await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
  const rootKeys = await gen();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Test Root CA",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys: rootKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const otherRootKeys = await gen();
  const otherRoot = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "03",
    name: "CN=Other Root CA",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys: otherRootKeys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const interKeys = await gen();
  const inter = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=Test Intermediate CA",
    issuer: root.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    publicKey: interKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const pem = (c: x509.X509Certificate) => c.toString("pem") + "\n";
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", interKeys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${
    btoa(String.fromCharCode(...pkcs8)).replace(/.{1,64}/g, "$&\n")
  }-----END PRIVATE KEY-----\n`;
  await Deno.writeTextFile(`${dir}/ca-cert.pem`, pem(inter));
  await Deno.writeTextFile(`${dir}/ca-key.pem`, keyPem, { mode: 0o600 });
  await Deno.chmod(`${dir}/ca-key.pem`, 0o600);
  await Deno.writeTextFile(`${dir}/root-cert.pem`, pem(opts.wrongRoot ? otherRoot : root));
  await Deno.writeTextFile(`${dir}/cert-chain.pem`, pem(inter) + pem(root));
}

Deno.test("plug-in CA: an intermediate in Istio's layout signs chains that verify to its root", async () => {
  await withDir(async (dir) => {
    await pluginLayout(dir);
    const ca = await CertificateAuthority.loadPlugin(dir, OPTS);
    assert.equal(ca.mode, "plugin");
    const signed = await ca.signCsr(
      (await createCsr("spiffe://cluster.local/ns/default/sa/reviews")).csrPem,
      ID,
    );
    assert.equal(splitPem(signed.certChainPem).length, 2, "leaf + intermediate");
    await Deno.writeTextFile(`${dir}/chain.pem`, signed.certChainPem);
    await Deno.writeTextFile(`${dir}/leaf.pem`, splitPem(signed.certChainPem)[0]);
    const v = await openssl([
      "verify",
      "-CAfile",
      `${dir}/root-cert.pem`,
      "-untrusted",
      `${dir}/chain.pem`,
      `${dir}/leaf.pem`,
    ]);
    assert.equal(v.code, 0, v.out);
    assert.equal(ca.rootPem.trim(), (await Deno.readTextFile(`${dir}/root-cert.pem`)).trim());
  });
});

Deno.test("plug-in CA: refuses a chain that doesn't verify, a readable key, a missing file", async () => {
  await withDir(async (dir) => {
    await pluginLayout(dir, { wrongRoot: true });
    await assert.rejects(CertificateAuthority.loadPlugin(dir, OPTS), /does not verify/);
  });
  await withDir(async (dir) => {
    await pluginLayout(dir);
    await Deno.chmod(`${dir}/ca-key.pem`, 0o644);
    await assert.rejects(
      CertificateAuthority.loadPlugin(dir, OPTS),
      /readable by others.*chmod 600/,
    );
  });
  await withDir(async (dir) => {
    await pluginLayout(dir);
    await Deno.remove(`${dir}/cert-chain.pem`);
    await assert.rejects(CertificateAuthority.loadPlugin(dir, OPTS), /lacks cert-chain\.pem/);
  });
});

Deno.test("root rotation: pending root is trusted, then signs, then the old one is retired", async () => {
  await withDir(async (dir) => {
    const ca0 = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(ca0.phase, "stable");
    const oldRoot = ca0.rootPem;

    await beginRootRotation(dir, OPTS);
    await assert.rejects(beginRootRotation(dir, OPTS), /already in progress/);
    const ca1 = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(ca1.phase, "pending");
    assert.equal(ca1.rootPem, oldRoot, "the old root still signs while the new one spreads");
    assert.equal(splitPem(ca1.trustBundlePem).length, 2);

    await promotePendingRoot(dir);
    const ca2 = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(ca2.phase, "promoted");
    assert.notEqual(ca2.rootPem, oldRoot);
    assert.equal(splitPem(ca2.trustBundlePem).length, 2);
    assert.ok(ca2.trustBundlePem.includes(oldRoot.trim()));
    const signed = await ca2.signCsr(
      (await createCsr("spiffe://cluster.local/ns/default/sa/reviews")).csrPem,
      ID,
    );
    await Deno.writeTextFile(`${dir}/leaf.pem`, signed.certChainPem);
    await Deno.writeTextFile(`${dir}/bundle.pem`, ca2.trustBundlePem);
    assert.equal(
      (await openssl(["verify", "-CAfile", `${dir}/root-cert.pem`, `${dir}/leaf.pem`])).code,
      0,
    );

    await retirePreviousRoots(dir);
    const ca3 = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(ca3.phase, "stable");
    assert.equal(splitPem(ca3.trustBundlePem).length, 1);
    assert.equal(ca3.rootPem, ca2.rootPem);
  });
});

Deno.test("root rotation: a promotion interrupted between its renames is finished on load", async () => {
  await withDir(async (dir) => {
    await CertificateAuthority.loadOrCreate(dir, OPTS);
    await beginRootRotation(dir, OPTS);
    const pendingCert = await Deno.readTextFile(`${dir}/${CA_FILES.pendingCert}`);
    // Simulate a crash after the key rename but before the certificate rename.
    const current = await Deno.readTextFile(`${dir}/${CA_FILES.cert}`);
    await Deno.writeTextFile(`${dir}/${CA_FILES.previous}`, current);
    await Deno.rename(`${dir}/${CA_FILES.pendingKey}`, `${dir}/${CA_FILES.key}`);
    const ca = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(ca.rootPem.trim(), pendingCert.trim());
    assert.equal(ca.phase, "promoted");
  });
});
