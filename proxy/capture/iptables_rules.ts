/**
 * The rules of transparent capture (Istio's `istio-iptables`, REDIRECT mode), as pure
 * functions: capture options → the nat table's `iptables-restore` text, and the editing of an
 * `iptables-save` dump that replaces or removes mesh's part of it. Nothing here runs a
 * program; `iptables.ts` does that.
 *
 * Chains (nat table): `PREROUTING -p tcp` → `MESH_INBOUND` → `MESH_IN_REDIRECT` (REDIRECT to
 * the inbound capture port); `OUTPUT -p tcp` → `MESH_OUTPUT` → `MESH_REDIRECT` (REDIRECT to
 * the outbound port); with DNS capture, `OUTPUT -p udp --dport 53` and TCP port 53 →
 * `MESH_DNS` (REDIRECT to the DNS port). Rules are written in `iptables-save`'s own form, so
 * what the kernel holds afterwards reads back line for line. IPv4 only.
 *
 * @example
 * ```ts
 * const o = captureOptions({ proxyUids: [1337] });
 * console.log(captureTable(o)); // *nat ... COMMIT
 * const text = mergeCapture(await iptablesSaveOutput, captureRules(o)); // the whole table
 * ```
 * @module
 */

/** Every chain mesh owns starts with this; any chain so named is mesh's to replace. */
export const CHAIN_PREFIX = "MESH_";

/** mesh's chains in the nat table. */
export const CHAINS = {
  inbound: "MESH_INBOUND",
  inRedirect: "MESH_IN_REDIRECT",
  output: "MESH_OUTPUT",
  redirect: "MESH_REDIRECT",
  dns: "MESH_DNS",
} as const;

/**
 * The proxy's own ports inbound capture leaves alone, as Istio does: 15090 (Prometheus
 * stats), 15021 (health), 15020 (merged metrics, agent). The proxy's inbound, outbound and
 * admin ports are added to them.
 */
export const PROXY_PORTS: readonly number[] = [15090, 15021, 15020];

/** The source address of Envoy's inbound passthrough connections, left alone as in Istio. */
export const INBOUND_PASSTHROUGH_SOURCE = "127.0.0.6/32";

/** Capture settings; {@linkcode captureOptions} fills in defaults and checks them. */
export interface CaptureOptions {
  /** The proxy's user ids: their traffic is not captured (default: the `mesh` user's). */
  proxyUids: number[];
  /** The proxy's group ids: their traffic is not captured either. */
  proxyGids: number[];
  /** Where inbound TCP is redirected (the proxy's `--inbound-port`, default 15006). */
  inboundPort: number;
  /** Where outbound TCP is redirected (the proxy's `--outbound-port`, default 15001). */
  outboundPort: number;
  /** The proxy's admin port (default 15000): never captured inbound. */
  adminPort: number;
  /** Inbound ports to capture: `"*"` (every port, the default) or a list. */
  includeInboundPorts: "*" | number[];
  /** Inbound ports never captured. */
  excludeInboundPorts: number[];
  /** Outbound ports captured whatever their destination. */
  includeOutboundPorts: number[];
  /** Outbound ports never captured. */
  excludeOutboundPorts: number[];
  /** Outbound destinations to capture: `"*"` (every one, the default) or IPv4 CIDRs. */
  includeOutboundCidrs: "*" | string[];
  /** Outbound destinations never captured (IPv4 CIDRs). */
  excludeOutboundCidrs: string[];
  /** Whether DNS (UDP and TCP port 53) is redirected to `dnsPort`. */
  redirectDns: boolean;
  /** The name servers whose queries are captured: `"*"` (any) or IPv4 addresses. */
  dnsServers: "*" | string[];
  /** Where DNS is redirected (default 15053). */
  dnsPort: number;
}

/** What {@linkcode captureOptions} takes: the proxy's uids and anything else to change. */
export type CaptureInput = Partial<CaptureOptions> & { proxyUids: number[] };

