/**
 * Egress: TLS origination to services outside the mesh (DestinationRule `tls` SIMPLE and
 * MUTUAL), as in Istio's egress TLS origination task, against real TLS servers on loopback.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { curl, eventually, TestMesh, testPki as pki } from "./helpers.ts";

/** A TLS server that answers one HTTP request per connection with what it saw. */
function tlsServer(opts: tls.TlsOptions): Promise<{ port: number; close: () => void }> {
  const server = tls.createServer(opts, (socket) => {
    socket.on("error", () => {});
    let buf = "";
    socket.on("data", (d: Uint8Array | string) => {
      buf += typeof d === "string" ? d : new TextDecoder().decode(d);
      if (!buf.includes("\r\n\r\n")) return;
      const peer = (socket.getPeerCertificate() as tls.PeerCertificate).subjectaltname ?? "";
      const body = JSON.stringify({
        line: buf.split("\r\n")[0],
        sni: (socket as unknown as { servername?: string }).servername ?? null,
        client: peer,
      });
      socket.end(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${
          new TextEncoder().encode(body).length
        }\r\nconnection: close\r\n\r\n${body}`,
      );
    });
  });
  server.on("tlsClientError", () => {});
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address() as { port: number };
      resolve({ port: a.port, close: () => server.close() });
    })
  );
}

/** An external service on 127.0.0.1:`target`, named secure.example.com:`port` in the mesh. */
const entry = (name: string, port: number, target: number) =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [secure.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${target}}}]
`;

const rule = (tlsSettings: string) =>
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure-tls}
spec:
  host: secure.example.com
  trafficPolicy:
    tls: ${tlsSettings}
`;

Deno.test("egress TLS origination: SIMPLE verifies the server with caCertificates, SNI and subjectAltNames", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-egress-" });
  const p = await pki(dir);
  const server = await tlsServer({ cert: p.server.cert, key: p.server.key });
  const m = await TestMesh.start({
    "se.yaml": entry("ext", 18443, server.port),
    "dr.yaml": rule(`{mode: SIMPLE, caCertificates: ${p.caPath}}`),
  });
  try {
    const a = await m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" });
    const get = () =>
      curl(["-x", `http://127.0.0.1:${a.outbound}`, "http://secure.example.com:18443/orig"]);
    // The app speaks plain HTTP to its sidecar; the sidecar opens TLS to the server.
    const r = await eventually(
      async () => {
        const r = await get();
        return r.status === 200 && r;
      },
      10_000,
      "TLS origination to work",
    );
    const seen = JSON.parse(r.body);
    assert.equal(seen.line, "GET /orig HTTP/1.1");
    assert.equal(seen.sni, "secure.example.com", "SNI is the service host for an IP endpoint");
    assert.equal(seen.client, "", "SIMPLE sends no client certificate");

    // A subjectAltNames entry the server doesn't have: refused.
    await Deno.writeTextFile(
      `${m.configDir}/dr.yaml`,
      rule(`{mode: SIMPLE, caCertificates: ${p.caPath}, subjectAltNames: [other.example]}`),
    );
    const refused = await eventually(
      async () => {
        const r = await get();
        return r.status === 503 && r;
      },
      10_000,
      "the SAN check to refuse",
    );
    assert.match(refused.body, /match none of subjectAltNames other\.example/);
    // The runtime's default roots don't trust the test CA.
    await Deno.writeTextFile(`${m.configDir}/dr.yaml`, rule(`{mode: SIMPLE}`));
    await eventually(async () => (await get()).status === 503, 10_000, "an untrusted server");
    // A CA file that isn't there: a 503 that names the file.
    await Deno.writeTextFile(
      `${m.configDir}/dr.yaml`,
      rule(`{mode: SIMPLE, caCertificates: ${dir}/missing.pem}`),
    );
    const missing = await eventually(
      async () => {
        const r = await get();
        return /missing\.pem/.test(r.body) && r;
      },
      10_000,
      "the missing CA file to be reported",
    );
    assert.equal(missing.status, 503);
  } finally {
    await m.close();
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("egress TLS origination: MUTUAL presents the client certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-egress-" });
  const p = await pki(dir);
  const server = await tlsServer({
    cert: p.server.cert,
    key: p.server.key,
    ca: p.ca,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const m = await TestMesh.start({
    "se.yaml": entry("ext", 18444, server.port),
    "dr.yaml": rule(
      `{mode: MUTUAL, caCertificates: ${p.caPath}, clientCertificate: ${p.clientCertPath}, ` +
        `privateKey: ${p.clientKeyPath}, sni: secure.example.com}`,
    ),
  });
  try {
    const a = await m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" });
    const r = await eventually(
      async () => {
        const r = await curl([
          "-x",
          `http://127.0.0.1:${a.outbound}`,
          "http://secure.example.com:18444/m",
        ]);
        return r.status === 200 && r;
      },
      10_000,
      "mutual TLS origination to work",
    );
    assert.equal(JSON.parse(r.body).client, "URI:spiffe://ext/client");
  } finally {
    await m.close();
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
