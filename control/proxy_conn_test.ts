/**
 * The push protocol against the hub, with the lines a stream would carry captured:
 * acks and rejections per part, endpoint-only changes, a stuck proxy, reconnects with
 * `have`, and whole configs for older proxies.
 */
import assert from "node:assert/strict";
import { parseResources, type Resource } from "../api/resources.ts";
import type { NodeInfo } from "../api/proxy_config.ts";
import type { PartsPushMessage } from "../api/push_protocol.ts";
import { buildSnapshot, type Snapshot } from "./snapshot.ts";
import { PushHub } from "./push.ts";
import { PushRequest } from "./changes.ts";
import { generateProxyConfig } from "./generate.ts";
import { PartsState } from "../proxy/parts_state.ts";
import { Runtime } from "../proxy/runtime.ts";

const yaml = (address: string, weight = 100) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: reviews } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-1, namespace: default }
spec: { address: ${address}, labels: { app: reviews, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: ${weight} }
    - { destination: { host: reviews, subset: v2 }, weight: ${100 - weight} }
`;

const resources = (address: string, weight?: number): Resource[] =>
  parseResources(yaml(address, weight), "test.yaml").resources;

let revision = 0;
const snap = (rs: Resource[]): Snapshot =>
  buildSnapshot({
    revision: ++revision,
    resources: rs,
    workloads: [],
    mesh: { trustDomain: "cluster.local", outboundTrafficPolicy: "ALLOW_ANY" },
    roots: "ROOTS",
  });

const node = (id: string, app = "productpage"): NodeInfo => ({
  id,
  mode: "sidecar",
  namespace: "default",
  serviceAccount: app,
  labels: { app },
  address: "10.0.0.9",
});

/** A simulated proxy: the lines it received, and a real parts state answering them. */
class FakeProxy {
  lines: string[] = [];
  state = new PartsState();
  conn!: ReturnType<PushHub["connect"]>;
  constructor(
    readonly hub: PushHub,
    readonly n: NodeInfo,
    o: { protocol?: number; have?: Record<string, string> } = { protocol: 2 },
  ) {
    this.conn = hub.connect({
      node: n,
      identity: { namespace: "default", serviceAccount: n.serviceAccount },
      write: (l) => {
        this.lines.push(l);
        return true;
      },
      ...o,
    });
  }
  get pushes(): PartsPushMessage[] {
    return this.lines.map((l) => JSON.parse(l)).filter((m) => m.type === "push");
  }
  /** Applies and acknowledges every message not yet answered (or rejects with `reject`). */
  answer(reject?: (m: PartsPushMessage) => Record<string, string> | undefined): void {
    for (const m of this.pushes.slice(this.answered)) {
      this.answered++;
      const errors = reject?.(m);
      if (errors) {
        this.conn.nack({ type: "nack", nonce: m.nonce, errors });
        continue;
      }
      const r = this.state.apply(m, {
        install: (c) => {
          Runtime.compile(c);
          return undefined;
        },
      });
      if (r.reply.type === "ack") this.conn.ack(r.reply);
      else this.conn.nack(r.reply);
    }
  }
  answered = 0;
}

Deno.test("first push carries every part; acked, every part is SYNCED", async () => {
  const hub = new PushHub(() => {});
  const s = snap(resources("10.1.0.1"));
  hub.push(s);
  const p = new FakeProxy(hub, node("a"));
  await hub.idle();
  assert.equal(p.pushes.length, 1);
  assert.deepEqual(
    Object.keys(p.pushes[0].parts).sort(),
    ["clusters", "endpoints", "listeners", "policies", "routes", "secrets"],
  );
  p.answer();
  const status = p.conn.status(hub.generator);
  assert.ok(Object.values(status).every((x) => x.state === "SYNCED"), JSON.stringify(status));
  // What the proxy assembled is what the generator makes for it.
  const { version: _, ...want } = generateProxyConfig(s, node("a"));
  const { version: __, ...got } = p.state.apply({
    type: "push",
    nonce: "x",
    version: "1",
    parts: {},
  }, {
    install: () => undefined,
  }).config!;
  assert.deepEqual(got, want);
  hub.close();
});

Deno.test("an endpoint-only change sends only the changed endpoint lists, on the wire", async () => {
  const hub = new PushHub(() => {});
  const before = resources("10.1.0.1");
  hub.push(snap(before));
  const p = new FakeProxy(hub, node("a"));
  await hub.idle();
  p.answer();
  const after = resources("10.1.0.2");
  const req = new PushRequest();
  req.addResources(before, after);
  assert.deepEqual([...req.affected].sort(), ["clusters", "endpoints"]);
  hub.push(snap(after), req);
  await hub.idle();
  const line = p.lines.at(-1)!;
  const m = JSON.parse(line) as PartsPushMessage;
  assert.deepEqual(Object.keys(m.parts), ["endpoints"], line);
  // Only the clusters the workload is in: the service's and subset v1's, not v2's.
  assert.deepEqual(
    new Set(Object.keys(m.parts.endpoints!.set)),
    new Set([
      "outbound|9080||reviews.default.svc.cluster.local",
      "outbound|9080|v1|reviews.default.svc.cluster.local",
    ]),
  );
  assert.ok(m.parts.endpoints!.base, "a delta");
  assert.ok(!line.includes("ROOTS") && !line.includes("virtualHosts"));
  p.answer();
  assert.equal(p.state.have().endpoints, hub.generator!.part("endpoints", node("a")).version);
  hub.close();
});

Deno.test("a VirtualService change sends routes only; an AuthorizationPolicy change policies only", async () => {
  const hub = new PushHub(() => {});
  const v1 = resources("10.1.0.1", 100);
  hub.push(snap(v1));
  const p = new FakeProxy(hub, node("a"));
  await hub.idle();
  p.answer();
  const v2 = resources("10.1.0.1", 50);
  let req = new PushRequest();
  req.addResources(v1, v2);
  hub.push(snap(v2), req);
  await hub.idle();
  assert.deepEqual(Object.keys(p.pushes.at(-1)!.parts), ["routes"]);
  p.answer();
  const v3 = [
    ...v2,
    ...parseResources(
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny, namespace: default }
spec: { action: DENY, rules: [{ to: [{ operation: { paths: ["/admin"] } }] }] }
`,
      "authz.yaml",
    ).resources,
  ];
  req = new PushRequest();
  req.addResources(v2, v3);
  assert.deepEqual([...req.affected], ["policies"]);
  hub.push(snap(v3), req);
  await hub.idle();
  assert.deepEqual(Object.keys(p.pushes.at(-1)!.parts), ["policies"]);
  hub.close();
});

