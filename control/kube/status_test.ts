import assert from "node:assert/strict";
import type { Diagnostic } from "../../api/diagnostic.ts";
import { type Resource, validateResource } from "../../api/resources.ts";
import { FakeClock } from "../../util/clock.ts";
import { newMessage, ReferencedResourceNotFound } from "../analyze/messages.ts";
import { KubeApiError, type KubeObject } from "./client.ts";
import {
  type IstioStatus,
  sameStatus,
  type StatusEntry,
  statusMessagesOf,
  statusOf,
  statusPatch,
  StatusWriter,
  validationMessageOf,
} from "./status.ts";

const NOW = new Date("2025-01-02T03:04:05.678Z");
const LATER = new Date("2025-01-02T04:00:00.000Z");

function notFound(host = "nowhere") {
  return newMessage(ReferencedResourceNotFound, ["host", host], {
    resource: { kind: "VirtualService", namespace: "default", name: "vs" },
  });
}

function resource(doc: unknown, file: string): Resource {
  const r = validateResource(doc, { file, line: 1 });
  assert.equal(r.resources.length, 1, JSON.stringify(r.diagnostics));
  return r.resources[0];
}

Deno.test("status: a message is Istio's AnalysisMessageBase, plus its text", () => {
  assert.deepEqual(validationMessageOf(notFound()), {
    type: { code: "IST0101", name: "ReferencedResourceNotFound" },
    level: "ERROR",
    documentationUrl: "https://istio.io/latest/docs/reference/config/analysis/ist0101/",
    description: 'Referenced host not found: "nowhere"',
  });
});

Deno.test("status: statusOf writes messages, Reconciled and observedGeneration", () => {
  const bad = statusOf([notFound()], 3, undefined, NOW);
  assert.deepEqual(bad, {
    conditions: [{
      type: "Reconciled",
      status: "False",
      lastProbeTime: "2025-01-02T03:04:05Z",
      lastTransitionTime: "2025-01-02T03:04:05Z",
      message: 'rejected: [IST0101] Referenced host not found: "nowhere"',
    }],
    validationMessages: [validationMessageOf(notFound())],
    observedGeneration: "3",
  });
  // Same status later: the transition time stays, only the probe time moves.
  const again = statusOf([notFound()], 3, bad, LATER);
  assert.equal(again.conditions![0].lastTransitionTime, "2025-01-02T03:04:05Z");
  assert.equal(again.conditions![0].lastProbeTime, "2025-01-02T04:00:00Z");
  assert.ok(sameStatus(bad, again), "timestamps aside, the same");
  // Fixed: messages cleared, True, a new transition.
  const good = statusOf([], 4, bad, LATER);
  assert.equal(good.validationMessages, undefined);
  assert.deepEqual(good.conditions, [{
    type: "Reconciled",
    status: "True",
    lastProbeTime: "2025-01-02T04:00:00Z",
    lastTransitionTime: "2025-01-02T04:00:00Z",
  }]);
  assert.equal(good.observedGeneration, "4");
  assert.ok(!sameStatus(bad, good));
  assert.deepEqual(statusPatch(good).status.validationMessages, null, "merge patch clears them");
  // Someone else's condition survives.
  const other = { type: "Other", status: "True" as const };
  assert.deepEqual(statusOf([], 1, { conditions: [other] }, NOW).conditions?.[0], other);
  // A number written by someone else compares equal to the string.
  assert.ok(
    sameStatus(
      { ...good, observedGeneration: 4 as unknown as string },
      good,
    ),
  );
});

