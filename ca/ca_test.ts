import assert from "node:assert/strict";
import {
  CaError,
  CertificateAuthority,
  DEFAULT_WORKLOAD_TTL_MS,
  MAX_CSR_BYTES,
  MAX_WORKLOAD_TTL_MS,
} from "./ca.ts";
import { createCsr } from "./csr.ts";
import { csrKeyProblem, describeKey, MIN_RSA_BITS } from "./ca_key_types.ts";
import {
  certSha256,
  EC_P256,
  fromPem,
  generateKey,
  importKey,
  splitPem,
  toPem,
  x509,
} from "./pem.ts";

const OPTS = { trustDomain: "cluster.local" };
const REVIEWS = { namespace: "default", serviceAccount: "reviews" };
const REVIEWS_ID = "spiffe://cluster.local/ns/default/sa/reviews";
const ADMIN_ID = "spiffe://cluster.local/ns/default/sa/admin";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-ca-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command("openssl", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout) + dec.decode(stderr) };
}

async function rejects(p: Promise<unknown>, type: new (...a: never[]) => Error, re: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
    assert.match(err.message, re);
    return true;
  });
}

let sharedCa: Promise<CertificateAuthority> | undefined;
/** One in-memory CA for the signing tests (key generation is the slow part). */
function ca(): Promise<CertificateAuthority> {
  return sharedCa ??= CertificateAuthority.create(OPTS);
}

function modeOf(path: string): number {
  return (Deno.statSync(path).mode ?? 0) & 0o777;
}

// ---------------------------------------------------------------------------------------------
// Creating and loading

Deno.test("loadOrCreate: creates a root in an empty (even missing) directory", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/nested/ca`;
    const created = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(modeOf(`${dir}/root-key.pem`), 0o600);
    const certPem = await Deno.readTextFile(`${dir}/root-cert.pem`);
    assert.equal(certPem, created.rootPem);
    const cert = new x509.X509Certificate(certPem);
    assert.match(cert.subject, /CN=mesh root CA/);
    assert.match(cert.subject, /O=cluster\.local/);
    assert.equal(cert.subject, cert.issuer);
    assert.ok(await cert.isSelfSigned());
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    // About ten years.
    const years = (created.notAfter.getTime() - Date.now()) / (365 * DAY);
    assert.ok(years > 9.9 && years < 10.1, `root valid for ${years} years`);
    assert.equal(created.trustDomain, "cluster.local");
    assert.equal(created.workloadTtlMs, DEFAULT_WORKLOAD_TTL_MS);
    // Only the two PEM files, no temporaries left behind.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["root-cert.pem", "root-key.pem"]);
  });
});

Deno.test("loadOrCreate: reloading gives the same root, and it still signs", async () => {
  await withTempDir(async (dir) => {
    const first = await CertificateAuthority.loadOrCreate(dir, OPTS);
    const keyBefore = await Deno.readTextFile(`${dir}/root-key.pem`);
    const second = await CertificateAuthority.loadOrCreate(dir, OPTS);
    assert.equal(second.rootPem, first.rootPem);
    assert.equal(second.notAfter.getTime(), first.notAfter.getTime());
    assert.equal(await Deno.readTextFile(`${dir}/root-key.pem`), keyBefore);
    // A certificate from the reloaded CA chains to the first one's root.
    const { csrPem } = await createCsr(REVIEWS_ID);
    const signed = await second.signCsr(csrPem, REVIEWS);
    const leaf = new x509.X509Certificate(signed.certChainPem);
    const root = new x509.X509Certificate(first.rootPem);
    assert.ok(await leaf.verify({ publicKey: root.publicKey, signatureOnly: true }));
  });
});

Deno.test("loadOrCreate: refuses a key readable by others, naming chmod 600", async () => {
  await withTempDir(async (dir) => {
    await CertificateAuthority.loadOrCreate(dir, OPTS);
    const key = `${dir}/root-key.pem`;
    await Deno.chmod(key, 0o644);
    await rejects(
      CertificateAuthority.loadOrCreate(dir, OPTS),
      Error,
      new RegExp(`mode 644.*chmod 600 ${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
    );
    await Deno.chmod(key, 0o640);
    await rejects(CertificateAuthority.loadOrCreate(dir, OPTS), Error, /chmod 600/);
    await Deno.chmod(key, 0o600);
    await CertificateAuthority.loadOrCreate(dir, OPTS);
  });
});

