/**
 * `deno task demo`: Istio's Bookinfo on mesh, all on this machine.
 *
 * Starts the control plane (config from examples/bookinfo/config: the services, the
 * gateway and the destination rules, in Istio's YAML, so nothing outside the repository is
 * needed), the four Bookinfo services (reviews in three versions), one sidecar per workload
 * and the ingress gateway on 127.0.0.1:8080. Prints
 * `ready: http://127.0.0.1:8080/productpage` once a request has gone through,
 * and stops everything it started on Ctrl-C or SIGTERM.
 *
 * `--hosts` (root): the same Bookinfo over eight hosts, each a network namespace with its own
 * address, with transparent capture and the DNS proxy on every workload host
 * (examples/bookinfo/hosts_demo.ts).
 *
 * Flags: `--dir DIR` keeps state (config, CA) in DIR instead of a temp dir;
 * `--samples DIR` uses Istio's own bookinfo-gateway.yaml and destination-rule-all.yaml,
 * unchanged, from DIR (Istio's `samples/bookinfo`, or its `networking/` dir) in place of the
 * demo's gateway.yaml and destination-rules.yaml.
 * Copy Istio's samples into the printed config dir to change routing live,
 * e.g. virtual-service-all-v1.yaml or virtual-service-reviews-test-v2.yaml.
 * @module
 */

import { denoRunArgs } from "../../util/v8_flags.ts";
import { freePort } from "../../util/free_port.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const APPS = `${ROOT}/examples/bookinfo/apps`;
/** The demo's own config: what it serves with nothing beside the repository. */
const CONFIG = `${ROOT}/examples/bookinfo/config`;
/** What `--samples` swaps in: Istio's file for each of the demo's. */
const SAMPLE_FOR: Record<string, string> = {
  "gateway.yaml": "bookinfo-gateway.yaml",
  "destination-rules.yaml": "destination-rule-all.yaml",
};

interface Args {
  hosts?: boolean;
  dir?: string;
  samples?: string;
  gatewayPort: number;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { gatewayPort: 8080 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--hosts") {
      out.hosts = true;
      continue;
    }
    const [k, v0] = argv[i].split("=", 2);
    const v = v0 ?? argv[++i];
    if (k === "--dir") out.dir = v;
    else if (k === "--samples") out.samples = v;
    else {
      console.error(`demo: unknown flag ${k}; flags: --hosts, --dir DIR, --samples DIR`);
      Deno.exit(2);
    }
  }
  return out;
}

interface Child {
  name: string;
  proc: Deno.ChildProcess;
  log: string;
  exited: boolean;
}

const children: Child[] = [];
let logDir = "";

function spawn(name: string, args: string[], env: Record<string, string> = {}): Child {
  const file = Deno.openSync(`${logDir}/${name}.log`, { write: true, create: true, append: true });
  const proc = new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const c: Child = { name, proc, log: "", exited: false };
  proc.status.then(() => c.exited = true);
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      c.log += dec.decode(chunk, { stream: true });
      if (c.log.length > 1 << 20) c.log = c.log.slice(-(1 << 19));
      try {
        file.writeSync(chunk);
      } catch { /* closed */ }
    }
  };
  Promise.all([pump(proc.stdout), pump(proc.stderr)]).finally(() => file.close());
  children.push(c);
  return c;
}