Deno.test("status: statusMessagesOf: kube resources only, diagnostics and the analyzers", () => {
  const vs = resource({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "vs", namespace: "default" },
    spec: { hosts: ["vs"], http: [{ route: [{ destination: { host: "nowhere" } }] }] },
  }, "kube:VirtualService/default/vs");
  const ok = resource({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "ok", namespace: "default" },
    spec: { hosts: ["ok"], http: [{ route: [{ destination: { host: "reviews" } }] }] },
  }, "kube:VirtualService/default/ok");
  const se = resource({
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: { name: "kube-service.reviews", namespace: "default" },
    spec: {
      hosts: ["reviews.default.svc.cluster.local"],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: 9080, name: "http", protocol: "HTTP" }],
    },
  }, "kube:Service/default/reviews");
  const fromFile = resource({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "f", namespace: "default" },
    spec: { hosts: ["f"], http: [{ route: [{ destination: { host: "nowhere2" } }] }] },
  }, "config/f.yaml");
  const diagnostics: Diagnostic[] = [
    {
      severity: "error",
      file: "kube:VirtualService/default/bad",
      line: 1,
      column: 1,
      kind: "VirtualService",
      namespace: "default",
      name: "bad",
      path: "spec.http[0].timeout",
      message: 'invalid duration "1x"',
    },
    {
      severity: "warning",
      file: "kube:virtualservices",
      line: 1,
      column: 1,
      path: "",
      message: "can't be read",
    },
  ];
  const out = statusMessagesOf({ resources: [vs, ok, se, fromFile], diagnostics });
  assert.deepEqual([...out.keys()].sort(), [
    "VirtualService/default/bad",
    "VirtualService/default/ok",
    "VirtualService/default/vs",
  ]);
  assert.deepEqual(out.get("VirtualService/default/ok")!.messages, []);
  assert.deepEqual(
    out.get("VirtualService/default/vs")!.messages.map((m) => [m.code, m.message]),
    [["IST0101", 'Referenced host not found: "nowhere"']],
  );
  const bad = out.get("VirtualService/default/bad")!.messages;
  assert.deepEqual(bad.map((m) => [m.code, m.name, m.level]), [
    ["IST0106", "SchemaValidationError", "Error"],
  ]);
  assert.match(bad[0].message, /spec\.http\[0\]\.timeout: invalid duration "1x"/);
  // Validation only.
  const plain = statusMessagesOf({ resources: [vs], diagnostics: [] }, { analyzers: false });
  assert.deepEqual(plain.get("VirtualService/default/vs")!.messages, []);
});

/** A fake API server: objects by path, the requests made, errors to answer with. */
class FakeKube {
  objects = new Map<string, KubeObject>();
  calls: { method: string; path: string; body?: unknown }[] = [];
  fail: KubeApiError | undefined;
  gets: (() => void)[] = [];
  /** When set, GETs wait for `release()`. */
  hold = false;

