import assert from "node:assert/strict";
import type { Endpoint } from "../../api/proxy_config.ts";
import type { H1Request } from "../h1_client.ts";
import type { Origination } from "../forward.ts";
import { byProtocol, H1EndpointClient, type H1Pools, responseOf } from "./endpoint.ts";
import { FakeEndpoints, reply } from "./fake_endpoints.ts";

const endpoint: Endpoint = { address: "10.0.0.1", port: 443, mtls: false, labels: {} };

Deno.test("H1EndpointClient: the target's origination, connect timeout and per-connection limit go to the pool", async () => {
  const calls: { ep: Endpoint; req: H1Request; o?: Origination; ms?: number }[] = [];
  const pools: H1Pools = {
    request: (ep, req, o, ms) => {
      calls.push({ ep, req, o, ms });
      return Promise.resolve(reply(200));
    },
  };
  const origination: Origination = {
    tls: { mode: "SIMPLE" },
    host: "api.example.com",
  } as Origination;
  const signal = new AbortController().signal;
  await new H1EndpointClient(pools).send(
    { method: "GET", path: "/x", headers: [["host", "api.example.com"]], body: null },
    { endpoint, origination, connectTimeoutMs: 250, maxRequestsPerConnection: 3 },
    signal,
  );
  assert.equal(calls[0].ep, endpoint);
  assert.equal(calls[0].o, origination);
  assert.equal(calls[0].ms, 250);
  assert.equal(calls[0].req.maxUses, 3);
  assert.equal(calls[0].req.signal, signal);
  assert.equal(calls[0].req.path, "/x");
});

Deno.test("byProtocol: HTTP/2 targets go to the HTTP/2 client when there is one", async () => {
  const h1 = new FakeEndpoints();
  const h2 = new FakeEndpoints();
  const req = { method: "GET", path: "/", headers: [], body: null };
  await byProtocol({ http1: h1 }).send(req, { endpoint, protocol: "http2" });
  assert.equal(h1.sent.length, 1, "no HTTP/2 client yet: HTTP/1.1");
  const both = byProtocol({ http1: h1, http2: h2 });
  await both.send(req, { endpoint, protocol: "http2" });
  await both.send(req, { endpoint });
  assert.equal(h2.sent.length, 1);
  assert.equal(h1.sent.length, 2);
});

Deno.test("responseOf: hop-by-hop headers dropped, no body for 204, status 600 refused", async () => {
  const r = await responseOf(
    reply(200, "hi", [["connection", "x-hop"], ["x-hop", "1"], ["x-end", "2"]]),
  );
  assert.equal(r.headers.get("x-hop"), null);
  assert.equal(r.headers.get("x-end"), "2");
  assert.equal(await r.text(), "hi");
  const n = await responseOf(reply(204));
  assert.equal(n.body, null);
  await assert.rejects(() => responseOf(reply(600, "?")));
});

Deno.test("H1EndpointClient: a pool that can't be made rejects, never throws at the caller", async () => {
  const pools: H1Pools = {
    request: () => {
      throw new Error("no mesh certificate yet");
    },
  };
  const sent = new H1EndpointClient(pools).send(
    { method: "GET", path: "/", headers: [], body: null },
    { endpoint },
  );
  await assert.rejects(sent, /no mesh certificate yet/);
});
