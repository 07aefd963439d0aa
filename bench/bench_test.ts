/**
 * Unit tests for the bench's pure parts: options, tool output parsers, peer
 * configs, summaries and targets. No processes are started.
 * @module
 */
import assert from "node:assert/strict";
import { parseOptions } from "./options.ts";
import { firstFortioError, fortioArgs, parseFortioJson } from "./tools/fortio.ts";
import { logPercentiles, parseH2load } from "./tools/h2load.ts";
import { parseWrk } from "./tools/wrk.ts";
import { nginxConfigA, nginxConfigB } from "./peers/nginx.ts";
import { haproxyConfigA, haproxyConfigB } from "./peers/haproxy.ts";
import { type CertFiles, PEER_B_NAME } from "./certs.ts";
import { addOverheads, median, type Row, type Run, summarize, targets } from "./report.ts";
import { statTicks } from "./procfs.ts";
import { h2UpgradeRule, serviceEntry } from "./peers/mesh.ts";
import { wsLoadArgs, wsSummary } from "./tools/ws.ts";
import { parse as parseYaml } from "yaml";

Deno.test("options: defaults, --quick, bad values", () => {
  const full = parseOptions([]);
  assert.deepEqual([full.rounds, full.fixedS, full.maxS, full.writeResults], [3, 8, 5, true]);
  const quick = parseOptions(["--quick"]);
  assert.deepEqual([quick.rounds, quick.writeResults, quick.extras], [1, false, true]);
  assert.deepEqual(parseOptions(["--quick", "--write-results"]).writeResults, true);
  assert.deepEqual(parseOptions(["--duration=4s"]).maxS, 4);
  assert.throws(() => parseOptions(["--rounds=0"]));
  assert.throws(() => parseOptions(["--tool=ab"]));
  assert.throws(() => parseOptions(["--nope"]));
});

Deno.test("fortio: args and JSON", () => {
  const args = fortioArgs({
    kind: "grpc",
    target: "127.0.0.1:1",
    headers: ["Host: a:1"],
    connections: 16,
    qps: 1000,
    durationS: 3,
    jsonFile: "/tmp/x.json",
  });
  for (const a of ["-grpc", "-ping", "-json", "-t"]) assert(args.includes(a), a);
  assert.deepEqual(args.at(-1), "127.0.0.1:1");
  const r = parseFortioJson(JSON.stringify({
    ActualQPS: 999.5,
    DurationHistogram: {
      Count: 100,
      Percentiles: [
        { Percentile: 50, Value: 0.0005 },
        { Percentile: 90, Value: 0.001 },
        { Percentile: 99, Value: 0.004 },
      ],
    },
    RetCodes: { "200": 98, "-1": 2 },
    SocketCount: 16,
  }));
  assert.deepEqual([r.rps, r.requests, r.errors, r.p50_ms, r.p99_ms, r.sockets], [
    999.5,
    100,
    2,
    0.5,
    4,
    16,
  ]);
  assert.deepEqual(
    firstFortioError(
      '{"level":"info","msg":"Log level is now 3"}\n' +
        '{"level":"warn","file":"grpcrunner.go","msg":"Error making grpc call: boom"}\n',
    ),
    "Error making grpc call: boom",
  );
  assert.deepEqual(
    firstFortioError("[E] tcprunner.go:144> Unable to connect"),
    "Unable to connect",
  );
});

Deno.test("h2load and wrk output", () => {
  const s = parseH2load(`Application protocol: h2c
finished in 3.00s, 38108.00 req/s, 38.20MB/s
requests: 76216 total, 76216 started, 76216 done, 76200 succeeded, 16 failed, 16 errored, 0 timeout
status codes: 76210 2xx, 0 3xx, 0 4xx, 2 5xx
`);
  assert.deepEqual([s.rps, s.total, s.succeeded, s.statusOther, s.protocol], [
    38108,
    76216,
    76200,
    2,
    "h2c",
  ]);
  const p = logPercentiles("1\t200\t100\n2\t200\t300\n3\t200\t200\n4\t200\t900\n");
  assert.deepEqual([p.p50_ms, p.p99_ms], [0.2, 0.9]);
  const w = parseWrk(`  Latency Distribution
     50%  310.00us
     75%  400.00us
     90%    1.20ms
     99%    4.11ms
  136912 requests in 3.00s, 150.00MB read
Requests/sec:  44907.94
`);
  assert.deepEqual([w.rps, w.p50_ms, w.p90_ms, w.p99_ms, w.errors], [44907.94, 0.31, 1.2, 4.11, 0]);
});

