import assert from "node:assert/strict";
import { type InboundRequest, inboundServeHandler } from "./inbound_handler.ts";

Deno.test("inboundServeHandler: the authority becomes host, the query stays, trailers and empty bodies", async () => {
  let seen: InboundRequest | undefined;
  const handler = inboundServeHandler((req) => {
    seen = req;
    return Promise.resolve({
      status: 200,
      headers: [["content-type", "application/grpc"], ["grpc-status", "0"]],
      body: new Uint8Array(0),
      trailers: Promise.resolve([]),
    });
  });
  const res = await handler(
    new Request("http://reviews.default.svc.cluster.local:9080/a/b?x=1", { method: "GET" }),
    {} as Deno.ServeHandlerInfo,
  );
  assert.equal(seen?.target, "/a/b?x=1");
  assert.deepEqual(
    seen?.headers.find(([k]) => k === "host"),
    ["host", "reviews.default.svc.cluster.local:9080"],
  );
  // An empty body is none: over HTTP/2 it goes as one HEADERS frame with END_STREAM.
  assert.equal(res.body, null);
  assert.equal(res.headers.get("grpc-status"), "0");
});
