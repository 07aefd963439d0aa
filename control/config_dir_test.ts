import assert from "node:assert/strict";
import { formatDiagnostic } from "../api/diagnostic.ts";
import type { Resource } from "../api/resources.ts";
import { ConfigDir, type ConfigState } from "./config_dir.ts";
import { within } from "./store/contract.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-config-dir-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A VirtualService for `host` routing to `subset` (line 7 is `  http:`). */
function vs(name: string, subset = "v1", host = name): string {
  return [
    "apiVersion: networking.istio.io/v1",
    "kind: VirtualService",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  hosts: [${host}]`,
    "  http:",
    "  - route:",
    "    - destination:",
    `        host: ${host}`,
    `        subset: ${subset}`,
    "",
  ].join("\n");
}

function dr(name: string): string {
  return [
    "apiVersion: networking.istio.io/v1",
    "kind: DestinationRule",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  host: ${name}`,
    "  subsets:",
    "  - name: v1",
    "    labels: {version: v1}",
    "",
  ].join("\n");
}

/** A VirtualService whose line 7 is a YAML syntax error. */
const BROKEN_YAML = vs("reviews").replace("  http:\n", "  http: ]\n");

/** The kind/namespace/name keys of the resources, sorted. */
function keys(state: ConfigState): string[] {
  return state.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`).sort();
}

function find(state: ConfigState, kind: string, name: string): Resource | undefined {
  return state.resources.find((r) => r.kind === kind && r.metadata.name === name);
}

function subsetOf(r: Resource | undefined): string | undefined {
  return r?.kind === "VirtualService" ? r.spec.http?.[0].route?.[0].destination.subset : undefined;
}

/**
 * Waits on `state.next()` until the state satisfies `pred`, at most `ms` in all (a watcher may
 * reload more than once for one change; the extra reloads set the state without changes).
 */
async function waitFor(
  src: ConfigDir,
  pred: (s: ConfigState) => boolean,
  what: string,
  ms = 5000,
): Promise<ConfigState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const next = src.state.next();
    const now = src.state.get();
    if (pred(now)) return now;
    await within(next, Math.max(0, deadline - Date.now()), what);
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

Deno.test("ConfigDir: initial load of two files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/reviews-vs.yaml`, vs("reviews"));
    await Deno.writeTextFile(`${dir}/reviews-dr.yml`, dr("reviews"));
    const src = new ConfigDir(dir);
    assert.deepEqual(src.state.get(), { revision: 0, resources: [], diagnostics: [] });
    await src.reload();
    const s = src.state.get();
    assert.equal(s.revision, 1);
    assert.deepEqual(keys(s), [
      "DestinationRule/default/reviews",
      "VirtualService/default/reviews",
    ]);
    assert.deepEqual(s.diagnostics, []);
    // Sources are relative to the directory.
    assert.deepEqual(find(s, "VirtualService", "reviews")?.source, {
      file: "reviews-vs.yaml",
      line: 1,
    });
    assert.equal(find(s, "DestinationRule", "reviews")?.source.file, "reviews-dr.yml");
  });
});