  request<T>(method: string, path: string, o: { body?: unknown } = {}): Promise<T> {
    this.calls.push({ method, path, body: o.body });
    const run = (): T => {
      if (this.fail) throw this.fail;
      const base = path.replace(/\/status$/, "");
      const obj = this.objects.get(base);
      if (!obj) throw new KubeApiError(404, `${method} ${path}: 404 not found`);
      if (method === "PATCH") {
        const st = { ...(obj.status as object ?? {}) } as Record<string, unknown>;
        for (const [k, v] of Object.entries((o.body as { status: object }).status)) {
          if (v === null) delete st[k];
          else st[k] = v;
        }
        obj.status = st;
      }
      return structuredClone(obj) as T;
    };
    if (method === "GET" && this.hold) {
      return new Promise<T>((resolve, reject) =>
        this.gets.push(() => {
          try {
            resolve(run());
          } catch (e) {
            reject(e);
          }
        })
      );
    }
    try {
      return Promise.resolve(run());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  patches(): number {
    return this.calls.filter((c) => c.method === "PATCH").length;
  }
}

const VS_PATH = "/apis/networking.istio.io/v1/namespaces/default/virtualservices/vs";

function fixture() {
  const kube = new FakeKube();
  kube.objects.set(VS_PATH, {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "vs", namespace: "default", generation: 2 },
  });
  const clock = new FakeClock();
  const writer = new StatusWriter({ kube, clock, now: () => NOW, retryMs: 5000 });
  const update = (messages: StatusEntry["messages"], version = "v1") =>
    writer.update(new Map([["VirtualService/default/vs", { messages, version }]]));
  const status = () => kube.objects.get(VS_PATH)!.status as IstioStatus | undefined;
  return { kube, clock, writer, update, status };
}

Deno.test("status writer: writes with a merge patch, then only on change", async () => {
  const { kube, clock, writer, update, status } = fixture();
  update([notFound()]);
  await clock.advance(0);
  await writer.idle();
  assert.equal(kube.patches(), 1);
  const patch = kube.calls.find((c) => c.method === "PATCH")!;
  assert.equal(patch.path, `${VS_PATH}/status`);
  assert.equal(status()!.observedGeneration, "2");
  assert.equal(status()!.validationMessages![0].type.code, "IST0101");
  // The same again: nothing sent at all.
  const before = kube.calls.length;
  update([notFound()]);
  await clock.advance(5000);
  assert.equal(kube.calls.length, before);
  // Messages gone: cleared.
  update([], "v2");
  await clock.advance(1000);
  await writer.idle();
  assert.equal(kube.patches(), 2);
  assert.equal(status()!.validationMessages, undefined);
  assert.equal(status()!.conditions![0].status, "True");
  await writer.close();
});

Deno.test("status writer: a status already there is not written again", async () => {
  const { kube, clock, writer, update } = fixture();
  kube.objects.get(VS_PATH)!.status = statusOf([notFound()], 2, undefined, LATER);
  update([notFound()]);
  await clock.advance(0);
  await writer.idle();
  assert.equal(kube.patches(), 0);
  assert.equal(kube.calls.length, 1, "one GET");
  await writer.close();
});

Deno.test("status writer: a burst is coalesced, at most one write a second, latest wins", async () => {
  const { kube, clock, writer, update, status } = fixture();
  update([notFound("a")]);
  await clock.advance(0);
  await writer.idle();
  assert.equal(kube.patches(), 1);
  for (const h of ["b", "c", "d"]) {
    update([notFound(h)]);
    await clock.advance(100);
  }
  assert.equal(kube.patches(), 1, "not before a second has passed");
  await clock.advance(700);
  await writer.idle();
  assert.equal(kube.patches(), 2);
  assert.equal(status()!.validationMessages![0].description, 'Referenced host not found: "d"');
  await clock.advance(10_000);
  assert.equal(kube.patches(), 2);
  await writer.close();
});

Deno.test("status writer: concurrency is bounded", async () => {
  const kube = new FakeKube();
  const entries = new Map<string, StatusEntry>();
  for (let i = 0; i < 10; i++) {
    kube.objects.set(`/apis/networking.istio.io/v1/namespaces/default/virtualservices/v${i}`, {
      metadata: { name: `v${i}`, namespace: "default", generation: 1 },
    });
    entries.set(`VirtualService/default/v${i}`, { messages: [notFound()] });
  }
  kube.hold = true;
  const clock = new FakeClock();
  const writer = new StatusWriter({ kube, clock, now: () => NOW, concurrency: 4 });
  writer.update(entries);
  await clock.advance(0);
  assert.equal(kube.gets.length, 4);
  while (kube.gets.length) {
    kube.gets.shift()!();
    await clock.advance(0);
  }
  await writer.idle();
  assert.equal(kube.patches(), 10);
  await writer.close();
});

Deno.test("status writer: 404 drops, other errors retry later, close stops", async () => {
  const { kube, clock, writer, update } = fixture();
  kube.objects.clear();
  update([notFound()]);
  await clock.advance(0);
  await writer.idle();
  assert.equal(kube.calls.length, 1);
  await clock.advance(60_000);
  assert.equal(kube.calls.length, 1, "gone: not retried");

  const f = fixture();
  f.kube.fail = new KubeApiError(403, "PATCH ...: 403 forbidden");
  f.update([notFound()]);
  await f.clock.advance(0);
  await f.writer.idle();
  assert.equal(f.kube.calls.length, 1);
  f.kube.fail = undefined;
  await f.clock.advance(4000);
  assert.equal(f.kube.calls.length, 1, "not before the retry delay");
  await f.clock.advance(1000);
  await f.writer.idle();
  assert.equal(f.kube.patches(), 1, "retried and written");
  await f.writer.close();
  await writer.close();
  // After close, updates do nothing and no timers are left.
  f.update([notFound("x")]);
  assert.equal(f.clock.pending, 0);
});