Deno.test("loadOrCreate: refuses a key that doesn't match the certificate", async () => {
  await withTempDir(async (tmp) => {
    const a = `${tmp}/a`;
    const b = `${tmp}/b`;
    await CertificateAuthority.loadOrCreate(a, OPTS);
    await CertificateAuthority.loadOrCreate(b, OPTS);
    await Deno.writeTextFile(`${a}/root-key.pem`, await Deno.readTextFile(`${b}/root-key.pem`));
    assert.equal(modeOf(`${a}/root-key.pem`), 0o600);
    await rejects(CertificateAuthority.loadOrCreate(a, OPTS), Error, /does not match/);
  });
});

Deno.test("loadOrCreate: certificate missing but key present is 'incomplete'", async () => {
  await withTempDir(async (dir) => {
    await CertificateAuthority.loadOrCreate(dir, OPTS);
    await Deno.remove(`${dir}/root-cert.pem`);
    await rejects(
      CertificateAuthority.loadOrCreate(dir, OPTS),
      Error,
      /incomplete.*root-cert\.pem is missing/,
    );
    // Nothing was recreated over the lone key.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["root-key.pem"]);
  });
});

Deno.test("loadOrCreate: key missing but certificate present is 'incomplete'", async () => {
  await withTempDir(async (dir) => {
    await CertificateAuthority.loadOrCreate(dir, OPTS);
    await Deno.remove(`${dir}/root-key.pem`);
    await rejects(
      CertificateAuthority.loadOrCreate(dir, OPTS),
      Error,
      /incomplete.*root-key\.pem is missing/,
    );
  });
});

Deno.test("loadOrCreate: a certificate file that isn't PEM", async () => {
  await withTempDir(async (dir) => {
    await CertificateAuthority.loadOrCreate(dir, OPTS);
    await Deno.writeTextFile(`${dir}/root-cert.pem`, "not a certificate\n");
    await rejects(CertificateAuthority.loadOrCreate(dir, OPTS), Error, /root-cert\.pem/);
  });
});

Deno.test("loadOrCreate: a key file that isn't a PKCS#8 key", async () => {
  await withTempDir(async (dir) => {
    await CertificateAuthority.loadOrCreate(dir, OPTS);
    await Deno.writeTextFile(`${dir}/root-key.pem`, "garbage\n");
    await rejects(CertificateAuthority.loadOrCreate(dir, OPTS), Error, /root-key\.pem.*PKCS#8/);
  });
});

Deno.test("CertificateAuthority: workload TTL option is capped at 90 days", async () => {
  const big = await CertificateAuthority.create({ ...OPTS, workloadTtlMs: 365 * DAY });
  assert.equal(MAX_WORKLOAD_TTL_MS, 90 * DAY);
  assert.equal(big.workloadTtlMs, MAX_WORKLOAD_TTL_MS);
  const small = await CertificateAuthority.create({ ...OPTS, workloadTtlMs: HOUR });
  assert.equal(small.workloadTtlMs, HOUR);
});

// ---------------------------------------------------------------------------------------------
// Signing

Deno.test("signCsr: the leaf verifies with openssl and carries the SPIFFE identity", async () => {
  const authority = await ca();
  const { csrPem } = await createCsr(REVIEWS_ID);
  const signed = await authority.signCsr(csrPem, REVIEWS);
  assert.equal(signed.spiffeId, REVIEWS_ID);
  assert.equal(signed.rootsPem, authority.rootPem);
  assert.equal(splitPem(signed.certChainPem).length, 1);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/root-cert.pem`, signed.rootsPem);
    await Deno.writeTextFile(`${dir}/leaf.pem`, signed.certChainPem);
    const verify = await openssl(["verify", "-CAfile", `${dir}/root-cert.pem`, `${dir}/leaf.pem`]);
    assert.equal(verify.code, 0, verify.out);
    assert.match(verify.out, /leaf\.pem: OK/);
    const text = await openssl(["x509", "-in", `${dir}/leaf.pem`, "-noout", "-text"]);
    assert.equal(text.code, 0, text.out);
    assert.match(text.out, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews/);
    assert.match(text.out, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text.out, /Digital Signature, Key Encipherment/);
    assert.match(text.out, /CA:FALSE/);
    assert.match(text.out, /ecdsa-with-SHA256/);
  });
});

Deno.test("signCsr: the leaf fails openssl verify against another root", async () => {
  const other = await CertificateAuthority.create(OPTS);
  const { csrPem } = await createCsr(REVIEWS_ID);
  const signed = await (await ca()).signCsr(csrPem, REVIEWS);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/other.pem`, other.rootPem);
    await Deno.writeTextFile(`${dir}/leaf.pem`, signed.certChainPem);
    const verify = await openssl(["verify", "-CAfile", `${dir}/other.pem`, `${dir}/leaf.pem`]);
    assert.notEqual(verify.code, 0, verify.out);
  });
});

