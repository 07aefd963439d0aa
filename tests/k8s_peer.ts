/**
 * A real Kubernetes API server for tests: kube-apiserver v1.37.2 on etcd 3.7.3,
 * both built from the Go module proxy by `deno run -A tests/peers/k8s/build.ts`
 * (once, ~15 min on 2 cores) and run here as child processes on 127.0.0.1 only,
 * in a temp dir of their own (certs, keys, tokens, etcd data, logs).
 *
 * No controller manager, scheduler or kubelet: the API is complete, but nothing
 * acts on objects (no EndpointSlices for a Service, no `default` ServiceAccount
 * in a namespace, namespaces stay Terminating). Tests create what a controller
 * would. See /work/shared/k8s-peer/NOTES.md for what was verified.
 *
 * @example
 * ```ts
 * import { kubeBinaries, startKube } from "./k8s_peer.ts";
 * const bins = await kubeBinaries();
 * if ("skip" in bins) console.log(`skipped: ${bins.skip}`);
 * else {
 *   const kube = await startKube();
 *   try {
 *     const client = Deno.createHttpClient({ caCerts: [kube.caPem] });
 *     const r = await fetch(`${kube.url}/api/v1/namespaces`, {
 *       client,
 *       headers: { authorization: `Bearer ${kube.token}` },
 *     });
 *     console.log(r.status, (await r.json()).items.length);
 *     client.close();
 *   } finally {
 *     await kube.stop();
 *   }
 * }
 * ```
 * @module
 */
import {
  checkBinaries,
  ETCD_VERSION,
  k8sBinaries,
  KUBE_VERSION,
  runCmd,
} from "./peers/k8s/build.ts";

export { ETCD_VERSION, KUBE_VERSION };

/** The command that builds the binaries, named in every skip message. */
export const BUILD_COMMAND = "deno run -A tests/peers/k8s/build.ts";

