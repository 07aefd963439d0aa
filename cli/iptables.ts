/**
 * `mesh iptables`: transparent capture of a workload's TCP traffic into its sidecar, as
 * Istio's `istio-iptables` (REDIRECT mode) does, on a VM or (later) in a pod's init
 * container. Writes the nat table's MESH_* chains in one `iptables-restore`; `--cleanup`
 * removes them; `--dry-run` prints the rules and runs nothing. See docs/capture.md.
 *
 * @example
 * ```ts
 * await iptablesCommand(["--proxy-uid=1337", "--dry-run"]);
 * ```
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import {
  CAPTURE_DEFAULTS,
  type CaptureInput,
  CaptureOptionError,
  type CaptureOptions,
  captureOptions,
  captureTable,
  ownPorts,
  parseCidrs,
  parseIds,
  parsePorts,
  resolvConfNameservers,
} from "../proxy/capture/iptables_rules.ts";

const port = (def: number, help: string) => ({
  type: "int" as const,
  min: 1,
  max: 65535,
  default: def,
  help,
});

/** The flags of `mesh iptables`. */
export const iptablesFlags: FlagSpecs = {
  "proxy-uid": {
    type: "string",
    help: "the proxy's user id(s), comma-separated: their traffic is not captured " +
      "(default: the uid of user mesh, which the systemd units run as)",
  },
  "proxy-gid": {
    type: "string",
    help: "the proxy's group id(s), not captured either " +
      "(default: user mesh's group when the uid is mesh's, else the same numbers as --proxy-uid)",
  },
  "inbound-port": port(
    CAPTURE_DEFAULTS.inboundPort,
    "the proxy's inbound port (mesh start --inbound-port): inbound TCP is redirected there",
  ),
  "outbound-port": port(
    CAPTURE_DEFAULTS.outboundPort,
    "the proxy's outbound port (mesh start --outbound-port): outbound TCP is redirected there",
  ),
  "admin-port": port(CAPTURE_DEFAULTS.adminPort, "the proxy's admin port, never captured"),
  "include-inbound-ports": {
    type: "string",
    default: "*",
    help: "inbound ports to capture: * for all, or a list like 9080,9443",
  },
  "exclude-inbound-ports": {
    type: "string",
    default: "",
    help: "inbound ports not captured (15090, 15021, 15020 and the proxy's ports never are)",
  },
  "include-outbound-ports": {
    type: "string",
    default: "",
    help: "outbound ports captured whatever the destination (with --include-outbound-cidrs)",
  },
  "exclude-outbound-ports": {
    type: "string",
    default: "",
    help: "outbound ports not captured, e.g. 22",
  },
  "include-outbound-cidrs": {
    type: "string",
    default: "*",
    help: "outbound destinations captured: * for all, or CIDRs like 10.0.0.0/8",
  },
  "exclude-outbound-cidrs": {
    type: "string",
    default: "",
    help: "outbound destinations not captured, e.g. 169.254.169.254/32",
  },
  "redirect-dns": {
    type: "bool",
    default: false,
    help: "also capture DNS (UDP and TCP port 53) into the proxy's DNS port",
  },
  "dns-servers": {
    type: "string",
    default: "",
    help: "with --redirect-dns: name servers whose queries are captured, * for any " +
      "(default: the IPv4 nameservers of /etc/resolv.conf)",
  },
  "dns-port": port(CAPTURE_DEFAULTS.dnsPort, "the proxy's DNS port"),
  ipv6: {
    type: "bool",
    default: false,
    help: "capture IPv6 too: not supported yet (only a warning; IPv4 is captured)",
  },
  cleanup: {
    type: "bool",
    default: false,
    help: "remove mesh's chains and rules (every MESH_* chain in the nat table)",
  },
  "dry-run": {
    type: "bool",
    default: false,
    help: "print the iptables-restore text and run nothing",
  },
};

/** The help text. */
export function iptablesHelp(): string {
  return `mesh iptables [flags]            capture the workload's TCP traffic into its sidecar
mesh iptables --cleanup          remove the capture
mesh iptables --dry-run [flags]  print the rules, change nothing

Istio's istio-iptables (REDIRECT mode): writes the nat table's chains MESH_INBOUND,
MESH_IN_REDIRECT, MESH_OUTPUT, MESH_REDIRECT (and MESH_DNS) with one iptables-restore, so the
table changes at once or not at all. Inbound TCP goes to the proxy's inbound port, outbound TCP
to its outbound port; the proxy's own traffic (--proxy-uid, --proxy-gid) and 127.0.0.1 are
left alone. Running it again replaces the rules; other rules in the table are kept. Needs root
or CAP_NET_ADMIN, and iptables-save/iptables-restore (apt-get install iptables). IPv4 only.
See docs/capture.md.

${flagHelp(iptablesFlags)}`;
}

