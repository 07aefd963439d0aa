/**
 * The contract every {@linkcode ConfigStore} keeps, as a test suite: call
 * {@linkcode storeContract} from a backend's test file with a factory for fresh, started, empty
 * stores.
 *
 * @example
 * ```ts
 * storeContract("memory", () => Promise.resolve({ store: new MemoryStore(), cleanup: async () => {} }));
 * ```
 * @module
 */
import assert from "node:assert/strict";
import type { ConfigStore, ResourceInput, StoreSnapshot } from "./types.ts";

/** A fresh store and how to clean up after it (the suite closes the store itself). */
export interface StoreFixture {
  store: ConfigStore;
  cleanup(): Promise<void>;
}

/** A VirtualService routing `host` (default: the name) to `subset`. */
export function virtualService(
  name: string,
  opts: { namespace?: string; subset?: string; host?: string } = {},
): ResourceInput {
  const host = opts.host ?? name;
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
    spec: {
      hosts: [host],
      http: [{ route: [{ destination: { host, subset: opts.subset ?? "v1" } }] }],
    },
  };
}

/** A DestinationRule for `name` with subsets v1 and v2. */
export function destinationRule(name: string, namespace?: string): ResourceInput {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: {
      host: name,
      subsets: [{ name: "v1", labels: { version: "v1" } }, {
        name: "v2",
        labels: { version: "v2" },
      }],
    },
  };
}

/** The subset the first route of a VirtualService goes to. */
export function subsetOf(store: ConfigStore, name: string, namespace = "default"): unknown {
  const r = store.get("VirtualService", namespace, name);
  return r?.kind === "VirtualService" ? r.spec.http?.[0].route?.[0].destination.subset : undefined;
}

function keys(
  s: StoreSnapshot | readonly { kind: string; metadata: { namespace: string; name: string } }[],
) {
  const list = "resources" in s ? s.resources : s;
  return list.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
}

/** Resolves with `p`, or rejects after `ms` (the timer is cleared either way). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How the contract's tests run (a backend on a shared external server needs the last two). */
export interface ContractOptions {
  /** Skip every test (the backend's server isn't available). */
  ignore?: boolean;
  /** Deno's op and resource sanitizers (default true; off for a server shared by the tests). */
  sanitize?: boolean;
}

