/**
 * HTTP/2 to an upstream outside the mesh, with real processes: a ServiceEntry port of protocol
 * GRPC (resolution STATIC, endpoint 127.0.0.1) in front of an h2c server of mesh's own codec;
 * clients reach the sidecar's outbound listener over HTTP/1.1 and over h2c, and the sidecar
 * speaks HTTP/2 (prior knowledge) upstream on one multiplexed connection.
 */
import assert from "node:assert/strict";
import { h2Listen } from "../proxy/h2/testing.ts";
import { curl, eventually, TestMesh } from "./helpers.ts";

const HOST = "grpc.example.com:50051";

Deno.test("h2 upstream: a GRPC ServiceEntry port is sent over h2c, from HTTP/1.1 and h2c clients", async () => {
  const l = await h2Listen({
    onStream: (s) => {
      (async () => {
        const body = await s.body.bytes();
        s.respond([[":status", "200"], ["content-type", "application/json"]]);
        await s.write(new TextEncoder().encode(JSON.stringify({
          method: s.method,
          path: s.header(":path"),
          authority: s.header(":authority"),
          bytes: body.length,
        })));
        await s.end([["grpc-status", "0"]]);
      })().catch(() => {});
    },
  });
  const m = await TestMesh.start({
    "se.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc-ext}
spec:
  hosts: [grpc.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 50051, name: rpc, protocol: GRPC}]
  endpoints: [{address: 127.0.0.1, ports: {rpc: ${l.port}}}]
`,
  });
  try {
    const a = await m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" });
    const url = `http://127.0.0.1:${a.outbound}`;
    const h1 = await eventually(
      async () => {
        const r = await curl(["--http1.1", "-H", `host: ${HOST}`, `${url}/pkg.Svc/Get`]);
        return r.status === 200 && r;
      },
      10_000,
      "the GRPC ServiceEntry to answer",
    );
    const seen = JSON.parse(h1.body);
    assert.equal(seen.method, "GET");
    assert.equal(seen.path, "/pkg.Svc/Get");
    assert.equal(seen.authority, HOST);
    const post = await curl([
      "--http1.1",
      "-H",
      `host: ${HOST}`,
      "--data-binary",
      "0123456789",
      `${url}/pkg.Svc/Post`,
    ]);
    assert.equal(post.status, 200, post.body);
    assert.equal(JSON.parse(post.body).bytes, 10);
    const h2 = await curl([
      "--http2-prior-knowledge",
      "-H",
      `host: ${HOST}`,
      `${url}/pkg.Svc/H2`,
    ]);
    assert.equal(h2.status, 200, h2.body);
    assert.equal(JSON.parse(h2.body).path, "/pkg.Svc/H2");
    // Every request went over HTTP/2 on one connection from the sidecar.
    assert.equal(l.servers.length, 1);
  } finally {
    await m.close();
    await l.close();
  }
});