Deno.test("signCsr: a CSR asking for another identity is refused; one asking for none gets the allowed one", async () => {
  const { csrPem } = await createCsr(ADMIN_ID);
  // The CSR really does ask for sa/admin.
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const asked = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension) as
    | x509.SubjectAlternativeNameExtension
    | undefined;
  assert.deepEqual(asked?.names.toJSON(), [{ type: "url", value: ADMIN_ID }]);
  await assert.rejects(
    (await ca()).signCsr(csrPem, REVIEWS),
    (err: unknown) =>
      err instanceof CaError && /asks for .*sa\/admin.*allows only .*sa\/reviews/.test(err.message),
  );

  // A CSR with no SAN at all gets exactly the identity the credential allows.
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const bare = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  const signed = await (await ca()).signCsr(bare.toString("pem"), REVIEWS);
  assert.equal(signed.spiffeId, REVIEWS_ID);
  const cert = new x509.X509Certificate(signed.certChainPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assert.deepEqual(san?.names.toJSON(), [{ type: "url", value: REVIEWS_ID }]);
  assert.equal(cert.subject, "");
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/leaf.pem`, signed.certChainPem);
    const text = await openssl(["x509", "-in", `${dir}/leaf.pem`, "-noout", "-text"]);
    assert.match(text.out, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews/);
  });
});

Deno.test("signCsr: the certificate is for the CSR's public key, issued by the root", async () => {
  const authority = await ca();
  const { csrPem, keys } = await createCsr(REVIEWS_ID);
  const before = Date.now();
  const signed = await authority.signCsr(csrPem, REVIEWS);
  const after = Date.now();
  const cert = new x509.X509Certificate(signed.certChainPem);
  const root = new x509.X509Certificate(authority.rootPem);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  assert.deepEqual(new Uint8Array(cert.publicKey.rawData), spki);
  assert.equal(cert.issuer, root.subject);
  assert.equal(cert.serialNumber.toLowerCase(), signed.serial);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  const ski = root.getExtension(x509.SubjectKeyIdentifierExtension);
  assert.equal(aki?.keyId, ski?.keyId);
  // notBefore is back-dated a minute (from signing, however long that took) for clock skew.
  const nb = cert.notBefore.getTime();
  assert.ok(nb >= before - 61_000 && nb <= after - 59_000, `notBefore ${before - nb} ms back`);
});

Deno.test("signCsr: each certificate gets a fresh positive serial", async () => {
  const authority = await ca();
  const { csrPem } = await createCsr(REVIEWS_ID);
  const a = await authority.signCsr(csrPem, REVIEWS);
  const b = await authority.signCsr(csrPem, REVIEWS);
  assert.notEqual(a.serial, b.serial);
  for (const s of [a.serial, b.serial]) {
    assert.match(s, /^[0-9a-f]{32}$/);
    assert.ok(parseInt(s.slice(0, 2), 16) < 0x80, s);
  }
});

Deno.test("signCsr: the default TTL is the CA's workload TTL (24h)", async () => {
  const { csrPem } = await createCsr(REVIEWS_ID);
  const authority = await ca();
  const before = Date.now();
  const signed = await authority.signCsr(csrPem, REVIEWS);
  const after = Date.now();
  const ttl = signed.notAfter.getTime() - before;
  assert.ok(ttl > DAY - 1000 && ttl < after - before + DAY + 1000, `ttl ${ttl}`);
});

Deno.test("signCsr: a requested TTL is honoured, in the certificate too", async () => {
  const { csrPem } = await createCsr(REVIEWS_ID);
  const authority = await ca();
  const before = Date.now();
  const signed = await authority.signCsr(csrPem, REVIEWS, 2 * HOUR);
  const after = Date.now();
  const ttl = signed.notAfter.getTime() - before;
  assert.ok(ttl > 2 * HOUR - 1000 && ttl < after - before + 2 * HOUR + 1000, `ttl ${ttl}`);
  const cert = new x509.X509Certificate(signed.certChainPem);
  // Certificates carry whole seconds.
  assert.equal(cert.notAfter.getTime(), Math.floor(signed.notAfter.getTime() / 1000) * 1000);
});

Deno.test("signCsr: a TTL over 90 days is capped at 90 days", async () => {
  const { csrPem } = await createCsr(REVIEWS_ID);
  const authority = await ca();
  const before = Date.now();
  const signed = await authority.signCsr(csrPem, REVIEWS, 365 * DAY);
  const after = Date.now();
  // 90 days from signing, however long that took (certificates carry whole seconds).
  const capped = (t: number) => t > 90 * DAY - 1000 && t < after - before + 90 * DAY + 1000;
  const ttl = signed.notAfter.getTime() - before;
  assert.ok(capped(ttl), `ttl ${ttl / DAY} days`);
  const cert = new x509.X509Certificate(signed.certChainPem);
  const certTtl = cert.notAfter.getTime() - before;
  assert.ok(capped(certTtl), `cert ttl ${certTtl / DAY} days`);
});

Deno.test("signCsr: a CSR with an RSA key is signed", async () => {
  const alg = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: alg });
  const signed = await (await ca()).signCsr(csr.toString("pem"), REVIEWS);
  const cert = new x509.X509Certificate(signed.certChainPem);
  assert.equal(cert.publicKey.algorithm.name, "RSASSA-PKCS1-v1_5");
  assert.equal(signed.spiffeId, REVIEWS_ID);
});

// ---------------------------------------------------------------------------------------------
// Refusals

Deno.test("signCsr: malformed PEM is a CaError", async () => {
  const authority = await ca();
  for (const bad of ["", "hello", "-----BEGIN CERTIFICATE REQUEST-----\n!!!\n"]) {
    await rejects(authority.signCsr(bad, REVIEWS), CaError, /not a valid PEM/);
  }
  // A certificate is not a certificate request.
  await rejects(authority.signCsr(authority.rootPem, REVIEWS), CaError, /./);
});

Deno.test("signCsr: a CSR over 64 KiB is refused before parsing", async () => {
  const authority = await ca();
  assert.equal(MAX_CSR_BYTES, 64 * 1024);
  const { csrPem } = await createCsr(REVIEWS_ID);
  const padded = csrPem + " ".repeat(MAX_CSR_BYTES - csrPem.length + 1);
  await rejects(authority.signCsr(padded, REVIEWS), CaError, /limit is 65536/);
  await rejects(authority.signCsr("x".repeat(MAX_CSR_BYTES + 1), REVIEWS), CaError, /65537 bytes/);
  // At the limit it is parsed (and here refused as malformed, not as too big).
  await rejects(
    authority.signCsr("x".repeat(MAX_CSR_BYTES), REVIEWS),
    CaError,
    /not a valid PEM/,
  );
});

Deno.test("signCsr: a CSR whose signed content was altered doesn't verify", async () => {
  const { csrPem } = await createCsr(ADMIN_ID);
  const der = fromPem(csrPem, "CERTIFICATE REQUEST");
  // Change "sa/admin" to "sa/bdmin" inside the signed request info.
  const text = new TextDecoder("latin1").decode(der);
  const at = text.indexOf("sa/admin") + 3;
  assert.ok(at > 3);
  der[at] ^= 0x03;
  const tampered = toPem(der, "CERTIFICATE REQUEST");
  assert.notEqual(tampered, csrPem);
  // Still a well-formed request...
  new x509.Pkcs10CertificateRequest(tampered);
  // ...whose signature fails.
  await rejects((await ca()).signCsr(tampered, REVIEWS), CaError, /signature does not verify/);
});

Deno.test("signCsr: flipping a character in the middle of the base64 body is refused", async () => {
  const { csrPem } = await createCsr(REVIEWS_ID);
  const lines = csrPem.split("\n");
  const body = lines.slice(1, -2).join("");
  const mid = Math.floor(body.length / 2);
  const flipped = body.slice(0, mid) + (body[mid] === "A" ? "B" : "A") + body.slice(mid + 1);
  const pem = `${lines[0]}\n${flipped.replace(/.{1,64}/g, "$&\n")}${lines.at(-2)}\n`;
  await rejects((await ca()).signCsr(pem, REVIEWS), CaError, /./);
});

// ---------------------------------------------------------------------------------------------
// Serving certificates

Deno.test("issueServing: DNS, IP and URI SANs", async () => {
  const authority = await ca();
  const { keys } = await generateKey();
  const id = "spiffe://cluster.local/ns/mesh-system/sa/control";
  const signed = await authority.issueServing(keys.publicKey, {
    dns: ["localhost", "control.mesh"],
    ips: ["127.0.0.1"],
    spiffeId: id,
  });
  assert.equal(signed.spiffeId, id);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/root.pem`, authority.rootPem);
    await Deno.writeTextFile(`${dir}/serving.pem`, signed.certChainPem);
    const verify = await openssl(["verify", "-CAfile", `${dir}/root.pem`, `${dir}/serving.pem`]);
    assert.equal(verify.code, 0, verify.out);
    const text = await openssl(["x509", "-in", `${dir}/serving.pem`, "-noout", "-text"]);
    assert.match(text.out, /DNS:localhost/);
    assert.match(text.out, /DNS:control\.mesh/);
    assert.match(text.out, /IP Address:127\.0\.0\.1/);
    assert.match(text.out, /URI:spiffe:\/\/cluster\.local\/ns\/mesh-system\/sa\/control/);
  });
  // About a year by default.
  const days = (signed.notAfter.getTime() - Date.now()) / DAY;
  assert.ok(days > 364 && days <= 365, `${days} days`);
});

