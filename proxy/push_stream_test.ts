import assert from "node:assert/strict";
import { chunk, StreamResponseReader } from "./push_stream.ts";

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
