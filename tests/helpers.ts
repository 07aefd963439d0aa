/**
 * Test helpers: start real `mesh` processes on ephemeral loopback ports, wait
 * on readiness (never fixed sleeps), and clean everything up.
 * @module
 */
import { CertificateAuthority } from "../ca/ca.ts";
import { denoRunArgs } from "../util/v8_flags.ts";
export { freePort } from "../util/free_port.ts";

/** Repository root, for spawning main.ts. */
export const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/** Istio's Bookinfo samples (`$MESH_ISTIO_SAMPLES` or ../shared/istio-samples; see samples.ts). */
export { BOOKINFO as SAMPLES, samplesAvailable, sampleTest, withoutSamples } from "./samples.ts";

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr}` : ""}`,
  );
}

/** How a {@linkcode Proc} (or {@linkcode mesh}) is run. */
export interface ProcOptions {
  /**
   * A network namespace (a name in `ip netns list`) to run in, through `ip netns exec <netns>`
   * (which execs the command, so signals reach it); see tests/topology.ts.
   */
  netns?: string;
}

/** `cmd` and `args`, wrapped in `ip netns exec <netns>` when `opts.netns` is set. */
function inNetns(cmd: string, args: string[], opts: ProcOptions): [string, string[]] {
  return opts.netns ? ["ip", ["netns", "exec", opts.netns, cmd, ...args]] : [cmd, args];
}

/** A child process with its output captured. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly name: string;
  output = "";
  #done: Promise<Deno.CommandStatus>;
  #listeners: Array<() => void> = [];

  constructor(
    name: string,
    cmd: string,
    args: string[],
    env: Record<string, string> = {},
    opts: ProcOptions = {},
  ) {
    this.name = name;
    [cmd, args] = inNetns(cmd, args, opts);
    this.child = new Deno.Command(cmd, {
      args,
      env: { MESH_LOG_LEVEL: Deno.env.get("MESH_LOG_LEVEL") ?? "info", NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of s) {
        this.output += dec.decode(chunk, { stream: true });
        for (const l of this.#listeners) l();
      }
    };
    const p1 = pump(this.child.stdout);
    const p2 = pump(this.child.stderr);
    this.#done = Promise.all([p1, p2]).then(() => this.child.status);
  }

  /** Waits for `re` to appear in the output. */
  waitFor(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.match(re);
        if (m) {
          cleanup();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`${this.name}: timed out waiting for ${re}\n--- output ---\n${this.output}`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== check);
      };
      this.#listeners.push(check);
      check();
    });
  }

  /** Sends SIGTERM (then SIGKILL after 5 s) and waits for exit. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    const s = await this.#done;
    clearTimeout(t);
    return s;
  }

  /** Resolves when the process exits. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#done;
  }
}

/** Runs `mesh` (main.ts) as a child process (in `opts.netns` when set). */
export function mesh(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  opts: ProcOptions = {},
): Proc {
  return new Proc(name, Deno.execPath(), [...denoRunArgs(`${ROOT}/main.ts`), ...args], env, opts);
}

/** Runs `mesh` to completion (in `opts.netns` when set); returns exit code and output. */
export async function meshRun(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string> } & ProcOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, cmdArgs] = inNetns(
    Deno.execPath(),
    [...denoRunArgs(`${ROOT}/main.ts`), ...args],
    opts,
  );
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: { NO_COLOR: "1", ...(opts.env ?? {}) },
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A request through curl (a real client); returns status, body and response headers. */
export async function curl(
  args: string[],
): Promise<{ status: number; body: string; stderr: string; headers: Record<string, string> }> {
  const mark = "\n@@curl-result@@";
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "10",
      "-o",
      "-",
      "-w",
      `${mark}%{http_code} %{header_json}`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const i = text.lastIndexOf(mark);
  const tail = text.slice(i + mark.length);
  const space = tail.indexOf(" ");
  // Response headers, names lowercase, repeated ones joined with ", ".
  const headers: Record<string, string> = {};
  try {
    const json = JSON.parse(tail.slice(space + 1)) as Record<string, string[]>;
    for (const [k, v] of Object.entries(json)) headers[k.toLowerCase()] = v.join(", ");
  } catch { /* no response */ }
  return {
    status: Number(tail.slice(0, space)),
    body: text.slice(0, i),
    stderr: new TextDecoder().decode(out.stderr),
    headers,
  };
}

/** A control plane started for a test, with helpers to make proxies. */
export class TestMesh {
  readonly dir: string;
  readonly configDir: string;
  readonly dataDir: string;
  /** The control plane's port (learnt from its log on first start; 0 before). */
  port = 0;
  /** The control plane's admin port (learnt from its log on first start; 0 before). */
  adminPort = 0;
  readonly procs: Proc[] = [];
  control!: Proc;

  private constructor(dir: string) {
    this.dir = dir;
    this.configDir = `${dir}/config`;
    this.dataDir = `${dir}/data`;
  }