/** The defaults, as in Istio. */
export const CAPTURE_DEFAULTS: Omit<CaptureOptions, "proxyUids" | "proxyGids"> = {
  inboundPort: 15006,
  outboundPort: 15001,
  adminPort: 15000,
  includeInboundPorts: "*",
  excludeInboundPorts: [],
  includeOutboundPorts: [],
  excludeOutboundPorts: [],
  includeOutboundCidrs: "*",
  excludeOutboundCidrs: [],
  redirectDns: false,
  dnsServers: "*",
  dnsPort: 15053,
};

/** A bad capture setting; the message names the flag (and option) and the fix. */
export class CaptureOptionError extends Error {
  override name = "CaptureOptionError";
  constructor(readonly flag: string, message: string) {
    super(message);
  }
}

const FLAG_OF: Record<keyof CaptureOptions, string> = {
  proxyUids: "--proxy-uid",
  proxyGids: "--proxy-gid",
  inboundPort: "--inbound-port",
  outboundPort: "--outbound-port",
  adminPort: "--admin-port",
  includeInboundPorts: "--include-inbound-ports",
  excludeInboundPorts: "--exclude-inbound-ports",
  includeOutboundPorts: "--include-outbound-ports",
  excludeOutboundPorts: "--exclude-outbound-ports",
  includeOutboundCidrs: "--include-outbound-cidrs",
  excludeOutboundCidrs: "--exclude-outbound-cidrs",
  redirectDns: "--redirect-dns",
  dnsServers: "--dns-servers",
  dnsPort: "--dns-port",
};

const MAX_ID = 4294967294; // (uid_t)-1 means "no id"

function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

/** `"80,443"` → `[80, 443]`; `"*"` → `"*"` when `wildcard`; `""` → `[]`. */
export function parsePorts(flag: string, raw: string, wildcard: true): "*" | number[];
export function parsePorts(flag: string, raw: string, wildcard?: false): number[];
export function parsePorts(flag: string, raw: string, wildcard = false): "*" | number[] {
  const s = raw.trim();
  if (s === "*") {
    if (wildcard) return "*";
    throw new CaptureOptionError(flag, `${flag} "*": give a list of ports, e.g. 22,8080`);
  }
  const out: number[] = [];
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const n = Number(part);
    if (!/^\d{1,5}$/.test(part) || !isPort(n)) {
      throw new CaptureOptionError(
        flag,
        `${flag} "${raw}": "${part}" is not a port; give ports from 1 to 65535 separated by commas${
          wildcard ? ", or *" : ""
        }`,
      );
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** `"1337"` or `"1337,1338"` → ids; anything but whole numbers is refused. */
export function parseIds(flag: string, raw: string): number[] {
  const out: number[] = [];
  const parts = raw.split(",").map((p) => p.trim()).filter(Boolean);
  if (!parts.length) {
    throw new CaptureOptionError(flag, `${flag}: empty; give a numeric id, e.g. ${flag}=1337`);
  }
  for (const part of parts) {
    if (!/^\d{1,10}$/.test(part) || Number(part) > MAX_ID) {
      throw new CaptureOptionError(
        flag,
        `${flag} "${raw}": "${part}" is not a numeric ${
          flag.endsWith("gid") ? "group" : "user"
        } id; give the number (e.g. ${flag}=1337; \`id -${
          flag.endsWith("gid") ? "g" : "u"
        } mesh\` prints it)`,
      );
    }
    if (!out.includes(Number(part))) out.push(Number(part));
  }
  return out;
}

/** The network address of an IPv4 address or CIDR (`10.1.2.3/8` → `10.0.0.0/8`), or undefined. */
export function normalizeIpv4Cidr(s: string): string | undefined {
  const m = s.trim().match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) {
    return undefined;
  }
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  if (bits > 32) return undefined;
  const ip = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (ip & mask) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${bits}`;
}

/** Whether `s` is an IPv6 address or CIDR. */
export function isIpv6(s: string): boolean {
  const m = s.trim().match(/^([0-9A-Fa-f:.]+)(?:\/(\d{1,3}))?$/);
  if (!m || !m[1].includes(":") || (m[2] !== undefined && Number(m[2]) > 128)) return false;
  try {
    new URL(`http://[${m[1]}]/`);
    return true;
  } catch {
    return false;
  }
}