Deno.test("ConfigDir: reads subdirectories and JSON, skips hidden and other files", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/nested/deeper`, { recursive: true });
    await Deno.mkdir(`${dir}/.git`);
    await Deno.writeTextFile(`${dir}/nested/deeper/ratings.yaml`, vs("ratings"));
    await Deno.writeTextFile(
      `${dir}/details.json`,
      JSON.stringify({
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name: "details" },
        spec: { host: "details" },
      }),
    );
    await Deno.writeTextFile(`${dir}/.hidden.yaml`, vs("hidden"));
    await Deno.writeTextFile(`${dir}/.git/config.yaml`, vs("git"));
    await Deno.writeTextFile(`${dir}/README.md`, vs("readme"));
    await Deno.writeTextFile(`${dir}/backup.yaml.bak`, vs("bak"));
    const src = new ConfigDir(`${dir}/`);
    assert.equal(src.dir, dir);
    await src.reload();
    const s = src.state.get();
    assert.deepEqual(keys(s), [
      "DestinationRule/default/details",
      "VirtualService/default/ratings",
    ]);
    assert.equal(find(s, "VirtualService", "ratings")?.source.file, "nested/deeper/ratings.yaml");
  });
});

Deno.test("ConfigDir: an empty directory loads as revision 1 with nothing", async () => {
  await withTempDir(async (dir) => {
    const src = new ConfigDir(dir);
    await src.reload();
    assert.deepEqual(src.state.get(), { revision: 1, resources: [], diagnostics: [] });
  });
});

Deno.test("ConfigDir: a reload that finds no change keeps the revision", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews"));
    const src = new ConfigDir(dir);
    await src.reload();
    const first = src.state.get();
    await src.reload();
    await src.reload();
    assert.equal(src.state.get().revision, 1);
    assert.deepEqual(src.state.get().resources, first.resources);
  });
});

Deno.test("ConfigDir: overlapping reloads are serialised", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews"));
    const src = new ConfigDir(dir);
    const revisions: number[] = [];
    const unsubscribe = src.state.subscribe((s) => revisions.push(s.revision));
    await Promise.all([src.reload(), src.reload(), src.reload()]);
    unsubscribe();
    assert.equal(src.state.get().revision, 1);
    assert.deepEqual(revisions, [1, 1, 1]);
  });
});

Deno.test("ConfigDir: a missing directory is logged, not thrown", async () => {
  await withTempDir(async (dir) => {
    const src = new ConfigDir(`${dir}/does-not-exist`);
    await src.reload();
    assert.deepEqual(src.state.get(), { revision: 0, resources: [], diagnostics: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// Bad files

Deno.test("ConfigDir: a file with a YAML syntax error is reported and contributes nothing", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/good.yaml`, vs("ratings"));
    await Deno.writeTextFile(`${dir}/broken.yaml`, BROKEN_YAML + "---\n" + dr("reviews"));
    const src = new ConfigDir(dir);
    await src.reload();
    const s = src.state.get();
    assert.equal(s.revision, 1);
    // Not even the file's valid second document is served.
    assert.deepEqual(keys(s), ["VirtualService/default/ratings"]);
    const errors = s.diagnostics.filter((d) => d.severity === "error");
    assert.equal(errors.length, 1, s.diagnostics.map(formatDiagnostic).join("\n"));
    assert.equal(errors[0].file, "broken.yaml");
    assert.equal(errors[0].line, 7);
    assert.match(errors[0].message, /invalid YAML/);
  });
});

Deno.test("ConfigDir: an edited-to-invalid file keeps serving its last good version", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/reviews.yaml`, vs("reviews", "v1"));
    await Deno.writeTextFile(`${dir}/ratings.yaml`, vs("ratings"));
    const src = new ConfigDir(dir);
    await src.reload();
    const good = src.state.get();
    assert.equal(good.revision, 1);

    // Break it: same revision, same resources, and the error is listed.
    await Deno.writeTextFile(`${dir}/reviews.yaml`, BROKEN_YAML);
    const notified = src.state.next();
    await src.reload();
    const bad = await within(notified, 10_000, "the diagnostics update");
    assert.equal(bad.revision, 1);
    assert.deepEqual(bad.resources, good.resources);
    assert.equal(subsetOf(find(bad, "VirtualService", "reviews")), "v1");
    assert.equal(bad.diagnostics.length, 1);
    assert.equal(bad.diagnostics[0].severity, "error");
    assert.equal(bad.diagnostics[0].file, "reviews.yaml");
    assert.equal(bad.diagnostics[0].line, 7);
    assert.match(formatDiagnostic(bad.diagnostics[0]), /^reviews\.yaml:7:\d+: error: invalid YAML/);

    // A schema error (not a syntax error) is treated the same way.
    await Deno.writeTextFile(`${dir}/reviews.yaml`, vs("reviews", "v2").replace("http:", "htp:"));
    await src.reload();
    const bad2 = src.state.get();
    assert.equal(bad2.revision, 1);
    assert.equal(subsetOf(find(bad2, "VirtualService", "reviews")), "v1");
    assert.equal(bad2.diagnostics.length, 1);
    assert.equal(bad2.diagnostics[0].file, "reviews.yaml");
    assert.equal(bad2.diagnostics[0].line, 7);
    assert.match(bad2.diagnostics[0].message, /unknown field "htp"/);

    // Fixed: the new version serves and the diagnostics clear.
    await Deno.writeTextFile(`${dir}/reviews.yaml`, vs("reviews", "v2"));
    await src.reload();
    const fixed = src.state.get();
    assert.equal(fixed.revision, 2);
    assert.equal(subsetOf(find(fixed, "VirtualService", "reviews")), "v2");
    assert.deepEqual(fixed.diagnostics, []);
  });
});

Deno.test("ConfigDir: a file that was never good starts serving once fixed", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/reviews.yaml`, BROKEN_YAML);
    const src = new ConfigDir(dir);
    await src.reload();
    assert.deepEqual(keys(src.state.get()), []);
    assert.equal(src.state.get().diagnostics.length, 1);
    await Deno.writeTextFile(`${dir}/reviews.yaml`, vs("reviews"));
    await src.reload();
    assert.equal(src.state.get().revision, 2);
    assert.deepEqual(keys(src.state.get()), ["VirtualService/default/reviews"]);
    assert.deepEqual(src.state.get().diagnostics, []);
  });
});

