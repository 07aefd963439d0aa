/**
 * A sidecar's inbound listener accepts only peers whose SPIFFE ID is in the mesh's trust domain
 * or a MeshConfig `trustDomainAliases` entry, even when the certificate chains to the mesh's own
 * root: certificates with a foreign trust domain, with no URI SAN or with several are closed
 * before any request reaches the app. Real control plane and sidecar processes.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { generateKey, importKey, x509 } from "../ca/pem.ts";
import { configDump, echoServer, eventually, serviceEntryYaml, TestMesh } from "./helpers.ts";

/** A leaf signed by the mesh's root (read from the data dir), with exactly `sans`. */
async function meshSignedLeaf(
  dataDir: string,
  sans: x509.JsonGeneralName[],
): Promise<{ keyPem: string; certPem: string; rootPem: string }> {
  const rootPem = await Deno.readTextFile(`${dataDir}/ca/root-cert.pem`);
  const root = new x509.X509Certificate(rootPem);
  const signer = await importKey(await Deno.readTextFile(`${dataDir}/ca/root-key.pem`), rootPem);
  const { keys, keyPem } = await generateKey();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "01" + crypto.randomUUID().replaceAll("-", "").slice(0, 14),
    subject: "CN=peer-identity-test",
    issuer: root.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
    ],
  });
  return { keyPem, certPem: cert.toString("pem"), rootPem };
}

/** One HTTP request over mTLS with the given client certificate; "refused" when closed unanswered. */
function tlsRequest(port: number, leaf: { keyPem: string; certPem: string; rootPem: string }) {
  return new Promise<string>((resolve) => {
    let data = "";
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      key: leaf.keyPem,
      cert: leaf.certPem,
      ca: leaf.rootPem,
      checkServerIdentity: () => undefined,
    }, () => s.write("GET /who HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n"));
    s.setEncoding("utf8");
    s.setTimeout(10_000, () => s.destroy());
    s.on("data", (c: string) => data += c);
    s.on("error", () => resolve(data || "refused"));
    s.on("close", () => resolve(data || "refused"));
  });
}

const xfccOf = (answer: string) =>
  JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).headers["x-forwarded-client-cert"];

Deno.test("inbound refuses mesh-signed peers outside the trust domain and its aliases", async () => {
  const app = echoServer("echo");
  const m = await TestMesh.start({ "services.yaml": serviceEntryYaml("echo") });
  try {
    const b = await m.sidecar({
      name: "echo",
      serviceAccount: "echo",
      labels: "app=echo",
      appPort: app.port,
    });
    const url = (td: string) => ({ type: "url" as const, value: `spiffe://${td}/ns/default/sa/a` });
    const own = await meshSignedLeaf(m.dataDir, [url("cluster.local")]);
    const old = await meshSignedLeaf(m.dataDir, [url("old.example.org")]);
    const foreign = await meshSignedLeaf(m.dataDir, [url("evil.example")]);
    const noSan = await meshSignedLeaf(m.dataDir, []);
    const dnsOnly = await meshSignedLeaf(m.dataDir, [{ type: "dns", value: "a.example.com" }]);
    const two = await meshSignedLeaf(m.dataDir, [url("cluster.local"), url("evil.example")]);

    // The mesh's own trust domain: served, with the peer's id in XFCC.
    const ok = await tlsRequest(b.inbound, own);
    assert.match(ok, /^HTTP\/1\.1 200/, ok);
    assert.match(xfccOf(ok), /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/a$/);
    const seenBefore = app.seen.length;

    // Foreign trust domain, no SPIFFE ID, two URI SANs: closed, nothing reaches the app.
    const refusedCases = { foreign, noSan, dnsOnly, two, old };
    for (const [name, leaf] of Object.entries(refusedCases)) {
      assert.equal(await tlsRequest(b.inbound, leaf), "refused", name);
    }
    assert.equal(app.seen.length, seenBefore, "no refused peer's request reached the app");
    await b.proc.waitFor(
      /refused a TLS peer; connection closed reason="the peer spiffe:\/\/evil\.example\/ns\/default\/sa\/a is in trust domain evil\.example, not the mesh's \(cluster\.local\); add it to MeshConfig trustDomainAliases/,
    );
    await b.proc.waitFor(/refused a TLS peer.*no SPIFFE ID \(no URI SAN\)/);

    // An alias makes the old trust domain the mesh's; evil.example stays out.
    await Deno.writeTextFile(
      `${m.configDir}/mesh.yaml`,
      `apiVersion: config.mesh.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  trustDomainAliases: [old.example.org]
`,
    );
    await eventually(
      async () =>
        ((await configDump(b.admin)).config as { trustDomainAliases?: string[] })
          .trustDomainAliases?.includes("old.example.org"),
      15_000,
      "the alias in the sidecar's config",
    );
    const viaAlias = await tlsRequest(b.inbound, old);
    assert.match(viaAlias, /^HTTP\/1\.1 200/, viaAlias);
    assert.match(xfccOf(viaAlias), /URI=spiffe:\/\/old\.example\.org\/ns\/default\/sa\/a$/);
    assert.equal(await tlsRequest(b.inbound, foreign), "refused");
    assert.equal(await tlsRequest(b.inbound, noSan), "refused");
    assert.doesNotMatch(m.control.output, /trustDomainAliases.*not supported/);
    console.log(
      `peer identity: ${Object.keys(refusedCases).length} mesh-signed peers outside the trust ` +
        "domain refused, 0 requests reached the app; alias accepted once configured",
    );
  } finally {
    await m.close();
    await app.close();
  }
});
