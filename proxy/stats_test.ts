import assert from "node:assert/strict";
import { Stats } from "./stats.ts";

function stats() {
  const s = new Stats({
    namespace: "default",
    workload: "reviews-v1",
    principal: "spiffe://cluster.local/ns/default/sa/reviews",
  });
  s.record("source", { service: "ratings.default.svc.cluster.local", mtls: true }, 200, 3);
  s.record("destination", { service: "reviews.default.svc.cluster.local", peer: "p" }, 503, 9);
  s.tcpOpened("source", { service: "db.default.svc.cluster.local" });
  return s;
}

Deno.test("Stats: Istio's metrics and labels", () => {
  const text = stats().prometheus();
  assert.match(
    text,
    /istio_requests_total\{reporter="source",.*response_code="200",grpc_response_status="",connection_security_policy="mutual_tls"\} 1/,
  );
  assert.match(
    text,
    /istio_request_duration_milliseconds_bucket\{reporter="destination",.*le="10"\} 1/,
  );
  assert.match(
    text,
    /istio_tcp_connections_opened_total\{reporter="source",.*request_protocol="tcp",connection_security_policy="none"\} 1/,
  );
});

Deno.test("Stats: Telemetry overrides leave metrics out and change tags when read", () => {
  const s = stats();
  s.overrides = [
    { metric: "REQUEST_COUNT", mode: "CLIENT", disabled: true },
    {
      metric: "ALL_METRICS",
      mode: "CLIENT_AND_SERVER",
      tags: { source_principal: { remove: true } },
    },
    { metric: "REQUEST_DURATION", mode: "SERVER", tags: { cluster: { value: "east" } } },
  ];
  const text = s.prometheus();
  assert.doesNotMatch(text, /istio_requests_total\{reporter="source"/);
  assert.match(text, /istio_requests_total\{reporter="destination"/);
  assert.doesNotMatch(text, /source_principal=/);
  assert.match(
    text,
    /istio_request_duration_milliseconds_count\{reporter="destination",.*cluster="east"\} 1/,
  );
  assert.doesNotMatch(
    text,
    /istio_request_duration_milliseconds_count\{reporter="source",.*cluster=/,
  );
  // Off again: the standard labels come back (nothing was lost).
  s.overrides = [];
  assert.match(s.prometheus(), /istio_requests_total\{reporter="source",.*source_principal=/);
});

Deno.test("Stats: series made equal by overrides are added up; a later override turns a metric on again", () => {
  const s = new Stats({ namespace: "default", workload: "w", principal: "p" });
  s.record("source", { service: "a.default.svc.cluster.local" }, 200, 1);
  s.record("source", { service: "a.default.svc.cluster.local" }, 503, 1);
  s.overrides = [
    { metric: "REQUEST_COUNT", mode: "CLIENT_AND_SERVER", disabled: true },
    { metric: "REQUEST_COUNT", mode: "CLIENT_AND_SERVER", disabled: false },
    { metric: "ALL_METRICS", mode: "CLIENT_AND_SERVER", tags: { response_code: { remove: true } } },
  ];
  const lines = s.prometheus().split("\n").filter((l) => l.startsWith("istio_requests_total{"));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /\} 2$/);
});

Deno.test("Stats: gRPC requests are counted with request_protocol grpc and grpc_response_status", () => {
  const s = new Stats({ namespace: "default", workload: "w", principal: "spiffe://x" });
  s.record("source", { service: "api.default.svc.cluster.local" }, 200, 1, "0");
  s.record("source", { service: "api.default.svc.cluster.local" }, 200, 1, "14");
  s.record("source", { service: "api.default.svc.cluster.local" }, 200, 1, "14");
  const text = s.prometheus();
  assert.match(
    text,
    /istio_requests_total\{[^}]*request_protocol="grpc",response_code="200",grpc_response_status="0",[^}]*\} 1/,
  );
  assert.match(
    text,
    /request_protocol="grpc",response_code="200",grpc_response_status="14",[^}]*\} 2/,
  );
});
