/**
 * A fleet of test "hosts": network namespaces with addresses of their own on one virtual LAN, so
 * a test can run a control plane on one host and proxies on others, talk between them by
 * address, and cut a host off the network, instead of everything sharing 127.0.0.1.
 *
 * Isolation and cleanup are the kernel's: {@linkcode fleetTest} re-runs the test file inside
 * `unshare --net --mount --propagation private --pid --fork --kill-child` (tests/netns.ts with
 * `mount: true`), with a tmpfs of its own on `/run/netns`. That child's network namespace is the
 * "world": {@linkcode Topology.create} makes one Linux bridge there (`meshbr0`, the subnet's
 * `.1`), and per host a namespace (`ip netns add mesh-<name>`) joined to the bridge by a veth
 * pair (`meshv<i>` in the world, `eth0` in the host) with `lo` up, the address
 * `<subnet>.<10+i>/24` and a default route via the bridge. The `ip netns` bind mounts live only
 * on the private tmpfs, the links only in the world namespace, and every process only in the PID
 * namespace, so all of it goes when the child ends, even if the test crashes; the machine's
 * interfaces, addresses and `/run/netns` entries are never touched. {@linkcode Topology.close}
 * still stops the processes and deletes namespaces and links, for tidiness.
 *
 * Root only; {@linkcode fleetUnavailable} says why not elsewhere (the test skips with one line).
 *
 * @example
 * ```ts
 * import { eventually } from "./helpers.ts";
 *
 * const skip = await fleetUnavailable(); // a reason (printed by the test) or undefined
 * fleetTest({ name: "a reaches b", file: import.meta.url, ignore: skip !== undefined }, async () => {
 *   const t = await Topology.create({
 *     hosts: ["control", "a", { name: "b", locality: "eu-west/1", addresses: ["10.77.1.5"] }],
 *   }); // control 10.77.0.10, a 10.77.0.11, b 10.77.0.12 (and 10.77.1.5)
 *   try {
 *     const [a, b] = [t.host("a"), t.host("b")];
 *     b.spawn("web", Deno.execPath(), ["eval", "Deno.serve({ hostname: Deno.args[0], port: 8000 }, " +
 *       "() => new Response('hi'))", b.address]); // a Proc, run in b through `ip netns exec`
 *     const get = () => a.run(["curl", "-sf", "--max-time", "2", `http://${b.address}:8000/`]);
 *     await eventually(async () => (await get()).stdout === "hi", 10_000, "b's server from a");
 *     await t.linkDown("b"); // b is off the network (get() fails) until linkUp("b")
 *     await t.linkUp("b");
 *     // mesh inside a host (see topology_test.ts for a control plane and sidecars on hosts):
 *     const r = await a.meshRun(["version"]);
 *     console.log(r.stdout);
 *   } finally {
 *     await t.close(); // stops every Proc started through the hosts, deletes netns and links
 *   }
 * });
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { mesh, meshRun, Proc } from "./helpers.ts";
import {
  IN_NETNS,
  IN_PRIVATE_MOUNTS,
  netnsUnavailable,
  ownNamespaces,
  PARENT_NS,
  runInNetns,
  unshareArgs,
} from "./netns.ts";

/** A host of {@linkcode TopologyOptions.hosts}, when it needs more than a name. */
export interface HostSpec {
  /** Lowercase letters, digits and `-`, at most 20; the namespace is `mesh-<name>`. */
  name: string;
  /** Free-form (say `region/zone/subzone`), kept as {@linkcode Host.locality} for the test. */
  locality?: string;
  /**
   * More IPv4 addresses of the host (on its `eth0`, /32), reachable from every other host: the
   * world routes each to the host's main address.
   */
  addresses?: string[];
}

/** What {@linkcode Topology.create} takes. */
export interface TopologyOptions {
  /** The hosts, in order: host i gets `<subnet>.<10+i>`. */
  hosts: Array<string | HostSpec>;
  /** The first three octets of the /24 (default `10.77.0`); the bridge is `<subnet>.1`. */
  subnet?: string;
}

