import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { connectTls, pauseReading, resumeReading } from "./flow.ts";
import { testPki } from "../tests/helpers.ts";

const MB = 1 << 20;
const TOTAL = 48 * MB;

/**
 * Writes TOTAL bytes to `out` with backpressure; `blocked` is called each time a write
 * backs up and no drain followed for a while (the reader really stopped).
 */
function pump(out: net.Socket, blocked: (sent: number) => void): Promise<number> {
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  return new Promise((resolve) => {
    const go = () => {
      while (sent < TOTAL) {
        sent += chunk.length;
        if (!out.write(chunk)) {
          const quiet = setTimeout(() => blocked(sent), 300);
          out.once("drain", () => {
            clearTimeout(quiet);
            go();
          });
          return;
        }
      }
      resolve(sent);
    };
    go();
  });
}

/** Reads from `s`, pausing after 1 MB until the writer is blocked; resolves with bytes read. */
function readWithPause(s: net.Socket, writerBlocked: Promise<number>): Promise<number> {
  let got = 0;
  let paused = false;
  return new Promise((resolve) => {
    s.on("data", (d: Uint8Array) => {
      got += d.length;
      if (!paused && got > MB) {
        paused = true;
        pauseReading(s);
        writerBlocked.then(() => resumeReading(s));
      }
      if (got >= TOTAL) resolve(got);
    });
  });
}

Deno.test("flow: a paused TLS reader stops the peer (server side, and client side over connectTls)", async () => {
  const dir = await Deno.makeTempDir();
  const pki = await testPki(dir);
  const ctx = tls.createSecureContext(pki.server);
  for (const side of ["server reads", "client reads"] as const) {
    let blockedAt = -1;
    let onBlocked!: (n: number) => void;
    const writerBlocked = new Promise<number>((r) => onBlocked = r);
    const blocked = (n: number) => {
      if (blockedAt < 0) blockedAt = n;
      onBlocked(n);
    };
    const reading = Promise.withResolvers<number>();
    const writing = Promise.withResolvers<number>();
    const accepted = new Promise<void>((done) => {
      const server = net.createServer((raw) => {
        const s = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx });
        s.on("error", () => {});
        if (side === "server reads") reading.resolve(readWithPause(s, writerBlocked));
        else s.on("secure", () => writing.resolve(pump(s, blocked)));
        server.close();
        done();
      });
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port;
        const c = connectTls({
          host: "127.0.0.1",
          port,
          ca: pki.ca,
          servername: "secure.example.com",
        });
        c.on("error", () => {});
        if (side === "server reads") c.on("secureConnect", () => writing.resolve(pump(c, blocked)));
        else reading.resolve(readWithPause(c, writerBlocked));
        clientSocket = c;
      });
    });
    let clientSocket: tls.TLSSocket | undefined;
    await accepted;
    const [got, sent] = await Promise.all([reading.promise, writing.promise]);
    clientSocket?.destroy();
    console.log(
      `flow (${side}): writer held at ${(blockedAt / MB).toFixed(1)} MB while the reader paused; ` +
        `${(got / MB).toFixed(0)} MB read after resuming`,
    );
    assert.ok(blockedAt > 0 && blockedAt < 16 * MB, `writer not held back (${blockedAt} bytes)`);
    assert.equal(got, TOTAL);
    assert.equal(sent, TOTAL);
  }
  await Deno.remove(dir, { recursive: true });
});