/** CIDRs parsed from a flag: IPv4 ones normalized; IPv6 ones set apart (not captured yet). */
export interface ParsedCidrs {
  cidrs: "*" | string[];
  ipv6: string[];
}

/** `"10.0.0.0/8,192.168.1.1"` → normalized IPv4 CIDRs; `"*"` when `wildcard`. */
export function parseCidrs(flag: string, raw: string, wildcard: boolean): ParsedCidrs {
  const s = raw.trim();
  if (s === "*") {
    if (wildcard) return { cidrs: "*", ipv6: [] };
    throw new CaptureOptionError(flag, `${flag} "*": give a list of CIDRs, e.g. 10.0.0.0/8`);
  }
  const cidrs: string[] = [];
  const ipv6: string[] = [];
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const c = normalizeIpv4Cidr(part);
    if (c) {
      if (!cidrs.includes(c)) cidrs.push(c);
    } else if (isIpv6(part)) ipv6.push(part);
    else {
      throw new CaptureOptionError(
        flag,
        `${flag} "${raw}": "${part}" is not an IPv4 CIDR; give CIDRs like 10.0.0.0/8 or addresses like 10.1.2.3 separated by commas${
          wildcard ? ", or *" : ""
        }`,
      );
    }
  }
  return { cidrs, ipv6 };
}

/** The `nameserver` lines of a resolv.conf: IPv4 addresses, and the others (IPv6). */
export function resolvConfNameservers(text: string): { ipv4: string[]; other: string[] } {
  const ipv4: string[] = [];
  const other: string[] = [];
  for (const line of text.split("\n")) {
    const m = line.trim().match(/^nameserver\s+(\S+)/);
    if (!m) continue;
    const c = normalizeIpv4Cidr(m[1]);
    if (c && c.endsWith("/32")) {
      const ip = c.slice(0, -3);
      if (!ipv4.includes(ip)) ipv4.push(ip);
    } else other.push(m[1]);
  }
  return { ipv4, other };
}

/** Fills in the defaults and checks every setting; throws {@linkcode CaptureOptionError}. */
export function captureOptions(input: CaptureInput): CaptureOptions {
  const o: CaptureOptions = {
    ...CAPTURE_DEFAULTS,
    proxyGids: input.proxyUids,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
  } as CaptureOptions;
  const bad = (key: keyof CaptureOptions, what: string): never => {
    throw new CaptureOptionError(FLAG_OF[key], `${FLAG_OF[key]} (${key}): ${what}`);
  };
  for (const key of ["proxyUids", "proxyGids"] as const) {
    if (!Array.isArray(o[key]) || o[key].some((n) => !Number.isInteger(n) || n < 0 || n > MAX_ID)) {
      bad(key, `must be numeric ids, got ${JSON.stringify(o[key])}`);
    }
  }
  if (!o.proxyUids.length) {
    bad("proxyUids", "give the proxy's user id, or its traffic would be captured in a loop");
  }
  for (const key of ["inboundPort", "outboundPort", "adminPort", "dnsPort"] as const) {
    if (!isPort(o[key])) bad(key, `must be a port from 1 to 65535, got ${JSON.stringify(o[key])}`);
  }
  for (
    const key of [
      "includeInboundPorts",
      "excludeInboundPorts",
      "includeOutboundPorts",
      "excludeOutboundPorts",
    ] as const
  ) {
    const v = o[key];
    if (v === "*" && key === "includeInboundPorts") continue;
    if (!Array.isArray(v) || !v.every(isPort)) {
      bad(key, `must be ports from 1 to 65535, got ${JSON.stringify(v)}`);
    }
    o[key] = [...new Set(v as number[])];
  }
  for (const key of ["includeOutboundCidrs", "excludeOutboundCidrs"] as const) {
    const v = o[key];
    if (v === "*" && key === "includeOutboundCidrs") continue;
    if (!Array.isArray(v)) bad(key, `must be a list of IPv4 CIDRs, got ${JSON.stringify(v)}`);
    const norm = (v as string[]).map((c) => normalizeIpv4Cidr(String(c)));
    const i = norm.indexOf(undefined);
    if (i >= 0) bad(key, `"${(v as string[])[i]}" is not an IPv4 CIDR (like 10.0.0.0/8)`);
    o[key] = [...new Set(norm as string[])];
  }
  if (o.dnsServers !== "*") {
    if (!Array.isArray(o.dnsServers)) bad("dnsServers", "must be * or IPv4 addresses");
    const norm = o.dnsServers.map((s) => normalizeIpv4Cidr(String(s)));
    const i = norm.findIndex((c) => !c || !c.endsWith("/32"));
    if (i >= 0) bad("dnsServers", `"${o.dnsServers[i]}" is not an IPv4 address`);
    if (o.redirectDns && !norm.length) {
      bad("dnsServers", "no name server to capture; give IPv4 addresses or *");
    }
    o.dnsServers = [...new Set(norm.map((c) => c!.slice(0, -3)))];
  }
  o.redirectDns = o.redirectDns === true;
  return o;
}