async function waitFor(c: Child, re: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  while (!re.test(c.log)) {
    if (c.exited) {
      // Give the output pumps a moment to drain what the process printed last.
      await new Promise((r) => setTimeout(r, 50));
      if (re.test(c.log)) return;
      throw new Error(
        `${c.name} exited before printing ${re}: ${c.log.trim().split("\n").pop() ?? ""}; ` +
          `see ${logDir}/${c.name}.log`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${c.name} did not print ${re} within ${timeoutMs} ms; see ${logDir}/${c.name}.log`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

async function stopAll(): Promise<void> {
  await Promise.all(children.map(async (c) => {
    try {
      c.proc.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        c.proc.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await c.proc.status;
    clearTimeout(t);
  }));
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const dir = args.dir ?? await Deno.makeTempDir({ prefix: "mesh-bookinfo-" });
  const configDir = `${dir}/config`;
  const dataDir = `${dir}/data`;
  logDir = `${dir}/logs`;
  await Deno.mkdir(configDir, { recursive: true });
  await Deno.mkdir(logDir, { recursive: true });

  await writeConfig(configDir, args.samples);

  const mesh = denoRunArgs(`${ROOT}/main.ts`);
  const control = spawn("control", [
    ...mesh,
    "start",
    "--mode=control",
    `--config-dir=${configDir}`,
    `--data-dir=${dataDir}`,
    // Port 0: the kernel's pick, read back from the log, so nothing can take it first.
    "--listen=127.0.0.1:0",
    "--admin-port=0",
  ]);
  const listening = /control plane listening address=127\.0\.0\.1:(\d+)/;
  await waitFor(control, listening);
  const controlPort = Number(control.log.match(listening)![1]);

  const token = async (ns: string, sa: string): Promise<string> => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        ...mesh,
        "token",
        "create",
        `--data-dir=${dataDir}`,
        `--namespace=${ns}`,
        `--service-account=${sa}`,
        "--ttl=24h",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`token create failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const path = `${dataDir}/token-${ns}-${sa}`;
    await Deno.writeTextFile(path, new TextDecoder().decode(out.stdout).trim(), { mode: 0o600 });
    return path;
  };

  const workloads = [
    { app: "details", version: "v1", script: "details.ts" },
    { app: "ratings", version: "v1", script: "ratings.ts" },
    { app: "reviews", version: "v1", script: "reviews.ts" },
    { app: "reviews", version: "v2", script: "reviews.ts" },
    { app: "reviews", version: "v3", script: "reviews.ts" },
    { app: "productpage", version: "v1", script: "productpage.ts" },
  ];
  await Promise.all(workloads.map(async (w) => {
    // A port picked in advance can be taken by someone else before the process binds it:
    // then the workload starts again on new ports.
    for (let attempt = 1;; attempt++) {
      try {
        return await startWorkload(w);
      } catch (err) {
        if (attempt >= 5 || !/Address already in use|AddrInUse/.test((err as Error).message)) {
          throw err;
        }
      }
    }
  }));

  async function startWorkload(w: { app: string; version: string; script: string }) {
    const name = `${w.app}-${w.version}`;
    const appPort = freePort();
    const outbound = freePort();
    const tokenFile = await token("default", `bookinfo-${w.app}`);
    const app = spawn(name, [
      "run",
      "--allow-net",
      "--allow-env",
      `${APPS}/${w.script}`,
      `--port=${appPort}`,
      ...(w.app === "reviews" ? [`--version=${w.version}`] : []),
    ], { HTTP_PROXY: `http://127.0.0.1:${outbound}`, POD_NAME: name });
    const sidecar = spawn(`${name}-sidecar`, [
      ...mesh,
      "start",
      "--mode=proxy",
      `--control=https://127.0.0.1:${controlPort}`,
      `--token-file=${tokenFile}`,
      "--namespace=default",
      `--service-account=bookinfo-${w.app}`,
      `--labels=app=${w.app},version=${w.version}`,
      `--workload-name=${name}`,
      `--app-port=${appPort}`,
      "--inbound-port=0",
      `--outbound-port=${outbound}`,
      "--admin-port=0",
    ]);
    try {
      await Promise.all([waitFor(app, /listening on/), waitFor(sidecar, /proxy started/)]);
    } catch (err) {
      for (const c of [app, sidecar]) {
        try {
          c.proc.kill("SIGKILL");
        } catch { /* gone */ }
      }
      throw err;
    }
  }

  const gwToken = await token("istio-system", "istio-ingressgateway");
  const gateway = spawn("istio-ingressgateway", [
    ...mesh,
    "start",
    "--mode=gateway",
    `--control=https://127.0.0.1:${controlPort}`,
    `--token-file=${gwToken}`,
    "--gateway-address=127.0.0.1",
    "--admin-port=0",
  ]);
  await waitFor(gateway, /gateway listener open|can't open gateway listener/);
  if (/can't open gateway listener/.test(gateway.log)) {
    throw new Error(
      `the gateway can't listen on 127.0.0.1:${args.gatewayPort}; is something else using it?`,
    );
  }

  // Ready means a full request went through the gateway and every service behind it.
  const url = `http://127.0.0.1:${args.gatewayPort}/productpage`;
  const deadline = Date.now() + 30_000;
  let last = "";
  for (let delay = 50;; delay = Math.min(delay * 2, 500)) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const body = await r.text();
      if (r.ok && body.includes("Reviews served by") && !body.includes("currently unavailable")) {
        break;
      }
      last = `status ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${url} did not serve the full page within 30 s (${last}); logs in ${logDir}`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  console.log(`config: ${configDir}   logs: ${logDir}`);
  console.log(`ready: ${url}`);
}

/**
 * Fills the config dir: the demo's own files, or with `samples`, Istio's files unchanged in
 * place of the demo's gateway and destination rules (the ServiceEntries stay: they stand in
 * for Kubernetes Services).
 */
async function writeConfig(configDir: string, samples: string | undefined): Promise<void> {
  const own = [...Deno.readDirSync(CONFIG)]
    .filter((e) => e.isFile && e.name.endsWith(".yaml"))
    .map((e) => e.name)
    .sort();
  const networking = samples === undefined ? "" : samplesNetworking(samples);
  for (const name of own) {
    const istio = samples === undefined ? undefined : SAMPLE_FOR[name];
    if (istio === undefined) {
      await Deno.copyFile(`${CONFIG}/${name}`, `${configDir}/${name}`);
      continue;
    }
    try {
      await Deno.copyFile(`${networking}/${istio}`, `${configDir}/${istio}`);
    } catch (err) {
      throw new Error(
        `--samples ${samples}: can't read Istio's ${istio} from ${networking} ` +
          `(${(err as Error).message}); point it at Istio's samples/bookinfo`,
      );
    }
  }
}

/** The `networking/` dir of `--samples DIR`: DIR/networking, or DIR itself if it is that. */
function samplesNetworking(dir: string): string {
  const d = dir.replace(/\/+$/, "");
  try {
    if (Deno.statSync(`${d}/networking`).isDirectory) return `${d}/networking`;
  } catch { /* not there: DIR may be networking/ itself */ }
  return d;
}

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await stopAll();
  Deno.exit(code);
};
if (Deno.args.includes("--hosts")) {
  const { hostsDemo } = await import("./hosts_demo.ts");
  Deno.exit(await hostsDemo());
}
Deno.addSignalListener("SIGINT", () => void stop(0));
Deno.addSignalListener("SIGTERM", () => void stop(0));
try {
  await main();
} catch (err) {
  console.error(`demo: ${(err as Error).message}`);
  await stop(1);
}
