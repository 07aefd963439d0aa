import assert from "node:assert/strict";
import {
  backoffMs,
  compileRetryPolicy,
  DEFAULT_BACKOFF_MS,
  retriableFailure,
  retriableResponse,
  retriableStatus,
} from "./retry.ts";

Deno.test("Istio's default policy: 503 and connect failures, not other 5xx or resets", () => {
  const p = compileRetryPolicy({
    attempts: 2,
    retryOn: [
      "connect-failure",
      "refused-stream",
      "unavailable",
      "cancelled",
      "retriable-status-codes",
    ],
    retriableStatusCodes: [503],
  });
  assert.equal(p.attempts, 2);
  assert.equal(retriableStatus(p, 503), true);
  assert.equal(retriableStatus(p, 500), false);
  assert.equal(retriableStatus(p, 502), false);
  assert.equal(retriableFailure(p, "connect"), true);
  assert.equal(retriableFailure(p, "reset"), false);
  assert.equal(retriableFailure(p, "timeout"), false);
  assert.equal(p.ignorePreviousHosts, true);
});

Deno.test("5xx, gateway-error, reset, retriable-4xx and status codes", () => {
  const fivexx = compileRetryPolicy({ attempts: 1, retryOn: ["5xx"] });
  assert.equal(retriableStatus(fivexx, 500), true);
  assert.equal(retriableStatus(fivexx, 599), true);
  assert.equal(retriableStatus(fivexx, 404), false);
  for (const f of ["connect", "reset", "timeout"] as const) {
    assert.equal(retriableFailure(fivexx, f), true);
  }

  const gw = compileRetryPolicy({ attempts: 1, retryOn: ["gateway-error"] });
  assert.deepEqual([500, 502, 503, 504].map((s) => retriableStatus(gw, s)), [
    false,
    true,
    true,
    true,
  ]);

  const reset = compileRetryPolicy({ attempts: 1, retryOn: ["reset"] });
  assert.equal(retriableFailure(reset, "reset"), true);
  assert.equal(retriableFailure(reset, "connect"), false);
  assert.equal(retriableStatus(reset, 503), false);

  const c409 = compileRetryPolicy({ attempts: 1, retryOn: ["retriable-4xx"] });
  assert.equal(retriableStatus(c409, 409), true);

  // Codes count only with retriable-status-codes (Istio adds it when codes are listed).
  const codes = compileRetryPolicy({
    attempts: 1,
    retryOn: ["retriable-status-codes"],
    retriableStatusCodes: [429, 500],
  });
  assert.equal(retriableStatus(codes, 429), true);
  assert.equal(retriableStatus(codes, 503), false);
  const ignored = compileRetryPolicy({ attempts: 1, retryOn: [], retriableStatusCodes: [429] });
  assert.equal(retriableStatus(ignored, 429), false);
});

Deno.test("no policy or attempts 0: nothing is retried", () => {
  assert.equal(compileRetryPolicy(undefined).attempts, 0);
  assert.equal(compileRetryPolicy({ attempts: 0, retryOn: [] }).attempts, 0);
});

Deno.test("backoff: full jitter under base × 2^(n-1), capped at 10 × base", () => {
  const p = compileRetryPolicy({ attempts: 5, retryOn: ["5xx"] });
  assert.equal(p.backoffBaseMs, DEFAULT_BACKOFF_MS);
  assert.equal(backoffMs(p, 1, () => 0), 0);
  assert.equal(backoffMs(p, 1, () => 0.999), 24);
  assert.equal(backoffMs(p, 2, () => 0.999), 49);
  assert.equal(backoffMs(p, 10, () => 0.999), 249);
  const slow = compileRetryPolicy({ attempts: 1, retryOn: ["5xx"], backoffMs: 100 });
  assert.equal(backoffMs(slow, 1, () => 0.5), 50);
});

Deno.test("gRPC conditions retry a trailers-only response with that grpc-status", () => {
  const p = compileRetryPolicy({
    attempts: 2,
    retryOn: ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"],
  });
  for (const code of [1, 4, 13, 8, 14]) {
    assert.equal(retriableResponse(p, 200, [["grpc-status", String(code)]]), true, String(code));
  }
  for (const code of [0, 2, 7]) {
    assert.equal(retriableResponse(p, 200, [["grpc-status", String(code)]]), false, String(code));
  }
  assert.equal(retriableResponse(p, 200, []), false, "no status in the head: not retried");
  assert.equal(retriableResponse(p, 503, []), false, "HTTP statuses need their own conditions");
  const only = compileRetryPolicy({ attempts: 1, retryOn: ["unavailable"] });
  assert.equal(retriableResponse(only, 200, [["grpc-status", "14"]]), true);
  assert.equal(retriableResponse(only, 200, [["grpc-status", "4"]]), false);
  const mixed = compileRetryPolicy({ attempts: 1, retryOn: ["5xx", "refused-stream"] });
  assert.equal(retriableResponse(mixed, 502, []), true);
  assert.equal(retriableFailure(mixed, "connect"), true);
});
