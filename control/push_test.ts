import assert from "node:assert/strict";
import type { NodeInfo } from "../api/proxy_config.ts";
import { PushHub } from "./push.ts";
import type { RegisteredWorkload } from "./snapshot.ts";

const id = { namespace: "default", serviceAccount: "b" };
const node = (n: string, inboundPort = 15006): NodeInfo => ({
  id: n,
  mode: "sidecar",
  namespace: "default",
  serviceAccount: "b",
  labels: { app: "b" },
  address: "127.0.0.1",
  inboundPort,
});
const workload = (n: string, inboundPort: number): RegisteredWorkload => ({
  name: n,
  namespace: "default",
  serviceAccount: "b",
  labels: { app: "b" },
  address: "127.0.0.1",
  inboundPort,
  nodeId: n,
});

Deno.test("a proxy reconnecting while its stale stream looks open replaces it and stays registered", () => {
  let changes = 0;
  const hub = new PushHub(() => changes++);
  let ended = 0;
  const old = hub.connect({
    node: node("n1"),
    identity: id,
    write: () => true,
    end: () => ended++,
  });
  assert.equal(changes, 1);
  const fresh = hub.connect({ node: node("n1"), identity: id, write: () => true, end: () => {} });
  assert.equal(ended, 1, "the stale stream is ended");
  assert.equal(changes, 1, "no membership change: the same workload");
  assert.equal(hub.workloads().length, 1, "registered once, not twice");
  hub.disconnect(old); // the stale stream's close arrives late
  assert.equal(changes, 1);
  assert.deepEqual(hub.workloads().map((w) => w.nodeId), ["n1"]);
  assert.deepEqual(hub.connections(), [fresh]);
  hub.disconnect(fresh);
  assert.equal(changes, 2);
  assert.equal(hub.workloads().length, 0);
  hub.close();
});

Deno.test("restored workloads stay until their own proxy is back, each on its own", () => {
  let changes = 0;
  const hub = new PushHub(() => changes++);
  hub.restore([workload("n1", 1001), workload("n2", 1002)], 60_000);
  assert.deepEqual(hub.restoredPending().sort(), ["n1", "n2"]);
  assert.equal(hub.workloads().length, 2);
  hub.connect({ node: node("n1", 1001), identity: id, write: () => true });
  assert.equal(changes, 0, "a restored workload coming back changes nothing");
  assert.deepEqual(hub.restoredPending(), ["n2"]);
  assert.deepEqual(hub.workloads().map((w) => w.nodeId).sort(), ["n1", "n2"]);
  // A new proxy process (new node id) on n2's address and port: n2 is gone for good.
  hub.connect({ node: node("n2-restarted", 1002), identity: id, write: () => true });
  assert.deepEqual(hub.restoredPending(), []);
  assert.deepEqual(hub.workloads().map((w) => w.nodeId).sort(), ["n1", "n2-restarted"]);
  assert.equal(changes, 1);
  hub.close();
});

Deno.test("restored workloads whose proxies never come back are dropped after the grace", async () => {
  let changes = 0;
  let changed!: () => void;
  const dropped = new Promise<void>((r) => changed = r);
  const hub = new PushHub(() => {
    changes++;
    changed();
  });
  hub.restore([workload("n1", 1001), workload("n2", 1002)], 50);
  hub.connect({ node: node("n1", 1001), identity: id, write: () => true });
  await dropped;
  assert.equal(changes, 1);
  assert.deepEqual(hub.workloads().map((w) => w.nodeId), ["n1"]);
  hub.close();
});
