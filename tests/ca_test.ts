/**
 * The embedded CA through the control plane's real signing API and the CLI:
 * refusals, single-use tokens, renewals and a root rotation under steady
 * traffic, and a control plane restart.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { createCsr } from "../ca/csr.ts";
import { TokenIssuer } from "../ca/token.ts";
import { curl, echoServer, eventually, meshRun, serviceEntryYaml, TestMesh } from "./helpers.ts";

const SERVICE = serviceEntryYaml("echo");

/** POSTs to /v1/certificates (HTTP/1.1 over TLS); returns status and parsed body. */
async function sign(
  m: TestMesh,
  body: string,
  token?: string,
): Promise<{ status: number; body: { error?: string; certChain?: string } }> {
  const roots = await Deno.readTextFile(`${m.dataDir}/ca/root-cert.pem`);
  const client = Deno.createHttpClient({ caCerts: [roots], http2: false });
  try {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(`https://127.0.0.1:${m.port}/v1/certificates`, {
      method: "POST",
      headers,
      body,
      client,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : {} };
  } finally {
    client.close();
  }
}

const csrFor = async (sa: string) =>
  (await createCsr(`spiffe://cluster.local/ns/default/sa/${sa}`)).csrPem;

Deno.test("the signing API refuses bad requests with clear errors, and logs each", async () => {
  const m = await TestMesh.start({});
  try {
    const token = await Deno.readTextFile(await m.token("default", "x"));
    const ok = await sign(m, JSON.stringify({ csr: await csrFor("x") }), token);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    const cases: [string, Promise<{ status: number; body: { error?: string } }>, number, RegExp][] =
      [];
    cases.push([
      "CSR for another identity",
      sign(m, JSON.stringify({ csr: await csrFor("admin") }), token),
      400,
      /asks for spiffe:\/\/cluster\.local\/ns\/default\/sa\/admin but the credential allows only .*sa\/x/,
    ]);
    const issuer = await TokenIssuer.loadOrCreate(m.dataDir, false);
    const expired = await issuer.create({
      namespace: "default",
      serviceAccount: "x",
      ttlSeconds: -60,
    });
    cases.push([
      "expired token",
      sign(m, JSON.stringify({ csr: await csrFor("x") }), expired),
      401,
      /expired/,
    ]);
    const admin = (await meshRun(["token", "create", "--admin", `--data-dir=${m.dataDir}`])).stdout
      .trim();
    cases.push([
      "token for another audience",
      sign(m, JSON.stringify({ csr: await csrFor("x") }), admin),
      401,
      /admin token|aud/,
    ]);
    const [h, p, sig] = token.split(".");
    const forged = JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")));
    forged.sa = "admin";
    const tampered = `${h}.${
      btoa(JSON.stringify(forged)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
    }.${sig}`;
    cases.push([
      "tampered token",
      sign(m, JSON.stringify({ csr: await csrFor("admin") }), tampered),
      401,
      /not valid|signature/,
    ]);
    const csr = await csrFor("x");
    const b64 = csr.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    bytes[bytes.length - 5] ^= 0xff; // inside the signature
    const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${
      btoa(String.fromCharCode(...bytes))
    }\n-----END CERTIFICATE REQUEST-----\n`;
    cases.push([
      "CSR whose signature doesn't verify",
      sign(m, JSON.stringify({ csr: broken }), token),
      400,
      /signature does not verify|not a valid/,
    ]);
    cases.push([
      "CSR over 64 KiB",
      sign(m, JSON.stringify({ csr: "A".repeat(70_000) }), token),
      413,
      /over 65536 bytes/,
    ]);
    cases.push([
      "malformed PEM",
      sign(m, JSON.stringify({ csr: "-----BEGIN CERTIFICATE REQUEST-----\nnope\n" }), token),
      400,
      /not a valid PEM/,
    ]);
    cases.push([
      "no credential",
      sign(m, JSON.stringify({ csr: await csrFor("x") })),
      401,
      /no credential/,
    ]);
    for (const [what, pending, status, re] of cases) {
      const r = await pending;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error ?? "", re, what);
    }

    // Single-use: the second use is refused, also after a restart of the control plane.
    const once = (await meshRun([
      "token",
      "create",
      `--data-dir=${m.dataDir}`,
      "--namespace=default",
      "--service-account=once",
      "--single-use",
    ])).stdout.trim();
    assert.equal((await sign(m, JSON.stringify({ csr: await csrFor("once") }), once)).status, 200);
    const again = await sign(m, JSON.stringify({ csr: await csrFor("once") }), once);
    assert.equal(again.status, 401);
    assert.match(again.body.error ?? "", /single-use token was already used/);
    await m.control.stop();
    await m.startControl();
    assert.equal((await sign(m, JSON.stringify({ csr: await csrFor("once") }), once)).status, 401);

    // Every decision is in the audit log (one JSON line each) and in the control plane's log.
    const audit = (await Deno.readTextFile(`${m.dataDir}/ca/audit.log`)).trim().split("\n").map((
      l,
    ) => JSON.parse(l));
    assert.ok(audit.filter((r) => r.event === "issued").length >= 2);
    assert.ok(audit.filter((r) => r.event === "refused").length >= cases.length);
    const issued = audit.find((r) => r.event === "issued");
    for (const k of ["serial", "identity", "expires", "credential"]) assert.ok(issued[k], k);
    assert.match(m.procs[0].output, /ca-audit refused reason=.*asks for/);
  } finally {
    await m.close();
  }
});

/** A server proxy in front of `appPort` and a client proxy; resolves once a request went through. */
async function echoPair(m: TestMesh, appPort: number) {
  const pair = await Promise.all([
    m.sidecar({ name: "b", serviceAccount: "echo", labels: "app=echo", appPort }),
    m.sidecar({ name: "a", serviceAccount: "client", labels: "app=client" }),
  ]);
  await eventually(
    async () =>
      (await curl(["-H", "Host: echo:8080", `http://127.0.0.1:${pair[1].outbound}/`])).status ===
        200,
    10_000,
    "first request",
  );
  return pair;
}

/** Sends requests through `outbound` to `host` until stopped; counts results. */
function steadyTraffic(outbound: number, host: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let stop = false;
  const result = { ok: 0, failed: 0, errors: [] as string[] };
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { host: "127.0.0.1", port: outbound, path: "/", headers: { host }, agent },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) result.ok++;
            else {
              result.failed++;
              result.errors.push(`status ${res.statusCode}`);
            }
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        result.failed++;
        result.errors.push(err.message);
        resolve();
      });
      req.setTimeout(5000, () => req.destroy(new Error("timeout")));
      req.end();
    });
  const loops = Promise.all([0, 1].map(async () => {
    while (!stop) await one();
  }));
  return {
    result,
    async stop() {
      stop = true;
      await loops;
      agent.destroy();
      return result;
    },
  };
}

