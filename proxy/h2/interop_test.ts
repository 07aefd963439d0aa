/**
 * This codec against peers nobody here wrote: curl (nghttp2) against our server, over h2c
 * with prior knowledge and over TLS with ALPN h2; h2load against our server; our client
 * against `Deno.serve` (hyper) over TLS with ALPN h2. Skipped, with one line, when curl is
 * missing (h2load: when it is missing).
 */
import { type SelfSigned, selfSignedCert } from "../../tests/self_signed.ts";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { connectTls } from "../flow.ts";
import { H2Connection } from "./connection.ts";
import type { H2Stream } from "./stream.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

function has(cmd: string): boolean {
  try {
    return new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const CURL = has("curl");
const H2LOAD = has("h2load");
if (!CURL) console.log("interop_test: curl not found, curl and Deno.serve tests skipped");

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { ok: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** Our test handler: echoes method, path and body length, with a trailer. */
async function handler(s: H2Stream): Promise<void> {
  const body = await s.body.bytes();
  s.respond([[":status", "200"], ["content-type", "text/plain"]]);
  await s.write(enc.encode(`${s.method} ${s.header(":path")} ${body.length}\n`));
  await s.end([["x-trailer", "done"]]);
}

async function listen(
  make: (onConn: (s: net.Socket) => void) => net.Server,
): Promise<{ port: number; conns: H2Connection[]; close(): Promise<void> }> {
  const conns: H2Connection[] = [];
  const server = make((s) =>
    conns.push(new H2Connection(s, { role: "server", onStream: handler }))
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    close: async () => {
      for (const c of conns) c.destroy();
      await Promise.all(conns.map((c) => c.closed));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function selfSigned(dir: string): Promise<SelfSigned> {
  return selfSignedCert(dir, { san: "DNS:localhost,IP:127.0.0.1" });
}

Deno.test({
  name: "interop: curl --http2-prior-knowledge GET and POST against our server",
  ignore: !CURL,
}, async () => {
  const srv = await listen((on) => net.createServer(on));
  const url = `http://127.0.0.1:${srv.port}`;
  const g = await run("curl", ["-sS", "--http2-prior-knowledge", "-v", `${url}/hello?x=1`]);
  assert.ok(g.ok, g.err);
  assert.equal(g.out, "GET /hello?x=1 0\n");
  assert.match(g.err, /< HTTP\/2 200/);
  assert.match(g.err, /< x-trailer: done/);
  const body = "x".repeat(300_000);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/body`, body);
  const p = await run("curl", [
    "-sS",
    "--http2-prior-knowledge",
    "--data-binary",
    `@${dir}/body`,
    `${url}/upload`,
  ]);
  assert.ok(p.ok, p.err);
  assert.equal(p.out, "POST /upload 300000\n");
  await Deno.remove(dir, { recursive: true });
  await srv.close();
});

Deno.test(
  { name: "interop: curl --http2 over TLS with ALPN h2 against our server", ignore: !CURL },
  async () => {
    const dir = await Deno.makeTempDir();
    const { cert, key, certPath } = await selfSigned(dir);
    const srv = await listen((on) => {
      const s = tls.createServer({ cert, key, ALPNProtocols: ["h2"] });
      s.on("secureConnection", (t: tls.TLSSocket) => {
        if (t.alpnProtocol === "h2") on(t);
        else t.destroy();
      });
      return s;
    });
    const r = await run("curl", [
      "-sS",
      "--http2",
      "-v",
      "--cacert",
      certPath,
      "--resolve",
      `localhost:${srv.port}:127.0.0.1`,
      "--data-binary",
      "abc",
      `https://localhost:${srv.port}/tls`,
    ]);
    assert.ok(r.ok, r.err);
    assert.match(r.err, /ALPN.*h2/);
    assert.match(r.err, /< HTTP\/2 200/);
    assert.equal(r.out, "POST /tls 3\n");
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  { name: "interop: h2load -n 2000 -c 4 -m 10 against our server", ignore: !H2LOAD },
  async () => {
    const srv = await listen((on) => net.createServer(on));
    const r = await run("h2load", [
      "-n",
      "2000",
      "-c",
      "4",
      "-m",
      "10",
      `http://127.0.0.1:${srv.port}/load`,
    ]);
    assert.ok(r.ok, r.err);
    assert.match(r.out, /2000 succeeded, 0 failed, 0 errored/);
    assert.match(r.out, /status codes: 2000 2xx/);
    console.log(r.out.split("\n").find((l) => l.startsWith("finished in"))?.trim());
    await srv.close();
  },
);

Deno.test(
  { name: "interop: our client against Deno.serve over TLS with ALPN h2", ignore: !CURL },
  async () => {
    const dir = await Deno.makeTempDir();
    const { cert, key } = await selfSigned(dir);
    const ready = Promise.withResolvers<number>();
    const ac = new AbortController();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert,
      key,
      signal: ac.signal,
      onListen: ({ port }) => ready.resolve(port),
    }, async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(`${req.method} ${new URL(req.url).pathname} ${body.length}`, {
        headers: { "x-proto": "yes" },
      });
    });
    const port = await ready.promise;
    const socket = connectTls({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: cert,
      ALPNProtocols: ["h2"],
    });
    await new Promise<void>((r, j) => {
      socket.once("secureConnect", () => r());
      socket.once("error", j);
    });
    assert.equal(socket.alpnProtocol, "h2");
    const conn = new H2Connection(socket, { role: "client" });
    const fields = (path: string, method = "GET") =>
      [[":method", method], [":scheme", "https"], [":path", path], [
        ":authority",
        `localhost:${port}`,
      ]] as [string, string][];
    const g = conn.request(fields("/get"), { endStream: true });
    const h = await g.response;
    assert.equal(h[0][1], "200");
    assert.ok(h.some(([n, v]) => n === "x-proto" && v === "yes"));
    assert.equal(dec.decode(await g.body.bytes()), "GET /get 0");
    // A 2 MB upload and 50 concurrent requests.
    const up = conn.request(fields("/up", "POST"));
    const big = new Uint8Array(2 * 1024 * 1024).fill(7);
    up.write(big).then(() => up.end());
    assert.equal(dec.decode(await up.body.bytes()), `POST /up ${big.length}`);
    const many = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const s = conn.request(fields(`/m${i}`), { endStream: true });
      return dec.decode(await s.body.bytes());
    }));
    assert.deepEqual(many, Array.from({ length: 50 }, (_, i) => `GET /m${i} 0`));
    const rtt = await conn.ping();
    assert.ok(rtt >= 0);
    const reason = await conn.close();
    assert.equal(reason.code, 0);
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  },
);