// ---------------------------------------------------------------------------------------------
// pem.ts and csr.ts

Deno.test("toPem/fromPem: round trip with 64-column lines", () => {
  const bytes = new Uint8Array(200).map((_, i) => i);
  const pem = toPem(bytes, "TEST DATA");
  const lines = pem.trimEnd().split("\n");
  assert.equal(lines[0], "-----BEGIN TEST DATA-----");
  assert.equal(lines.at(-1), "-----END TEST DATA-----");
  for (const l of lines.slice(1, -1)) assert.ok(l.length <= 64, l);
  assert.deepEqual(fromPem(pem, "TEST DATA"), bytes);
  assert.deepEqual(fromPem(toPem(bytes.buffer, "X"), "X"), bytes);
});

Deno.test("fromPem: a missing label throws naming it", () => {
  assert.throws(() => fromPem("nothing here", "CERTIFICATE"), /"CERTIFICATE"/);
  assert.throws(
    () => fromPem(toPem(new Uint8Array([1]), "PRIVATE KEY"), "CERTIFICATE"),
    /CERTIFICATE/,
  );
});

Deno.test("splitPem: splits a bundle into blocks each ending in a newline", async () => {
  const a = (await ca()).rootPem;
  const b = toPem(new Uint8Array([1, 2, 3]), "CERTIFICATE");
  const blocks = splitPem(`junk\n${a}${b.trimEnd()}`);
  assert.equal(blocks.length, 2);
  assert.equal(blocks[0], a);
  assert.equal(blocks[1], b);
  assert.deepEqual(splitPem("no pem"), []);
});