Deno.test("ConfigDir: warnings are listed but don't reject the file", async () => {
  await withTempDir(async (dir) => {
    // A match's statPrefix is Istio's, not enforced by mesh yet: a warning.
    await Deno.writeTextFile(
      `${dir}/reviews.yaml`,
      vs("reviews").replace("  - route:\n", "  - match: [{statPrefix: reviews}]\n    route:\n"),
    );
    const src = new ConfigDir(dir);
    await src.reload();
    const s = src.state.get();
    assert.deepEqual(keys(s), ["VirtualService/default/reviews"]);
    assert.ok(s.diagnostics.length > 0);
    assert.ok(s.diagnostics.every((d) => d.severity === "warning" && d.file === "reviews.yaml"));
  });
});

// ---------------------------------------------------------------------------------------------
// Removal and duplicates

Deno.test("ConfigDir: deleting a file removes its resources and bumps the revision", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews"));
    await Deno.writeTextFile(`${dir}/b.yaml`, dr("reviews"));
    const src = new ConfigDir(dir);
    await src.reload();
    assert.equal(src.state.get().resources.length, 2);
    await Deno.remove(`${dir}/b.yaml`);
    await src.reload();
    const s = src.state.get();
    assert.equal(s.revision, 2);
    assert.deepEqual(keys(s), ["VirtualService/default/reviews"]);
  });
});

Deno.test("ConfigDir: deleting a broken file clears its diagnostics", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews"));
    await Deno.writeTextFile(`${dir}/broken.yaml`, BROKEN_YAML);
    const src = new ConfigDir(dir);
    await src.reload();
    assert.equal(src.state.get().diagnostics.length, 1);
    await Deno.remove(`${dir}/broken.yaml`);
    await src.reload();
    assert.deepEqual(src.state.get().diagnostics, []);
    assert.deepEqual(keys(src.state.get()), ["VirtualService/default/reviews"]);
  });
});