/** The `mesh` user's uid and gid, from `getent passwd` or /etc/passwd. */
async function meshUser(): Promise<{ uid: number; gid: number } | undefined> {
  let line: string | undefined;
  try {
    const r = await new Deno.Command("getent", {
      args: ["passwd", "mesh"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (r.success) line = new TextDecoder().decode(r.stdout).trim();
  } catch {
    // no getent: read the file
  }
  if (line === undefined) {
    try {
      line = (await Deno.readTextFile("/etc/passwd")).split("\n").find((l) =>
        l.startsWith("mesh:")
      );
    } catch {
      return undefined;
    }
  }
  const f = line?.split(":");
  if (!f || f.length < 4 || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) return undefined;
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The capture options from parsed flags; warnings go to `warn`. */
export async function optionsFromFlags(
  flags: Record<string, unknown>,
  warn: (msg: string) => void,
  resolvConf = "/etc/resolv.conf",
): Promise<CaptureOptions> {
  let proxyUids: number[];
  let proxyGids: number[] | undefined;
  if (flags.proxyUid !== undefined) {
    proxyUids = parseIds("--proxy-uid", flags.proxyUid as string);
  } else {
    const user = await meshUser();
    if (!user) {
      throw new UsageError(
        "missing --proxy-uid (or MESH_PROXY_UID): there is no user mesh on this host to take " +
          "it from; give the uid the proxy runs as (e.g. --proxy-uid=1337), or create the user " +
          "(useradd --system mesh)",
      );
    }
    proxyUids = [user.uid];
    proxyGids = [user.gid];
  }
  if (flags.proxyGid !== undefined) proxyGids = parseIds("--proxy-gid", flags.proxyGid as string);

  const cidrs = (flag: string, raw: string, wildcard: boolean) => {
    const r = parseCidrs(flag, raw, wildcard);
    if (r.ipv6.length) {
      warn(`${flag}: ${r.ipv6.join(", ")} ignored: only IPv4 is captured for now`);
    }
    return r.cidrs;
  };
  const redirectDns = flags.redirectDns as boolean;
  let dnsServers: "*" | string[] = "*";
  const rawServers = (flags.dnsServers as string).trim();
  if (rawServers && !redirectDns) warn("--dns-servers is ignored without --redirect-dns");
  if (redirectDns) {
    if (rawServers === "*") dnsServers = "*";
    else if (rawServers) {
      const r = cidrs("--dns-servers", rawServers, false) as string[];
      const bad = r.find((c) => !c.endsWith("/32"));
      if (bad) {
        throw new UsageError(
          `--dns-servers "${rawServers}": "${bad}" is a network; give name server addresses, or *`,
        );
      }
      dnsServers = r.map((c) => c.slice(0, -3));
      if (!dnsServers.length) {
        throw new UsageError(
          `--dns-servers "${rawServers}": no IPv4 name server in it; give IPv4 addresses, or *`,
        );
      }
    } else {
      let text: string;
      try {
        text = await Deno.readTextFile(resolvConf);
      } catch (err) {
        throw new UsageError(
          `--redirect-dns: can't read ${resolvConf} (${
            (err as Error).message
          }); give the name servers with --dns-servers=IP,... or --dns-servers=*`,
        );
      }
      const ns = resolvConfNameservers(text);
      if (ns.other.length) {
        warn(`--redirect-dns: ${ns.other.join(", ")} in ${resolvConf} not captured (IPv4 only)`);
      }
      if (!ns.ipv4.length) {
        throw new UsageError(
          `--redirect-dns: ${resolvConf} names no IPv4 nameserver; give them with --dns-servers=IP,... or --dns-servers=*`,
        );
      }
      dnsServers = ns.ipv4;
    }
  }
  const input: CaptureInput = {
    proxyUids,
    proxyGids,
    inboundPort: flags.inboundPort as number,
    outboundPort: flags.outboundPort as number,
    adminPort: flags.adminPort as number,
    dnsPort: flags.dnsPort as number,
    includeInboundPorts: parsePorts(
      "--include-inbound-ports",
      flags.includeInboundPorts as string,
      true,
    ),
    excludeInboundPorts: parsePorts("--exclude-inbound-ports", flags.excludeInboundPorts as string),
    includeOutboundPorts: parsePorts(
      "--include-outbound-ports",
      flags.includeOutboundPorts as string,
    ),
    excludeOutboundPorts: parsePorts(
      "--exclude-outbound-ports",
      flags.excludeOutboundPorts as string,
    ),
    includeOutboundCidrs: cidrs(
      "--include-outbound-cidrs",
      flags.includeOutboundCidrs as string,
      true,
    ),
    excludeOutboundCidrs: cidrs(
      "--exclude-outbound-cidrs",
      flags.excludeOutboundCidrs as string,
      false,
    ) as string[],
    redirectDns,
    dnsServers,
  };
  if (Array.isArray(input.includeInboundPorts) && !input.includeInboundPorts.length) {
    warn("--include-inbound-ports is empty: no inbound traffic is captured");
  }
  if (Array.isArray(input.includeOutboundCidrs) && !input.includeOutboundCidrs.length) {
    warn(
      "--include-outbound-cidrs is empty: outbound traffic is captured only for --include-outbound-ports",
    );
  }
  return captureOptions(input);
}

/** One line on what capture does with `o`. */
export function describe(o: CaptureOptions): string {
  const list = (v: "*" | readonly (number | string)[]) => v === "*" ? "all" : v.join(",") || "none";
  const except = (v: readonly (number | string)[]) => v.length ? ` except ${v.join(",")}` : "";
  const inbound = o.includeInboundPorts === "*"
    ? "all ports"
    : `ports ${list(o.includeInboundPorts)}`;
  const parts = [
    `inbound TCP to ${inbound}${except(o.excludeInboundPorts)} → ${o.inboundPort} (never ${
      ownPorts(o).join(",")
    })`,
    `outbound TCP to ${list(o.includeOutboundCidrs)}${except(o.excludeOutboundCidrs)}${
      o.includeOutboundPorts.length ? ` and to ports ${o.includeOutboundPorts.join(",")}` : ""
    }${
      o.excludeOutboundPorts.length ? ` but not ports ${o.excludeOutboundPorts.join(",")}` : ""
    } → ${o.outboundPort}`,
  ];
  if (o.redirectDns) parts.push(`DNS to ${list(o.dnsServers)} → ${o.dnsPort}`);
  const gids = o.proxyGids.length ? `, gid ${o.proxyGids.join(",")}` : "";
  return `${parts.join("; ")}; the proxy's own traffic (uid ${
    o.proxyUids.join(",")
  }${gids}) left alone`;
}

/** Runs `mesh iptables`. */
export async function iptablesCommand(argv: string[]): Promise<number> {
  const { flags, args, help } = parseFlags(argv, iptablesFlags);
  if (help) {
    console.log(iptablesHelp());
    return 0;
  }
  if (args.length) {
    throw new UsageError(`mesh iptables takes no arguments, got "${args[0]}" (see --help)`);
  }
  const warn = (msg: string) => console.error(`mesh iptables: warning: ${msg}`);
  if (flags.ipv6) {
    warn("--ipv6: IPv6 capture is not supported yet; only IPv4 traffic is captured");
  }
  const { applyCapture, cleanupCapture } = await import("../proxy/capture/iptables.ts");
  if (flags.cleanup) {
    if (flags.dryRun) {
      console.log(
        "mesh iptables --cleanup would remove every MESH_* chain in the nat table and every rule jumping to one, in one iptables-restore",
      );
      return 0;
    }
    const { removed } = await cleanupCapture();
    if (!removed.chains.length && !removed.rules.length) {
      console.log("mesh iptables: no mesh capture rules in the nat table; nothing to clean up");
    } else {
      console.log(
        `mesh iptables: removed ${removed.rules.length} rules and the chains ${
          removed.chains.join(", ")
        }`,
      );
    }
    return 0;
  }
  let options: CaptureOptions;
  try {
    options = await optionsFromFlags(flags, warn);
  } catch (err) {
    if (err instanceof CaptureOptionError) throw new UsageError(err.message);
    throw err;
  }
  if (flags.dryRun) {
    console.log(captureTable(options).trimEnd());
    return 0;
  }
  const r = await applyCapture(options);
  console.log(
    `mesh iptables: capture ${r.replaced ? "replaced" : "on"}: ${
      describe(options)
    } (${r.applied.rules.length} rules in ${r.applied.chains.join(", ")})`,
  );
  return 0;
}