/** A running kube-apiserver + etcd pair. */
export interface KubePeer {
  /** `https://127.0.0.1:PORT` of the apiserver. */
  url: string;
  /** Bearer token of user `admin` in group `system:masters` (always authorized). */
  token: string;
  /** PEM of the CA that signed the apiserver's serving cert. */
  caPem: string;
  /** Path of that CA's PEM file. */
  caFile: string;
  /** Path of a kubeconfig whose current context uses {@linkcode url}, the token and the CA. */
  kubeconfig: string;
  /** The peer's temp dir (certs, keys, tokens.csv, etcd data, `etcd.log`, `apiserver.log`). */
  dir: string;
  /** Port etcd serves clients on (plain HTTP, 127.0.0.1). */
  etcdPort: number;
  /** Stops both processes (SIGTERM, SIGKILL after 5 s) and removes {@linkcode dir}; idempotent. */
  stop(): Promise<void>;
  /** Stops the apiserver and starts it again on the same port and etcd; resolves once /readyz is 200. */
  restartApiserver(): Promise<void>;
  /** Runs Debian's kubectl with `--kubeconfig` {@linkcode kubeconfig} (installs it when missing). */
  kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Options of {@linkcode startKube}. */
export interface StartKubeOptions {
  /** `--authorization-mode RBAC` (default true); false: `AlwaysAllow`. */
  rbac?: boolean;
  /** More kube-apiserver flags (e.g. `--watch-cache=false`: watches read etcd directly). */
  apiserverArgs?: string[];
}

const ETCD_READY_MS = 60_000;
const APISERVER_READY_MS = 180_000;
const STOP_GRACE_MS = 5_000;
const OPENSSL_TIMEOUT_MS = 60_000;
const KUBECTL_TIMEOUT_MS = 120_000;
const POLL_MS = 100;

/**
 * The binaries' paths when both are built with the expected versions, else
 * `{ skip }` naming what's missing and the command that builds them.
 */
export async function kubeBinaries(): Promise<
  { apiserver: string; etcd: string } | { skip: string }
> {
  const bad = await checkBinaries();
  if (bad.apiserver || bad.etcd) {
    const what = [
      bad.apiserver ? `kube-apiserver ${KUBE_VERSION} (${bad.apiserver})` : "",
      bad.etcd ? `etcd ${ETCD_VERSION} (${bad.etcd})` : "",
    ].filter((s) => s !== "").join(" and ");
    return {
      skip: `${what} not built in ${k8sBinaries().binDir}; ` +
        `run \`${BUILD_COMMAND}\` (takes ~15 min, once)`,
    };
  }
  const b = k8sBinaries();
  return { apiserver: b.apiserver, etcd: b.etcd };
}

/** Free loopback ports: all bound at once (so they differ), then released. */
function freePorts(n: number): number[] {
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = ls.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of ls) l.close();
  return ports;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await runCmd("openssl", args, { cwd: dir, timeoutMs: OPENSSL_TIMEOUT_MS });
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`openssl ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  }
}

/** CA (EC P-256), serving cert signed by it, service-account RSA-2048 key pair, in `dir`. */
async function makeKeys(dir: string): Promise<void> {
  const ec = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"];
  await Deno.writeTextFile(
    `${dir}/serving.ext`,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
      "",
    ].join("\n"),
  );
  const ca = (async () => {
    await openssl(dir, [...ec, "ca.key"]);
    await openssl(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=k8s-peer-ca",
      "-days",
      "7",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      "ca.crt",
    ]);
  })();
  const csr = (async () => {
    await openssl(dir, [...ec, "serving.key"]);
    await openssl(dir, [
      "req",
      "-new",
      "-key",
      "serving.key",
      "-subj",
      "/CN=kube-apiserver",
      "-out",
      "serving.csr",
    ]);
  })();
  const sa = (async () => {
    await openssl(dir, [
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      "sa.key",
    ]);
    await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  })();
  await Promise.all([ca, csr]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "serving.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-CAserial",
    "ca.srl",
    "-days",
    "7",
    "-extfile",
    "serving.ext",
    "-out",
    "serving.crt",
  ]);
  await sa;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A child process whose stdout and stderr go to a log file. */
interface Proc {
  name: string;
  child: Deno.ChildProcess;
  log: string;
  /** Resolves once the child exited. */
  done: Promise<Deno.CommandStatus>;
  exited: boolean;
}

/**
 * Starts `cmd args` with stdout and stderr appended to `log` by the shell
 * (`exec`, so the pid is the binary's): no pipes for Deno to drain. The child
 * is unref'd, so a script that never calls stop() can still exit; the unload
 * handler of {@linkcode startKube} then kills it.
 */
async function spawnLogged(name: string, cmd: string, args: string[], log: string): Promise<Proc> {
  await Deno.writeTextFile(log, `--- ${name} started: ${cmd} ${args.join(" ")}\n`, {
    append: true,
  });
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$0" 2>&1', log, cmd, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  const p = { name, child, log, exited: false } as Proc;
  p.done = child.status.then(async (status) => {
    p.exited = true;
    const end = `--- ${name} exited: code ${status.code} signal ${status.signal}\n`;
    await Deno.writeTextFile(log, end, { append: true }).catch(() => {});
    return status;
  });
  return p;
}

/** SIGTERM, SIGKILL after {@linkcode STOP_GRACE_MS}; resolves once the process is gone. */
async function terminate(p: Proc): Promise<void> {
  p.child.ref(); // keep the event loop alive until it is gone
  if (!p.exited) {
    try {
      p.child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        p.child.kill("SIGKILL");
      } catch { /* already gone */ }
      resolve();
    }, STOP_GRACE_MS);
  });
  await Promise.race([p.done, killed]);
  clearTimeout(timer);
  await p.done;
}

async function logTail(p: Proc, lines = 30): Promise<string> {
  try {
    return (await Deno.readTextFile(p.log)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Polls `probe` every {@linkcode POLL_MS} until it returns true; throws when
 * `p` exits first or `timeoutMs` passes, with the tail of its log.
 */
async function waitFor(
  p: Proc,
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (true) {
    if (p.exited) {
      throw new Error(`${p.name} exited before ${what}; ${p.log}:\n${await logTail(p)}`);
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${p.name}: no ${what} within ${timeoutMs / 1000} s (last error: ${last || "none"}); ` +
          `${p.log}:\n${await logTail(p)}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

let kubectlPath: Promise<string> | undefined;

/** Debian's kubectl; `apt-get install -y kubectl` when it is missing. */
function findKubectl(): Promise<string> {
  kubectlPath ??= (async () => {
    const which = async () => {
      const r = await runCmd("sh", ["-c", "command -v kubectl"], { timeoutMs: 10_000 });
      return r.code === 0 ? r.stdout.trim() : "";
    };
    const found = await which();
    if (found) return found;
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await runCmd("apt-get", ["update", "-qq"], { env, timeoutMs: 5 * 60_000 });
    const r = await runCmd("apt-get", ["install", "-y", "-qq", "kubectl"], {
      env,
      timeoutMs: 5 * 60_000,
    });
    const after = await which();
    if (!after) {
      throw new Error(`kubectl is missing and apt-get install failed: ${r.stderr.trim()}`);
    }
    return after;
  })();
  kubectlPath.catch(() => kubectlPath = undefined);
  return kubectlPath;
}

/**
 * Starts etcd, then kube-apiserver (`--authorization-mode RBAC` unless
 * `{ rbac: false }`), and resolves once `/readyz` answers 200 to the admin token.
 * Throws (after cleaning up) when the binaries aren't built or either process
 * fails to come up. Call {@linkcode KubePeer.stop} in a `finally`.
 */
export async function startKube(o: StartKubeOptions = {}): Promise<KubePeer> {
  const bins = await kubeBinaries();
  if ("skip" in bins) throw new Error(bins.skip);
  const dir = await Deno.makeTempDir({ prefix: "k8s-peer-" });
  const procs: { etcd?: Proc; apiserver?: Proc } = {};
  const client = { http: undefined as Deno.HttpClient | undefined };
  let stopping: Promise<void> | undefined;

  // A process that exits without stop() still kills its children and removes the dir.
  const onUnload = () => {
    for (const p of [procs.apiserver, procs.etcd]) {
      if (p && !p.exited) {
        try {
          p.child.kill("SIGKILL");
        } catch { /* gone */ }
      }
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* gone */ }
  };
  globalThis.addEventListener("unload", onUnload);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (procs.apiserver) await terminate(procs.apiserver);
      if (procs.etcd) await terminate(procs.etcd);
      client.http?.close();
      globalThis.removeEventListener("unload", onUnload);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopping;
  };

  try {
    await makeKeys(dir);
    const caFile = `${dir}/ca.crt`;
    const caPem = await Deno.readTextFile(caFile);
    const token = randomHex(24);
    await Deno.writeTextFile(`${dir}/tokens.csv`, `${token},admin,admin-uid,"system:masters"\n`);
    const [etcdPort, peerPort, apiPort] = freePorts(3);
    const url = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = `${dir}/kubeconfig`;
    await Deno.writeTextFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: k8s-peer",
        "  cluster:",
        `    server: ${url}`,
        `    certificate-authority: ${caFile}`,
        "users:",
        "- name: admin",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: k8s-peer",
        "  context:",
        "    cluster: k8s-peer",
        "    user: admin",
        "current-context: k8s-peer",
        "",
      ].join("\n"),
    );

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    procs.etcd = await spawnLogged("etcd", bins.etcd, [
      "--name",
      "peer",
      "--data-dir",
      `${dir}/etcd`,
      "--listen-client-urls",
      etcdUrl,
      "--advertise-client-urls",
      etcdUrl,
      "--listen-peer-urls",
      peerUrl,
      "--initial-advertise-peer-urls",
      peerUrl,
      "--initial-cluster",
      `peer=${peerUrl}`,
      "--initial-cluster-state",
      "new",
      "--unsafe-no-fsync",
      "--log-level",
      "warn",
    ], `${dir}/etcd.log`);
    await waitFor(procs.etcd, "healthy /health", ETCD_READY_MS, async () => {
      const r = await fetch(`${etcdUrl}/health`);
      const body = await r.text();
      return r.ok && /"health":\s*"true"/.test(body);
    });

    const apiArgs = [
      "--etcd-servers",
      etcdUrl,
      "--bind-address",
      "127.0.0.1",
      "--advertise-address",
      "127.0.0.1",
      "--secure-port",
      String(apiPort),
      "--tls-cert-file",
      `${dir}/serving.crt`,
      "--tls-private-key-file",
      `${dir}/serving.key`,
      "--token-auth-file",
      `${dir}/tokens.csv`,
      "--authorization-mode",
      o.rbac === false ? "AlwaysAllow" : "RBAC",
      "--service-account-issuer",
      "https://kubernetes.default.svc.cluster.local",
      "--service-account-key-file",
      `${dir}/sa.pub`,
      "--service-account-signing-key-file",
      `${dir}/sa.key`,
      "--service-cluster-ip-range",
      "10.96.0.0/16",
      "--endpoint-reconciler-type",
      "none",
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      ...(o.apiserverArgs ?? []),
    ];
    client.http = Deno.createHttpClient({ caCerts: [caPem] });
    const http = client.http;
    const startApiserver = async () => {
      const p = await spawnLogged(
        "kube-apiserver",
        bins.apiserver,
        apiArgs,
        `${dir}/apiserver.log`,
      );
      procs.apiserver = p;
      await waitFor(p, "200 from /readyz", APISERVER_READY_MS, async () => {
        const r = await fetch(`${url}/readyz`, {
          client: http,
          headers: { authorization: `Bearer ${token}` },
        });
        await r.body?.cancel();
        return r.status === 200;
      });
    };
    await startApiserver();

    return {
      url,
      token,
      caPem,
      caFile,
      kubeconfig,
      dir,
      etcdPort,
      stop,
      async restartApiserver() {
        if (stopping) throw new Error("the k8s peer is stopped");
        if (procs.apiserver) await terminate(procs.apiserver);
        await startApiserver();
      },
      async kubectl(args: string[]) {
        const kubectl = await findKubectl();
        const r = await runCmd(kubectl, ["--kubeconfig", kubeconfig, ...args], {
          timeoutMs: KUBECTL_TIMEOUT_MS,
        });
        if (r.timedOut) {
          throw new Error(`kubectl ${args.join(" ")} timed out after ${KUBECTL_TIMEOUT_MS} ms`);
        }
        return { code: r.code, stdout: r.stdout, stderr: r.stderr };
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs `kubectl <args> -f FILE` with `text` as the file (written into the peer's dir). */
export async function kubectlFile(
  peer: KubePeer,
  args: string[],
  text: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = await Deno.makeTempFile({ dir: peer.dir, suffix: ".yaml" });
  await Deno.writeTextFile(file, text);
  return await peer.kubectl([...args, "-f", file]);
}

/**
 * Applies CRDs with kubectl (server-side; mesh's own, `mesh install crds`, unless `yaml` is
 * given) and waits until every CRD is Established. Throws with kubectl's message on failure.
 */
export async function installCrds(peer: KubePeer, yaml?: string): Promise<void> {
  const text = yaml ?? (await import("../api/crds.ts")).crdsYaml();
  const applied = await kubectlFile(peer, ["apply", "--server-side", "--force-conflicts"], text);
  if (applied.code !== 0) throw new Error(`kubectl apply of the CRDs failed: ${applied.stderr}`);
  const ready = await peer.kubectl([
    "wait",
    "--for=condition=Established",
    "crd",
    "--all",
    "--timeout=120s",
  ]);
  if (ready.code !== 0) throw new Error(`the CRDs never became Established: ${ready.stderr}`);
}

/**
 * A test on the peer: skipped, with `skip` as the reason, when the peer isn't built; without
 * Deno's op and resource sanitizers, since a peer and its HTTP client may outlive one test.
 */
export function kubeTest(name: string, skip: string | undefined, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: skip !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}
