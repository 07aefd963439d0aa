/**
 * Tests that need addresses of their own (say, pod IPs a Kubernetes API server accepts, which
 * refuses loopback ones) run inside a network namespace they make: {@linkcode netnsTest}
 * re-runs the test file in `unshare --net` with those addresses on the new namespace's `lo`,
 * so every process the test starts (API server, control plane, proxies, clients) lives and
 * talks only there; the namespace and everything in it goes when the child ends, whatever
 * happens. Root only: elsewhere the test is skipped with one line.
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
const IN_NETNS = Deno.env.get("MESH_TEST_NETNS") === "1";

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
  addresses: string[];
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
      const setup = ["ip link set lo up", ...o.addresses.map((a) => `ip addr add ${a}/32 dev lo`)]
        .join(" && ");
      const file = new URL(o.file).pathname;
      const out = await new Deno.Command("unshare", {
        args: [
          "--net",
          "sh",
          "-c",
          `${setup} && exec "$@"`,
          "sh",
          Deno.execPath(),
          "test",
          "-A",
          "--no-check=remote",
          file,
          "--filter",
          o.name,
        ],
        env: { MESH_TEST_NETNS: "1", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(o.timeoutMs ?? 600_000),
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      if (!out.success || !/ok \| 1 passed/.test(text)) {
        throw new Error(`the test inside its network namespace failed:\n${text.slice(-8000)}`);
      }
    },
  });
}
