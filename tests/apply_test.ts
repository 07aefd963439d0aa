/**
 * Managing configuration through the control plane: the admin API and `mesh apply`, `get`,
 * `delete`, `status`, against a real control plane on loopback.
 */
import assert from "node:assert/strict";
import { parseResources } from "../api/resources.ts";
import { parseYaml } from "../util/yaml.ts";
import { TokenIssuer } from "../ca/token.ts";
import { startControl } from "../control/control.ts";
import { MemoryStore } from "../control/store/memory.ts";
import { curl, eventually, meshRun, TestMesh } from "./helpers.ts";

const vs = (name: string, subset = "v1", namespace?: string) =>
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}${namespace ? `\n  namespace: ${namespace}` : ""}
spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}, subset: ${subset}}
`;

const dr = (name: string) =>
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
spec:
  host: ${name}
  subsets:
  - {name: v1, labels: {version: v1}}
`;

const gw = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
`;

const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: httpbin
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - {number: 80, name: http, protocol: HTTP}
`;

/** A control plane plus an admin token file and the env the CLI needs. */
async function setup(files: Record<string, string> = {}) {
  const m = await TestMesh.start(files);
  const r = await meshRun(["token", "create", "--admin", `--data-dir=${m.dataDir}`, "--ttl=1h"]);
  assert.equal(r.code, 0, r.stderr);
  const tokenFile = `${m.dir}/admin.token`;
  await Deno.writeTextFile(tokenFile, r.stdout.trim());
  const server = `http://127.0.0.1:${m.adminPort}`;
  const env = { MESH_SERVER: server, MESH_TOKEN_FILE: tokenFile };
  const token = r.stdout.trim();
  const api = async (method: string, path: string, body?: string, auth = `Bearer ${token}`) => {
    const res = await fetch(`${server}${path}`, {
      method,
      body,
      headers: auth ? { authorization: auth } : {},
    });
    return { status: res.status, json: await res.json() };
  };
  return { m, env, token, tokenFile, server, api };
}

/** Every file under `dir`, relative, sorted. */
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

