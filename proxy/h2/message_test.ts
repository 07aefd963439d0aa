/** Message rules (RFC 9113 §8). */
import assert from "node:assert/strict";
import type { HeaderField } from "./hpack.ts";
import { checkRequest, checkResponse, checkTrailers, outgoingFields } from "./message.ts";

const req = (...extra: HeaderField[]): HeaderField[] => [
  [":method", "POST"],
  [":scheme", "https"],
  [":path", "/x?y"],
  [":authority", "a.example"],
  ...extra,
];

Deno.test("message: valid requests, CONNECT, OPTIONS *", () => {
  assert.deepEqual(
    checkRequest(req(["content-length", "10"], ["host", "a.example"], ["te", "trailers"])),
    {
      method: "POST",
      path: "/x?y",
      authority: "a.example",
      contentLength: 10,
    },
  );
  assert.equal(
    (checkRequest([[":method", "CONNECT"], [":authority", "h:443"]]) as { method: string }).method,
    "CONNECT",
  );
  assert.ok(
    !("error" in
      checkRequest([[":method", "OPTIONS"], [":scheme", "http"], [":path", "*"], [
        ":authority",
        "a",
      ]])),
  );
});

Deno.test("message: malformed requests", () => {
  const bad: HeaderField[][] = [
    [],
    req(["Upper", "x"]),
    req(["", "x"]),
    req(["x", " lead"]),
    req(["x", "trail\t"]),
    req(["x", "nul\0"]),
    req(["keep-alive", "1"]),
    req(["upgrade", "h2c"]),
    req(["proxy-connection", "x"]),
    req(["te", "gzip"]),
    req(["content-length", "x"]),
    req(["content-length", "1"], ["content-length", "2"]),
    req(["host", "b.example"]),
    req([":path", "/dup"]),
    [[":method", "GET"], [":scheme", "http"], [":path", ""], [":authority", "a"]],
    [[":method", "GET"], [":scheme", "http"], [":path", "x"], [":authority", "a"]],
    [[":method", "GET"], [":scheme", "http"], [":path", "*"], [":authority", "a"]],
    [[":method", "CONNECT"], [":authority", "a"], [":path", "/"]],
    [[":method", "CONNECT"]],
    [[":method", "GET"], [":path", "/"]],
    [[":foo", "1"], ...req()],
    [["x", "1"], ...req()],
  ];
  for (const f of bad) assert.ok("error" in checkRequest(f), JSON.stringify(f));
});

Deno.test("message: responses and trailers", () => {
  assert.deepEqual(checkResponse([[":status", "204"], ["content-length", "0"]]), {
    status: 204,
    contentLength: 0,
  });
  assert.equal(
    (checkResponse([[":status", "103"], ["link", "</a>"]]) as { status: number }).status,
    103,
  );
  for (
    const f of [[], [["x", "1"]], [[":status", "20"]], [[":status", "200"], [":path", "/"]], [[
      ":status",
      "200",
    ], ["connection", "x"]]]
  ) {
    assert.ok("error" in checkResponse(f as unknown as HeaderField[]), JSON.stringify(f));
  }
  assert.equal(checkTrailers([["grpc-status", "0"]]), undefined);
  assert.ok(checkTrailers([[":status", "200"]]));
});

Deno.test("message: outgoing fields are lower-cased, pseudo first, connection-specific dropped", () => {
  assert.deepEqual(
    outgoingFields([
      ["Content-Type", "a"],
      [":status", "200"],
      ["Connection", "close"],
      ["TE", "gzip"],
      ["te", "trailers"],
      ["Transfer-Encoding", "chunked"],
    ]),
    [[":status", "200"], ["content-type", "a"], ["te", "trailers"]],
  );
});

Deno.test("message: extended CONNECT (RFC 8441 §4) only where announced, with every pseudo-header", () => {
  const ws: [string, string][] = [
    [":method", "CONNECT"],
    [":protocol", "websocket"],
    [":scheme", "https"],
    [":path", "/chat"],
    [":authority", "a.example"],
    ["sec-websocket-version", "13"],
  ];
  assert.ok("error" in checkRequest(ws), "not announced: :protocol is an unknown pseudo-header");
  const on = { extendedConnect: true };
  assert.deepEqual(checkRequest(ws, on), {
    method: "CONNECT",
    path: "/chat",
    authority: "a.example",
    protocol: "websocket",
    contentLength: undefined,
  });
  const without = (name: string) => ws.filter(([n]) => n !== name);
  const bad: [string, string][][] = [
    without(":scheme"),
    without(":path"),
    without(":authority"),
    ws.map(([n, v]): [string, string] => n === ":method" ? [n, "GET"] : [n, v]),
    ws.map(([n, v]): [string, string] => n === ":protocol" ? [n, "Web Socket"] : [n, v]),
    [...ws.slice(0, 2), [":protocol", "websocket"], ...ws.slice(2)],
  ];
  for (const f of bad) assert.ok("error" in checkRequest(f, on), JSON.stringify(f));
  // Plain CONNECT is unchanged by the setting.
  assert.equal(
    (checkRequest([[":method", "CONNECT"], [":authority", "h:443"]], on) as { method: string })
      .method,
    "CONNECT",
  );
});
