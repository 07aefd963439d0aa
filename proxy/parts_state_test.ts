import assert from "node:assert/strict";
import type { PartsNackMessage, PartsPushMessage } from "../api/push_protocol.ts";
import type { ProxyConfig } from "../api/proxy_config.ts";
import { PartsState } from "./parts_state.ts";

const whole = (version: string, set: Record<string, unknown>) => ({
  version,
  set,
  order: Object.keys(set),
});

const first: PartsPushMessage = {
  type: "push",
  nonce: "1",
  version: "1",
  parts: {
    secrets: whole("s1", { trustDomain: "cluster.local", roots: "R" }),
    routes: whole("r1", { "a:80": { name: "a:80", domains: ["a"], routes: [] } }),
    clusters: whole("c1", {}),
    endpoints: whole("e1", {}),
  },
};

/** Installs a config unless a virtual host is named "bad" (a stand-in for a compile error). */
const install = (c: ProxyConfig) =>
  c.virtualHosts.some((v) => v.name === "bad") ? "virtual host bad: invalid" : undefined;

Deno.test("a push is applied whole and acknowledged with the versions installed", () => {
  const s = new PartsState();
  const r = s.apply(first, { install });
  assert.deepEqual(r.reply, {
    type: "ack",
    nonce: "1",
    parts: { secrets: "s1", clusters: "c1", endpoints: "e1", routes: "r1" },
  });
  assert.equal(r.config?.trustDomain, "cluster.local");
  assert.deepEqual(s.have(), { secrets: "s1", clusters: "c1", endpoints: "e1", routes: "r1" });
});

Deno.test("a rejected push names the part at fault and changes nothing", () => {
  const s = new PartsState();
  s.apply(first, { install });
  const r = s.apply({
    type: "push",
    nonce: "2",
    version: "2",
    parts: {
      routes: {
        version: "r2",
        base: "r1",
        set: { bad: { name: "bad", domains: [], routes: [] } },
        order: ["bad"],
      },
      secrets: { version: "s2", base: "s1", set: { roots: "R2" } },
    },
  }, { install });
  const nack = r.reply as PartsNackMessage;
  assert.equal(nack.type, "nack");
  assert.deepEqual(nack.errors, { routes: "virtual host bad: invalid" });
  assert.equal(r.config, undefined);
  assert.deepEqual(s.have().routes, "r1");
  assert.deepEqual(
    s.have().secrets,
    "s1",
    "the good part of a rejected message isn't applied either",
  );
});

Deno.test("a delta from a base the proxy doesn't hold asks for a resync", () => {
  const s = new PartsState();
  s.apply(first, { install });
  const r = s.apply({
    type: "push",
    nonce: "3",
    version: "3",
    parts: { endpoints: { version: "e3", base: "e2", set: {} } },
  }, { install });
  assert.deepEqual(r.reply, { type: "nack", nonce: "3", resync: ["endpoints"] });
  assert.equal(s.have().endpoints, "e1");
});