/** What {@linkcode Host.run} returns. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What {@linkcode Host.run} takes. */
export interface RunOptions {
  stdin?: string;
  env?: Record<string, string>;
  /** The command is killed after this long (default 30 s; it then fails with code 143 or so). */
  timeoutMs?: number;
}

const BRIDGE = "meshbr0";
const NAME = /^[a-z0-9][a-z0-9-]{0,19}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Runs `cmd` (in the namespace `netns` when given) to completion. */
async function exec(cmd: string[], opts: RunOptions = {}, netns?: string): Promise<RunResult> {
  const argv = netns ? ["ip", "netns", "exec", netns, ...cmd] : cmd;
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { NO_COLOR: "1", ...(opts.env ?? {}) },
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
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

/** Runs `ip args` in the world namespace; throws with its stderr when it fails. */
async function ip(...args: string[]): Promise<void> {
  const r = await exec(["ip", ...args]);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/** One host of a {@linkcode Topology}: a network namespace on the bridge. */
export class Host {
  /** Its name in {@linkcode TopologyOptions.hosts}. */
  readonly name: string;
  /** Its network namespace (`ip netns exec <netns> ...`). */
  readonly netns: string;
  /** Its main address, `<subnet>.<10+i>`. */
  readonly address: string;
  /** Its extra addresses ({@linkcode HostSpec.addresses}). */
  readonly extraAddresses: readonly string[];
  /** {@linkcode HostSpec.locality}, or "". */
  readonly locality: string;
  /** Its veth in the world namespace (what linkDown sets down). */
  readonly link: string;
  readonly #procs: Proc[];

  constructor(spec: HostSpec, index: number, subnet: string, procs: Proc[]) {
    this.name = spec.name;
    this.netns = `mesh-${spec.name}`;
    this.address = `${subnet}.${10 + index}`;
    this.extraAddresses = [...(spec.addresses ?? [])];
    this.locality = spec.locality ?? "";
    this.link = `meshv${index}`;
    this.#procs = procs;
  }

  /** Runs `cmd` inside this host (`ip netns exec`) to completion. */
  run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    return exec(cmd, opts, this.netns);
  }

  /** Starts `cmd args` inside this host; {@linkcode Topology.close} stops it. */
  spawn(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Proc {
    const p = new Proc(name, cmd, args, env, { netns: this.netns });
    this.#procs.push(p);
    return p;
  }

  /** Starts `mesh args` inside this host; {@linkcode Topology.close} stops it. */
  mesh(name: string, args: string[], env: Record<string, string> = {}): Proc {
    const p = mesh(name, args, env, { netns: this.netns });
    this.#procs.push(p);
    return p;
  }

  /** Runs `mesh args` inside this host to completion. */
  meshRun(
    args: string[],
    opts: { stdin?: string; env?: Record<string, string> } = {},
  ): Promise<RunResult> {
    return meshRun(args, { ...opts, netns: this.netns });
  }

  /**
   * Starts a control plane here (`mesh start --mode=control`) on this host's address, port 0
   * (read back from its log); resolves with the process and its port once it listens.
   */
  async control(o: { configDir: string; dataDir: string }): Promise<{ proc: Proc; port: number }> {
    const proc = this.mesh("control", [
      "start",
      "--mode=control",
      `--config-dir=${o.configDir}`,
      `--data-dir=${o.dataDir}`,
      `--listen=${this.address}:0`,
      "--admin-port=0",
    ]);
    const m = await proc.waitFor(/control plane listening address=\S+:(\d+)/, 30_000);
    return { proc, port: Number(m[1]) };
  }

  /**
   * Mints a bootstrap token here (`mesh token create` against the control plane's `dataDir`,
   * so this is the control plane's host) and writes it to a file (mode 0644: proxies may run
   * as another user); returns its path.
   */
  async token(o: { dataDir: string; namespace: string; serviceAccount: string }): Promise<string> {
    const r = await this.meshRun([
      "token",
      "create",
      `--data-dir=${o.dataDir}`,
      `--namespace=${o.namespace}`,
      `--service-account=${o.serviceAccount}`,
      "--ttl=24h",
    ]);
    if (r.code !== 0) throw new Error(`mesh token create failed: ${r.stderr}`);
    const path = `${o.dataDir}/token-${o.namespace}-${o.serviceAccount}`;
    await Deno.writeTextFile(path, r.stdout.trim(), { mode: 0o644 });
    return path;
  }
}

/** Hosts on one bridge in the world namespace; see the module doc. */
export class Topology {
  /** The first three octets of the subnet. */
  readonly subnet: string;
  /** The bridge's address in the world namespace, every host's default route. */
  readonly gateway: string;
  /** The bridge's name in the world namespace. */
  readonly bridge = BRIDGE;
  readonly #hosts = new Map<string, Host>();
  readonly #procs: Proc[] = [];
  #closed = false;

  private constructor(subnet: string) {
    this.subnet = subnet;
    this.gateway = `${subnet}.1`;
  }

  /**
   * Makes the bridge and the hosts. Only inside a {@linkcode fleetTest} (it refuses to run in
   * the machine's own namespaces).
   */
  static async create(o: TopologyOptions): Promise<Topology> {
    assertInsideFleet();
    const subnet = o.subnet ?? "10.77.0";
    const octets = `${subnet}.0`.match(IPV4);
    assert.ok(octets && octets.slice(1).every((n) => Number(n) <= 255), `bad subnet ${subnet}`);
    assert.ok(o.hosts.length >= 1 && o.hosts.length <= 240, "1 to 240 hosts");
    const specs = o.hosts.map((h) => typeof h === "string" ? { name: h } : h);
    for (const s of specs) assert.match(s.name, NAME, `bad host name ${JSON.stringify(s.name)}`);
    assert.equal(new Set(specs.map((s) => s.name)).size, specs.length, "host names repeat");
    const t = new Topology(subnet);
    specs.forEach((s, i) => t.#hosts.set(s.name, new Host(s, i, subnet, t.#procs)));
    try {
      await t.#build();
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  async #build(): Promise<void> {
    await ip("link", "set", "lo", "up");
    await ip("link", "add", BRIDGE, "type", "bridge");
    await ip("addr", "add", `${this.gateway}/24`, "dev", BRIDGE);
    await ip("link", "set", BRIDGE, "up");
    const extra = this.hosts.some((h) => h.extraAddresses.length > 0);
    // Forwarding in the world only (this is its own namespace): hosts reach extra addresses
    // through their default route.
    if (extra) await Deno.writeTextFile("/proc/sys/net/ipv4/ip_forward", "1");
    for (const h of this.hosts) {
      await ip("netns", "add", h.netns);
      await ip("link", "add", h.link, "type", "veth", "peer", "name", "eth0", "netns", h.netns);
      await ip("link", "set", h.link, "master", BRIDGE, "up");
      const inHost = (...args: string[]) => ip("-n", h.netns, ...args);
      await inHost("link", "set", "lo", "up");
      await inHost("addr", "add", `${h.address}/24`, "dev", "eth0");
      for (const a of h.extraAddresses) {
        assert.match(a, IPV4, `bad address ${a} of ${h.name}`);
        await inHost("addr", "add", `${a}/32`, "dev", "eth0");
        await ip("route", "add", `${a}/32`, "via", h.address, "dev", BRIDGE);
      }
      await inHost("link", "set", "eth0", "up");
      await inHost("route", "add", "default", "via", this.gateway);
    }
  }

  /** Every host, in order. */
  get hosts(): Host[] {
    return [...this.#hosts.values()];
  }

  /** The host `name`; throws if there is none. */
  host(name: string): Host {
    const h = this.#hosts.get(name);
    if (!h) throw new Error(`no host ${JSON.stringify(name)} (hosts: ${[...this.#hosts.keys()]})`);
    return h;
  }

  /** Cuts `name` off the network: its veth goes down (connections to and from it fail). */
  async linkDown(name: string): Promise<void> {
    await ip("link", "set", this.host(name).link, "down");
  }

  /** Puts `name` back on the network (its veth up again). */
  async linkUp(name: string): Promise<void> {
    await ip("link", "set", this.host(name).link, "up");
  }

  /**
   * Stops every process started through the hosts, then deletes the veths, namespaces and the
   * bridge (best effort: the kernel removes them anyway when the fleet's child ends).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#procs.map((p) => p.stop()));
    for (const h of this.hosts) {
      await exec(["ip", "link", "del", h.link]);
      await exec(["ip", "netns", "del", h.netns]);
    }
    await exec(["ip", "link", "del", BRIDGE]);
  }
}

/** Throws unless this process is a fleet child: own network and mount namespaces, not the parent's. */
function assertInsideFleet(): void {
  if (!IN_PRIVATE_MOUNTS) {
    throw new Error("Topology.create runs only inside fleetTest (its namespaces are private)");
  }
  const own = ownNamespaces().split(" ");
  const parent = PARENT_NS.split(" ");
  assert.ok(
    parent.length === 2 && own.every((ns, i) => ns !== parent[i]),
    `not in namespaces of its own (here ${own}, the parent's ${parent})`,
  );
}

/** Why a fleet can't be made here (no root, no bridge or veth support), or undefined. */
export async function fleetUnavailable(): Promise<string | undefined> {
  if (IN_NETNS) return undefined;
  const netns = await netnsUnavailable();
  if (netns) return netns;
  const probe = "ip netns add probe && ip link add probebr type bridge && " +
    "ip link add probev type veth peer name eth0 netns probe && ip -n probe link set eth0 up";
  const r = await new Deno.Command("unshare", {
    args: [...unshareArgs({ mount: true }), "sh", "-c", probe],
    stdout: "null",
    stderr: "piped",
  }).output().catch((err) => ({ success: false, stderr: new TextEncoder().encode(`${err}`) }));
  if (r.success) return undefined;
  return `a private netns with ip netns, a bridge and veths can't be made here (${
    new TextDecoder().decode(r.stderr).trim()
  }; needs root and the bridge and veth drivers)`;
}

/** Why a fleet with transparent capture can't run here (no fleet, or no iptables), or undefined. */
export async function captureUnavailable(): Promise<string | undefined> {
  const why = await fleetUnavailable();
  if (why) return why;
  return await new Deno.Command("iptables-restore", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  }).output().then(
    (r) => r.success ? undefined : "iptables-restore fails here",
    () => "iptables is missing (apt-get install iptables)",
  );
}

/** The machine's network namespaces and links as `ip` lists them (names only), for before/after. */
export async function networkState(): Promise<{ netns: string[]; links: string[] }> {
  const netns = await exec(["ip", "netns", "list"]);
  const links = await exec(["ip", "-o", "link", "show"]);
  assert.equal(links.code, 0, links.stderr);
  return {
    netns: netns.stdout.split("\n").map((l) => l.trim().split(" ")[0]).filter(Boolean).sort(),
    links: links.stdout.split("\n").filter(Boolean).map((l) => l.split(":")[1].trim()).sort(),
  };
}

/** What {@linkcode fleetTest} takes. */
export interface FleetTestOptions {
  name: string;
  /** The test file (`import.meta.url` of the caller). */
  file: string;
  ignore?: boolean;
  /** Bound on the child run (default 2 min). */
  timeoutMs?: number;
  /**
   * After the child, assert from the parent that the machine's `ip netns list` and links are
   * what they were before it (off by default: unrelated software may change them meanwhile).
   */
  checkMachine?: boolean;
}

/**
 * Registers a test whose body runs in a fleet child (see the module doc), where
 * {@linkcode Topology.create} may be called. The parent only starts the child and checks it
 * passed (and, with `checkMachine`, that the machine's namespaces and links are unchanged).
 */
export function fleetTest(o: FleetTestOptions, fn: () => Promise<void>): void {
  Deno.test({
    name: o.name,
    ignore: o.ignore ?? false,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      if (IN_NETNS) {
        assertInsideFleet();
        return await fn();
      }
      const before = o.checkMachine ? await networkState() : undefined;
      await runInNetns({
        name: o.name,
        file: o.file,
        mount: true,
        timeoutMs: o.timeoutMs ?? 120_000,
      });
      if (before) {
        assert.deepEqual(await networkState(), before, "the machine's netns or links changed");
      }
    },
  });
}