Deno.test("renewals and a root rotation under steady traffic fail no request", async () => {
  const m = await TestMesh.start({ "s.yaml": SERVICE }, ["--cert-ttl=4s"]);
  const app = echoServer("echo");
  let traffic: ReturnType<typeof steadyTraffic> | undefined;
  try {
    const [b, a] = await echoPair(m, app.port);
    const oldRoot = await Deno.readTextFile(`${m.dataDir}/ca/root-cert.pem`);
    traffic = steadyTraffic(a.outbound, "echo:8080");

    const renewals = (p: typeof b) => (p.proc.output.match(/certificate renewed/g) ?? []).length;
    await eventually(
      () => renewals(b) >= 3 && renewals(a) >= 3,
      20_000,
      "three renewals on both proxies",
    );

    const r = await meshRun(["ca", "rotate-root", `--data-dir=${m.dataDir}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /root rotation started/);
    await m.control.waitFor(/every proxy trusts the new root; it signs from now on/, 20_000);
    await m.control.waitFor(/retiring the previous root/, 20_000);
    const status = await meshRun(["ca", "status", `--data-dir=${m.dataDir}`]);
    assert.match(status.stdout, /rotation: stable/);
    assert.notEqual(await Deno.readTextFile(`${m.dataDir}/ca/root-cert.pem`), oldRoot);
    // Keep going for one more renewal under the new root.
    const after = renewals(b);
    await eventually(() => renewals(b) > after, 10_000, "a renewal after the rotation");

    const res = await traffic.stop();
    traffic = undefined;
    assert.equal(res.failed, 0, `failed requests: ${res.errors.slice(0, 5).join("; ")}`);
    assert.ok(res.ok > 100, `only ${res.ok} requests went through`);
  } finally {
    await traffic?.stop();
    await m.close();
    await app.close();
  }
});

Deno.test("a restarted control plane keeps its root, and proxies keep working across the restart", async () => {
  const m = await TestMesh.start({ "s.yaml": SERVICE });
  const app = echoServer("echo");
  try {
    const [, a] = await echoPair(m, app.port);
    const root = await Deno.readTextFile(`${m.dataDir}/ca/root-cert.pem`);
    await m.control.stop();
    assert.equal(
      (await curl(["-H", "Host: echo:8080", `http://127.0.0.1:${a.outbound}/down`])).status,
      200,
    );
    await m.startControl();
    assert.equal(await Deno.readTextFile(`${m.dataDir}/ca/root-cert.pem`), root);
    // While proxies reconnect, the restarted control plane keeps the registered workloads, so
    // no push takes an endpoint away: every request keeps working.
    for (let i = 0; i < 30; i++) {
      const r = await curl(["-H", "Host: echo:8080", `http://127.0.0.1:${a.outbound}/during-${i}`]);
      assert.equal(r.status, 200, `request ${i} after the restart: ${r.body}`);
    }
    // Both proxies reconnect and the control plane sees them again.
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${m.adminPort}/debug/syncz`);
        return (await r.json()).length === 2;
      },
      20_000,
      "proxies to reconnect",
    );
    assert.equal(
      (await curl(["-H", "Host: echo:8080", `http://127.0.0.1:${a.outbound}/up`])).status,
      200,
    );
    // New proxies still bootstrap with tokens pinned to the same root.
    await m.sidecar({ name: "c", serviceAccount: "c", labels: "app=c" });
  } finally {
    await m.close();
    await app.close();
  }
});