Deno.test("certSha256: the hex SHA-256 of the certificate's DER, as openssl's", async () => {
  const root = (await ca()).rootPem;
  const hash = await certSha256(root);
  assert.match(hash, /^[0-9a-f]{64}$/);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/root.pem`, root);
    const fp = await openssl([
      "x509",
      "-in",
      `${dir}/root.pem`,
      "-noout",
      "-fingerprint",
      "-sha256",
    ]);
    const want = fp.out.split("=")[1].trim().replaceAll(":", "").toLowerCase();
    assert.equal(hash, want);
  });
});

Deno.test("importKey: pairs a PKCS#8 key with its certificate's public key", async () => {
  const { keys, keyPem } = await generateKey();
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=test",
    keys,
    signingAlgorithm: EC_P256,
  });
  const pair = await importKey(keyPem, cert.toString("pem"));
  const data = new TextEncoder().encode("probe");
  const alg = { name: "ECDSA", hash: "SHA-256" };
  const sig = await crypto.subtle.sign(alg, pair.privateKey, data);
  assert.ok(await crypto.subtle.verify(alg, pair.publicKey, sig, data));
});

Deno.test("createCsr: a self-signed P-256 request for the SPIFFE ID", async () => {
  const { csrPem, keyPem } = await createCsr(REVIEWS_ID);
  assert.match(
    csrPem,
    /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/,
  );
  assert.match(keyPem, /BEGIN PRIVATE KEY/);
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  assert.ok(await csr.verify());
  assert.equal((csr.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/req.pem`, csrPem);
    const out = await openssl(["req", "-in", `${dir}/req.pem`, "-noout", "-verify", "-text"]);
    assert.equal(out.code, 0, out.out);
    assert.match(out.out, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews/);
  });
});