/** mesh's part of the nat table: its chains and its rules (`-A ...` lines). */
export interface NatRules {
  chains: string[];
  rules: string[];
}

/** One rule, written with its parts in `iptables-save`'s order. */
interface Rule {
  chain: string;
  src?: string;
  dst?: string;
  notDst?: string;
  out?: string;
  proto?: "tcp" | "udp";
  /** Matches after the protocol: `-m tcp --dport 53`, `-m multiport --dports 1,2`. */
  match?: string;
  owner?: string;
  target: string;
}

function render(r: Rule): string {
  const p = [`-A ${r.chain}`];
  if (r.src) p.push(`-s ${r.src}`);
  if (r.notDst) p.push(`! -d ${r.notDst}`);
  if (r.dst) p.push(`-d ${r.dst}`);
  if (r.out) p.push(`-o ${r.out}`);
  if (r.proto) p.push(`-p ${r.proto}`);
  if (r.match) p.push(r.match);
  if (r.owner) p.push(r.owner);
  p.push(`-j ${r.target}`);
  return p.join(" ");
}

/** Port matches for `ports`, at most 15 per rule (multiport's limit). */
function portMatches(proto: "tcp" | "udp", ports: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ports.length; i += 15) {
    const chunk = ports.slice(i, i + 15);
    out.push(
      chunk.length === 1 ? `-m ${proto} --dport ${chunk[0]}` : `-m multiport --dports ${chunk}`,
    );
  }
  return out;
}

/** The proxy's own ports that inbound capture leaves alone. */
export function ownPorts(o: CaptureOptions): number[] {
  return [...new Set([...PROXY_PORTS, o.inboundPort, o.outboundPort, o.adminPort])];
}

