import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { serverName } from "./sni.ts";

/** The first bytes a real TLS client sends for `servername`. */
async function clientHello(servername?: string): Promise<Uint8Array> {
  const server = net.createServer();
  const got = new Promise<Uint8Array>((resolve) =>
    server.on("connection", (s) => {
      s.once("data", (d: Uint8Array) => {
        resolve(new Uint8Array(d));
        s.destroy();
      });
    })
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const c = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false });
  c.on("error", () => {});
  const bytes = await got;
  c.destroy();
  server.close();
  return bytes;
}

Deno.test("serverName: the SNI of a real ClientHello; more bytes; not TLS", async () => {
  const hello = await clientHello("Shop.Example.com");
  assert.deepEqual(serverName(hello), { name: "shop.example.com" });
  assert.deepEqual(serverName(hello.subarray(0, 3)), { more: true });
  assert.deepEqual(serverName(hello.subarray(0, 20)), { more: true });
  assert.deepEqual(serverName(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")), {});
  // Garbage in a handshake record never throws.
  const junk = new Uint8Array(64).fill(0xff);
  junk[0] = 0x16;
  junk[3] = 0;
  junk[4] = 59;
  assert.deepEqual(serverName(junk), {});
});
