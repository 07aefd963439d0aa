import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import { bookinfoConfig, services200Config } from "./push.ts";
import { parseLine } from "./push_sim.ts";
import { pushTargets } from "./report.ts";

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
