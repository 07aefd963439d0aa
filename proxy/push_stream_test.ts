import assert from "node:assert/strict";
import { selfSignedCert } from "../tests/self_signed.ts";
import tls from "node:tls";
import { H2Connection } from "./h2/connection.ts";
import type { H2Stream } from "./h2/stream.ts";
import {
  chunk,
  openPushStream,
  PushLines,
  type PushStreamOptions,
  StreamResponseReader,
} from "./push_stream.ts";
import { LineSplitter } from "../util/ndjson.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const response = (...lines: string[]) =>
  new Uint8Array([
    ...enc.encode(
      "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\nx-mesh-keepalive-ms: 5000\r\n" +
        "transfer-encoding: chunked\r\n\r\n",
    ),
    ...lines.flatMap((l) => [...chunk(l)]),
  ]);

Deno.test("chunk frames one line as an HTTP/1.1 chunk", () => {
  assert.equal(dec.decode(chunk('{"a":1}\n')), '8\r\n{"a":1}\n\r\n');
  assert.equal(dec.decode(chunk("é\n")), "3\r\né\n\r\n", "the size counts bytes, not characters");
});

Deno.test("stream response: head, then lines across chunks, in any split of the bytes", () => {
  // One line split over two chunks, and two lines in one chunk.
  const bytes = response('{"type":"config",', '"n":1}\n{"type":"keepalive"}\n', '{"n":2}\n');
  for (let cut = 0; cut <= bytes.length; cut += 3) {
    const r = new StreamResponseReader();
    const heads: number[] = [];
    const lines: string[] = [];
    for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
      const err = r.feed(part, (status) => heads.push(status), (l) => lines.push(l));
      assert.equal(err, undefined);
    }
    assert.deepEqual(heads, [200], `cut at ${cut}`);
    assert.deepEqual(lines, ['{"type":"config","n":1}', '{"type":"keepalive"}', '{"n":2}']);
    assert.equal(r.ended, false);
    assert.equal(r.head?.headers.find(([k]) => k === "x-mesh-keepalive-ms")?.[1], "5000");
  }
});

Deno.test("stream response: the terminating chunk ends it; a refusal keeps its error body", () => {
  const r = new StreamResponseReader();
  r.feed(response('{"n":1}\n'), () => {}, () => {});
  r.feed(enc.encode("0\r\n\r\n"), () => {}, () => {});
  assert.equal(r.ended, true);

  const refused = new StreamResponseReader();
  const lines: string[] = [];
  const body = '{"error":"the push stream needs a valid mesh client certificate"}';
  refused.feed(
    enc.encode(`HTTP/1.1 401 Unauthorized\r\ncontent-length: ${body.length}\r\n\r\n${body}`),
    () => {},
    (l) => lines.push(l),
  );
  assert.equal(refused.head?.status, 401);
  assert.deepEqual(lines, []);
  assert.equal(JSON.parse(refused.errorBody).error, JSON.parse(body).error);
});

Deno.test("stream response: garbage is an error, not an exception", () => {
  const r = new StreamResponseReader();
  assert.match(
    r.feed(enc.encode("SSH-2.0-OpenSSH\r\n\r\n"), () => {}, () => {})!,
    /bad status line/,
  );
  const c = new StreamResponseReader();
  c.feed(response(), () => {}, () => {});
  assert.match(c.feed(enc.encode("zz\r\n"), () => {}, () => {})!, /bad chunk size/);
  const long = new StreamResponseReader(16);
  assert.match(
    long.feed(response("x".repeat(40) + "\n"), () => {}, () => {})!,
    /over 1 MiB|line/,
  );
});

// ---- over real sockets on 127.0.0.1: HTTP/2 (mesh's codec) and the HTTP/1.1 fallback ----

let certs: Promise<{ cert: string; key: string }> | undefined;
/** A self-signed certificate for 127.0.0.1 (openssl), made once. */
function selfSigned(): Promise<{ cert: string; key: string }> {
  return certs ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "mesh-push-test-" });
    const { cert, key } = await selfSignedCert(dir, { san: "IP:127.0.0.1" });
    const pair = { cert, key };
    await Deno.remove(dir, { recursive: true });
    return pair;
  })();
}