// ---------------------------------------------------------------------------------------------
// Key policy: weak and unknown CSR keys are refused

/** A CSR made by openssl with `-newkey <newkey>` (and `-pkeyopt`s), PEM. */
async function opensslCsr(newkey: string, ...pkeyopt: string[]): Promise<string> {
  let out = "";
  await withTempDir(async (dir) => {
    let key = newkey;
    if (newkey === "dsa") {
      const p = await openssl(["dsaparam", "-out", `${dir}/dsa.pem`, "1024"]);
      assert.equal(p.code, 0, p.out);
      key = `dsa:${dir}/dsa.pem`;
    }
    const r = await openssl([
      "req",
      "-new",
      "-newkey",
      key,
      ...pkeyopt.flatMap((o) => ["-pkeyopt", o]),
      "-nodes",
      "-keyout",
      `${dir}/k.pem`,
      "-out",
      `${dir}/req.pem`,
      "-subj",
      "/CN=weak",
    ]);
    assert.equal(r.code, 0, r.out);
    out = await Deno.readTextFile(`${dir}/req.pem`);
  });
  return out;
}

Deno.test("signCsr: openssl CSRs with RSA-512 and RSA-1024 keys are refused, naming the key and the fix", async () => {
  const authority = await ca();
  for (const bits of [512, 1024]) {
    const csr = await opensslCsr(`rsa:${bits}`);
    await rejects(
      authority.signCsr(csr, REVIEWS),
      CaError,
      new RegExp(
        `CSR key is RSA ${bits}-bit, weaker than the 2048-bit minimum; generate a new key`,
      ),
    );
    await rejects(authority.signCsr(csr, REVIEWS), CaError, /ec_paramgen_curve:P-256.*rsa:2048/);
  }
  // 2048 bits is the floor, and it is signed.
  const signed = await authority.signCsr(await opensslCsr("rsa:2048"), REVIEWS);
  assert.equal(signed.spiffeId, REVIEWS_ID);
});