Deno.test("mesh ca init, issue, root and status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-ca-cli-" });
  try {
    const init = await meshRun(["ca", "init", `--data-dir=${dir}`, "--key-type=rsa-2048"]);
    assert.equal(init.code, 0, init.stderr);
    const out = `${dir}/client`;
    const issue = await meshRun([
      "ca",
      "issue",
      `--data-dir=${dir}`,
      "--namespace=default",
      "--service-account=tester",
      `--out=${out}`,
      "--ttl=1h",
    ]);
    assert.equal(issue.code, 0, issue.stderr);
    assert.equal((await Deno.stat(`${out}/key.pem`)).mode! & 0o777, 0o600);
    const verify = await new Deno.Command("openssl", {
      args: ["verify", "-CAfile", `${out}/root-cert.pem`, `${out}/cert-chain.pem`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(verify.code, 0, new TextDecoder().decode(verify.stderr));
    const text = new TextDecoder().decode(
      (await new Deno.Command("openssl", {
        args: ["x509", "-in", `${out}/cert-chain.pem`, "-noout", "-text"],
        stdout: "piped",
      }).output()).stdout,
    );
    assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/tester/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    const root = await meshRun(["ca", "root", `--data-dir=${dir}`]);
    assert.match(root.stdout, /^-----BEGIN CERTIFICATE-----/);
    const status = await meshRun(["ca", "status", `--data-dir=${dir}`]);
    assert.match(status.stdout, /rotation: stable/);
    assert.match(status.stdout, /certificates issued: 1/);
    const missing = await meshRun(["ca", "status", `--data-dir=${dir}/nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no CA in .*mesh ca init/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
