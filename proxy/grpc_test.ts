import assert from "node:assert/strict";
import {
  encodeGrpcMessage,
  formatGrpcTimeout,
  grpcStatusCode,
  grpcTimeoutMs,
  httpToGrpcStatus,
  isGrpc,
} from "./grpc.ts";

Deno.test("grpc: gRPC content types, not gRPC-Web or others", () => {
  for (const ct of ["application/grpc", "application/grpc+proto", "Application/GRPC; x=y"]) {
    assert.equal(isGrpc(ct), true, ct);
  }
  for (const ct of [null, undefined, "", "application/grpc-web", "application/json", "text/grpc"]) {
    assert.equal(isGrpc(ct), false, String(ct));
  }
});

Deno.test("grpc: grpc-timeout values by unit; malformed ones are ignored", () => {
  assert.equal(grpcTimeoutMs("1S"), 1000);
  assert.equal(grpcTimeoutMs("250m"), 250);
  assert.equal(grpcTimeoutMs("2M"), 120_000);
  assert.equal(grpcTimeoutMs("1H"), 3_600_000);
  assert.equal(grpcTimeoutMs("5000u"), 5);
  assert.equal(grpcTimeoutMs("1000000n"), 1);
  for (const bad of [null, "", "1", "S", "123456789S", "1s", "-1S", "1.5S"]) {
    assert.equal(grpcTimeoutMs(bad), undefined, String(bad));
  }
  assert.equal(formatGrpcTimeout(12.2), "13m");
});

Deno.test("grpc: statuses by name or number; Envoy's HTTP → gRPC mapping of local replies", () => {
  assert.equal(grpcStatusCode("UNAVAILABLE"), 14);
  assert.equal(grpcStatusCode("deadline-exceeded"), 4);
  assert.equal(grpcStatusCode("7"), 7);
  assert.equal(grpcStatusCode("NOPE"), undefined);
  const cases: [number, number][] = [
    [400, 13],
    [401, 16],
    [403, 7],
    [404, 12],
    [429, 14],
    [502, 14],
    [503, 14],
    [504, 14],
    [500, 2],
    [508, 2],
  ];
  for (const [http, grpc] of cases) assert.equal(httpToGrpcStatus(http), grpc, String(http));
});

Deno.test("grpc: grpc-message is percent-encoded outside printable ASCII, and %", () => {
  assert.equal(encodeGrpcMessage("RBAC: access denied"), "RBAC: access denied");
  assert.equal(encodeGrpcMessage("50% off\n☺"), "50%25 off%0A%E2%98%BA");
});
