/**
 * `deno task demo --hosts`: Bookinfo as a fleet of eight hosts (examples/bookinfo/hosts.ts),
 * each a network namespace with its own address, all inside one private namespace tree this
 * command makes (root only): nothing reaches the machine's own network, and everything goes
 * when the demo stops, whatever happens. Prints where the product page is and the `nsenter`
 * line that reaches it from this machine's shell.
 *
 * @example
 * ```sh
 * sudo deno task demo --hosts
 * ```
 * @module
 */
import { netnsUnavailable, ownNamespaces, unshareArgs } from "../../tests/netns.ts";
import { BOOKINFO_HOSTS, startBookinfoFleet } from "./hosts.ts";
import { Topology } from "../../tests/topology.ts";

const INSIDE = Deno.env.get("MESH_DEMO_FLEET") === "1";

/** Runs the fleet demo: outside, re-runs itself in a fresh namespace tree; inside, the fleet. */
export async function hostsDemo(): Promise<number> {
  return INSIDE ? await inside() : await outside();
}

async function outside(): Promise<number> {
  const why = await netnsUnavailable();
  if (why) {
    console.error(`demo --hosts: ${why}`);
    return 1;
  }
  const iptables = await new Deno.Command("iptables-restore", { args: ["--version"] })
    .output().then((r) => r.success, () => false);
  if (!iptables) {
    console.error("demo --hosts: iptables-restore is missing: apt-get install iptables");
    return 1;
  }
  const child = new Deno.Command("unshare", {
    args: [
      ...unshareArgs({ mount: true }),
      Deno.execPath(),
      "run",
      "-A",
      new URL("./demo.ts", import.meta.url).pathname,
      "--hosts",
    ],
    env: {
      MESH_DEMO_FLEET: "1",
      // What tests/topology.ts checks to be sure it is in namespaces of its own.
      MESH_TEST_NETNS: "1",
      MESH_TEST_NETNS_MOUNT: "1",
      MESH_TEST_PARENT_NS: ownNamespaces(),
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = dec.decode(chunk, { stream: true });
    await Deno.stdout.write(chunk);
    const m = /ready: (\S+)/.exec(text);
    if (m) {
      console.log(
        `from this machine: sudo nsenter --net=/proc/${child.pid}/ns/net curl -s ${m[1]}\n` +
          "Ctrl-C stops every host.",
      );
    }
  }
  const status = await child.status;
  return status.code;
}

async function inside(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-bookinfo-hosts-" });
  const t = await Topology.create({ hosts: BOOKINFO_HOSTS });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop());
  Deno.addSignalListener("SIGTERM", () => void stop());
  try {
    const fleet = await startBookinfoFleet(t, { dir });
    await fleet.ready();
    for (const name of BOOKINFO_HOSTS) console.log(`host ${name}: ${t.host(name).address}`);
    console.log(`config: ${fleet.configDir} (inside the demo's mount namespace)`);
    console.log(`ready: ${fleet.url}`);
  } catch (err) {
    console.error(`demo --hosts: ${(err as Error).message}`);
    await t.close();
    return 1;
  }
  await new Promise(() => {}); // until a signal
  return 0;
}