Deno.test("signCsr: a WebCrypto RSA-1024 CSR is refused before its signature is checked", async () => {
  const alg = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 1024,
  };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: alg });
  await rejects(
    (await ca()).signCsr(csr.toString("pem"), REVIEWS),
    CaError,
    /CSR key is RSA 1024-bit, weaker than the 2048-bit minimum/,
  );
});

Deno.test("signCsr: EC keys on P-256 and P-384 are signed; P-521, secp256k1, Ed25519 and DSA are refused", async () => {
  const authority = await ca();
  for (const curve of ["P-256", "P-384"]) {
    const csr = await opensslCsr("ec", `ec_paramgen_curve:${curve}`);
    const signed = await authority.signCsr(csr, REVIEWS);
    const cert = new x509.X509Certificate(signed.certChainPem);
    assert.equal((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve, curve);
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/root.pem`, authority.rootPem);
      await Deno.writeTextFile(`${dir}/leaf.pem`, signed.certChainPem);
      const v = await openssl(["verify", "-CAfile", `${dir}/root.pem`, `${dir}/leaf.pem`]);
      assert.equal(v.code, 0, v.out);
    });
  }
  const refused: [string, Promise<string>, RegExp][] = [
    [
      "P-521",
      opensslCsr("ec", "ec_paramgen_curve:P-521"),
      /CSR key is EC P-521; the CA signs EC keys only on P-256 or P-384; generate a new key/,
    ],
    [
      "secp256k1",
      opensslCsr("ec", "ec_paramgen_curve:secp256k1"),
      /CSR key is EC secp256k1; the CA signs EC keys only on P-256 or P-384/,
    ],
    [
      "Ed25519",
      opensslCsr("ed25519"),
      /CSR key is Ed25519, a key type the CA doesn't sign; generate a new key/,
    ],
    ["DSA", opensslCsr("dsa"), /CSR key is DSA, a key type the CA doesn't sign/],
  ];
  for (const [name, csr, re] of refused) {
    await assert.rejects(authority.signCsr(await csr, REVIEWS), (err: unknown) => {
      assert.ok(err instanceof CaError, `${name}: ${err}`);
      assert.match(err.message, re, name);
      assert.doesNotMatch(err.message, /signature/, name);
      return true;
    });
  }
});

Deno.test("csrKeyProblem and describeKey: the policy without certificates", () => {
  assert.equal(csrKeyProblem({ name: "ECDSA", namedCurve: "P-256" }), undefined);
  assert.equal(csrKeyProblem({ name: "ECDSA", namedCurve: "P-384" }), undefined);
  assert.equal(csrKeyProblem({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048 }), undefined);
  assert.equal(csrKeyProblem({ name: "RSASSA-PKCS1-v1_5", modulusLength: 4096 }), undefined);
  assert.match(csrKeyProblem({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2047 })!, /2047-bit/);
  assert.match(csrKeyProblem({ name: "RSASSA-PKCS1-v1_5" })!, /RSA \?-bit/);
  assert.match(csrKeyProblem({ name: "RSA-PSS", modulusLength: 2048 })!, /PSS.*doesn't sign/);
  assert.match(csrKeyProblem({ name: "ECDSA" })!, /EC unknown curve/);
  assert.match(csrKeyProblem({ name: "1.3.101.113" })!, /Ed448/);
  assert.match(csrKeyProblem({ name: "1.2.3.4" })!, /CSR key is 1\.2\.3\.4/);
  assert.equal(describeKey({ name: "ECDSA", namedCurve: "K-256" }), "EC secp256k1");
  assert.equal(MIN_RSA_BITS, 2048);
});