  /** Creates a temp dir with `files` in its config dir and starts the control plane. */
  static async start(files: Record<string, string> = {}, extra: string[] = []): Promise<TestMesh> {
    const m = new TestMesh(await Deno.makeTempDir({ prefix: "mesh-test-" }));
    await Deno.mkdir(m.configDir);
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${m.configDir}/${name}`, text);
    }
    m.#extra = extra;
    await m.startControl();
    return m;
  }

  #extra: string[] = [];

  /**
   * (Re)starts the control plane on the same data dir. The first start binds port 0
   * (the kernel's pick, read back from the log), so parallel processes never race for
   * a port chosen in advance; restarts reuse the ports learnt then.
   */
  async startControl(): Promise<Proc> {
    this.control = mesh("control", [
      "start",
      "--mode=control",
      `--config-dir=${this.configDir}`,
      `--data-dir=${this.dataDir}`,
      `--listen=127.0.0.1:${this.port}`,
      `--admin-port=${this.adminPort}`,
      ...this.#extra,
    ]);
    this.procs.push(this.control);
    const [listening, admin] = await Promise.all([
      this.control.waitFor(/control plane listening address=127\.0\.0\.1:(\d+)/),
      this.control.waitFor(/admin listening address=127\.0\.0\.1:(\d+)/),
    ]);
    this.port = Number(listening[1]);
    this.adminPort = Number(admin[1]);
    return this.control;
  }

  /** Writes a bootstrap token file for an identity; returns its path. */
  async token(namespace: string, serviceAccount: string, ttl = "1h"): Promise<string> {
    const r = await meshRun([
      "token",
      "create",
      `--data-dir=${this.dataDir}`,
      `--namespace=${namespace}`,
      `--service-account=${serviceAccount}`,
      `--ttl=${ttl}`,
    ]);
    if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
    const path = `${this.dir}/token-${namespace}-${serviceAccount}-${
      crypto.randomUUID().slice(0, 6)
    }`;
    await Deno.writeTextFile(path, r.stdout.trim());
    return path;
  }

  /** Starts a sidecar; resolves once its admin says ready. */
  async sidecar(opts: {
    name: string;
    namespace?: string;
    serviceAccount: string;
    labels: string;
    appPort?: number;
    mode?: "proxy" | "gateway";
    extra?: string[];
    waitReady?: boolean;
  }): Promise<{ proc: Proc; inbound: number; outbound: number; admin: number }> {
    const ns = opts.namespace ?? "default";
    const tokenFile = await this.token(ns, opts.serviceAccount);
    // Port 0 everywhere: the proxy binds what the kernel gives and logs it, so parallel
    // processes never race for a port picked in advance.
    const proc = mesh(opts.name, [
      "start",
      `--mode=${opts.mode ?? "proxy"}`,
      `--control=https://127.0.0.1:${this.port}`,
      `--token-file=${tokenFile}`,
      `--namespace=${ns}`,
      `--service-account=${opts.serviceAccount}`,
      `--labels=${opts.labels}`,
      `--app-port=${opts.appPort ?? 0}`,
      "--inbound-port=0",
      "--outbound-port=0",
      "--admin-port=0",
      ...(opts.extra ?? []),
    ]);
    this.procs.push(proc);
    const fail = (err: Error) =>
      new Error(
        `${err.message}\n--- ${opts.name} output ---\n${proc.output}` +
          `\n--- control plane output (tail) ---\n${this.control.output.slice(-4000)}`,
      );
    const admin = Number(
      (await proc.waitFor(/admin listening address=127\.0\.0\.1:(\d+)/, 20_000)
        .catch((err) => {
          throw fail(err);
        }))[1],
    );
    const ports = { inbound: 0, outbound: 0, admin };
    if (opts.waitReady !== false) {
      const started = await proc.waitFor(
        /proxy started .*inbound=(\S+) outbound=(\S+) admin=/,
        20_000,
      )
        .catch((err) => {
          throw fail(err);
        });
      ports.inbound = Number(started[1]) || 0;
      ports.outbound = Number(started[2]) || 0;
      await eventually(
        async () => {
          const r = await fetch(`http://127.0.0.1:${admin}/ready`).catch(() => undefined);
          await r?.body?.cancel();
          return r?.ok;
        },
        20_000,
        `${opts.name} ready`,
      ).catch((err) => {
        throw fail(err);
      });
    }
    return { proc, ...ports };
  }

  /**
   * Starts an ingress gateway with Istio's identity and labels (`istio-system`,
   * `istio-ingressgateway`, `istio=ingressgateway`) on 127.0.0.1.
   */
  gateway(extra: string[] = []) {
    return this.sidecar({
      name: "gateway",
      namespace: "istio-system",
      serviceAccount: "istio-ingressgateway",
      labels: "istio=ingressgateway",
      mode: "gateway",
      extra: ["--gateway-address=127.0.0.1", ...extra],
    });
  }

  /** Stops every process and removes the temp dir. */
  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A JSON config dump from a proxy's admin port. */
