/**
 * `mesh analyze` as users run it: istioctl's output lines, exit codes, `-o json|yaml`,
 * standard input, directories, thresholds and usage errors.
 */
import assert from "node:assert/strict";
import { meshRun, SAMPLES } from "./helpers.ts";
import { sampleTest } from "./samples.ts";
import { parseYaml } from "../util/yaml.ts";

const KUBE = `${SAMPLES}/platform-kube/bookinfo.yaml`;
const NET = `${SAMPLES}/networking`;

const BAD_ROUTE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews2
`;

Deno.test("mesh analyze: help and usage list the command and its flags", async () => {
  const usage = await meshRun(["--help"]);
  assert.match(usage.stdout, /mesh analyze FILE\|DIR\|- \.\.\./);
  for (const args of [["help", "analyze"], ["analyze", "--help"]]) {
    const h = await meshRun(args);
    assert.equal(h.code, 0, args.join(" "));
    for (const flag of ["--namespace", "--output", "--output-threshold", "--failure-threshold"]) {
      assert.ok(h.stdout.includes(flag), `${args.join(" ")}: ${flag}`);
    }
    assert.match(h.stdout, /docs\/analyze\.md/);
  }
});

sampleTest(
  "mesh analyze: Bookinfo routes, rules and services together: only the mysql subsets, exit 1",
  async () => {
    const r = await meshRun([
      "analyze",
      `${NET}/virtual-service-all-v1.yaml`,
      `${NET}/destination-rule-all.yaml`,
      KUBE,
    ]);
    // The ratings v2-mysql(-vm) workloads are in sample files not read here (IST0173, as istioctl).
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(
      r.stdout.trim().split("\n").map((l) => l.replace(/ \(.*?\)/, "").slice(0, 42)),
      ["Error [IST0173] The Subset v2-mysql define", "Error [IST0173] The Subset v2-mysql-vm def"],
    );
  },
);

sampleTest("mesh analyze: errors print istioctl's lines and exit 1", async () => {
  const r = await meshRun(["analyze", `${NET}/bookinfo-gateway.yaml`]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stdout,
    `Error [IST0101] (VirtualService default/bookinfo ${NET}/bookinfo-gateway.yaml:41) ` +
      'Referenced host not found: "productpage"\n',
  );
  assert.match(
    r.stderr,
    /^Error: Analyzers found issues when analyzing .*bookinfo-gateway\.yaml\./,
  );
  assert.match(r.stderr, /See https:\/\/istio\.io\/latest\/docs\/reference\/config\/analysis /);

  // With the services the host exists.
  const ok = await meshRun(["analyze", `${NET}/bookinfo-gateway.yaml`, KUBE]);
  assert.equal(ok.code, 0, ok.stdout);
});

sampleTest(
  "mesh analyze: only warnings exit 0; --failure-threshold and --output-threshold",
  async () => {
    const rules = `${NET}/destination-rule-all.yaml`;
    const warn = await meshRun(["analyze", rules]);
    assert.equal(warn.code, 0);
    const lines = warn.stdout.trim().split("\n");
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => l.startsWith("Warning [IST0174] (DestinationRule default/")));
    assert.equal(warn.stderr, "");

    const strict = await meshRun(["analyze", "--failure-threshold=Warning", rules]);
    assert.equal(strict.code, 1);
    const quiet = await meshRun(["analyze", "--output-threshold", "Error", rules]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stdout, "");
  },
);

sampleTest(
  "mesh analyze -o json: a list of messages with code, level, origin, file, line",
  async () => {
    for (const flag of [["-o", "json"], ["-ojson"], ["--output=json"]]) {
      const r = await meshRun(["analyze", ...flag, "-"], { stdin: BAD_ROUTE });
      assert.equal(r.code, 1, flag.join(" "));
      assert.deepEqual(JSON.parse(r.stdout), [{
        code: "IST0101",
        name: "ReferencedResourceNotFound",
        level: "Error",
        origin: "VirtualService default/reviews",
        reference: "<stdin>:11",
        message: 'Referenced host not found: "reviews2"',
        documentationUrl: "https://istio.io/latest/docs/reference/config/analysis/ist0101/",
        resource: { kind: "VirtualService", namespace: "default", name: "reviews" },
        file: "<stdin>",
        line: 11,
      }]);
      assert.equal(r.stderr, "");
    }
    const none = await meshRun(["analyze", "-o", "json", `${NET}/bookinfo-gateway.yaml`, KUBE]);
    assert.equal(none.code, 0);
    assert.deepEqual(JSON.parse(none.stdout), []);
  },
);

Deno.test("mesh analyze -o yaml and --namespace for resources without one", async () => {
  const r = await meshRun(["analyze", "-o=yaml", "--namespace", "shop", "-"], { stdin: BAD_ROUTE });
  assert.equal(r.code, 1);
  const records = parseYaml(r.stdout) as Record<string, unknown>[];
  assert.equal(records.length, 1);
  assert.equal(records[0].origin, "VirtualService shop/reviews");
  assert.equal(records[0].code, "IST0101");
  assert.equal(records[0].line, 11);
});

Deno.test("mesh analyze: directories, --recursive, and invalid files (IST0106)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/route.yaml`, BAD_ROUTE);
    await Deno.writeTextFile(`${dir}/notes.txt`, "not yaml: [");
    await Deno.writeTextFile(
      `${dir}/sub/svc.yaml`,
      "apiVersion: v1\nkind: Service\nmetadata: {name: reviews2}\nspec: {ports: [{port: 9080}]}\n",
    );
    const flat = await meshRun(["analyze", dir]);
    assert.equal(flat.code, 1);
    assert.match(
      flat.stdout,
      /\[IST0101\].*route\.yaml:11\) Referenced host not found: "reviews2"/,
    );
    const deep = await meshRun(["analyze", "--recursive", dir]);
    assert.equal(deep.code, 0, deep.stdout);

    await Deno.writeTextFile(`${dir}/bad.yaml`, BAD_ROUTE.replace("reviews2", "Bad_Host"));
    const bad = await meshRun(["analyze", `${dir}/bad.yaml`]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stdout,
      /^Error \[IST0106\] \(VirtualService default\/reviews .*bad\.yaml:11\) Schema validation error: spec\.http\[0\]\.route\[0\]\.destination\.host: invalid destination host "Bad_Host"/m,
    );
    // Still analyzed, as istioctl does with a resource that fails validation.
    assert.match(bad.stdout, /^Error \[IST0101\] .*Referenced host not found: "Bad_Host"$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mesh analyze: usage errors print one line and exit 2", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const cases: [string[], RegExp][] = [
      [["analyze"], /needs at least one FILE, DIR or -/],
      [["analyze", "-o", "xml", "x.yaml"], /--output "xml": must be one of log, json, yaml/],
      [["analyze", "--namespace=Bad_NS", "x.yaml"], /--namespace "Bad_NS" is not a DNS label/],
      [["analyze", "/nonexistent/x.yaml"], /\/nonexistent\/x\.yaml: no such file or directory/],
      [["analyze", "--bogus", "x.yaml"], /unknown flag --bogus/],
      [
        ["analyze", "--failure-threshold=fatal", "x"],
        /--failure-threshold "fatal": must be one of/,
      ],
      [["analyze", empty], /no \.yaml, \.yml or \.json files in/],
    ];
    for (const [args, re] of cases) {
      const r = await meshRun(args);
      assert.equal(r.code, 2, `${args.join(" ")} → ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  } finally {
    await Deno.remove(empty);
  }
});
