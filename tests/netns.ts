/**
 * Tests that need addresses of their own (say, pod IPs a Kubernetes API server accepts, which
 * refuses loopback ones) run inside a network namespace they make: {@linkcode netnsTest}
 * re-runs the test file in `unshare --net` with those addresses on the new namespace's `lo`,
 * so every process the test starts (API server, control plane, proxies, clients) lives and
 * talks only there; the namespace and everything in it goes when the child ends, whatever
 * happens. Root only: elsewhere the test is skipped with one line.
 *
 * With `mount: true` the child also gets a private mount namespace and a PID namespace
 * (`unshare --net --mount --propagation private --pid --fork --kill-child`) with a fresh tmpfs
 * on `/run/netns`, so namespaces it makes with `ip netns add` (tests/topology.ts) exist only
 * inside it, and every process it starts, in any of them, is killed by the kernel when the
 * child ends (the PID namespace's init dies), so nothing holds them open after.
 *
 * @example
 * ```ts
 * netnsTest({ name: "pods on 10.233.0.x", addresses: ["10.233.0.21"], ignore: false }, async () => {
 *   // runs inside the namespace
 * });
 * ```
 * @module
 */

/** Set in the child that runs inside the namespace. */
export const IN_NETNS = Deno.env.get("MESH_TEST_NETNS") === "1";
/** Set in the child when it has a private mount namespace too (`mount: true`). */
export const IN_PRIVATE_MOUNTS = IN_NETNS && Deno.env.get("MESH_TEST_NETNS_MOUNT") === "1";

/** This process's network and mount namespaces (`net:[…] mnt:[…]`, from /proc/self/ns). */
export function ownNamespaces(): string {
  return ["net", "mnt"].map((n) => Deno.readLinkSync(`/proc/self/ns/${n}`)).join(" ");
}

/** In the child: the namespaces of the parent that started it (`ownNamespaces()` there). */
export const PARENT_NS = Deno.env.get("MESH_TEST_PARENT_NS") ?? "";

/** Why a namespace can't be made here, or undefined when it can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (IN_NETNS) return undefined;
  try {
    const r = await new Deno.Command("unshare", {
      args: ["--net", "ip", "link", "set", "lo", "up"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (r.success) return undefined;
    return `unshare --net is not permitted here (${
      new TextDecoder().decode(r.stderr).trim()
    }; needs root)`;
  } catch (err) {
    return `unshare or ip is missing (${
      (err as Error).message
    }; apt-get install util-linux iproute2)`;
  }
}

/** What {@linkcode netnsTest} takes. */
export interface NetnsTestOptions {
  name: string;
  /** IPv4 addresses put on the namespace's `lo` (as /32). */
  addresses?: string[];
  /**
   * Also a private mount namespace with a tmpfs of its own on `/run/netns` (for `ip netns add`
   * inside; see tests/topology.ts).
   */
  mount?: boolean;
  ignore?: boolean;
  /** The test file (`import.meta.url` of the caller). */
  file: string;
  /** Bound on the child run (default 10 min). */
  timeoutMs?: number;
}

/** Registers a test whose body runs inside a fresh network namespace with `addresses`. */
export function netnsTest(o: NetnsTestOptions, fn: () => Promise<void>): void {
  Deno.test({
    name: o.name,
    ignore: o.ignore ?? false,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      if (IN_NETNS) return await fn();
      await runInNetns(o);
    },
  });
}

/**
 * The arguments of `unshare` that make the namespaces `o` asks for, set them up and then exec
 * the command that follows them.
 */
export function unshareArgs(o: { addresses?: string[]; mount?: boolean }): string[] {
  const setup = [
    "ip link set lo up",
    ...(o.addresses ?? []).map((a) => `ip addr add ${a}/32 dev lo`),
    // Inside the private mount namespace: `ip netns add` mounts land on this tmpfs, never on
    // the machine's /run/netns (the directory itself is made if missing, as `ip netns add` does).
    ...(o.mount
      ? ["mkdir -p /run/netns", "mount -t tmpfs -o mode=0755 mesh-netns /run/netns"]
      : []),
  ].join(" && ");
  return [
    "--net",
    ...(o.mount ? ["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child"] : []),
    "sh",
    "-c",
    `${setup} && exec "$@"`,
    "sh",
  ];
}

/**
 * The parent's side of {@linkcode netnsTest}: re-runs the test `o.name` of `o.file` inside the
 * namespace(s) and throws with its output unless it passed there.
 */
export async function runInNetns(o: NetnsTestOptions): Promise<void> {
  const file = new URL(o.file).pathname;
  const out = await new Deno.Command("unshare", {
    args: [
      ...unshareArgs(o),
      Deno.execPath(),
      "test",
      "-A",
      "--no-check=remote",
      file,
      "--filter",
      o.name,
    ],
    env: {
      MESH_TEST_NETNS: "1",
      MESH_TEST_NETNS_MOUNT: o.mount ? "1" : "0",
      // The parent's namespaces, so the child can check it is outside them (see PARENT_NS).
      MESH_TEST_PARENT_NS: ownNamespaces(),
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(o.timeoutMs ?? 600_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success || !/ok \| 1 passed/.test(text)) {
    throw new Error(`the test inside its network namespace failed:\n${text.slice(-8000)}`);
  }
}