/** A fake control plane: a TLS server offering `alpn`; h2 connections get `onStream`. */
async function fakeControl(o: {
  alpn?: string[];
  onStream?: (s: H2Stream, conn: H2Connection) => void | Promise<void>;
  onH1?: (socket: tls.TLSSocket) => void;
}) {
  const { cert, key } = await selfSigned();
  const sockets = new Set<tls.TLSSocket>();
  const conns = new Set<H2Connection>();
  const server = tls.createServer({ cert, key, ...(o.alpn ? { ALPNProtocols: o.alpn } : {}) });
  server.on("secureConnection", (t: tls.TLSSocket) => {
    sockets.add(t);
    t.on("error", () => {});
    t.on("close", () => sockets.delete(t));
    if (t.alpnProtocol === "h2") {
      const conn: H2Connection = new H2Connection(t, {
        role: "server",
        onStream: (s): void | Promise<void> => o.onStream?.(s, conn),
      });
      conns.add(conn);
      conn.closed.then(() => t.destroy());
    } else o.onH1?.(t);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
  );
  return {
    port,
    conns,
    sockets,
    open: (p: Partial<PushStreamOptions> & Pick<PushStreamOptions, "onLine">) =>
      openPushStream({
        host: "127.0.0.1",
        port,
        authority: `127.0.0.1:${port}`,
        tls: { ca: cert },
        first: '{"type":"hello"}\n',
        ...p,
      }),
    close: async () => {
      for (const c of conns) c.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Resolves when `fn()` holds, checked whenever the test calls `check()` (no sleeping). */
function waitFor(fn: () => boolean): { promise: Promise<void>; check: () => void } {
  const p = Promise.withResolvers<void>();
  const check = () => {
    if (fn()) p.resolve();
  };
  return { promise: p.promise, check };
}

/** Reads an h2 request body as lines, calling `onLine` for each. */
async function readLines(s: H2Stream, onLine: (l: string) => void): Promise<void> {
  const lines = new LineSplitter();
  try {
    for await (const c of s.body) lines.feed(c, onLine);
  } catch { /* reset */ }
}

const ndjsonHead = (ms = 100): [string, string][] => [
  [":status", "200"],
  ["content-type", "application/x-ndjson"],
  ["x-mesh-keepalive-ms", String(ms)],
];

Deno.test("push stream over h2: lines both ways on one stream, keepalives up", async () => {
  const up: string[] = [];
  const gotUp = waitFor(() =>
    up.some((l) => l.includes("ack")) && up.filter((l) => l.includes("keepalive")).length >= 2
  );
  let reqHeaders: [string, string][] = [];
  const srv = await fakeControl({
    alpn: ["h2", "http/1.1"],
    onStream: async (s) => {
      reqHeaders = s.headers.map(([k, v]) => [k, v]);
      s.respond(ndjsonHead());
      await s.write(enc.encode('{"type":"config","n":1}\n{"type":"config",'));
      await s.write(enc.encode('"n":2}\n'));
      await readLines(s, (l) => {
        up.push(l);
        gotUp.check();
      });
    },
  });
  try {
    const down: string[] = [];
    const gotDown = waitFor(() => down.length >= 2);
    let protocol = "";
    let ms = 0;
    const s = srv.open({
      onOpen: (k, p) => {
        ms = k;
        protocol = p;
      },
      onLine: (l) => {
        down.push(l);
        gotDown.check();
      },
    });
    await gotDown.promise;
    assert.deepEqual(down, ['{"type":"config","n":1}', '{"type":"config","n":2}']);
    assert.equal(protocol, "h2");
    assert.equal(ms, 100, "the announced keepalive interval is used");
    assert.ok(s.send('{"type":"ack","version":"v1"}\n'));
    await gotUp.promise;
    assert.equal(up[0], '{"type":"hello"}');
    const h = Object.fromEntries(reqHeaders);
    assert.equal(h[":method"], "POST");
    assert.equal(h[":path"], "/v1/stream");
    assert.equal(h[":authority"], `127.0.0.1:${srv.port}`);
    s.close("test done");
    const end = await s.done;
    assert.equal(end.opened, true);
    assert.equal(end.reason.message, "test done");
  } finally {
    await srv.close();
  }
});

Deno.test("push stream over h2: a 4 MB line down arrives whole, through the windows", async () => {
  const big = JSON.stringify({ type: "config", blob: "x".repeat(4 << 20) });
  const srv = await fakeControl({
    alpn: ["h2"],
    onStream: async (s) => {
      s.respond(ndjsonHead(5000));
      await s.write(enc.encode(big + "\n"));
      await s.write(enc.encode('{"type":"after"}\n'));
      await readLines(s, () => {});
    },
  });
  try {
    const down: string[] = [];
    const got = waitFor(() => down.length >= 2);
    const s = srv.open({
      onLine: (l) => {
        down.push(l);
        got.check();
      },
    });
    await got.promise;
    assert.equal(down[0].length, big.length);
    assert.ok(down[0] === big, "the big line arrives unchanged");
    assert.equal(down[1], '{"type":"after"}');
    s.close();
    assert.equal((await s.done).opened, true);
  } finally {
    await srv.close();
  }
});

Deno.test("push stream over h2: the control plane's GOAWAY ends it with a reason", async () => {
  const opened = Promise.withResolvers<void>();
  const srv = await fakeControl({
    alpn: ["h2", "http/1.1"],
    onStream: async (s, conn) => {
      s.respond(ndjsonHead());
      await readLines(s, () => {
        // After the hello: a graceful restart. The stream itself stays open.
        conn.goaway(0, "restarting");
        opened.resolve();
      });
    },
  });
  try {
    const s = srv.open({ onLine: () => {} });
    await opened.promise;
    const end = await s.done;
    assert.equal(end.opened, true);
    assert.match(end.reason.message, /going away \(GOAWAY NO_ERROR\)/);
  } finally {
    await srv.close();
  }
});

Deno.test("push stream over h2: the control plane's socket destroyed mid-stream ends it", async () => {
  const srv = await fakeControl({
    alpn: ["h2"],
    onStream: async (s) => {
      s.respond(ndjsonHead());
      await s.write(enc.encode('{"type":"config"}\n'));
      await readLines(s, () => {});
    },
  });
  try {
    const s = srv.open({
      onLine: () => {
        // The control plane dies (no GOAWAY, no END_STREAM).
        for (const t of srv.sockets) t.destroy();
      },
    });
    const end = await s.done;
    assert.equal(end.opened, true);
    assert.ok(end.reason instanceof Error && end.reason.message.length > 0);
  } finally {
    await srv.close();
  }
});

Deno.test("push stream over h2: the control plane resetting the stream ends it", async () => {
  const srv = await fakeControl({
    alpn: ["h2"],
    onStream: (s) => {
      s.respond(ndjsonHead());
      s.write(enc.encode('{"type":"config"}\n')).then(() => s.reset(0x8), () => {});
    },
  });
  try {
    const s = srv.open({ onLine: () => {} });
    const end = await s.done;
    assert.equal(end.opened, true);
    assert.match(end.reason.message, /CANCEL|reset/i);
  } finally {
    await srv.close();
  }
});

Deno.test("push stream over h2: a refusal ends it with the status and the server's error", async () => {
  const srv = await fakeControl({
    alpn: ["h2"],
    onStream: async (s) => {
      s.respond([[":status", "401"], ["content-type", "application/json"]]);
      await s.write(enc.encode(JSON.stringify({ error: "needs a mesh certificate" })));
      await s.end();
    },
  });
  try {
    const end = await srv.open({ onLine: () => {} }).done;
    assert.equal(end.opened, false);
    assert.equal(
      end.reason.message,
      "push stream refused with status 401: needs a mesh certificate",
    );
  } finally {
    await srv.close();
  }
});

for (const alpn of [["http/1.1"], undefined]) {
  Deno.test(`push stream falls back to HTTP/1.1 when the server offers ${alpn ?? "no ALPN"}`, async () => {
    const up: string[] = [];
    const gotUp = waitFor(() => up.some((l) => l.includes("ack")));
    let requestHead = "";
    const srv = await fakeControl({
      alpn,
      onH1: (t) => {
        let buf = "";
        t.on("data", (d: Uint8Array) => {
          buf += dec.decode(d);
          if (!requestHead && buf.includes("\r\n\r\n")) {
            requestHead = buf.slice(0, buf.indexOf("\r\n\r\n"));
            t.write(response('{"type":"config","n":1}\n'));
          }
          // Lines are in the chunks' data; a crude split is enough here.
          up.splice(
            0,
            up.length,
            ...buf.split("\r\n").filter((l) => l.startsWith("{")).map((l) => l.trim()),
          );
          gotUp.check();
        });
      },
    });
    try {
      const down: string[] = [];
      const got = waitFor(() => down.length >= 1);
      let protocol = "";
      const s = srv.open({
        onOpen: (_, p) => protocol = p,
        onLine: (l) => {
          down.push(l);
          got.check();
        },
      });
      await got.promise;
      assert.equal(protocol, "http/1.1");
      assert.deepEqual(down, ['{"type":"config","n":1}']);
      assert.match(requestHead, /^POST \/v1\/stream HTTP\/1\.1\r\n/);
      assert.match(requestHead, /transfer-encoding: chunked/);
      assert.ok(s.send('{"type":"ack"}\n'));
      await gotUp.promise;
      assert.deepEqual(up.slice(0, 2), ['{"type":"hello"}', '{"type":"ack"}']);
      s.close();
      assert.equal((await s.done).opened, true);
    } finally {
      await srv.close();
    }
  });
}

Deno.test("push stream over h2: a control plane gone silent (no FIN) is dropped", async () => {
  const srv = await fakeControl({
    alpn: ["h2"],
    onStream: async (s) => {
      // Answers, announces 100 ms keepalives, then never sends on the stream again.
      s.respond(ndjsonHead(100));
      await readLines(s, () => {});
    },
  });
  try {
    const end = await srv.open({ onLine: () => {} }).done;
    assert.equal(end.opened, true);
    assert.match(end.reason.message, /nothing from the control plane for 3 keepalive intervals/);
  } finally {
    await srv.close();
  }
});

Deno.test("push lines: a line over the limit is refused; a line in many pieces comes out once", () => {
  const lines: string[] = [];
  const p = new PushLines(10);
  assert.ok(p.feed(enc.encode("abc"), (l) => lines.push(l)));
  assert.ok(p.feed(enc.encode("def"), (l) => lines.push(l)));
  assert.ok(p.feed(enc.encode("g\nhi"), (l) => lines.push(l)));
  assert.ok(p.feed(enc.encode("\n"), (l) => lines.push(l)));
  assert.deepEqual(lines, ["abcdefg", "hi"]);
  const long = new PushLines(10);
  assert.equal(long.feed(enc.encode("x".repeat(40)), () => {}), false, "held bytes are bounded");
  assert.equal(new PushLines(10).feed(enc.encode("x".repeat(11) + "\n"), () => {}), false);
});