/** Path → content of every file under `dir`. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await listing(dir)) out[f] = await Deno.readTextFile(`${dir}/${f}`);
  return out;
}

Deno.test("admin API: missing, bad and bootstrap tokens get 401 with a clear message", async () => {
  const { m, api, server, token } = await setup();
  try {
    const none = await api("GET", "/apis/v1/resources", undefined, "");
    assert.equal(none.status, 401);
    assert.match(none.json.error, /no credential: send Authorization: Bearer <admin token>/);
    assert.match(none.json.error, /mesh token create --admin/);

    const garbage = await api("GET", "/apis/v1/resources", undefined, "Bearer not.a.token");
    assert.equal(garbage.status, 401);
    assert.match(garbage.json.error, /admin token is not valid/);

    const basic = await api("GET", "/apis/v1/resources", undefined, "Basic YWRtaW46YWRtaW4=");
    assert.equal(basic.status, 401);
    assert.match(basic.json.error, /Authorization must be "Bearer <admin token>"/);

    const bootstrap = (await Deno.readTextFile(await m.token("default", "reviews"))).trim();
    const boot = await api("POST", "/apis/v1/apply", vs("reviews"), `Bearer ${bootstrap}`);
    assert.equal(boot.status, 401);
    assert.match(boot.json.error, /this is a bootstrap token \(for proxies\), not an admin token/);

    const expired = await meshRun([
      "token",
      "create",
      "--admin",
      `--data-dir=${m.dataDir}`,
      "--ttl=1ms",
    ]);
    assert.equal(expired.code, 0, expired.stderr);
    const old = await api(
      "GET",
      "/apis/v1/resources",
      undefined,
      `Bearer ${expired.stdout.trim()}`,
    );
    assert.equal(old.status, 401);
    assert.match(old.json.error, /admin token has expired/);

    // A token from another control plane's key is refused.
    const other = await setup();
    try {
      const foreign = await api("GET", "/apis/v1/resources", undefined, `Bearer ${other.token}`);
      assert.equal(foreign.status, 401);
      assert.match(foreign.json.error, /admin token is not valid/);
    } finally {
      await other.m.close();
    }

    // The other way round: the certificate endpoint refuses an admin token.
    const csr = await curl([
      "-k",
      "-X",
      "POST",
      "-H",
      `authorization: Bearer ${token}`,
      "--data",
      '{"csr": "x"}',
      `https://127.0.0.1:${m.port}/v1/certificates`,
    ]);
    assert.equal(csr.status, 401, csr.body);
    assert.match(csr.body, /this is an admin token/);

    // Refused writes wrote nothing; the admin token works.
    assert.deepEqual(await listing(m.configDir), []);
    const ok = await api("GET", "/apis/v1/resources");
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json.items, []);
    await m.control.waitFor(/admin-audit refused .*bootstrap token/);
    // The debug pages stay open (loopback only).
    assert.equal(
      (await fetch(`${server}/debug/configz`).then((r) => r.json())).store.backend,
      "file",
    );
  } finally {
    await m.close();
  }
});

Deno.test("mesh apply, get and delete: kubectl-style output and exit codes", async () => {
  const { m, env } = await setup();
  try {
    const file = `${m.dir}/bookinfo.yaml`;
    await Deno.writeTextFile(
      file,
      [vs("reviews"), dr("reviews"), gw, se, vs("reviews", "v1", "prod")].join("---\n"),
    );
    const created = await meshRun(["apply", "-f", file], { env });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(
      created.stdout,
      [
        "virtualservice.networking.istio.io/reviews created",
        "destinationrule.networking.istio.io/reviews created",
        "gateway.networking.istio.io/bookinfo-gateway created",
        "serviceentry.networking.istio.io/httpbin created",
        "virtualservice.networking.istio.io/reviews created",
        "",
      ].join("\n"),
    );
    assert.deepEqual(await listing(m.configDir), [
      "default/destinationrule-reviews.yaml",
      "default/gateway-bookinfo-gateway.yaml",
      "default/serviceentry-httpbin.yaml",
      "default/virtualservice-reviews.yaml",
      "prod/virtualservice-reviews.yaml",
    ]);

    const again = await meshRun(["apply", "-f", file], { env });
    assert.equal(again.code, 0);
    assert.equal(again.stdout.match(/ unchanged$/gm)?.length, 5);

    // Reading stdin, with -n for resources that name no namespace.
    const changed = await meshRun(["apply", "-n", "prod", "-f", "-"], {
      env,
      stdin: vs("reviews", "v2"),
    });
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout, "virtualservice.networking.istio.io/reviews configured\n");
    assert.match(
      await Deno.readTextFile(`${m.configDir}/prod/virtualservice-reviews.yaml`),
      /subset: v2/,
    );

    // Tables, per kind, with kind names in any form.
    const table = await meshRun(["get", "virtualservices"], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout, 'NAME      GATEWAYS   HOSTS\nreviews              ["reviews"]\n');
    const all = await meshRun(["get", "VS", "-A"], { env });
    assert.equal(
      all.stdout,
      'NAMESPACE   NAME      GATEWAYS   HOSTS\ndefault     reviews              ["reviews"]\n' +
        'prod        reviews              ["reviews"]\n',
    );
    assert.match(
      (await meshRun(["get", "dr"], { env })).stdout,
      /^NAME +HOST\nreviews +reviews\n$/,
    );
    assert.match((await meshRun(["get", "gw"], { env })).stdout, /bookinfo-gateway +1\n$/);
    assert.match(
      (await meshRun(["get", "se"], { env })).stdout,
      /^NAME +HOSTS +LOCATION +RESOLUTION\nhttpbin +\["httpbin.org"\] +MESH_EXTERNAL +DNS\n$/,
    );
    assert.equal(
      (await meshRun(["get", "serviceentries.networking.istio.io", "-o", "name"], { env })).stdout,
      "serviceentry.networking.istio.io/httpbin\n",
    );

    // -o yaml and -o json: one resource as itself, several as a List, both valid Istio again.
    const one = await meshRun(["get", "vs", "reviews", "-n", "prod", "-o", "yaml"], { env });
    assert.equal(one.code, 0, one.stderr);
    const doc = parseYaml(one.stdout) as {
      metadata: { namespace: string };
      spec: { http: { route: { destination: { subset: string } }[] }[] };
    };
    assert.equal(doc.metadata.namespace, "prod");
    assert.equal(doc.spec.http[0].route[0].destination.subset, "v2");
    assert.deepEqual(parseResources(one.stdout, "get.yaml").diagnostics, []);
    const list = await meshRun(["get", "virtualservice", "-A", "-o", "json"], { env });
    const parsed = JSON.parse(list.stdout);
    assert.equal(parsed.kind, "List");
    assert.equal(parsed.items.length, 2);
    assert.equal(parseResources(list.stdout, "get.json").resources.length, 2);
    const slash = await meshRun(["get", "vs/reviews", "-o=json"], { env });
    assert.equal(JSON.parse(slash.stdout).metadata.name, "reviews");

    // Nothing there, not found, unknown kind, bad output.
    const empty = await meshRun(["get", "we"], { env });
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, "");
    assert.match(empty.stderr, /No resources found in default namespace/);
    const missing = await meshRun(["get", "vs", "nope"], { env });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /NotFound.*virtualservices\.networking\.istio\.io "nope" not found/,
    );
    const unknown = await meshRun(["get", "pods"], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown kind "pods"; use one of VirtualService \(vs\)/);
    assert.equal((await meshRun(["get", "vs", "-o", "wide"], { env })).code, 2);

    // delete -f: every resource of the file, files removed; again: not found.
    const deleted = await meshRun(["delete", "-f", file], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /^virtualservice\.networking\.istio\.io\/reviews deleted$/m);
    assert.equal(deleted.stdout.match(/ deleted$/gm)?.length, 5);
    assert.deepEqual(await listing(m.configDir), []);
    const twice = await meshRun(["delete", "vs", "reviews"], { env });
    assert.equal(twice.code, 1);
    assert.match(
      twice.stderr,
      /Error from server \(NotFound\): virtualservices\.networking\.istio\.io "reviews" not found/,
    );
    assert.equal(
      (await meshRun(["delete", "vs", "reviews", "--ignore-not-found"], { env })).code,
      0,
    );

    // Usage errors exit 2.
    assert.equal((await meshRun(["apply"], { env })).code, 2);
    assert.equal((await meshRun(["delete"], { env })).code, 2);
    assert.equal((await meshRun(["apply", "-f", `${m.dir}/nope.yaml`], { env })).code, 2);
    // No token: refused, exit 1, with a hint.
    const noToken = await meshRun(["get", "vs"], { env: { MESH_SERVER: env.MESH_SERVER } });
    assert.equal(noToken.code, 1);
    assert.match(
      noToken.stderr,
      /unauthorized: no credential.*pass --token-file or set MESH_TOKEN_FILE/,
    );
    // Nothing listening: exit 1 with a hint.
    const down = await meshRun(["get", "vs", "--server=http://127.0.0.1:1"], { env });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /can't reach the control plane at http:\/\/127\.0\.0\.1:1/);
  } finally {
    await m.close();
  }
});

Deno.test("an invalid resource is refused with its diagnostics and nothing is written", async () => {
  const { m, env, api } = await setup({ "keep.yaml": vs("ratings") });
  try {
    const before = await contents(m.configDir);
    const bad = vs("reviews").replace("subset: v1}", "subset: v1, weight: 40}");
    // The API: 400, the diagnostics listed, nothing written; a valid resource beside it neither.
    const r = await api("POST", "/apis/v1/apply", dr("details") + "---\n" + bad);
    assert.equal(r.status, 400);
    assert.equal(r.json.error, "1 error(s); nothing was applied");
    assert.equal(r.json.diagnostics.length, 1);
    assert.match(
      r.json.diagnostics[0],
      /^<request>:\d+:\d+: error: VirtualService default\/reviews: spec\.http\[0\]\.route\[0\]\.destination\.weight: unknown field "weight"/,
    );
    // A JSON body too.
    const json = await api(
      "POST",
      "/apis/v1/apply",
      JSON.stringify({
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name: "x" },
        spec: {},
      }),
    );
    assert.equal(json.status, 400);
    assert.match(json.json.diagnostics[0], /spec\.host: missing required field "host"/);
    const nothing = await api(
      "POST",
      "/apis/v1/apply",
      "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n",
    );
    assert.equal(nothing.status, 400);
    assert.match(nothing.json.error, /no Istio networking resources/);
    // The CLI: file:line diagnostics, exit 1, nothing sent.
    const file = `${m.dir}/bad.yaml`;
    await Deno.writeTextFile(file, bad);
    const cli = await meshRun(["apply", "-f", file], { env });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /bad\.yaml:9:\d+: error: VirtualService default\/reviews: .*weight/);
    assert.match(cli.stderr, /1 error\(s\); nothing was applied/);
    assert.equal(cli.stdout, "");
    assert.deepEqual(await contents(m.configDir), before);
    const listed = await api("GET", "/apis/v1/resources?kind=vs");
    assert.deepEqual(
      listed.json.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ["ratings"],
    );
  } finally {
    await m.close();
  }
});

Deno.test("20 concurrent applies, some through the real CLI, lose nothing", async () => {
  const { m, env, api } = await setup();
  try {
    const viaCli = new Set([0, 3, 7, 11, 15, 19]);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const text = vs(`svc-${i}`, `v${i}`) + "---\n" + dr(`svc-${i}`);
        if (viaCli.has(i)) {
          const file = `${m.dir}/svc-${i}.yaml`;
          await Deno.writeTextFile(file, text);
          const r = await meshRun(["apply", "-f", file], { env });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`virtualservice.networking.istio.io/svc-${i} created`));
          return "cli";
        }
        const r = await api("POST", "/apis/v1/apply", text);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(r.json.results.map((x: { action: string }) => x.action), [
          "created",
          "created",
        ]);
        return "api";
      }),
    );
    console.log(
      `20 concurrent applies (${results.filter((r) => r === "cli").length} via the CLI) took ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
    const listed = await api("GET", "/apis/v1/resources");
    assert.equal(listed.json.items.length, 40);
    const files = await listing(m.configDir);
    assert.equal(files.length, 40);
    for (const f of files) {
      const parsed = parseResources(await Deno.readTextFile(`${m.configDir}/${f}`), f);
      assert.deepEqual(parsed.diagnostics, [], f);
      assert.equal(parsed.resources.length, 1, f);
    }
    const names = await meshRun(["get", "vs", "-o", "name"], { env });
    assert.equal(names.stdout.trim().split("\n").length, 20);
    // The control plane serves them: its snapshot has every resource.
    await eventually(
      async () => {
        const z = await fetch(`http://127.0.0.1:${m.adminPort}/debug/configz`).then((r) =>
          r.json()
        );
        return z.resources.length === 40;
      },
      5000,
      "the control plane to serve all 40 resources",
    );
  } finally {
    await m.close();
  }
});

Deno.test("delete through the API by documents or keys; a broken file is not rewritten", async () => {
  const { m, api } = await setup({ "team.yaml": `# team file\n${vs("a")}---\n${vs("b")}` });
  try {
    const byDoc = await api("POST", "/apis/v1/delete", vs("a"));
    assert.equal(byDoc.status, 200);
    assert.deepEqual(
      byDoc.json.results.map((r: { name: string; action: string }) => [r.name, r.action]),
      [["a", "deleted"]],
    );
    assert.match(await Deno.readTextFile(`${m.configDir}/team.yaml`), /name: b/);
    const byKey = await api(
      "POST",
      "/apis/v1/delete",
      JSON.stringify({ keys: [{ kind: "vs", name: "b" }, { kind: "dr", name: "zz" }] }),
    );
    assert.deepEqual(
      byKey.json.results.map((r: { name: string; action: string }) => [r.name, r.action]),
      [["b", "deleted"], ["zz", "notfound"]],
    );
    assert.deepEqual(await listing(m.configDir), []);
    const badKind = await api(
      "POST",
      "/apis/v1/delete",
      "apiVersion: networking.istio.io/v1\nkind: Bogus\nmetadata: {name: x}\n",
    );
    assert.equal(badKind.status, 400);
    assert.match(badKind.json.diagnostics[0], /kind "Bogus" is not one mesh stores/);

    // A resource whose file is broken now: 409, the file untouched.
    await Deno.writeTextFile(`${m.configDir}/c.yaml`, vs("c"));
    await eventually(
      async () =>
        (await api("GET", "/apis/v1/resources?kind=vs&namespace=default&name=c")).status === 200,
      5000,
      "c to load",
    );
    const broken = vs("c").replace("hosts:", "hostz:");
    await Deno.writeTextFile(`${m.configDir}/c.yaml`, broken);
    await m.control.waitFor(
      /config file rejected; its last good version keeps serving file=c\.yaml/,
    );
    const conflict = await api("POST", "/apis/v1/apply", vs("c", "v2"));
    assert.equal(conflict.status, 409);
    assert.match(
      conflict.json.error,
      /c\.yaml fails validation now.*fix or remove that file first/,
    );
    assert.equal(await Deno.readTextFile(`${m.configDir}/c.yaml`), broken);
  } finally {
    await m.close();
  }
});

Deno.test("mesh status lists rejected files, diagnostics and proxies", async () => {
  const { m, env } = await setup({ "good.yaml": vs("reviews"), "broken.yaml": "kind: [" });
  try {
    await m.sidecar({ name: "a", serviceAccount: "a", labels: "app=a" });
    const r = await eventually(
      async () => {
        const s = await meshRun(["status"], { env });
        return s.code === 0 && /SYNCED/.test(s.stdout) && s;
      },
      10_000,
      "the proxy to show as synced",
    );
    assert.match(r.stdout, /^control plane: http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /^config store: +file .*\/config, revision \d+, 1 resource\(s\)$/m);
    assert.match(r.stdout, /^REJECTED FILE +ERRORS +SERVING\nbroken\.yaml +1 +nothing$/m);
    assert.match(r.stdout, /^DIAGNOSTICS\nbroken\.yaml:\d+:\d+: error: invalid YAML/m);
    assert.match(r.stdout, /^PROXY +MODE +IDENTITY +SENT +ACKED +STATUS +CONNECTED$/m);
    assert.match(r.stdout, /sidecar +default\/a +\S+ +\S+ +SYNCED/);
    // status needs no token, and says when the control plane is down.
    const down = await meshRun(["status", "--server=http://127.0.0.1:1"]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /can't reach the control plane/);
  } finally {
    await m.close();
  }
});

Deno.test("the control plane serves any ConfigStore: a MemoryStore through the admin API", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-test-" });
  const store = new MemoryStore();
  const control = await startControl({
    store,
    dataDir: `${dir}/data`,
    listen: "127.0.0.1:0",
    adminPort: 0,
  });
  try {
    const token = await (await TokenIssuer.loadOrCreate(`${dir}/data`, false)).createAdmin();
    const res = await fetch(`http://127.0.0.1:${control.adminPort}/apis/v1/apply`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: vs("reviews") + "---\n" + dr("reviews"),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).results.length, 2);
    assert.equal(store.list().length, 2);
    await eventually(
      () => control.snapshot()?.virtualServices.length === 1,
      5000,
      "the snapshot to pick up the VirtualService",
    );
    const z = await fetch(`http://127.0.0.1:${control.adminPort}/debug/configz`).then((r) =>
      r.json()
    );
    assert.equal(z.store.backend, "memory");
  } finally {
    await control.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