Deno.test("a rejected part is recorded with its error, not applied, not resent until it changes", async () => {
  const hub = new PushHub(() => {});
  const v1 = resources("10.1.0.1", 100);
  hub.push(snap(v1));
  const p = new FakeProxy(hub, node("a"));
  await hub.idle();
  p.answer();
  const before = p.state.have();
  // One change touching routes and endpoints; the proxy rejects routes.
  const v2 = resources("10.1.0.2", 50);
  const req = new PushRequest();
  req.addResources(v1, v2);
  hub.push(snap(v2), req);
  await hub.idle();
  assert.deepEqual(Object.keys(p.pushes.at(-1)!.parts).sort(), ["endpoints", "routes"]);
  p.answer(() => ({ routes: "bad regex in route 0" }));
  assert.equal(p.state.have().routes, before.routes, "not applied");
  await hub.idle();
  // The rest of the message goes again alone.
  assert.deepEqual(Object.keys(p.pushes.at(-1)!.parts), ["endpoints"]);
  p.answer();
  const st = p.conn.status(hub.generator);
  assert.equal(st.routes.state, "STALE");
  assert.equal(st.routes.error, "bad regex in route 0");
  assert.equal(st.endpoints.state, "SYNCED");
  assert.equal(hub.metrics.rejects.get({ type: "rds" }), 1);
  assert.match(hub.metrics.render(), /pilot_total_xds_rejects\{type="rds"\} 1/);
  // A push that changes nothing else sends nothing: the rejected routes aren't resent.
  const sent = p.lines.length;
  hub.push(snap(v2), new PushRequest());
  await hub.idle();
  assert.equal(p.lines.length, sent);
  hub.close();
});