/** mesh's chains and rules for `o` (use {@linkcode captureOptions} first). */
export function captureRules(o: CaptureOptions): NatRules {
  const { inbound, inRedirect, output, redirect, dns } = CHAINS;
  const rules: Rule[] = [];
  const add = (r: Rule) => rules.push(r);

  // Hooks into the built-in chains.
  add({ chain: "PREROUTING", proto: "tcp", target: inbound });
  add({ chain: "OUTPUT", proto: "tcp", target: output });
  if (o.redirectDns) {
    add({ chain: "OUTPUT", proto: "udp", match: "-m udp --dport 53", target: dns });
  }

  // Inbound: the proxy's own ports and the excluded ones pass; the rest (or the included) go
  // to the inbound capture port.
  for (const m of portMatches("tcp", ownPorts(o))) {
    add({ chain: inbound, proto: "tcp", match: m, target: "RETURN" });
  }
  for (const m of portMatches("tcp", o.excludeInboundPorts)) {
    add({ chain: inbound, proto: "tcp", match: m, target: "RETURN" });
  }
  if (o.includeInboundPorts === "*") add({ chain: inbound, proto: "tcp", target: inRedirect });
  else {
    for (const m of portMatches("tcp", o.includeInboundPorts)) {
      add({ chain: inbound, proto: "tcp", match: m, target: inRedirect });
    }
  }
  add({
    chain: inRedirect,
    proto: "tcp",
    target: `REDIRECT --to-ports ${o.inboundPort}`,
  });

  // Outbound.
  for (const m of portMatches("tcp", o.excludeOutboundPorts)) {
    add({ chain: output, proto: "tcp", match: m, target: "RETURN" });
  }
  add({ chain: output, src: INBOUND_PASSTHROUGH_SOURCE, out: "lo", target: "RETURN" });
  // With DNS capture, TCP port 53 over lo (a local stub resolver) is not let through here.
  const notDns = o.redirectDns ? { proto: "tcp" as const, match: "-m tcp ! --dport 53" } : {};
  for (const [kind, ids] of [["uid", o.proxyUids], ["gid", o.proxyGids]] as const) {
    for (const id of ids) {
      // The proxy calling its own workload's address over lo (a service whose endpoint is
      // this workload): to the inbound side, so inbound policy applies.
      add({
        chain: output,
        notDst: "127.0.0.1/32",
        out: "lo",
        ...notDns,
        owner: `-m owner --${kind}-owner ${id}`,
        target: inRedirect,
      });
      // The app calling itself over lo by any address: not captured.
      add({
        chain: output,
        out: "lo",
        ...notDns,
        owner: `-m owner ! --${kind}-owner ${id}`,
        target: "RETURN",
      });
      // The proxy's own traffic: not captured.
      add({ chain: output, owner: `-m owner --${kind}-owner ${id}`, target: "RETURN" });
    }
  }
  if (o.redirectDns) add({ chain: output, proto: "tcp", match: "-m tcp --dport 53", target: dns });
  add({ chain: output, dst: "127.0.0.1/32", target: "RETURN" });
  for (const c of o.excludeOutboundCidrs) add({ chain: output, dst: c, target: "RETURN" });
  for (const m of portMatches("tcp", o.includeOutboundPorts)) {
    add({ chain: output, proto: "tcp", match: m, target: redirect });
  }
  if (o.includeOutboundCidrs === "*") add({ chain: output, target: redirect });
  else {
    for (const c of o.includeOutboundCidrs) add({ chain: output, dst: c, target: redirect });
  }
  add({ chain: redirect, proto: "tcp", target: `REDIRECT --to-ports ${o.outboundPort}` });

  // DNS: the proxy's own queries pass; the others to the listed name servers (or any) go to
  // the proxy's DNS port.
  if (o.redirectDns) {
    for (const [kind, ids] of [["uid", o.proxyUids], ["gid", o.proxyGids]] as const) {
      for (const id of ids) {
        add({ chain: dns, owner: `-m owner --${kind}-owner ${id}`, target: "RETURN" });
      }
    }
    const servers = o.dnsServers === "*" ? [undefined] : o.dnsServers.map((s) => `${s}/32`);
    for (const dst of servers) {
      for (const proto of ["udp", "tcp"] as const) {
        add({
          chain: dns,
          dst,
          proto,
          match: `-m ${proto} --dport 53`,
          target: `REDIRECT --to-ports ${o.dnsPort}`,
        });
      }
    }
  }

  const chains: string[] = [inbound, inRedirect, output, redirect];
  if (o.redirectDns) chains.push(dns);
  // Grouped by chain, in the order iptables-save lists them: the built-in chains first, then
  // mesh's by name.
  const order = ["PREROUTING", "OUTPUT", ...[...chains].sort()];
  const sorted = order.flatMap((c) => rules.filter((r) => r.chain === c));
  return { chains, rules: sorted.map(render) };
}

/** mesh's part alone, as `iptables-restore` input (what `--dry-run` prints). */
export function captureTable(o: CaptureOptions, comment = true): string {
  const { chains, rules } = captureRules(o);
  return [
    ...(comment
      ? [
        "# mesh capture rules (nat table). Applying merges them into the current table:",
        "# other rules stay, earlier MESH_* chains and the rules jumping to them are replaced.",
      ]
      : []),
    "*nat",
    ...[...chains].sort().map((c) => `:${c} - [0:0]`),
    ...rules,
    "COMMIT",
    "",
  ].join("\n");
}

/** A parsed `iptables-save` dump of one table. */
export interface SavedTable {
  /** `:CHAIN POLICY [p:b]` lines. */
  chains: string[];
  /** Rule lines as saved (with a `[p:b] ` counter prefix when saved with `-c`). */
  rules: string[];
}

const BUILTIN_NAT = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"];

