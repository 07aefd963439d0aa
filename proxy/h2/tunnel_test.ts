/** Extended CONNECT tunnels (RFC 8441) over this codec, both ends as sockets (`tunnel.ts`). */
import assert from "node:assert/strict";
import type net from "node:net";
import { H2_ERROR, H2StreamError } from "./errors.ts";
import type { HeaderField } from "./hpack.ts";
import type { H2Stream } from "./stream.ts";
import { h2Pair } from "./testing.ts";
import { h2Tunnel } from "./tunnel.ts";

const WS: HeaderField[] = [
  [":method", "CONNECT"],
  [":protocol", "websocket"],
  [":scheme", "http"],
  [":path", "/chat"],
  [":authority", "test"],
];

/** Resolves with every byte `s` reads, once it ends. */
function readAll(s: net.Socket): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    s.on("data", (c: Uint8Array) => parts.push(c));
    s.on("end", () => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      resolve(out);
    });
    s.on("error", reject);
  });
}

/** A server that answers every extended CONNECT 200 and hands the tunnel to `use`. */
function tunnelServer(use: (t: net.Socket, s: H2Stream) => void) {
  return h2Pair({
    server: { settings: { enableConnectProtocol: true } },
    onStream: (s) => {
      if (s.header(":protocol") !== "websocket") {
        return s.respond([[":status", "400"]], { endStream: true });
      }
      s.respond([[":status", "200"]]);
      use(h2Tunnel(s), s);
    },
  });
}

Deno.test("tunnel: an echo over extended CONNECT carries 4 MiB both ways and half-closes", async () => {
  const p = await tunnelServer((t) => {
    t.on("data", (c: Uint8Array) => {
      if (!t.write(c)) {
        t.pause();
        t.once("drain", () => t.resume());
      }
    });
    t.on("end", () => t.end());
  });
  try {
    assert.equal(await p.client.ready, true);
    assert.equal(p.client.peerSettings.enableConnectProtocol, true);
    await p.client.ready;
    const s = p.client.request(WS);
    const head = await s.response;
    assert.equal(head[0][1], "200");
    const t = h2Tunnel(s);
    const back = readAll(t);
    const data = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
    for (let at = 0; at < data.length; at += 64 * 1024) {
      if (!t.write(data.subarray(at, at + 64 * 1024))) {
        await new Promise((r) => t.once("drain", r));
      }
    }
    t.end();
    const got = await back;
    assert.equal(got.length, data.length);
    assert.ok(got.every((b, i) => b === data[i]), "the echoed bytes are the ones sent");
    assert.equal(await s.closed, undefined, "both sides ended: the stream completed");
  } finally {
    await p.close();
  }
});

Deno.test("tunnel: a client that never saw the setting can't send :protocol", async () => {
  const p = await h2Pair({ onStream: (s) => s.respond([[":status", "200"]], { endStream: true }) });
  try {
    assert.equal(await p.client.ready, true);
    assert.equal(p.client.peerSettings.enableConnectProtocol, false);
    assert.throws(() => p.client.request(WS), TypeError);
  } finally {
    await p.close();
  }
});

Deno.test("tunnel: destroying one end resets the stream; the other end fails", async () => {
  const serverSide = Promise.withResolvers<{ t: net.Socket; s: H2Stream }>();
  const p = await tunnelServer((t, s) => serverSide.resolve({ t, s }));
  try {
    await p.client.ready;
    const s = p.client.request(WS);
    await s.response;
    const client = h2Tunnel(s);
    client.write(new Uint8Array([1, 2, 3]));
    const { t, s: ss } = await serverSide.promise;
    const first = await new Promise<Uint8Array>((r) => t.once("data", r));
    assert.deepEqual([...first], [1, 2, 3]);
    const closed = new Promise<Error | undefined>((r) => {
      t.on("error", () => {});
      t.on("close", () => r(undefined));
    });
    client.destroy();
    await closed;
    const err = await ss.closed;
    assert.ok(err instanceof H2StreamError && err.code === H2_ERROR.CANCEL, String(err));
  } finally {
    await p.close();
  }
});

/** Waits for `ok()`, checking every few ms; fails after `tries` checks (a hang, not a timing). */
async function until(ok: () => boolean, what: string, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never: ${what}`);
}

Deno.test("tunnel: a reader that stops holds the writer at the stream window, then it flows", async () => {
  const serverSide = Promise.withResolvers<{ t: net.Socket; s: H2Stream }>();
  const p = await tunnelServer((t, s) => {
    t.pause();
    serverSide.resolve({ t, s });
  });
  try {
    await p.client.ready;
    const s = p.client.request(WS);
    await s.response;
    const client = h2Tunnel(s);
    const { t: server, s: ss } = await serverSide.promise;
    const chunk = new Uint8Array(64 * 1024);
    const chunks = 64; // 4 MiB, far over the stream's 256 KiB window
    let sent = 0;
    const pump = (async () => {
      for (let i = 0; i < chunks; i++) {
        sent += chunk.length;
        if (!client.write(chunk)) await new Promise((r) => client.once("drain", r));
      }
      client.end();
    })();
    await until(() => s.sendWindow === 0, "the stream window used up");
    assert.ok(ss.body.buffered <= 256 * 1024, `server holds ${ss.body.buffered} bytes`);
    // The writer waits: what it was allowed beyond the window is a chunk or two, not 4 MiB.
    assert.ok(sent - ss.body.buffered <= 3 * chunk.length, `${sent} bytes written`);
    const all = readAll(server);
    server.resume();
    await pump;
    assert.equal((await all).length, chunks * chunk.length);
    server.destroy();
  } finally {
    await p.close();
  }
});

Deno.test("tunnel: setTimeout fires after quiet, not while bytes flow", async () => {
  const p = await tunnelServer((t) => t.on("data", (c: Uint8Array) => t.write(c)));
  try {
    await p.client.ready;
    const s = p.client.request(WS);
    await s.response;
    const t = h2Tunnel(s);
    let echoes = 0;
    t.on("data", () => {
      echoes++;
      if (echoes < 5) t.write(new Uint8Array([echoes]));
    });
    const idle = new Promise<number>((r) => t.setTimeout(50, () => r(echoes)));
    t.write(new Uint8Array([0]));
    assert.equal(await idle, 5, "the timer waited for the echoes to stop");
    t.destroy();
  } finally {
    await p.close();
  }
});