Deno.test("ConfigDir: a resource defined in two files: the later file wins", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/10-first.yaml`, vs("reviews", "v1"));
    await Deno.writeTextFile(`${dir}/20-second.yaml`, vs("reviews", "v2"));
    const src = new ConfigDir(dir);
    await src.reload();
    const s = src.state.get();
    assert.deepEqual(keys(s), ["VirtualService/default/reviews"]);
    const r = find(s, "VirtualService", "reviews");
    assert.equal(subsetOf(r), "v2");
    assert.equal(r?.source.file, "20-second.yaml");
    // Removing the winner lets the other one serve again.
    await Deno.remove(`${dir}/20-second.yaml`);
    await src.reload();
    assert.equal(subsetOf(find(src.state.get(), "VirtualService", "reviews")), "v1");
  });
});

Deno.test("ConfigDir: same name in another namespace or kind is not a duplicate", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews") + "---\n" + dr("reviews"));
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      vs("reviews").replace("  name: reviews\n", "  name: reviews\n  namespace: other\n"),
    );
    const src = new ConfigDir(dir);
    await src.reload();
    assert.deepEqual(keys(src.state.get()), [
      "DestinationRule/default/reviews",
      "VirtualService/default/reviews",
      "VirtualService/other/reviews",
    ]);
  });
});

// Regression test (was a bug, now fixed): control/config_dir.ts #reload (lines 124-135) resolves duplicates in the insertion order
// of the #files Map, not in file order: a file added (or deleted and re-created) while running is
// appended to the Map, so it wins over a file that sorts after it. Here 10-first.yaml, created
// after 20-second.yaml was loaded, wins (subset v1), while a fresh start with the same two files
// serves 20-second.yaml (subset v2): the served config depends on history and changes on restart.
Deno.test({
  name: "ConfigDir: the duplicate winner doesn't depend on the order files appeared",
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/20-second.yaml`, vs("reviews", "v2"));
      const running = new ConfigDir(dir);
      await running.reload();
      await Deno.writeTextFile(`${dir}/10-first.yaml`, vs("reviews", "v1"));
      await running.reload();
      const fresh = new ConfigDir(dir);
      await fresh.reload();
      assert.equal(subsetOf(find(fresh.state.get(), "VirtualService", "reviews")), "v2");
      assert.equal(subsetOf(find(running.state.get(), "VirtualService", "reviews")), "v2");
    });
  },
});

// ---------------------------------------------------------------------------------------------
// Watching

Deno.test("ConfigDir: watch() picks up a new file, and stops", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews"));
    const src = new ConfigDir(dir);
    await src.reload();
    const stop = src.watch();
    try {
      const next = src.state.next();
      await Deno.writeTextFile(`${dir}/b.yaml`, dr("reviews"));
      const s = await within(next, 5000, "the new file to load");
      assert.equal(s.revision, 2);
      assert.deepEqual(keys(s), [
        "DestinationRule/default/reviews",
        "VirtualService/default/reviews",
      ]);
    } finally {
      stop();
      stop(); // Stopping twice is harmless.
      // Let a reload the watcher already started finish before the directory goes.
      await src.reload();
    }
  });
});

Deno.test("ConfigDir: watch() picks up edits and deletions", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/reviews.yaml`, vs("reviews", "v1"));
    await Deno.writeTextFile(`${dir}/ratings.yaml`, vs("ratings"));
    const src = new ConfigDir(dir);
    await src.reload();
    const stop = src.watch();
    try {
      await Deno.writeTextFile(`${dir}/reviews.yaml`, vs("reviews", "v3"));
      const edited = await waitFor(
        src,
        (s) => subsetOf(find(s, "VirtualService", "reviews")) === "v3",
        "the edit to load",
      );
      assert.equal(edited.revision, 2);

      await Deno.writeTextFile(`${dir}/reviews.yaml`, BROKEN_YAML);
      const broken = await waitFor(src, (s) => s.diagnostics.length > 0, "the error to show");
      assert.equal(broken.revision, 2);
      assert.equal(subsetOf(find(broken, "VirtualService", "reviews")), "v3");

      await Deno.remove(`${dir}/ratings.yaml`);
      const removed = await waitFor(
        src,
        (s) => !find(s, "VirtualService", "ratings"),
        "the deletion to load",
      );
      assert.equal(removed.revision, 3);
      assert.deepEqual(keys(removed), ["VirtualService/default/reviews"]);
    } finally {
      stop();
      await src.reload();
    }
  });
});

Deno.test("ConfigDir: after stop() the watcher no longer reloads", async () => {
  await withTempDir(async (dir) => {
    const src = new ConfigDir(dir);
    await src.reload();
    const stop = src.watch();
    stop();
    // Make sure the watcher's loop has seen the close.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await Deno.writeTextFile(`${dir}/a.yaml`, vs("reviews"));
    // Only an explicit reload sees the file.
    assert.equal(src.state.get().revision, 1);
    await src.reload();
    assert.equal(src.state.get().revision, 2);
  });
});