/** The nat table in `iptables-save -t nat` output (an empty one when it has none). */
export function parseSave(text: string, table = "nat"): SavedTable {
  const chains: string[] = [];
  const rules: string[] = [];
  let inTable = false;
  let seen = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.startsWith("*")) {
      inTable = line.slice(1).trim() === table;
      seen ||= inTable;
      continue;
    }
    if (!inTable) continue;
    if (line === "COMMIT") {
      inTable = false;
      continue;
    }
    if (line.startsWith(":")) chains.push(line);
    else rules.push(line);
  }
  if (!seen && table === "nat") chains.push(...BUILTIN_NAT.map((c) => `:${c} ACCEPT [0:0]`));
  return { chains, rules };
}

/** A saved rule without its `[p:b] ` counters. */
export function ruleText(saved: string): string {
  return saved.replace(/^\[\d+:\d+\]\s+/, "");
}

function chainName(decl: string): string {
  return decl.slice(1).split(/\s+/)[0];
}

/** Whether a saved rule is mesh's: in a MESH_* chain, or jumping (`-j`/`-g`) to one. */
export function isMeshRule(saved: string): boolean {
  const r = ruleText(saved);
  const chain = r.match(/^-[AI]\s+(\S+)/)?.[1] ?? "";
  return chain.startsWith(CHAIN_PREFIX) ||
    new RegExp(`(^|\\s)-[jg]\\s+${CHAIN_PREFIX}\\S*(\\s|$)`).test(r);
}

/** mesh's chains and rules in a dump (what is applied now). */
export function meshPart(text: string): NatRules {
  const t = parseSave(text);
  return {
    chains: t.chains.map(chainName).filter((c) => c.startsWith(CHAIN_PREFIX)),
    rules: t.rules.filter(isMeshRule).map(ruleText),
  };
}

/** Renders a table as `iptables-restore` input. */
function renderTable(t: SavedTable): string {
  return ["*nat", ...t.chains, ...t.rules, "COMMIT", ""].join("\n");
}

/** The table without mesh's chains and rules, as `iptables-restore` input (`--cleanup`). */
export function stripCapture(text: string): string {
  const t = parseSave(text);
  return renderTable({
    chains: t.chains.filter((c) => !chainName(c).startsWith(CHAIN_PREFIX)),
    rules: t.rules.filter((r) => !isMeshRule(r)),
  });
}

/**
 * The whole table to load: the saved one without any earlier mesh chains and rules, plus
 * `ours` (their jumps appended to the built-in chains, as Istio's `-A`).
 */
export function mergeCapture(text: string, ours: NatRules): string {
  const t = parseSave(text);
  return renderTable({
    chains: [
      ...t.chains.filter((c) => !chainName(c).startsWith(CHAIN_PREFIX)),
      ...[...ours.chains].sort().map((c) => `:${c} - [0:0]`),
    ],
    rules: [...t.rules.filter((r) => !isMeshRule(r)), ...ours.rules],
  });
}

/**
 * How `applied` (mesh's part read back from the kernel) differs from `expected`: an empty
 * list when every chain is there with as many rules in it, each difference otherwise.
 * `exact` tells whether the rules read back are also the same text.
 */
export function compareCapture(
  expected: NatRules,
  applied: NatRules,
): { problems: string[]; exact: boolean } {
  const problems: string[] = [];
  const count = (rules: string[], chain: string) =>
    rules.filter((r) => r.startsWith(`-A ${chain} `)).length;
  for (const c of expected.chains) {
    if (!applied.chains.includes(c)) problems.push(`chain ${c} is missing`);
  }
  for (const c of applied.chains) {
    if (!expected.chains.includes(c)) problems.push(`chain ${c} should not be there`);
  }
  for (const c of ["PREROUTING", "OUTPUT", ...expected.chains]) {
    const want = count(expected.rules, c);
    const got = count(applied.rules, c);
    if (want !== got) problems.push(`${c} has ${got} mesh rules, expected ${want}`);
  }
  const norm = (rules: string[]) => [...rules].sort().join("\n");
  return { problems, exact: problems.length === 0 && norm(expected.rules) === norm(applied.rules) };
}
