/**
 * The demo as a user runs it: `deno task demo` on its own config (nothing beside the
 * repository needed), then the product page through the ingress gateway; and with
 * `--samples`, Istio's gateway and rules swapped in and Istio's routing samples copied into its
 * config dir (skipped when Istio's samples aren't there).
 */
import assert from "node:assert/strict";
import { eventually, Proc, ROOT, SAMPLES, sampleTest } from "./helpers.ts";

const PAGE = "http://127.0.0.1:8080/productpage";

async function page(headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(PAGE, { headers, signal: AbortSignal.timeout(5000) });
  const body = await r.text();
  assert.equal(r.status, 200, body);
  return body;
}

const servedBy = (body: string) => body.match(/Reviews served by: (reviews-v\d)/)?.[1];

/** True when `n` pages in a row were served by `version` (round robin would show others). */
async function steadily(version: string, headers: Record<string, string> = {}, n = 6) {
  for (let i = 0; i < n; i++) if (servedBy(await page(headers)) !== version) return false;
  return true;
}

/** Copies a sample into the config dir atomically, as a config management tool would. */
async function apply(sample: string, configDir: string) {
  const tmp = `${configDir}/.${sample}.tmp`;
  await Deno.copyFile(`${SAMPLES}/networking/${sample}`, tmp);
  await Deno.rename(tmp, `${configDir}/${sample}`);
}

/**
 * Runs the demo as `deno task demo` does (without the task wrapper, so that SIGTERM reaches
 * the demo itself), hands `check` its config dir once it is ready, then stops it and checks
 * that it exits cleanly and frees the gateway port.
 */
async function withDemo(args: string[], check: (configDir: string) => Promise<void>) {
  const task = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks.demo;
  assert.equal(task, "deno run -A examples/bookinfo/demo.ts");
  const demo = new Proc("demo", Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}/examples/bookinfo/demo.ts`,
    ...args,
  ]);
  try {
    // Ready, or the demo gave up (e.g. port 8080 taken): then its last words, at once.
    const m = await Promise.race([
      demo.waitFor(
        /config: (\S+)\s+logs: \S+\nready: http:\/\/127\.0\.0\.1:8080\/productpage/,
        60_000,
      ),
      demo.status.then((s) => {
        throw new Error(`the demo exited (code ${s.code}) before ready:\n${demo.output}`);
      }),
    ]);
    const body = await page();
    assert.match(body, /The Comedy of Errors/);
    assert.match(body, /Paperback|paperback/);
    assert.ok(servedBy(body), "the page shows which reviews version served it");
    assert.ok(!body.includes("currently unavailable"), "details and reviews both answered");
    await check(m[1]);
  } finally {
    const status = await demo.stop();
    assert.equal(
      status.code,
      0,
      `the demo exits cleanly on SIGTERM; its output ends:\n${demo.output.slice(-2000)}`,
    );
  }
  // Every process the demo started is gone: the gateway port is free again.
  await eventually(
    () => {
      try {
        Deno.listen({ hostname: "127.0.0.1", port: 8080 }).close();
        return true;
      } catch {
        return false;
      }
    },
    10_000,
    "port 8080 to be released",
  );
}

const yamlFiles = (dir: string) =>
  [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".yaml")).sort();

Deno.test("deno task demo serves Bookinfo through the gateway on its own config", async () => {
  await withDemo([], async (configDir) => {
    // The demo's own files, none of Istio's.
    assert.deepEqual(yamlFiles(configDir), yamlFiles(`${ROOT}/examples/bookinfo/config`));
    // Its destination rules carry the reviews subsets: a route to v3 takes effect.
    const tmp = `${configDir}/.reviews-v3.tmp`;
    await Deno.writeTextFile(
      tmp,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v3}}]}]
`,
    );
    await Deno.rename(tmp, `${configDir}/reviews-v3.yaml`);
    await eventually(() => steadily("reviews-v3"), 5000, "reviews v3 everywhere");
    assert.match(await page(), /glyphicon-star red/);
  });
});

sampleTest(
  "deno task demo --samples: Istio's gateway and rules, then Istio's routing samples",
  async () => {
    await withDemo(["--samples", SAMPLES], async (configDir) => {
      // Istio's files in place of the demo's, byte for byte.
      const files = yamlFiles(configDir);
      assert.deepEqual(files, [
        "bookinfo-gateway.yaml",
        "destination-rule-all.yaml",
        "services.yaml",
      ]);
      for (const f of ["bookinfo-gateway.yaml", "destination-rule-all.yaml"]) {
        assert.equal(
          await Deno.readTextFile(`${configDir}/${f}`),
          await Deno.readTextFile(`${SAMPLES}/networking/${f}`),
        );
      }

      // Istio's virtual-service-all-v1.yaml: every page shows reviews v1 (no stars).
      await apply("virtual-service-all-v1.yaml", configDir);
      await eventually(() => steadily("reviews-v1"), 5000, "reviews v1 everywhere");
      for (let i = 0; i < 5; i++) {
        const b = await page();
        assert.equal(servedBy(b), "reviews-v1");
        assert.ok(!/glyphicon-star/.test(b), "v1 shows no stars");
      }

      // Istio's virtual-service-reviews-test-v2.yaml: jason sees v2, everyone else v1.
      await apply("virtual-service-reviews-test-v2.yaml", configDir);
      await eventually(() => steadily("reviews-v2", { "end-user": "jason" }), 5000, "jason to v2");
      for (let i = 0; i < 3; i++) {
        const j = await page({ "end-user": "jason" });
        assert.equal(servedBy(j), "reviews-v2");
        assert.match(j, /glyphicon-star black/);
        assert.equal(servedBy(await page()), "reviews-v1");
      }

      // Istio's fault-injection task: virtual-service-ratings-test-abort.yaml makes ratings answer
      // jason with HTTP 500, so his page (reviews v2) says ratings are unavailable.
      await apply("virtual-service-ratings-test-abort.yaml", configDir);
      await eventually(
        async () =>
          (await page({ "end-user": "jason" })).includes(
            "Ratings service is currently unavailable",
          ),
        5000,
        "jason's ratings to fail",
      );
      const j = await page({ "end-user": "jason" });
      assert.equal(servedBy(j), "reviews-v2");
      assert.ok(!/glyphicon-star black/.test(j), "no stars without ratings");
    });
  },
);
