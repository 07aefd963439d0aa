import assert from "node:assert/strict";
import type { TracingSettings } from "../api/proxy_config.ts";
import { readB3, Tracer, type ZipkinSpan } from "./tracing.ts";

const SETTINGS: TracingSettings = {
  collector: { address: "127.0.0.1", port: 9411 },
  path: "/api/v2/spans",
  samplingPercent: 100,
  serviceName: "reviews.default",
  maxTagLength: 256,
};

function headers(h: Record<string, string>) {
  return (n: string) => h[n];
}

Deno.test("readB3: multi headers, the single b3 header, and junk", () => {
  assert.deepEqual(
    readB3(headers({
      "x-b3-traceid": "463ac35c9f6413ad48485a3953bb6124",
      "x-b3-spanid": "a2fb4a1d1a96d312",
      "x-b3-parentspanid": "0020000000000001",
      "x-b3-sampled": "1",
    })),
    {
      traceId: "463ac35c9f6413ad48485a3953bb6124",
      spanId: "a2fb4a1d1a96d312",
      parentId: "0020000000000001",
      sampled: true,
    },
  );
  assert.deepEqual(readB3(headers({ b3: "80f198ee56343ba8-e457b5a2e4d86bd1-0" })), {
    traceId: "80f198ee56343ba8",
    spanId: "e457b5a2e4d86bd1",
    parentId: undefined,
    sampled: false,
  });
  assert.equal(readB3(headers({ "x-b3-traceid": "not-hex" })), undefined);
  assert.equal(readB3(headers({})), undefined);
});

Deno.test("Tracer: a CLIENT span is a child, the SERVER span shares its id; spans are batched", async () => {
  const sent: ZipkinSpan[][] = [];
  const tracer = new Tracer(SETTINGS, (body) => {
    sent.push(JSON.parse(body));
    return Promise.resolve();
  });
  const client = tracer.start("CLIENT", headers({}));
  assert.equal(client.parentId, undefined);
  assert.match(client.traceId, /^[0-9a-f]{32}$/, "128-bit trace ids, as Istio");
  const onward = Object.fromEntries(client.headers());
  assert.deepEqual(Object.keys(onward).sort(), ["x-b3-sampled", "x-b3-spanid", "x-b3-traceid"]);
  const server = tracer.start("SERVER", headers(onward));
  assert.equal(server.id, client.id);
  assert.equal(server.traceId, client.traceId);
  // The app's own outgoing call: a child of the server span.
  const child = tracer.start("CLIENT", headers(Object.fromEntries(server.headers())));
  assert.equal(child.parentId, server.id);
  assert.notEqual(child.id, server.id);
  const end = { name: "reviews:9080/*", status: 503, method: "GET", url: "http://reviews:9080/" };
  server.end(end);
  client.end({ ...end, status: 200 });
  client.end(end); // once only
  await tracer.flush();
  assert.equal(sent.length, 1);
  const [s1, s2] = sent[0];
  assert.equal(s1.kind, "SERVER");
  assert.equal(s1.shared, true);
  assert.equal(s1.tags["error"], "true");
  assert.equal(s1.tags["http.status_code"], "503");
  assert.equal(s2.kind, "CLIENT");
  assert.equal(s2.localEndpoint.serviceName, "reviews.default");
  assert.ok(s2.duration >= 1 && s2.timestamp > 1e15);
  tracer.close();
});

Deno.test("Tracer: sampling follows the caller, else the percentage; unsampled spans aren't sent", async () => {
  let sent = 0;
  const send = () => {
    sent++;
    return Promise.resolve();
  };
  const never = new Tracer({ ...SETTINGS, samplingPercent: 0 }, send);
  const s = never.start("CLIENT", headers({}));
  assert.equal(s.sampled, false);
  assert.equal(Object.fromEntries(s.headers())["x-b3-sampled"], "0");
  s.end({ name: "x", status: 200, method: "GET", url: "/" });
  // The caller's decision wins over the percentage, both ways.
  assert.equal(never.start("CLIENT", headers({ "x-b3-sampled": "1" })).sampled, true);
  const always = new Tracer(SETTINGS, send);
  assert.equal(always.start("CLIENT", headers({ "x-b3-sampled": "0" })).sampled, false);
  assert.equal(always.start("CLIENT", headers({ b3: "0" })).sampled, false);
  await never.flush();
  assert.equal(sent, 0);
  // Custom tags: literal, header (with default), environment.
  const tagged = new Tracer({
    ...SETTINGS,
    customTags: {
      env: { literal: "prod" },
      user: { header: "end-user", defaultValue: "anonymous" },
      host: { environment: "MESH_NO_SUCH_VAR", defaultValue: "none" },
    },
  }, (body) => {
    const [span] = JSON.parse(body) as ZipkinSpan[];
    assert.equal(span.tags.env, "prod");
    assert.equal(span.tags.user, "jason");
    assert.equal(span.tags.host, "none");
    sent++;
    return Promise.resolve();
  });
  tagged.start("SERVER", headers({ "end-user": "jason" })).end({
    name: "x",
    status: 200,
    method: "GET",
    url: "/",
  });
  await tagged.flush();
  assert.equal(sent, 1);
  never.close();
  always.close();
  tagged.close();
});
