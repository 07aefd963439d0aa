import assert from "node:assert/strict";
import {
  CaptureOptionError,
  captureOptions,
  captureRules,
  captureTable,
  compareCapture,
  isIpv6,
  isMeshRule,
  mergeCapture,
  meshPart,
  normalizeIpv4Cidr,
  parseCidrs,
  parseIds,
  parsePorts,
  parseSave,
  resolvConfNameservers,
  stripCapture,
} from "./iptables_rules.ts";

const rules = (o: Parameters<typeof captureOptions>[0]) => captureRules(captureOptions(o)).rules;
const chain = (o: Parameters<typeof captureOptions>[0], name: string) =>
  rules(o).filter((r) => r.startsWith(`-A ${name} `));

Deno.test("capture rules: the defaults, as istio-iptables writes them for uid 1337", () => {
  assert.equal(
    captureTable(captureOptions({ proxyUids: [1337] }), false),
    `*nat
:MESH_INBOUND - [0:0]
:MESH_IN_REDIRECT - [0:0]
:MESH_OUTPUT - [0:0]
:MESH_REDIRECT - [0:0]
-A PREROUTING -p tcp -j MESH_INBOUND
-A OUTPUT -p tcp -j MESH_OUTPUT
-A MESH_INBOUND -p tcp -m multiport --dports 15090,15021,15020,15006,15001,15000 -j RETURN
-A MESH_INBOUND -p tcp -j MESH_IN_REDIRECT
-A MESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A MESH_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j MESH_IN_REDIRECT
-A MESH_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A MESH_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j MESH_IN_REDIRECT
-A MESH_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A MESH_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A MESH_OUTPUT -d 127.0.0.1/32 -j RETURN
-A MESH_OUTPUT -j MESH_REDIRECT
-A MESH_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`,
  );
  const withComment = captureTable(captureOptions({ proxyUids: [1337] }));
  assert.match(withComment, /^# mesh capture rules/);
  assert.ok(withComment.includes("\n*nat\n"));
});

Deno.test("capture rules: the proxy's uids and gids", () => {
  const out = chain({ proxyUids: [1337, 1400], proxyGids: [2000] }, "MESH_OUTPUT");
  const owners = out.filter((r) => r.includes("-owner")).map((r) =>
    r.replace(/^-A MESH_OUTPUT /, "")
  );
  assert.deepEqual(owners, [
    "! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j MESH_IN_REDIRECT",
    "-o lo -m owner ! --uid-owner 1337 -j RETURN",
    "-m owner --uid-owner 1337 -j RETURN",
    "! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1400 -j MESH_IN_REDIRECT",
    "-o lo -m owner ! --uid-owner 1400 -j RETURN",
    "-m owner --uid-owner 1400 -j RETURN",
    "! -d 127.0.0.1/32 -o lo -m owner --gid-owner 2000 -j MESH_IN_REDIRECT",
    "-o lo -m owner ! --gid-owner 2000 -j RETURN",
    "-m owner --gid-owner 2000 -j RETURN",
  ]);
  // No gid: no gid rules.
  assert.ok(!rules({ proxyUids: [7], proxyGids: [] }).some((r) => r.includes("gid-owner")));
  // The gid defaults to the uid, as in Istio.
  assert.ok(rules({ proxyUids: [7] }).includes("-A MESH_OUTPUT -m owner --gid-owner 7 -j RETURN"));
  // The owner rules come before 127.0.0.1 returns, which come before the redirect.
  const i = (s: string) => out.findIndex((r) => r.includes(s));
  assert.ok(i("--gid-owner 2000 -j RETURN") < i("-d 127.0.0.1/32 -j RETURN"));
  assert.ok(i("-d 127.0.0.1/32 -j RETURN") < i("-j MESH_REDIRECT"));
});

Deno.test("capture rules: the proxy's ports move the redirects and the ports left alone", () => {
  const o = { proxyUids: [1], inboundPort: 16006, outboundPort: 16001, adminPort: 16000 };
  assert.deepEqual(chain(o, "MESH_IN_REDIRECT"), [
    "-A MESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006",
  ]);
  assert.deepEqual(chain(o, "MESH_REDIRECT"), [
    "-A MESH_REDIRECT -p tcp -j REDIRECT --to-ports 16001",
  ]);
  assert.equal(
    chain(o, "MESH_INBOUND")[0],
    "-A MESH_INBOUND -p tcp -m multiport --dports 15090,15021,15020,16006,16001,16000 -j RETURN",
  );
  // A port given twice is listed once.
  assert.equal(
    chain({ proxyUids: [1], adminPort: 15090 }, "MESH_INBOUND")[0],
    "-A MESH_INBOUND -p tcp -m multiport --dports 15090,15021,15020,15006,15001 -j RETURN",
  );
});

Deno.test("capture rules: inbound ports included and excluded", () => {
  assert.deepEqual(
    chain({ proxyUids: [1], excludeInboundPorts: [22] }, "MESH_INBOUND").slice(1),
    [
      "-A MESH_INBOUND -p tcp -m tcp --dport 22 -j RETURN",
      "-A MESH_INBOUND -p tcp -j MESH_IN_REDIRECT",
    ],
  );
  assert.deepEqual(
    chain({ proxyUids: [1], includeInboundPorts: [9080, 9443] }, "MESH_INBOUND").slice(1),
    ["-A MESH_INBOUND -p tcp -m multiport --dports 9080,9443 -j MESH_IN_REDIRECT"],
  );
  assert.deepEqual(
    chain({ proxyUids: [1], includeInboundPorts: [9080] }, "MESH_INBOUND").slice(1),
    ["-A MESH_INBOUND -p tcp -m tcp --dport 9080 -j MESH_IN_REDIRECT"],
  );
  // Nothing included: nothing redirected inbound (the chain only returns).
  assert.ok(
    !chain({ proxyUids: [1], includeInboundPorts: [] }, "MESH_INBOUND").some((r) =>
      r.endsWith("MESH_IN_REDIRECT")
    ),
  );
  // multiport takes 15 ports a rule.
  const many = Array.from({ length: 20 }, (_, i) => 8000 + i);
  const inc = chain({ proxyUids: [1], includeInboundPorts: many }, "MESH_INBOUND").slice(1);
  assert.equal(inc.length, 2);
  assert.equal(
    inc[0],
    `-A MESH_INBOUND -p tcp -m multiport --dports ${many.slice(0, 15)} -j MESH_IN_REDIRECT`,
  );
  assert.equal(
    inc[1],
    `-A MESH_INBOUND -p tcp -m multiport --dports ${many.slice(15)} -j MESH_IN_REDIRECT`,
  );
});

Deno.test("capture rules: outbound ports excluded (first) and included", () => {
  const out = chain({ proxyUids: [1], excludeOutboundPorts: [22, 5432] }, "MESH_OUTPUT");
  assert.equal(out[0], "-A MESH_OUTPUT -p tcp -m multiport --dports 22,5432 -j RETURN");
  const inc = chain(
    { proxyUids: [1], includeOutboundPorts: [8080], includeOutboundCidrs: [] },
    "MESH_OUTPUT",
  );
  assert.deepEqual(inc.slice(-2), [
    "-A MESH_OUTPUT -d 127.0.0.1/32 -j RETURN",
    "-A MESH_OUTPUT -p tcp -m tcp --dport 8080 -j MESH_REDIRECT",
  ]);
});

Deno.test("capture rules: outbound CIDRs excluded and included", () => {
  const out = chain({
    proxyUids: [1],
    excludeOutboundCidrs: ["169.254.169.254", "10.1.2.3/16"],
    includeOutboundCidrs: ["10.0.0.0/8", "192.168.0.0/16"],
    includeOutboundPorts: [8080],
  }, "MESH_OUTPUT");
  assert.deepEqual(out.slice(-6), [
    "-A MESH_OUTPUT -d 127.0.0.1/32 -j RETURN",
    "-A MESH_OUTPUT -d 169.254.169.254/32 -j RETURN",
    "-A MESH_OUTPUT -d 10.1.0.0/16 -j RETURN",
    "-A MESH_OUTPUT -p tcp -m tcp --dport 8080 -j MESH_REDIRECT",
    "-A MESH_OUTPUT -d 10.0.0.0/8 -j MESH_REDIRECT",
    "-A MESH_OUTPUT -d 192.168.0.0/16 -j MESH_REDIRECT",
  ]);
  assert.ok(!out.includes("-A MESH_OUTPUT -j MESH_REDIRECT"));
  assert.equal(chain({ proxyUids: [1] }, "MESH_OUTPUT").at(-1), "-A MESH_OUTPUT -j MESH_REDIRECT");
});

Deno.test("capture rules: DNS to the listed name servers, the proxy's own left alone", () => {
  const o = {
    proxyUids: [1337],
    proxyGids: [1338],
    redirectDns: true,
    dnsServers: ["127.0.0.53", "10.0.0.2"],
    dnsPort: 16053,
  };
  const { chains, rules: all } = captureRules(captureOptions(o));
  assert.deepEqual(chains, [
    "MESH_INBOUND",
    "MESH_IN_REDIRECT",
    "MESH_OUTPUT",
    "MESH_REDIRECT",
    "MESH_DNS",
  ]);
  assert.ok(all.includes("-A OUTPUT -p udp -m udp --dport 53 -j MESH_DNS"));
  assert.deepEqual(chain(o, "MESH_DNS"), [
    "-A MESH_DNS -m owner --uid-owner 1337 -j RETURN",
    "-A MESH_DNS -m owner --gid-owner 1338 -j RETURN",
    "-A MESH_DNS -d 127.0.0.53/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 16053",
    "-A MESH_DNS -d 127.0.0.53/32 -p tcp -m tcp --dport 53 -j REDIRECT --to-ports 16053",
    "-A MESH_DNS -d 10.0.0.2/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 16053",
    "-A MESH_DNS -d 10.0.0.2/32 -p tcp -m tcp --dport 53 -j REDIRECT --to-ports 16053",
  ]);
  const out = chain(o, "MESH_OUTPUT");
  // TCP 53 over lo (a local stub resolver) isn't let through by the lo rules...
  assert.ok(
    out.includes(
      "-A MESH_OUTPUT -o lo -p tcp -m tcp ! --dport 53 -m owner ! --uid-owner 1337 -j RETURN",
    ),
  );
  assert.ok(
    out.includes(
      "-A MESH_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 53 -m owner --uid-owner 1337 -j MESH_IN_REDIRECT",
    ),
  );
  // ...and goes to MESH_DNS after the proxy's own traffic returned, before 127.0.0.1 does.
  const i = (s: string) => out.indexOf(`-A MESH_OUTPUT ${s}`);
  assert.ok(i("-p tcp -m tcp --dport 53 -j MESH_DNS") > i("-m owner --gid-owner 1338 -j RETURN"));
  assert.ok(i("-p tcp -m tcp --dport 53 -j MESH_DNS") < i("-d 127.0.0.1/32 -j RETURN"));
  // Any name server.
  assert.deepEqual(chain({ ...o, dnsServers: "*" }, "MESH_DNS").slice(2), [
    "-A MESH_DNS -p udp -m udp --dport 53 -j REDIRECT --to-ports 16053",
    "-A MESH_DNS -p tcp -m tcp --dport 53 -j REDIRECT --to-ports 16053",
  ]);
  // Without --redirect-dns nothing about port 53.
  assert.ok(!rules({ proxyUids: [1] }).some((r) => r.includes("53 ") || r.includes("MESH_DNS")));
});

Deno.test("capture options: bad settings name the flag and the fix", () => {
  const bad = (input: Record<string, unknown>, re: RegExp) =>
    assert.throws(
      () => captureOptions({ proxyUids: [1337], ...input } as never),
      (e: unknown) => e instanceof CaptureOptionError && re.test(e.message),
    );
  bad({ proxyUids: [] }, /--proxy-uid \(proxyUids\): give the proxy's user id/);
  bad({ proxyUids: [-1] }, /--proxy-uid \(proxyUids\): must be numeric ids/);
  bad({ proxyGids: [1.5] }, /--proxy-gid/);
  bad({ inboundPort: 0 }, /--inbound-port \(inboundPort\): must be a port from 1 to 65535, got 0/);
  bad({ outboundPort: 65536 }, /--outbound-port/);
  bad({ dnsPort: "53" }, /--dns-port/);
  bad({ excludeInboundPorts: [22, 0] }, /--exclude-inbound-ports/);
  bad({ includeOutboundPorts: "*" }, /--include-outbound-ports/);
  bad(
    { excludeOutboundCidrs: ["10.0.0.0/33"] },
    /--exclude-outbound-cidrs .*"10.0.0.0\/33" is not an IPv4 CIDR/,
  );
  bad({ excludeOutboundCidrs: "*" }, /--exclude-outbound-cidrs/);
  bad({ dnsServers: ["10.0.0.0/8"] }, /--dns-servers .*is not an IPv4 address/);
  bad({ dnsServers: [], redirectDns: true }, /--dns-servers .*no name server/);
  // Good ones are normalized.
  const o = captureOptions({
    proxyUids: [1337],
    excludeInboundPorts: [22, 22],
    includeOutboundCidrs: ["10.1.2.3/8"],
    dnsServers: ["10.0.0.2/32"],
  });
  assert.deepEqual(o.excludeInboundPorts, [22]);
  assert.deepEqual(o.includeOutboundCidrs, ["10.0.0.0/8"]);
  assert.deepEqual(o.dnsServers, ["10.0.0.2"]);
});

Deno.test("capture flags: ports, ids and CIDRs parse, or fail naming the flag", () => {
  assert.deepEqual(parsePorts("--x", "80, 443,80"), [80, 443]);
  assert.deepEqual(parsePorts("--x", ""), []);
  assert.equal(parsePorts("--x", "*", true), "*");
  assert.throws(() => parsePorts("--x", "*"), /--x "\*": give a list of ports/);
  for (const raw of ["0", "65536", "http", "80-90", "1e3", "-1"]) {
    assert.throws(
      () => parsePorts("--exclude-inbound-ports", raw),
      /--exclude-inbound-ports ".*": ".*" is not a port; give ports from 1 to 65535/,
    );
  }
  assert.deepEqual(parseIds("--proxy-uid", "1337"), [1337]);
  assert.deepEqual(parseIds("--proxy-uid", "0,1337"), [0, 1337]);
  assert.throws(
    () => parseIds("--proxy-uid", "mesh"),
    /--proxy-uid "mesh": "mesh" is not a numeric user id.*id -u mesh/,
  );
  assert.throws(
    () => parseIds("--proxy-gid", "-5"),
    /--proxy-gid "-5": "-5" is not a numeric group id.*id -g/,
  );
  assert.throws(() => parseIds("--proxy-uid", "4294967295"), /not a numeric user id/);
  assert.throws(() => parseIds("--proxy-uid", ""), /--proxy-uid: empty/);
  assert.deepEqual(parseCidrs("--c", "10.0.0.1/8, 1.2.3.4,fd00::/8", false), {
    cidrs: ["10.0.0.0/8", "1.2.3.4/32"],
    ipv6: ["fd00::/8"],
  });
  assert.deepEqual(parseCidrs("--c", "*", true), { cidrs: "*", ipv6: [] });
  for (
    const raw of ["10.0.0.0/33", "256.1.1.1", "10.0.0", "example.com", "01.2.3.4", "fd00::/200"]
  ) {
    assert.throws(() => parseCidrs("--exclude-outbound-cidrs", raw, false), /is not an IPv4 CIDR/);
  }
  assert.equal(normalizeIpv4Cidr("0.0.0.0/0"), "0.0.0.0/0");
  assert.equal(normalizeIpv4Cidr("192.168.7.9/20"), "192.168.0.0/20");
  assert.ok(isIpv6("::1") && isIpv6("2001:db8::/32") && !isIpv6("10.0.0.1") && !isIpv6("zz::1"));
});

Deno.test("resolv.conf: the IPv4 name servers, IPv6 ones apart", () => {
  assert.deepEqual(
    resolvConfNameservers(
      "# a comment\nsearch example.com\nnameserver 127.0.0.53\nnameserver ::1\n  nameserver 10.0.0.2 \nnameserver 127.0.0.53\noptions edns0\n",
    ),
    { ipv4: ["127.0.0.53", "10.0.0.2"], other: ["::1"] },
  );
  assert.deepEqual(resolvConfNameservers(""), { ipv4: [], other: [] });
});

/** An iptables-save -c dump with somebody else's rules and an older mesh capture. */
const SAVED = `# Generated by iptables-save v1.8.9 (nf_tables) on Fri Dec  4 19:00:00 2026
*nat
:PREROUTING ACCEPT [12:720]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [3:180]
:POSTROUTING ACCEPT [3:180]
:DOCKER - [0:0]
:MESH_INBOUND - [0:0]
:MESH_OLD - [0:0]
[5:300] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
[1:60] -A PREROUTING -p tcp -j MESH_INBOUND
[0:0] -A OUTPUT -p tcp -g MESH_OLD
[2:120] -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
[0:0] -A DOCKER -i docker0 -j RETURN
[0:0] -A MESH_INBOUND -p tcp -j RETURN
[0:0] -A MESH_OLD -j RETURN
COMMIT
# Completed on Fri Dec  4 19:00:00 2026
`;

Deno.test("iptables-save dumps: mesh's part found, stripped and replaced; the rest kept", () => {
  assert.ok(isMeshRule("[1:60] -A PREROUTING -p tcp -j MESH_INBOUND"));
  assert.ok(isMeshRule("-A MESH_X -j RETURN"));
  assert.ok(isMeshRule("-A OUTPUT -g MESH_OLD"));
  assert.ok(!isMeshRule("-A PREROUTING -j DOCKER"));
  assert.ok(!isMeshRule("-A PREROUTING -j MESHY"));
  assert.deepEqual(meshPart(SAVED), {
    chains: ["MESH_INBOUND", "MESH_OLD"],
    rules: [
      "-A PREROUTING -p tcp -j MESH_INBOUND",
      "-A OUTPUT -p tcp -g MESH_OLD",
      "-A MESH_INBOUND -p tcp -j RETURN",
      "-A MESH_OLD -j RETURN",
    ],
  });
  const foreign = `*nat
:PREROUTING ACCEPT [12:720]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [3:180]
:POSTROUTING ACCEPT [3:180]
:DOCKER - [0:0]
[5:300] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
[2:120] -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
[0:0] -A DOCKER -i docker0 -j RETURN
COMMIT
`;
  assert.equal(stripCapture(SAVED), foreign);
  assert.deepEqual(meshPart(stripCapture(SAVED)), { chains: [], rules: [] });

  const ours = captureRules(captureOptions({ proxyUids: [1337] }));
  const merged = mergeCapture(SAVED, ours);
  // Everybody else's chains and rules stay, in order, counters included; ours come after.
  assert.ok(merged.startsWith(foreign.split("\n").slice(0, 6).join("\n")));
  const t = parseSave(merged);
  assert.deepEqual(t.chains.slice(-4), [
    ":MESH_INBOUND - [0:0]",
    ":MESH_IN_REDIRECT - [0:0]",
    ":MESH_OUTPUT - [0:0]",
    ":MESH_REDIRECT - [0:0]",
  ]);
  assert.deepEqual(t.rules.slice(-ours.rules.length), ours.rules);
  assert.deepEqual(meshPart(merged), ours);
  // Merging again gives the same table: no duplicates.
  assert.equal(mergeCapture(merged, ours), merged);
  assert.equal(stripCapture(merged), foreign);
});

Deno.test("iptables-save dumps: an empty or missing nat table", () => {
  const none = parseSave("");
  assert.deepEqual(none.chains, [
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
  ]);
  assert.deepEqual(none.rules, []);
  const ours = captureRules(captureOptions({ proxyUids: [1] }));
  assert.deepEqual(meshPart(mergeCapture("", ours)), ours);
  // Other tables in the dump are left out (the restore is -T nat).
  assert.deepEqual(
    parseSave(
      "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
    ),
    { chains: [":OUTPUT ACCEPT [0:0]"], rules: [] },
  );
});

Deno.test("read-back check: missing chains and rules are problems; canonical text is exact", () => {
  const ours = captureRules(captureOptions({ proxyUids: [1337] }));
  assert.deepEqual(compareCapture(ours, ours), { problems: [], exact: true });
  // iptables-save lists rules by chain; the order across chains doesn't matter.
  assert.equal(compareCapture(ours, { ...ours, rules: [...ours.rules].reverse() }).exact, true);
  // Same count, other text (another iptables version's spelling): fine, not exact.
  const respelled = ours.rules.map((r) =>
    r.replace("-p tcp -j REDIRECT", "-p tcp -m tcp -j REDIRECT")
  );
  assert.deepEqual(compareCapture(ours, { ...ours, rules: respelled }), {
    problems: [],
    exact: false,
  });
  const lost = compareCapture(ours, {
    chains: ours.chains.filter((c) => c !== "MESH_REDIRECT"),
    rules: ours.rules.filter((r) =>
      !r.startsWith("-A MESH_REDIRECT") && !r.startsWith("-A OUTPUT")
    ),
  });
  assert.deepEqual(lost.problems, [
    "chain MESH_REDIRECT is missing",
    "OUTPUT has 0 mesh rules, expected 1",
    "MESH_REDIRECT has 0 mesh rules, expected 1",
  ]);
  assert.deepEqual(
    compareCapture(ours, { chains: [...ours.chains, "MESH_OLD"], rules: ours.rules }).problems,
    [
      "chain MESH_OLD should not be there",
    ],
  );
});