const CERTS: CertFiles = {
  ca: "/t/ca.crt",
  serverCert: "/t/s.crt",
  serverKey: "/t/s.key",
  serverBundle: "/t/s.pem",
  clientCert: "/t/c.crt",
  clientKey: "/t/c.key",
  clientBundle: "/t/c.pem",
};

Deno.test("nginx configs: one worker, mTLS both ways, kept-alive upstreams", () => {
  const ports = { a: 1, aH2: 2, aGrpc: 3, b: 4, bGrpc: 5 };
  const a = nginxConfigA("/t/a", CERTS, ports, true);
  const b = nginxConfigB("/t/b", CERTS, ports, { http: 9, grpc: 10 });
  for (const c of [a, b]) {
    for (const d of ["worker_processes 1;", "daemon off;", "pid /t/", "keepalive 256;"]) {
      assert(c.includes(d), d);
    }
  }
  for (
    const d of [
      "proxy_ssl_verify on;",
      `proxy_ssl_name ${PEER_B_NAME};`,
      "proxy_ssl_certificate /t/c.crt;",
      "proxy_ssl_protocols TLSv1.3;",
      'proxy_set_header Connection "";',
      "listen 127.0.0.1:2 http2;",
      "grpc_pass grpcs://peer_b_grpc;",
    ]
  ) assert(a.includes(d), d);
  for (
    const d of [
      "ssl_verify_client on;",
      "ssl_protocols TLSv1.3;",
      "listen 127.0.0.1:4 ssl;",
      "server 127.0.0.1:9;",
      "grpc_pass grpc://app_grpc;",
    ]
  ) assert(b.includes(d), d);
  assert(!nginxConfigA("/t/a", CERTS, ports, false).includes("grpc_pass"));
});

Deno.test("haproxy configs: one thread, mTLS both ways, http-reuse always", () => {
  const ports = { a: 1, aH2: 2, aGrpc: 3, aTcp: 4, b: 5, bGrpc: 6, bTcp: 7 };
  const backends = { http: 9, grpc: 10, tcp: 11 };
  const a = haproxyConfigA(CERTS, ports, backends);
  const b = haproxyConfigB(CERTS, ports, backends);
  for (const c of [a, b]) {
    for (const d of ["nbthread 1", "http-reuse always", "ssl-min-ver TLSv1.3", "mode tcp"]) {
      assert(c.includes(d), d);
    }
  }
  assert(a.includes(`verify required verifyhost ${PEER_B_NAME}`));
  assert(a.includes("crt /t/c.pem"));
  assert(b.includes("bind 127.0.0.1:5 ssl crt /t/s.pem ca-file /t/ca.crt verify required"));
  assert(b.includes("server app 127.0.0.1:10 proto h2"));
});

Deno.test("procfs: utime + stime survive spaces in the command name", () => {
  const stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 1000 10";
  assert.deepEqual(statTicks(stat), 10);
});

function run(mode: "fixed" | "max", rps: number, p99: number, cpu: number, rss?: number): Run {
  return {
    round: 1,
    mode,
    duration_s: 1,
    tool: "fortio",
    rps,
    requests: rps,
    errors: 0,
    p50_ms: p99 / 4,
    p90_ms: p99 / 2,
    p99_ms: p99,
    proxy_cpu_s: { "proxy-a": cpu, "proxy-b": cpu },
    ...(rss ? { rss_mb_max: { "proxy-a": rss, "proxy-b": rss } } : {}),
    machine_tcp_opens_per_req: 0,
  };
}

