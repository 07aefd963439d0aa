import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import {
  bookinfoConfig,
  type PushCase,
  type PushChangeSummary,
  type PushResult,
  services200Config,
} from "./push.ts";
import { parseLine } from "./push_sim.ts";
import { markdown, pushTargets } from "./report.ts";

Deno.test("push sim: acks both message forms, by regex and by the JSON fallback", () => {
  const cfg = parseLine(JSON.stringify({ type: "config", config: { version: "7", x: 1 } }));
  assert.deepEqual([cfg.version, cfg.ack], [7, '{"type":"ack","version":"7"}\n']);
  const push = {
    type: "push",
    nonce: "3",
    version: "9",
    parts: {
      routes: { version: "aa", set: { "r:80": { routes: [] } }, order: ["r:80"] },
      endpoints: { version: "bb", base: "cc", set: {} },
    },
  };
  const p = parseLine(JSON.stringify(push));
  assert.equal(p.version, 9);
  assert.deepEqual(JSON.parse(p.ack!), {
    type: "ack",
    nonce: "3",
    parts: { routes: "aa", endpoints: "bb" },
  });
  // A part whose version is not its first key: the whole line is parsed.
  const odd = { ...push, parts: { clusters: { set: {}, version: "dd" } } };
  assert.deepEqual(JSON.parse(parseLine(JSON.stringify(odd)).ack!).parts, { clusters: "dd" });
  assert.equal(parseLine('{"type":"keepalive"}').ack, undefined);
});

Deno.test("push configs: every generated resource is valid", () => {
  for (const cfg of [bookinfoConfig(), services200Config()]) {
    let n = 0;
    const files = { ...cfg.files };
    const [vf, vt] = cfg.vsChange(0);
    const [ef, et] = cfg.endpointChange(0);
    for (const [name, text] of Object.entries({ ...files, [`c-${vf}`]: vt, [`c-${ef}`]: et })) {
      const r = parseResources(text, name);
      const errors = r.diagnostics.filter((d) => d.severity === "error");
      assert.equal(errors.length, 0, `${cfg.name} ${name}: ${JSON.stringify(errors[0])}`);
      if (!name.startsWith("c-")) n += r.resources.length;
    }
    assert.equal(n, cfg.resources, cfg.name);
  }
});

Deno.test("push targets: n/a rows when the section could not run", () => {
  const ts = pushTargets({ supported: false, reason: "boom" });
  assert(ts.length >= 5 && ts.every((t) => t.met === null && t.note === "boom"));
});

Deno.test("push section: in the full report's Markdown and targets", () => {
  const summary = (max: number): PushChangeSummary => ({
    changes: 3,
    converged: true,
    clients_min: 1000,
    p50_ms: max / 2,
    p99_ms: max,
    max_ms: max,
    bytes_per_client: 400,
    cpu_s: 0.1,
    cpu_s_net: 0.1,
  });
  const one: PushCase = {
    n: 1000,
    config: "bookinfo",
    protocol: "push",
    services: 4,
    endpoints: 6,
    resources: 18,
    storm_s: 2,
    storm_acked: 1000,
    storm_wait_s: 2,
    storm_bytes_per_client: 9000,
    streams_ended: 0,
    rss_mb_empty: 100,
    rss_mb_connected: 170,
    rss_mb_after_storm: 170,
    rss_mb_after_changes: 180,
    kb_per_proxy: 71.7,
    heap_kb_per_proxy: 20,
    heap_total_kb_per_proxy: 30,
    external_kb_per_proxy: 5,
    idle_cpu_per_s: 0,
    storm_cpu_s: 1,
    sim_storm_busy: 0.5,
    syncz: { proxies: 1000, synced: 1000, stale: 0, rejected: 0 },
    vs: summary(250),
    endpoint: summary(200),
    changes: [],
    notes: [],
  };
  const push: PushResult = {
    supported: true,
    quick: true,
    cases: [one],
    settings: { connecting_at_once: 64, changes_per_kind: 3 },
  };
  const md = markdown({
    date: "2026-01-01T00:00:00Z",
    quick: false,
    wall_s: 1,
    machine: {},
    tool: "fortio",
    settings: {
      connections: 16,
      body_bytes: 1024,
      fixed_qps: 1000,
      fixed_s: 8,
      max_s: 5,
      rounds: 3,
      main_rows: [],
      extra_rounds: 0,
    },
    rows: {},
    targets: pushTargets(push),
    notes: [],
    push,
  });
  assert(md.includes("## Targets (issues 3 and 12)"));
  assert(md.includes("## Push (issue 12)"));
  assert(md.includes("| 1000 | Bookinfo-sized | push |"));
  assert(md.includes("**met**"));
});