/** Registers the contract tests for one backend. */
export function storeContract(
  backend: string,
  factory: () => Promise<StoreFixture>,
  o: ContractOptions = {},
): void {
  const sanitize = o.sanitize ?? true;
  const test = (name: string, fn: (store: ConfigStore) => Promise<void>) =>
    Deno.test({
      name: `${backend} store contract: ${name}`,
      ignore: o.ignore ?? false,
      sanitizeOps: sanitize,
      sanitizeResources: sanitize,
      fn: async () => {
        const { store, cleanup } = await factory();
        try {
          await fn(store);
        } finally {
          await store.close();
          await cleanup();
        }
      },
    });

  test("starts empty, with a revision and frozen snapshot", (store) => {
    const s = store.snapshot();
    assert.equal(store.backend, backend);
    assert.ok(s.revision >= 0);
    assert.equal(store.revision, s.revision);
    assert.deepEqual(keys(s), []);
    assert.deepEqual(store.list(), []);
    assert.equal(store.get("VirtualService", "default", "reviews"), undefined);
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.resources) && Object.isFrozen(s.diagnostics));
    assert.equal(store.info().backend, backend);
    return Promise.resolve();
  });

  test("apply creates, get and list find it, the revision rises", async (store) => {
    const before = store.revision;
    const r = await store.apply([virtualService("reviews"), destinationRule("reviews")]);
    assert.equal(r.ok, true, JSON.stringify(r.diagnostics));
    assert.deepEqual(r.results.map((x) => [x.kind, x.namespace, x.name, x.action]), [
      ["VirtualService", "default", "reviews", "created"],
      ["DestinationRule", "default", "reviews", "created"],
    ]);
    assert.ok(r.revision > before);
    assert.equal(store.revision, r.revision);
    const got = store.get("VirtualService", "default", "reviews");
    assert.equal(got?.kind, "VirtualService");
    assert.equal(got?.metadata.namespace, "default");
    assert.deepEqual(keys(store.snapshot()), [
      "DestinationRule/default/reviews",
      "VirtualService/default/reviews",
    ]);
    assert.deepEqual(keys(store.list("VirtualService")), ["VirtualService/default/reviews"]);
    assert.deepEqual(keys(store.list(undefined, "default")).length, 2);
    assert.deepEqual(keys(store.list(undefined, "other")), []);
    assert.equal(store.info().resources, 2);
  });

  test("applying the same resource again is unchanged and keeps the revision", async (store) => {
    await store.apply([virtualService("reviews")]);
    const rev = store.revision;
    const snap = store.snapshot();
    const r = await store.apply([virtualService("reviews")]);
    assert.equal(r.results[0].action, "unchanged");
    assert.equal(r.revision, rev);
    assert.equal(store.revision, rev);
    assert.deepEqual(keys(store.snapshot()), keys(snap));
  });

  test("applying a changed resource configures it; old snapshots don't change", async (store) => {
    await store.apply([virtualService("reviews", { subset: "v1" })]);
    const old = store.snapshot();
    const oldResource = old.resources[0];
    const r = await store.apply([virtualService("reviews", { subset: "v2" })]);
    assert.equal(r.results[0].action, "configured");
    assert.ok(r.revision > old.revision);
    assert.equal(subsetOf(store, "reviews"), "v2");
    assert.equal(old.resources[0], oldResource);
    assert.equal(
      oldResource.kind === "VirtualService" &&
        oldResource.spec.http?.[0].route?.[0].destination.subset,
      "v1",
    );
  });

  test("snapshots and resources are immutable", async (store) => {
    await store.apply([virtualService("reviews")]);
    const s = store.snapshot();
    assert.throws(() => (s.resources as unknown[]).push({}), TypeError);
    assert.throws(() => {
      (s as { revision: number }).revision = 99;
    }, TypeError);
    const r = s.resources[0];
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.metadata) && Object.isFrozen(r.spec));
    assert.throws(() => {
      (r.metadata as { name: string }).name = "other";
    }, TypeError);
    assert.ok(Object.isFrozen(store.list("VirtualService")));
  });

  test("an invalid resource is rejected with diagnostics and nothing changes", async (store) => {
    await store.apply([virtualService("ratings")]);
    const before = store.snapshot();
    const bad = virtualService("reviews");
    (bad.spec as Record<string, unknown>).htp = []; // unknown fields are errors
    // A valid resource in the same batch isn't applied either.
    const r = await store.apply([virtualService("details"), bad]);
    assert.equal(r.ok, false);
    assert.deepEqual(r.results, []);
    const errors = r.diagnostics.filter((d) => d.severity === "error");
    assert.ok(errors.length >= 1);
    assert.equal(errors[0].kind, "VirtualService");
    assert.equal(errors[0].name, "reviews");
    assert.match(errors[0].path, /^spec\.htp/);
    assert.match(errors[0].message, /unknown field "htp"/);
    assert.equal(store.revision, before.revision);
    assert.equal(store.snapshot(), before);
    assert.equal(store.get("VirtualService", "default", "details"), undefined);
  });

  test("a kind mesh doesn't store is rejected", async (store) => {
    const r = await store.apply([{
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "reviews" },
      spec: {},
    }]);
    assert.equal(r.ok, false);
    assert.match(r.diagnostics[0].message, /not a kind mesh stores/);
    const bad = await store.apply([{ ...virtualService("x"), metadata: { name: "Bad_Name" } }]);
    assert.equal(bad.ok, false);
    assert.match(bad.diagnostics[0].message, /invalid name/);
  });

  test("warnings are returned and don't block the apply", async (store) => {
    const r = await store.apply([{
      ...virtualService("reviews"),
      spec: {
        hosts: ["reviews"],
        http: [{
          match: [{ statPrefix: "reviews" }],
          route: [{ destination: { host: "reviews" } }],
        }],
      },
    }]);
    assert.equal(r.ok, true);
    assert.ok(r.diagnostics.some((d) => d.severity === "warning"));
    assert.ok(store.get("VirtualService", "default", "reviews"));
  });

  test("delete removes, reports missing ones, and raises the revision", async (store) => {
    await store.apply([virtualService("reviews"), virtualService("ratings")]);
    const before = store.revision;
    const r = await store.delete([
      { kind: "VirtualService", namespace: "default", name: "reviews" },
      { kind: "VirtualService", namespace: "default", name: "nope" },
    ]);
    assert.deepEqual(r.results.map((x) => [x.name, x.action]), [
      ["reviews", "deleted"],
      ["nope", "notfound"],
    ]);
    assert.equal(r.results[0].apiVersion, "networking.istio.io/v1");
    assert.ok(r.revision > before);
    assert.equal(store.get("VirtualService", "default", "reviews"), undefined);
    assert.deepEqual(keys(store.snapshot()), ["VirtualService/default/ratings"]);
    const again = await store.delete([
      { kind: "VirtualService", namespace: "default", name: "nope" },
    ]);
    assert.equal(again.results[0].action, "notfound");
    assert.equal(again.revision, r.revision);
  });

  test("namespaces keep same-named resources apart", async (store) => {
    await store.apply([
      virtualService("reviews", { subset: "v1" }),
      virtualService("reviews", { namespace: "prod", subset: "v2" }),
    ]);
    assert.equal(subsetOf(store, "reviews"), "v1");
    assert.equal(subsetOf(store, "reviews", "prod"), "v2");
    assert.deepEqual(keys(store.list(undefined, "prod")), ["VirtualService/prod/reviews"]);
    await store.delete([{ kind: "VirtualService", namespace: "prod", name: "reviews" }]);
    assert.equal(subsetOf(store, "reviews"), "v1");
  });

  test("a later duplicate in one apply wins", async (store) => {
    const r = await store.apply([
      virtualService("reviews", { subset: "v1" }),
      virtualService("reviews", { subset: "v3" }),
    ]);
    assert.equal(r.results.length, 1);
    assert.equal(subsetOf(store, "reviews"), "v3");
  });

  test("subscribe sees each change; unsubscribe stops it", async (store) => {
    const seen: number[] = [];
    const stop = store.subscribe((s) => seen.push(s.revision));
    await store.apply([virtualService("a")]);
    const afterA = store.revision;
    await store.apply([virtualService("b")]);
    const afterB = store.revision;
    stop();
    await store.apply([virtualService("c")]);
    assert.ok(seen.includes(afterA) && seen.includes(afterB), `${seen}`);
    assert.ok(!seen.includes(store.revision));
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
  });

  test("watch yields the current snapshot, then only the latest", async (store) => {
    const ac = new AbortController();
    const it = store.watch({ signal: ac.signal });
    const first = await within(it.next(), 1000, "the first snapshot");
    assert.equal(first.done, false);
    assert.equal(first.value, store.snapshot());
    const pending = it.next();
    await store.apply([virtualService("a")]);
    const second = (await within(pending, 2000, "the next snapshot")).value as StoreSnapshot;
    assert.ok(second.revision > (first.value as StoreSnapshot).revision);
    assert.ok(second.resources.some((r) => r.metadata.name === "a"));
    // Three changes while nobody reads: the next read gets the newest only.
    await store.apply([virtualService("b")]);
    await store.apply([virtualService("c")]);
    await store.apply([virtualService("d")]);
    const latest = await within(it.next(), 1000, "the latest snapshot");
    assert.equal(latest.value?.revision, store.revision);
    assert.equal(latest.value?.resources.length, 4);
    // Aborting ends the iteration, also while it waits.
    const waiting = it.next();
    ac.abort();
    assert.equal((await within(waiting, 1000, "the end after abort")).done, true);
    // break in for-await ends it too.
    for await (const s of store.watch()) {
      assert.equal(s.revision, store.revision);
      break;
    }
  });

  test("20 concurrent applies all land, each with its own revision", async (store) => {
    const before = store.revision;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.apply([virtualService(`svc-${i}`)])),
    );
    assert.ok(results.every((r) => r.ok && r.results[0].action === "created"));
    const revisions = results.map((r) => r.revision);
    assert.equal(new Set(revisions).size, 20, `revisions ${revisions}`);
    assert.ok(revisions.every((r) => r > before));
    assert.equal(store.list("VirtualService").length, 20);
  });

  test("concurrent applies and deletes of the same resource serialise", async (store) => {
    await store.apply([virtualService("reviews", { subset: "v0" })]);
    const ops = await Promise.all([
      store.apply([virtualService("reviews", { subset: "v1" })]),
      store.delete([{ kind: "VirtualService", namespace: "default", name: "reviews" }]),
      store.apply([virtualService("reviews", { subset: "v2" })]),
    ]);
    // Call order is apply order: v1, deleted, then created again as v2.
    assert.equal((ops[0] as { results: { action: string }[] }).results[0].action, "configured");
    assert.equal(ops[1].results[0].action, "deleted");
    assert.equal((ops[2] as { results: { action: string }[] }).results[0].action, "created");
    assert.equal(subsetOf(store, "reviews"), "v2");
  });
}