Deno.test("a proxy that never acks gets one message and holds up no one", async () => {
  const hub = new PushHub(() => {});
  let rs = resources("10.1.0.1", 100);
  hub.push(snap(rs));
  const stuck = new FakeProxy(hub, node("stuck"));
  const fine = new FakeProxy(hub, node("fine", "details"));
  await hub.idle();
  fine.answer();
  for (const w of [90, 80, 70]) {
    const next = resources("10.1.0.1", w);
    const req = new PushRequest();
    req.addResources(rs, next);
    rs = next;
    hub.push(snap(next), req);
    await hub.idle();
    fine.answer();
  }
  assert.equal(stuck.pushes.length, 1, "nothing more while its first message is unanswered");
  assert.equal(fine.pushes.length, 4);
  assert.equal(fine.conn.status(hub.generator).routes.state, "SYNCED");
  // When it finally answers, it gets the latest in one message.
  stuck.answer();
  await hub.idle();
  assert.equal(stuck.pushes.length, 2);
  stuck.answer();
  assert.equal(stuck.state.have().routes, fine.state.have().routes);
  hub.close();
});

Deno.test("a reconnecting proxy that has the current parts is sent none of them", async () => {
  const hub = new PushHub(() => {});
  hub.push(snap(resources("10.1.0.1")));
  const first = new FakeProxy(hub, node("a"));
  await hub.idle();
  first.answer();
  hub.disconnect(first.conn);
  // Another control plane instance (a restart): same content, same versions.
  const other = new PushHub(() => {});
  other.push(snap(resources("10.1.0.1")));
  const again = new FakeProxy(other, node("a"), { protocol: 2, have: first.state.have() });
  await other.idle();
  assert.equal(again.pushes.length, 1);
  assert.deepEqual(again.pushes[0].parts, {}, "only the revision, no parts");
  again.answer();
  assert.ok(Object.values(again.conn.status(other.generator)).every((x) => x.state === "SYNCED"));
  // With one part out of date, only that one goes, whole (this instance never sent its base).
  const third = new PushHub(() => {});
  third.push(snap(resources("10.1.0.7")));
  const p3 = new FakeProxy(third, node("a"), { protocol: 2, have: first.state.have() });
  await third.idle();
  assert.deepEqual(Object.keys(p3.pushes[0].parts), ["endpoints"]);
  hub.close();
  other.close();
  third.close();
});

Deno.test("a proxy without the protocol gets the whole config, and again only when it changes", async () => {
  const hub = new PushHub(() => {});
  const s = snap(resources("10.1.0.1"));
  hub.push(s);
  const old = new FakeProxy(hub, node("old"), {});
  await hub.idle();
  assert.equal(old.lines.length, 1);
  const msg = JSON.parse(old.lines[0]);
  assert.equal(msg.type, "config");
  assert.deepEqual(msg.config, generateProxyConfig(s, node("old")));
  hub.push(snap(resources("10.1.0.1")), new PushRequest());
  await hub.idle();
  assert.equal(old.lines.length, 1);
  hub.close();
});

Deno.test("proxies of one class share their parts: generated once, not per proxy", async () => {
  const hub = new PushHub(() => {});
  hub.push(snap(resources("10.1.0.1")));
  const proxies = Array.from({ length: 50 }, (_, i) => new FakeProxy(hub, node(`p${i}`)));
  await hub.idle();
  assert.equal(hub.generator!.generated, 6, "six parts for fifty proxies");
  // Nonces count per stream, so each proxy's first message is the same shared text.
  assert.equal(new Set(proxies.map((p) => p.lines[0])).size, 1);
  hub.close();
});

Deno.test("a message awaits its answer: settled by the ack, the nack, or the stream closing", async () => {
  const hub = new PushHub(() => {});
  hub.push(snap(resources("10.1.0.1")));
  const [a, b, c] = ["a", "b", "c"].map((id) => new FakeProxy(hub, node(id)));
  await hub.idle();
  const pending = [a, b, c].map((p) => p.conn.answered());
  assert.ok(pending.every((x) => x instanceof Promise), "each has a message out");
  a.answer();
  b.answer(() => ({ routes: "bad route" }));
  c.conn.closed();
  await Promise.all(pending); // all three settle
  assert.equal(a.conn.answered(), undefined);
  assert.equal(b.conn.answered(), undefined);
  hub.close();
});