export async function configDump(adminPort: number): Promise<
  { version: string; config: { clusters: Record<string, { endpoints: unknown[] }> } }
> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/config_dump`);
  return await r.json();
}

/** Waits until the proxy on `adminPort` has at least `count` endpoints for `cluster`. */
export async function waitForEndpoints(
  adminPort: number,
  cluster: string,
  count = 1,
  timeoutMs = 10_000,
): Promise<void> {
  await eventually(
    async () =>
      ((await configDump(adminPort)).config?.clusters[cluster]?.endpoints.length ?? 0) >= count,
    timeoutMs,
    `${count} endpoint(s) of ${cluster} on the proxy with admin port ${adminPort}`,
  );
}

/** An HTTP server on 127.0.0.1:0 that answers with the request it saw as JSON. */
export function echoServer(
  name: string,
): { port: number; close: () => Promise<void>; seen: { path: string; host: string }[] } {
  const seen: { path: string; host: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => headers[k] = v);
    const url = new URL(req.url);
    seen.push({ path: url.pathname, host: headers["host"] ?? "" });
    const size = url.pathname.match(/^\/bytes\/(\d+)$/);
    if (size) return new Response(new Uint8Array(Number(size[1])).fill(120));
    // `/delay/<ms>`: answers after that long (for timeouts).
    const delay = url.pathname.match(/^\/delay\/(\d+)$/);
    if (delay) await new Promise((resolve) => setTimeout(resolve, Number(delay[1])));
    // `/drip/<ms>`: sends "first," at once and "last" after <ms> (a slow body).
    const drip = url.pathname.match(/^\/drip\/(\d+)$/);
    if (drip) {
      const enc = new TextEncoder();
      let timer: ReturnType<typeof setTimeout> | undefined;
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode("first,"));
            timer = setTimeout(() => {
              try {
                c.enqueue(enc.encode("last"));
                c.close();
              } catch { /* the reader went away */ }
            }, Number(drip[1]));
          },
          cancel() {
            clearTimeout(timer);
          },
        }),
      );
    }
    // `/fail-on/<name>`: that server answers 503 (for retries); the others answer as usual.
    if (url.pathname === `/fail-on/${name}`) return new Response(name, { status: 503 });
    // `/slow-on/<name>/<ms>`: that server answers after <ms>.
    const slow = url.pathname.match(/^\/slow-on\/([^/]+)\/(\d+)$/);
    if (slow?.[1] === name) await new Promise((resolve) => setTimeout(resolve, Number(slow[2])));
    const bodyBytes = req.body ? (await req.arrayBuffer()).byteLength : 0;
    return Response.json({ name, method: req.method, url: url.pathname, headers, bodyBytes });
  });
  return { port: server.addr.port, close: () => server.shutdown(), seen };
}

/** A CA that isn't the mesh's, for negative tests. */
export function foreignCa(): Promise<CertificateAuthority> {
  return CertificateAuthority.create({ trustDomain: "cluster.local" });
}

/** A ServiceEntry for `<name>.default.svc.cluster.local:<port>` selecting workloads labelled `app: <name>`. */
/**
 * An app outside the mesh (`edge.example:80` → 127.0.0.1:`port`) routed from every host of the
 * gateway `istio-system/gw`: a ServiceEntry and a VirtualService, each followed by `---`.
 */
export function edgeRouteYaml(port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: edge, namespace: istio-system}
spec:
  hosts: [edge.example]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: edge.example, port: {number: 80}}}]}]
`;
}

export function serviceEntryYaml(name: string, port = 8080): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${name}}}
`;
}

/** Runs openssl with space-separated `args` in `cwd`; throws with its output when it fails. */
async function openssl(args: string, cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: args.split(" "),
    cwd,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A CA and, signed by it, a server certificate for `secure.example.com` and a client one. */
export async function testPki(dir: string) {
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  await openssl(`req -x509 ${ec} -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca`, dir);
  const leaves = { server: "DNS:secure.example.com", client: "URI:spiffe://ext/client" };
  for (const [name, san] of Object.entries(leaves)) {
    await openssl(`req -new ${ec} -keyout ${name}.key -out ${name}.csr -subj /CN=${name}`, dir);
    await Deno.writeTextFile(
      `${dir}/${name}.ext`,
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n` +
        "extendedKeyUsage=serverAuth,clientAuth\n",
    );
    await openssl(
      `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 ` +
        `-out ${name}.pem -extfile ${name}.ext`,
      dir,
    );
  }
  const read = (f: string) => Deno.readTextFileSync(`${dir}/${f}`);
  return {
    caPath: `${dir}/ca.pem`,
    ca: read("ca.pem"),
    server: { cert: read("server.pem"), key: read("server.key") },
    clientCertPath: `${dir}/client.pem`,
    clientKeyPath: `${dir}/client.key`,
  };
}
