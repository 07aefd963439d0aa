/**
 * The `mesh` command line as users meet it: help, version, usage errors,
 * environment variables, validate and token create.
 */
import assert from "node:assert/strict";
import { meshRun, SAMPLES } from "./helpers.ts";
import { sampleTest } from "./samples.ts";

Deno.test("mesh version and help", async () => {
  const v = await meshRun(["version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^mesh \d+\.\d+\.\d+/);
  const h = await meshRun(["--help"]);
  assert.equal(h.code, 0);
  for (const cmd of ["start", "validate", "token create", "version"]) {
    assert.ok(h.stdout.includes(cmd));
  }
  const hs = await meshRun(["help", "start"]);
  assert.equal(hs.code, 0);
  assert.match(hs.stdout, /--config-dir/);
  assert.match(hs.stdout, /MESH_CONFIG_DIR/);
  const ht = await meshRun(["token", "create", "--help"]);
  assert.equal(ht.code, 0);
  assert.match(ht.stdout, /--service-account/);
});

Deno.test("usage errors print one line naming the problem and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["start", "--mode=control", "--config-dir=/tmp", "--bogus=1"], /unknown flag --bogus/],
    [["start", "--mode=sideways"], /--mode "sideways": must be one of control, proxy, gateway/],
    [
      ["start", "--mode=proxy", "--token-file=t", "--admin-port=70000"],
      /--admin-port "70000": must be a port/,
    ],
    [
      ["start", "--mode=proxy", "--token-file=t", "--labels=app"],
      /--labels "app": must be key=value/,
    ],
    [
      ["start", "--mode=control", "--config-dir=/tmp", "--cert-ttl=soon"],
      /--cert-ttl "soon": must be a duration/,
    ],
    [["start", "--mode=proxy"], /missing --token-file \(or MESH_TOKEN_FILE\)/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["validate"], /needs at least one FILE/],
    [
      ["token", "create", "--namespace=Bad_NS", "--service-account=x"],
      /--namespace "Bad_NS" is not a DNS label/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await meshRun(args);
    assert.equal(r.code, 2, `${args.join(" ")} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(
      r.stderr.trim().split("\n").length,
      1,
      `one line for ${args.join(" ")}: ${r.stderr}`,
    );
  }
});

Deno.test("flags come from MESH_* environment variables too", async () => {
  const r = await meshRun(["start", "--mode=proxy", "--token-file=t"], {
    env: { MESH_ADMIN_PORT: "nope" },
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /MESH_ADMIN_PORT "nope": must be a port/);
  const missing = await meshRun(["start"], { env: { MESH_MODE: "control" } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs --config-dir DIR \(or MESH_CONFIG_DIR\)/);
});

sampleTest(
  "mesh validate accepts Istio's samples and rejects bad files with file:line",
  async () => {
    const ok = await meshRun(["validate", `${SAMPLES}/networking`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok: \d+ resource\(s\) valid/);
    assert.match(ok.stderr, /warning: .*protocol: HTTPS is not supported by mesh yet/);

    const bad = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 30
    - destination: {host: reviews, subset: v2}
      weight: -30
`;
    const r = await meshRun(["validate", "-"], { stdin: bad });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /<stdin>:\d+:\d+: error: VirtualService default\/reviews: spec\.http\[0\]\.route/,
    );

    const missing = await meshRun(["validate", "/nonexistent/file.yaml"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file/);
  },
);

Deno.test("mesh token create explains a missing CA", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await meshRun([
      "token",
      "create",
      `--data-dir=${dir}`,
      "--namespace=default",
      "--service-account=x",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no CA in .*start the control plane with --data-dir/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control mode refuses a missing config dir with a clear message", async () => {
  const r = await meshRun(["start", "--mode=control", "--config-dir=/nonexistent/mesh-config"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--config-dir \/nonexistent\/mesh-config does not exist/);
});
