import assert from "node:assert/strict";
import { UpstreamError } from "./h1_client.ts";
import {
  attemptAnswer,
  attemptFailure,
  errorResponse,
  type Failure,
  failureAnswer,
} from "./errors.ts";

Deno.test("failureAnswer: Envoy's status, body and response flag for each failure", () => {
  const cases: [Failure, number, string | undefined, string | RegExp][] = [
    [{ kind: "no_config" }, 503, undefined, "proxy has no configuration yet"],
    [{ kind: "loop", why: "x" }, 508, undefined, "loop detected: x"],
    [{ kind: "bad_request", why: "bad path" }, 400, "DPE", "bad request: bad path"],
    [{ kind: "rbac" }, 403, "RBAC", "RBAC: access denied"],
    [{ kind: "no_route" }, 404, "NR", ""],
    [{ kind: "no_route", status: 502 }, 502, "NR", ""],
    [{ kind: "no_authority" }, 404, "NR", /no authority/],
    [{ kind: "no_healthy_upstream" }, 503, "UH", "no healthy upstream"],
    [{ kind: "overflow" }, 503, "UO", /reset reason: overflow$/],
    [{ kind: "timeout" }, 504, "UT", "upstream request timeout"],
    [
      { kind: "connect_failure", detail: "refused" },
      503,
      "UF",
      /connection failure, transport failure reason: refused/,
    ],
    [
      { kind: "reset", detail: "eof" },
      503,
      "UC",
      /connection termination, transport failure reason: eof/,
    ],
    [{ kind: "unreachable", detail: "refused" }, 503, "UF", /reset reason: refused/],
    [{ kind: "bad_upstream_response", detail: "600" }, 502, "UPE", /can't forward: 600/],
    [{ kind: "fault_abort", status: 418 }, 418, "FI", "fault filter abort"],
  ];
  for (const [f, status, flags, body] of cases) {
    const a = failureAnswer(f);
    assert.equal(a.status, status, f.kind);
    assert.equal(a.flags, flags, f.kind);
    if (typeof body === "string") assert.equal(a.body, body, f.kind);
    else assert.match(a.body, body, f.kind);
  }
});

Deno.test("errorResponse: overflow says x-envoy-overloaded; a JWT denial names the realm", async () => {
  const o = errorResponse({ kind: "overflow" });
  assert.equal(o.headers.get("x-envoy-overloaded"), "true");
  await o.body?.cancel();
  const j = errorResponse({
    kind: "jwt_denied",
    message: "Jwt is expired",
    authority: "shop",
    path: "/a?b",
    scheme: "https",
  });
  assert.equal(j.status, 401);
  assert.match(j.headers.get("www-authenticate")!, /realm="https:\/\/shop\/a"/);
  assert.equal(await j.text(), "Jwt is expired");
});

Deno.test("attemptFailure: timeout by the attempt's deadline, connect before a connection, else reset", () => {
  assert.equal(attemptFailure(new Error("x"), true), "timeout");
  assert.equal(attemptFailure(new UpstreamError("refused", false, false), false), "connect");
  assert.equal(attemptFailure(new UpstreamError("closed", false, true), false), "reset");
  assert.equal(attemptFailure({ connected: false, message: "h2 client" }, false), "connect");
  assert.equal(attemptFailure(new Error("?"), false), "reset");
  assert.deepEqual(attemptAnswer("connect", new Error("refused")), {
    kind: "connect_failure",
    detail: "refused",
  });
});

Deno.test("failureAnswer: a gRPC request gets a trailers-only answer with Envoy's status mapping", () => {
  const denied = failureAnswer({ kind: "rbac" }, { grpc: true });
  assert.equal(denied.status, 200);
  assert.equal(denied.body, "");
  assert.equal(denied.flags, "RBAC");
  assert.equal(denied.grpcStatus, "7");
  assert.deepEqual(denied.headers, [
    ["content-type", "application/grpc"],
    ["grpc-status", "7"],
    ["grpc-message", "RBAC: access denied"],
  ]);
  const overflow = failureAnswer({ kind: "overflow" }, { grpc: true });
  assert.equal(overflow.grpcStatus, "14");
  assert.ok(overflow.headers.some(([k, v]) => k === "x-envoy-overloaded" && v === "true"));
  // A gRPC abort answers its status, for any request.
  const abort = failureAnswer({ kind: "fault_abort", status: 200, grpcStatus: 8 });
  assert.equal(abort.status, 200);
  assert.equal(abort.grpcStatus, "8");
  assert.equal(abort.flags, "FI");
  // The Response has no body at all: HTTP/2 sends it as one HEADERS frame with END_STREAM.
  const res = errorResponse({ kind: "timeout" }, { grpc: true });
  assert.equal(res.body, null);
  assert.equal(res.headers.get("grpc-status"), "14");
  assert.equal(res.headers.get("grpc-message"), "upstream request timeout");
});
