import assert from "node:assert/strict";
import { parseResources } from "../../api/resources.ts";
import { destinationRule, storeContract, subsetOf, virtualService } from "./contract.ts";
import { FileStore } from "./file.ts";
import { StoreConflictError, type StoreSnapshot } from "./types.ts";

storeContract("file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-file-store-test-" });
  return {
    store: await new FileStore(dir).start(),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

/** Runs `fn` with a started store on a fresh directory holding `files`. */
async function withStore(
  files: Record<string, string>,
  fn: (store: FileStore, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-file-store-test-" });
  for (const [name, text] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  const store = await new FileStore(dir).start();
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every config file under `dir`, relative, sorted. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${prefix}${e.name}/`);
      else out.push(prefix + e.name);
    }
  };
  await walk(dir, "");
  return out.sort();
}

/** Waits until `pred` holds for the store's snapshot, at most `ms`. */
async function until(
  store: FileStore,
  pred: (s: StoreSnapshot) => boolean,
  ms = 5000,
): Promise<StoreSnapshot> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    for await (const s of store.watch({ signal: ac.signal })) if (pred(s)) return s;
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`condition not met within ${ms} ms`);
}

const VS_TEXT = (name: string, subset = "v1") =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}, subset: ${subset}}
`;

Deno.test("FileStore: apply writes one file per resource under <namespace>/<kind>-<name>.yaml", async () => {
  await withStore({}, async (store, dir) => {
    const r = await store.apply([
      virtualService("reviews"),
      destinationRule("reviews", "prod"),
    ]);
    assert.deepEqual(r.results.map((x) => x.location), [
      "default/virtualservice-reviews.yaml",
      "prod/destinationrule-reviews.yaml",
    ]);
    assert.deepEqual(await listing(dir), [
      "default/virtualservice-reviews.yaml",
      "prod/destinationrule-reviews.yaml",
    ]);
    const text = await Deno.readTextFile(`${dir}/default/virtualservice-reviews.yaml`);
    const parsed = parseResources(text, "x.yaml");
    assert.deepEqual(parsed.diagnostics, []);
    assert.equal(parsed.resources.length, 1);
    assert.equal(parsed.resources[0].metadata.namespace, "default");
    assert.match(text, /^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService\n/);
    // The snapshot knows where each resource lives.
    assert.equal(
      store.get("DestinationRule", "prod", "reviews")?.source.file,
      "prod/destinationrule-reviews.yaml",
    );
    // Configure rewrites the same file.
    await store.apply([virtualService("reviews", { subset: "v2" })]);
    assert.deepEqual((await listing(dir)).length, 2);
    assert.match(
      await Deno.readTextFile(`${dir}/default/virtualservice-reviews.yaml`),
      /subset: v2/,
    );
  });
});

Deno.test("FileStore: a resource in a user's multi-document file is replaced in place", async () => {
  const userFile = `# Routing for the bookinfo app; owned by team A.
${VS_TEXT("reviews")}---
# ratings: keep on v1 until the migration
${VS_TEXT("ratings")}---
apiVersion: v1
kind: Service # not ours; must survive
metadata: {name: reviews}
`;
  await withStore({ "bookinfo.yaml": userFile }, async (store, dir) => {
    const r = await store.apply([virtualService("ratings", { subset: "v2" })]);
    assert.equal(r.results[0].action, "configured");
    assert.equal(r.results[0].location, "bookinfo.yaml");
    assert.deepEqual(await listing(dir), ["bookinfo.yaml"]);
    const text = await Deno.readTextFile(`${dir}/bookinfo.yaml`);
    // The first document and the Service keep their text, comments included; the replaced one
    // keeps its leading comment.
    assert.ok(
      text.startsWith(
        `# Routing for the bookinfo app; owned by team A.\n${VS_TEXT("reviews")}---\n`,
      ),
    );
    assert.match(text, /# ratings: keep on v1 until the migration\napiVersion/);
    assert.match(text, /kind: Service # not ours; must survive/);
    assert.equal(subsetOf(store, "ratings"), "v2");
    assert.equal(subsetOf(store, "reviews"), "v1");
    assert.deepEqual(parseResources(text, "bookinfo.yaml").diagnostics, []);

    // Deleting one document keeps the rest of the file.
    const d = await store.delete([{
      kind: "VirtualService",
      namespace: "default",
      name: "reviews",
    }]);
    assert.equal(d.results[0].action, "deleted");
    const after = await Deno.readTextFile(`${dir}/bookinfo.yaml`);
    assert.ok(!after.includes("name: reviews\nspec"));
    assert.match(after, /^# ratings: keep on v1/);
    assert.match(after, /kind: Service # not ours/);
    assert.deepEqual(store.list().map((x) => x.metadata.name), ["ratings"]);
  });
});

Deno.test("FileStore: resources inside a kind: List are replaced and deleted in the list", async () => {
  const list = JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [virtualService("a"), virtualService("b")],
  });
  await withStore({ "list.json": list }, async (store, dir) => {
    await store.apply([virtualService("b", { subset: "v9" })]);
    const text = await Deno.readTextFile(`${dir}/list.json`);
    const doc = JSON.parse(text); // still JSON
    assert.equal(doc.items[1].spec.http[0].route[0].destination.subset, "v9");
    assert.equal(subsetOf(store, "b"), "v9");
    await store.delete([{ kind: "VirtualService", namespace: "default", name: "a" }]);
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/list.json`)).items.length, 1);
    await store.delete([{ kind: "VirtualService", namespace: "default", name: "b" }]);
    assert.deepEqual(await listing(dir), []);
  });
});

Deno.test("FileStore: deleting the only resource of a file removes the file", async () => {
  await withStore({ "nested/reviews.yaml": VS_TEXT("reviews") }, async (store, dir) => {
    await store.delete([{ kind: "VirtualService", namespace: "default", name: "reviews" }]);
    assert.deepEqual(await listing(dir), []);
    assert.equal(store.list().length, 0);
  });
});

Deno.test("FileStore: a resource defined in two files is deleted from both", async () => {
  await withStore(
    { "10-a.yaml": VS_TEXT("reviews", "v1"), "20-b.yaml": VS_TEXT("reviews", "v2") },
    async (store, dir) => {
      assert.equal(subsetOf(store, "reviews"), "v2");
      // Apply edits the file that wins.
      const r = await store.apply([virtualService("reviews", { subset: "v3" })]);
      assert.equal(r.results[0].location, "20-b.yaml");
      assert.match(await Deno.readTextFile(`${dir}/10-a.yaml`), /subset: v1/);
      await store.delete([{ kind: "VirtualService", namespace: "default", name: "reviews" }]);
      assert.deepEqual(await listing(dir), []);
      assert.equal(store.get("VirtualService", "default", "reviews"), undefined);
    },
  );
});

Deno.test("FileStore: an invalid apply writes nothing", async () => {
  await withStore({ "reviews.yaml": VS_TEXT("reviews") }, async (store, dir) => {
    const before = await Deno.readTextFile(`${dir}/reviews.yaml`);
    const bad = virtualService("reviews", { subset: "v2" });
    (bad.spec as { http: unknown }).http = [{ route: [] }];
    const r = await store.apply([virtualService("details"), bad]);
    assert.equal(r.ok, false);
    assert.ok(r.diagnostics.some((d) => d.severity === "error"));
    assert.deepEqual(await listing(dir), ["reviews.yaml"]);
    assert.equal(await Deno.readTextFile(`${dir}/reviews.yaml`), before);
  });
});

Deno.test("FileStore: a resource served from a file that is broken now can't be rewritten", async () => {
  await withStore({ "reviews.yaml": VS_TEXT("reviews") }, async (store, dir) => {
    await Deno.writeTextFile(`${dir}/reviews.yaml`, VS_TEXT("reviews").replace("http:", "htp:"));
    await store.reload();
    // The last good version keeps serving, and the file is reported.
    assert.equal(subsetOf(store, "reviews"), "v1");
    assert.deepEqual(store.info().rejected, [
      { file: "reviews.yaml", errors: 1, servingLastGood: true },
    ]);
    assert.match(store.snapshot().diagnostics[0].message, /unknown field "htp"/);
    const broken = await Deno.readTextFile(`${dir}/reviews.yaml`);
    await assert.rejects(
      store.apply([virtualService("reviews", { subset: "v2" })]),
      (err: unknown) =>
        err instanceof StoreConflictError && /reviews\.yaml fails validation now/.test(err.message),
    );
    await assert.rejects(
      store.delete([{ kind: "VirtualService", namespace: "default", name: "reviews" }]),
      StoreConflictError,
    );
    assert.equal(await Deno.readTextFile(`${dir}/reviews.yaml`), broken);
    assert.deepEqual(await listing(dir), ["reviews.yaml"]);
    // Other resources can still be applied.
    const ok = await store.apply([virtualService("ratings")]);
    assert.equal(ok.results[0].action, "created");
  });
});

Deno.test("FileStore: a new resource whose file name is taken is added to that file", async () => {
  await withStore(
    { "default/virtualservice-reviews.yaml": VS_TEXT("ratings") },
    async (store, dir) => {
      await store.apply([virtualService("reviews")]);
      const text = await Deno.readTextFile(`${dir}/default/virtualservice-reviews.yaml`);
      assert.equal(parseResources(text, "f.yaml").resources.length, 2);
      assert.ok(text.startsWith(VS_TEXT("ratings") + "---\n"));
    },
  );
});

Deno.test("FileStore: watches files; edits, deletions and bad versions", async () => {
  await withStore({ "reviews.yaml": VS_TEXT("reviews") }, async (store, dir) => {
    await Deno.writeTextFile(`${dir}/reviews.yaml`, VS_TEXT("reviews", "v2"));
    await until(store, () => subsetOf(store, "reviews") === "v2");
    await Deno.writeTextFile(`${dir}/reviews.yaml`, "kind: [");
    const bad = await until(store, (s) => s.diagnostics.length > 0);
    assert.equal(subsetOf(store, "reviews"), "v2");
    assert.equal(bad.diagnostics[0].file, "reviews.yaml");
    await Deno.remove(`${dir}/reviews.yaml`);
    const gone = await until(store, (s) => s.resources.length === 0);
    assert.deepEqual(gone.diagnostics, []);
    assert.deepEqual(store.info().rejected, []);
  });
});

Deno.test("FileStore: a burst of events is debounced into few reloads", async () => {
  await withStore({}, async (store, dir) => {
    const revisions: number[] = [];
    const stop = store.subscribe((s) => revisions.push(s.revision));
    const start = store.revision;
    for (let i = 0; i < 30; i++) {
      await Deno.writeTextFile(`${dir}/burst.yaml`, VS_TEXT("reviews", `v${i}`));
    }
    await until(store, () => subsetOf(store, "reviews") === "v29");
    stop();
    const changes = new Set(revisions).size;
    assert.ok(changes <= 5, `30 quick writes made ${changes} revisions (from ${start})`);
  });
});

Deno.test("FileStore: concurrent applies to one directory never interleave", async () => {
  await withStore({}, async (store, dir) => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.apply([
          virtualService(`svc-${i}`, { subset: `v${i}` }),
          destinationRule(`svc-${i}`),
        ])),
    );
    assert.ok(results.every((r) => r.ok));
    const files = await listing(dir);
    assert.equal(files.length, 40);
    for (const f of files) {
      const parsed = parseResources(await Deno.readTextFile(`${dir}/${f}`), f);
      assert.deepEqual(parsed.diagnostics, [], f);
      assert.equal(parsed.resources.length, 1, f);
    }
    assert.equal(store.list().length, 40);
    // No temporary files are left behind.
    assert.ok(files.every((f) => !f.includes(".tmp-")));
  });
});

Deno.test("FileStore: 1,000 resources in 100 files load, and one edit is seen within 200 ms", async () => {
  const files: Record<string, string> = {};
  for (let f = 0; f < 100; f++) {
    const docs = [];
    for (let i = 0; i < 5; i++) {
      docs.push(VS_TEXT(`svc-${f}-${i}`));
      docs.push(
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-${f}-${i}, namespace: ns-${f % 10}}
spec:
  host: svc-${f}-${i}.default.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
`,
      );
    }
    files[`team-${f % 10}/file-${f}.yaml`] = docs.join("---\n");
  }
  const dir = await Deno.makeTempDir({ prefix: "mesh-file-store-load-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${name.split("/")[0]}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  const t0 = performance.now();
  const store = await new FileStore(dir).start();
  const loadMs = performance.now() - t0;
  try {
    assert.equal(store.list().length, 1000);
    assert.deepEqual(store.snapshot().diagnostics, []);

    const latencies: number[] = [];
    for (let round = 1; round <= 5; round++) {
      const target = `${dir}/team-7/file-17.yaml`;
      const text = files["team-7/file-17.yaml"].replace(
        "name: svc-17-3\n",
        `name: svc-17-3\n  labels: {round: "${round}"}\n`,
      );
      const seen = new Promise<number>((resolve) => {
        const stop = store.subscribe(() => {
          if (
            store.get("VirtualService", "default", "svc-17-3")?.metadata.labels?.round ===
              `${round}`
          ) {
            stop();
            resolve(performance.now());
          }
        });
      });
      const written = performance.now();
      await Deno.writeTextFile(`${target}.tmp`, text);
      await Deno.rename(`${target}.tmp`, target);
      // Every change must become visible; the timer only catches a lost one (a hang), the
      // latency is reported, not asserted (it depends on the machine's load).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const at = await Promise.race([
        seen,
        new Promise<number>((r) => timer = setTimeout(() => r(Infinity), 30_000)),
      ]);
      clearTimeout(timer);
      latencies.push(at - written);
    }
    console.log(
      `load: 1000 resources in 100 files in ${loadMs.toFixed(0)} ms; ` +
        `change-to-snapshot: ${latencies.map((l) => l.toFixed(0)).join(", ")} ms`,
    );
    assert.equal(store.list().length, 1000);
    for (const l of latencies) assert.ok(l !== Infinity, "a change never became visible");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileStore: a resource in a symlinked file is written through the link", async () => {
  const outside = await Deno.makeTempDir({ prefix: "mesh-file-store-link-" });
  try {
    await Deno.writeTextFile(`${outside}/real.yaml`, VS_TEXT("reviews"));
    await withStore({}, async (store, dir) => {
      await Deno.symlink(`${outside}/real.yaml`, `${dir}/linked.yaml`);
      await store.reload();
      assert.equal(subsetOf(store, "reviews"), "v1");
      await store.apply([virtualService("reviews", { subset: "v2" })]);
      assert.ok((await Deno.lstat(`${dir}/linked.yaml`)).isSymlink);
      assert.match(await Deno.readTextFile(`${outside}/real.yaml`), /subset: v2/);
      assert.equal(subsetOf(store, "reviews"), "v2");
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});