Deno.test("summaries, overheads and targets", () => {
  assert.deepEqual(median([3, 1, 2]), 2);
  assert.deepEqual(median([4, 1, 2, 3]), 2.5);
  const idle = { rss: { "proxy-a": 10, "proxy-b": 10 }, pss: { "proxy-a": 5, "proxy-b": 5 } };
  const spec = (baseline: string | null) => ({
    group: "http" as const,
    path: "p",
    baseline,
    tool: "fortio",
  });
  const rows: Record<string, Row> = {
    direct: summarize(
      spec(null),
      [run("fixed", 1000, 1, 0), run("max", 40000, 9, 0)],
      {
        rss: {},
        pss: {},
      },
      "fixed_rate",
      1000,
    ),
    nginx: summarize(
      spec("direct"),
      [
        run("fixed", 1000, 2, 0.05),
        run("max", 20000, 9, 1, 20),
      ],
      idle,
      "fixed_rate",
      1000,
    ),
    mesh: summarize(
      spec("direct"),
      [
        run("fixed", 900, 4, 0.3),
        run("max", 8000, 9, 1, 80),
      ],
      idle,
      "fixed_rate",
      1000,
    ),
  };
  addOverheads(rows);
  const mesh = rows.mesh;
  assert(mesh.supported);
  assert.deepEqual(mesh.added_p99_ms, 3);
  assert.deepEqual(mesh.cpu_s_per_1k_req, { "proxy-a": 0.3333, "proxy-b": 0.3333 });
  assert.deepEqual(mesh.rss_mb?.["proxy-a"], { idle: 10, load: 80 });
  assert(mesh.notes.some((n) => n.includes("held only 900")));
  const ts = targets(rows);
  assert.deepEqual(ts[0].ratio, 0.4);
  assert.deepEqual(ts[0].met, false);
  assert.deepEqual(ts[1].ratio, 3);
  assert.deepEqual(ts.filter((t) => t.met === false).length, 6);
  assert(!ts.some((t) => t.target.startsWith("gRPC")), "no gRPC rows, no gRPC target");
  assert.deepEqual(rows.direct.supported && rows.direct.cpu_s_per_1k_req, null);

  const grpc = (rps: number) =>
    summarize(
      { group: "grpc", path: "p", baseline: "grpc_direct", tool: "fortio" },
      [run("fixed", 1000, 2, 0.05), run("max", rps, 9, 1, 20)],
      idle,
      "fixed_rate",
      1000,
    );
  rows.grpc_haproxy = grpc(10000);
  rows.grpc_mesh = grpc(6000);
  const g = targets(rows).find((t) => t.target.startsWith("gRPC ≥ 0.5 × HAProxy pair"));
  assert.deepEqual([g?.ratio, g?.met, g?.value], [0.6, true, "6000 vs 10000 req/s"]);
  rows.grpc_mesh = { supported: false, group: "grpc", path: "p", reason: "probe failed" };
  const missing = targets(rows).find((t) => t.target.startsWith("gRPC"));
  assert.deepEqual([missing?.met, missing?.note], [null, "grpc_mesh row not measured"]);
});

Deno.test("mesh config: GRPC port for the gRPC backend, an UPGRADE rule for bench-app-h2", () => {
  const grpc = parseYaml(serviceEntry("bench-grpc", 8079, "GRPC"));
  assert.deepEqual(grpc.spec.ports, [{ number: 8079, name: "grpc", protocol: "GRPC" }]);
  assert.deepEqual(grpc.spec.workloadSelector.labels, { app: "bench-grpc" });
  const h2 = parseYaml(serviceEntry("bench-app-h2", 8080, "HTTP", "bench-app"));
  assert.deepEqual(h2.spec.hosts, ["bench-app-h2.default.svc.cluster.local"]);
  assert.deepEqual(h2.spec.workloadSelector.labels, { app: "bench-app" });
  const dr = parseYaml(h2UpgradeRule("bench-app-h2.default.svc.cluster.local"));
  assert.deepEqual(dr.kind, "DestinationRule");
  assert.deepEqual(dr.spec.host, "bench-app-h2.default.svc.cluster.local");
  assert.deepEqual(dr.spec.trafficPolicy.connectionPool.http.h2UpgradePolicy, "UPGRADE");
});

Deno.test("WebSocket load: wsclient args and the summed rate", () => {
  const args = wsLoadArgs({
    bin: "/x/wsclient",
    url: "ws://127.0.0.1:1/echo",
    headers: ["Host: bench-ws:8082"],
    connections: 16,
    messages: 500,
    size: 1024,
    timeoutS: 60,
  });
  assert.deepEqual(args, [
    "-url",
    "ws://127.0.0.1:1/echo",
    "-host",
    "bench-ws:8082",
    "-n",
    "500",
    "-size",
    "1024",
    "-timeout",
    "60s",
  ]);
  const ok = { ok: true, echoed: 500, ms: 1000 };
  const s = wsSummary(
    [ok, ok, { ok: false, echoed: 100, ms: 200, error: "dial: boom" }],
    2000,
    1500,
  );
  assert.deepEqual([s.rps, s.requests, s.errors, s.error_sample], [550, 1100, 400, "dial: boom"]);
  assert(Number.isNaN(s.p99_ms));
});
