/**
 * VirtualService validation at the level of the resource, rule by rule as Istio decides it
 * (pkg/config/validation: ValidateVirtualService, the TLS and TCP routes, gateway names, host
 * names, and the CRD's schema). The HTTP route rules are in http_route_test.ts.
 *
 * Facts from Istio's tables (validation_test.go TestValidateVirtualService,
 * TestValidateRouteDestination; virtualservice_test.go TestValidateChainingVirtualService;
 * agent/validation_test.go TestValidateWildcardDomain, ...ForVirtualServiceBoundToGateway,
 * TestValidateFQDN), in mesh's own words, plus cases for the rules those tables skip.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { type Case, isMeshNote, tableTest } from "./case_table.ts";
import { unreachableRules } from "../../control/analyze/unreachable_rules.ts";
import type { HTTPRoute } from "./http_route.ts";
import { sampleTest } from "../../tests/samples.ts";
import { istioTreeSamples } from "../../tests/samples.ts";
import { parseResources } from "../resources.ts";
import { formatDiagnostic } from "../diagnostic.ts";

const HEADER = { apiVersion: "networking.istio.io/v1", kind: "VirtualService" };
const ROUTE = "http: [{route: [{destination: {host: foo.baz}}]}]";

/** A spec with `hosts` and one simple HTTP route. */
function hosts(list: string, more = ""): string {
  return `hosts: ${list}\n${more}${ROUTE}`;
}

/** A spec with one simple HTTP route, bound to `gateways`. */
function gateways(list: string): string {
  return `hosts: [foo.bar]\ngateways: ${list}\n${ROUTE}`;
}

/** A spec with one TCP route to `destinations`. */
function tcp(destinations: string): string {
  return `hosts: [foo.bar]\ntcp: [{route: ${destinations}}]`;
}

/** A spec with one TLS route matching `sni` (bound to `gw` when given). */
function tls(sni: string, opts: { hosts?: string; gw?: string } = {}): string {
  return [
    `hosts: ${opts.hosts ?? "[foo.bar]"}`,
    opts.gw ? `gateways: ${opts.gw}` : "",
    `tls: [{match: [{sniHosts: ${sni}}], route: [{destination: {host: foo.baz}}]}]`,
  ].filter(Boolean).join("\n");
}

const LONG_LABEL = "x".repeat(63);

const CASES: Case[] = [
  // --- TestValidateVirtualService
  { name: "simple", yaml: hosts("[foo.bar]"), want: "valid" },
  {
    name: "auto-generated SNI names on a gateway",
    yaml: `
hosts: [outbound_.15010_._.istiod.istio-system.svc.cluster.local]
gateways: [ns1/gateway]
tls:
- match: [{sniHosts: [outbound_.15010_._.istiod.istio-system.svc.cluster.local]}]
  route: [{destination: {host: istio.istio-system.svc.cluster.local}}]`,
    want: "valid",
  },
  {
    name: "hosts that overlap",
    yaml: hosts("['*.foo.bar', '*.bar']"),
    want: "error",
    message: "overlaps",
  },
  {
    name: "a route entry without destination",
    yaml: "hosts: [foo.bar]\nhttp: [{route: [{}]}]",
    want: "error",
    message: 'missing required field "destination"',
  },
  {
    name: "a destination without host",
    yaml: "hosts: [foo.bar]\nhttp: [{route: [{destination: {}}]}]",
    want: "error",
    message: 'missing required field "host"',
  },
  { name: "a delegate (no hosts)", yaml: ROUTE, want: "valid" },
  {
    name: "a host with a bad character",
    yaml: hosts("[foo.ba!r]"),
    want: "error",
    message: 'invalid host "foo.ba!r": "ba!r" is not a DNS',
  },
  { name: "no routes at all", yaml: "hosts: [foo.bar]", want: "error", message: "no routes" },
  {
    name: "a gateway name with @",
    yaml: gateways("[b@dgateway]"),
    want: "error",
    message: 'invalid gateway "b@dgateway": "b@dgateway" is',
  },
  {
    name: "a gateway named in the old FQDN form",
    yaml: gateways("[gateway.example.com]"),
    want: "warning",
    message: "example/gateway",
  },
  { name: "namespace/name gateway", yaml: gateways("[ns1/gateway]"), want: "valid" },
  {
    name: "namespace/* gateway",
    yaml: gateways("[ns1/*]"),
    want: "error",
    message: 'invalid gateway name "*"; a Gateway name is a',
  },
  {
    name: "*/name gateway",
    yaml: gateways("['*/gateway']"),
    want: "error",
    message: 'invalid gateway namespace "*"',
  },
  {
    name: "host * for sidecars",
    yaml: hosts("['*']"),
    want: "error",
    message: "bound to gateways",
  },
  { name: "host * on a gateway", yaml: hosts("['*']", "gateways: [somegateway]\n"), want: "valid" },
  {
    name: "a TCP route without destination",
    yaml: "hosts: [foo.bar]\ntcp: [{match: [{port: 999}]}]",
    want: "error",
    message: "no destination; a TCP route needs at least one",
  },
  {
    name: "a TLS route without destination",
    yaml: "hosts: [foo.bar]\ntls: [{match: [{port: 999, sniHosts: [foo.bar]}]}]",
    want: "error",
    message: "no destination; a TLS route needs at least one",
  },
  {
    name: "the deprecated mirrorPercent",
    yaml: `
hosts: [foo.bar]
gateways: [ns1/gateway]
http: [{mirrorPercent: 5, route: [{destination: {host: foo.baz}}]}]`,
    want: "warning",
    message: "mirrorPercentage",
  },
  {
    name: "a JWT claim match on a VirtualService for sidecars",
    yaml: `
hosts: [foo.bar]
gateways: [mesh]
http:
- match: [{uri: {prefix: /}, headers: {"@request.auth.claims.foo": {exact: bar}}}]
  route: [{destination: {host: foo.baz}}]`,
    want: "error",
    message: "gateways",
  },
  {
    name: "a JWT claim match in brackets on a VirtualService for sidecars",
    yaml: `
hosts: [foo.bar]
http:
- match: [{withoutHeaders: {"@request.auth.claims[foo][bar]": {exact: bar}}}]
  route: [{destination: {host: foo.baz}}]`,
    want: "error",
    message: "gateways",
  },
  {
    name: "a bare @request.auth.claims is not a claim and not a header name",
    yaml: `
hosts: [foo.bar]
gateways: [gw]
http:
- match: [{headers: {"@request.auth.claims": {exact: bar}}}]
  route: [{destination: {host: foo.baz}}]`,
    want: "error",
    message: 'invalid header name "@request.auth.claims"; use',
  },
  {
    name: "an IP address as SNI host",
    yaml: "hosts: [foo.bar]\ntls: [{match: [{port: 999, sniHosts: [1.1.1.1]}], " +
      "route: [{destination: {host: foo.baz}}]}]",
    want: "warning",
    message: "SNI",
  },
  {
    name: "a wildcard inside an SNI host",
    yaml: tls("[foo.*.com]"),
    want: "error",
    message: 'invalid SNI host "foo.*.com": "*" is not a DNS',
  },

  // --- TestValidateRouteDestination (through a TCP route)
  { name: "tcp: simple", yaml: tcp("[{destination: {host: foo.baz}}]"), want: "valid" },
  { name: "tcp: host *-foo.baz", yaml: tcp("[{destination: {host: '*-foo.baz'}}]"), want: "valid" },
  { name: "tcp: host *foo.baz", yaml: tcp("[{destination: {host: '*foo.baz'}}]"), want: "valid" },
  {
    name: "tcp: host *.eu.bookinfo.com",
    yaml: tcp("[{destination: {host: '*.eu.bookinfo.com'}}]"),
    want: "valid",
  },
  {
    name: "tcp: host *",
    yaml: tcp("[{destination: {host: '*'}}]"),
    want: "error",
    message: 'invalid destination host "*": it is *; use a',
  },
  {
    name: "tcp: host foo.*",
    yaml: tcp("[{destination: {host: 'foo.*'}}]"),
    want: "error",
    message: 'invalid destination host "foo.*": "*" is not a',
  },
  {
    name: "tcp: host default/baz",
    yaml: tcp("[{destination: {host: default/baz}}]"),
    want: "error",
    message: 'invalid destination host "default/baz"',
  },
  {
    name: "tcp: no destination",
    yaml: tcp("[{weight: 1}]"),
    want: "error",
    message: 'missing required field "destination"',
  },
  {
    name: "tcp: weights 25 and 75",
    yaml: tcp("[{destination: {host: a.b}, weight: 25}, {destination: {host: c.d}, weight: 75}]"),
    want: "valid",
  },
  {
    name: "tcp: a negative weight",
    yaml: tcp("[{destination: {host: a.b}, weight: 5}, {destination: {host: c.d}, weight: -1}]"),
    want: "error",
    message: "weight -1 is negative",
  },
  {
    name: "tcp: weights summing to 1050",
    yaml: tcp("[{destination: {host: a.b}, weight: 550}, {destination: {host: c.d}, weight: 500}]"),
    want: "valid",
  },
  {
    name: "tcp: weights summing to 99",
    yaml: tcp("[{destination: {host: a.b}, weight: 49}, {destination: {host: c.d}, weight: 50}]"),
    want: "valid",
  },
  {
    name: "tcp: weights 100 and 0",
    yaml: tcp("[{destination: {host: a.b}, weight: 100}, {destination: {host: c.d}, weight: 0}]"),
    want: "valid",
  },
  {
    name: "tcp: one destination with weight 0",
    yaml: tcp("[{destination: {host: a.b}, weight: 0}]"),
    want: "valid",
  },
  {
    name: "tcp: two destinations with weight 0",
    yaml: tcp("[{destination: {host: a.b}, weight: 0}, {destination: {host: c.d}, weight: 0}]"),
    want: "error",
    message: "weight",
  },
  {
    name: "tcp: two destinations without weights",
    yaml: tcp("[{destination: {host: a.b}}, {destination: {host: c.d}}]"),
    want: "error",
    message: "weight",
  },

  // --- TestValidateChainingVirtualService
  {
    name: "a root delegating on a gateway",
    yaml:
      "hosts: [foo.bar]\ngateways: [test-gateway]\nhttp: [{delegate: {name: test, namespace: test}}]",
    want: "valid",
  },
  {
    name: "a root delegating for sidecars",
    yaml: "hosts: [foo.bar]\nhttp: [{delegate: {name: test, namespace: test}}]",
    want: "valid",
  },
  {
    name: "a root route with delegate and route",
    yaml: "hosts: [foo.bar]\nhttp: [{delegate: {name: test, namespace: test}, " +
      "route: [{destination: {host: foo.baz}}]}]",
    want: "error",
    message: "a route with delegate can't have destinations",
  },
  {
    name: "a delegate with an empty route",
    yaml: "http: [{}]",
    want: "error",
    message: "no destination; add at least one entry under",
  },
  {
    name: "a delegate delegating again",
    yaml: "http: [{delegate: {name: test, namespace: test}}]",
    want: "error",
    message: "delegate",
  },
  {
    name: "a delegate with a TCP route",
    yaml: "tcp: [{route: [{destination: {host: foo.baz}}]}]",
    want: "error",
    message: "tcp",
  },
  {
    name: "a delegate with gateways",
    yaml: `gateways: [test]\n${ROUTE}`,
    want: "error",
    message: "gateways",
  },
  {
    name: "a delegate with a TLS route",
    yaml: "tls: [{match: [{sniHosts: [a.b]}], route: [{destination: {host: foo.baz}}]}]",
    want: "error",
    message: "tls",
  },
  {
    name: "a delegate matching sourceNamespace",
    yaml: "http: [{match: [{sourceNamespace: test}], route: [{destination: {host: foo.baz}}]}]",
    want: "valid",
  },

  // --- Host names (ValidateWildcardDomain and the gateway form)
  { name: "host of 63 characters", yaml: hosts(`[${LONG_LABEL}]`), want: "valid" },
  {
    name: "host of 256 characters",
    yaml: hosts(`[${"x.".repeat(128)}]`),
    want: "error",
    message: "invalid host",
  },
  { name: "host *.bar.com", yaml: hosts("['*.bar.com']"), want: "valid" },
  { name: "host *foo (one label)", yaml: hosts("['*foo']"), want: "valid" },
  { name: "host *foo.bar.com", yaml: hosts("['*foo.bar.com']"), want: "valid" },
  { name: "host *-foo.bar.com", yaml: hosts("['*-foo.bar.com']"), want: "valid" },
  {
    name: "host foo.*.com",
    yaml: hosts("['foo.*.com']"),
    want: "error",
    message: 'invalid host "foo.*.com": "*" is not a DNS',
  },
  {
    name: "host foo*.bar.com",
    yaml: hosts("['foo*.bar.com']"),
    want: "error",
    message: 'invalid host "foo*.bar.com": "foo*" is not a',
  },
  { name: "host an IP address", yaml: hosts("[1.1.1.1]"), want: "valid" },
  { name: "host an IPv6 address", yaml: hosts("['2001:db8::1']"), want: "valid" },
  { name: "host upper case", yaml: hosts("[Foo.Bar]"), want: "valid" },
  { name: "host with a trailing dot", yaml: hosts("[foo.bar.]"), want: "valid" },
  {
    name: "host with a numeric top-level domain",
    yaml: hosts("[foo.123]"),
    want: "error",
    message: 'invalid host "foo.123": the top-level domain',
  },
  { name: "host all digits, one label", yaml: hosts("['123']"), want: "valid" },
  {
    name: "host empty",
    yaml: hosts("['']"),
    want: "error",
    message: 'invalid host "": it is empty; use a short name',
  },
  {
    name: "host outbound_ form without SNI routes",
    yaml: hosts("[outbound_.80_._.e2e.foobar.mesh]", "gateways: [gw]\n"),
    want: "error",
    message: 'invalid host "outbound_.80_._.e2e.foobar.mesh"',
  },
  {
    name: "SNI host outbound_ form on a gateway",
    yaml: tls("[outbound_.80_._.e2e.foobar.mesh]", {
      hosts: "[outbound_.80_._.e2e.foobar.mesh]",
      gw: "[gw]",
    }),
    want: "valid",
  },
  {
    name: "SNI host neverbound_ form on a gateway",
    yaml: tls("[neverbound_.80_._.e2e.foobar.mesh]", {
      hosts: "[neverbound_.80_._.e2e.foobar.mesh]",
      gw: "[gw]",
    }),
    want: "error",
    message: "invalid host",
  },
  {
    name: "SNI host outbound_ form with a port that isn't a number",
    yaml: tls("[outbound_.thisIsNotAPort_._.e2e.foobar.mesh]", {
      hosts: "[outbound_.thisIsNotAPort_._.e2e.foobar.mesh]",
      gw: "[gw]",
    }),
    want: "error",
    message: "invalid host",
  },
  {
    name: "SNI host outbound_ form too short",
    yaml: tls("[outbound_.80_._]", { hosts: "[outbound_.80_._]", gw: "[gw]" }),
    want: "error",
    message: 'invalid host "outbound_.80_._": "" is not a',
  },
  {
    name: "SNI host outbound.com on a gateway",
    yaml: tls("[outbound.com]", { hosts: "[outbound.com]", gw: "[gw]" }),
    want: "valid",
  },
  {
    name: "hosts differing only in case are not duplicates",
    yaml: hosts("[foo.bar, FOO.bar]"),
    want: "valid",
  },
  {
    name: "the same host twice",
    yaml: hosts("[foo.bar, foo.bar]"),
    want: "error",
    message: 'host "foo.bar" overlaps hosts[0] "foo.bar"',
  },
  {
    name: "hosts *foo.com and bar.foo.com",
    yaml: hosts("['*foo.com', bar.foo.com]"),
    want: "error",
    message: 'host "bar.foo.com" overlaps hosts[0]',
  },
  {
    name: "hosts * and foo.bar on a gateway",
    yaml: hosts("['*', foo.bar]", "gateways: [gw]\n"),
    want: "error",
    message: 'host "foo.bar" overlaps hosts[0] "*"; list each',
  },

  // --- TLS routes: SNI hosts
  {
    name: "SNI * on a gateway-bound VirtualService with host *",
    yaml: tls("['*']", { hosts: "['*']", gw: "[istiod-gateway]" }),
    want: "valid",
  },
  {
    name: "SNI host covered by a wildcard host",
    yaml: tls("[a.foo.bar]", { hosts: "['*.foo.bar']" }),
    want: "valid",
  },
  {
    name: "SNI wildcard inside a wildcard host",
    yaml: tls("['*.a.foo.bar']", { hosts: "['*.foo.bar']" }),
    want: "valid",
  },
  {
    name: "SNI wildcard wider than the hosts",
    yaml: tls("['*.bar']", { hosts: "['*.foo.bar']" }),
    want: "error",
    message: "subset",
  },
  {
    name: "SNI host not among the hosts",
    yaml: tls("[other.bar]"),
    want: "error",
    message: 'SNI host "other.bar" is not a subset of the',
  },
  {
    name: "a TLS route without match",
    yaml: "hosts: [foo.bar]\ntls: [{route: [{destination: {host: foo.baz}}]}]",
    want: "error",
    message: 'missing required field "match"',
  },
  {
    name: "a TLS match without sniHosts",
    yaml: "hosts: [foo.bar]\ntls: [{match: [{sniHosts: []}], route: [{destination: {host: a.b}}]}]",
    want: "error",
    message: "sniHosts must list at least one host",
  },
  {
    name: "TLS match fields",
    yaml: `
hosts: [foo.bar]
gateways: [gw]
tls:
- match:
  - sniHosts: [foo.bar]
    destinationSubnets: [10.0.0.0/8, 1.2.3.4, "2001:db8::/32"]
    port: 443
    sourceLabels: {app: a}
    gateways: [ns/gw]
    sourceNamespace: NOT_CHECKED_BY_ISTIO
  route: [{destination: {host: a.b, port: {number: 443}}}]`,
    want: "valid",
  },
  {
    name: "TLS match port 0 (unset)",
    yaml: "hosts: [foo.bar]\ngateways: [gw]\ntls: [{match: [{sniHosts: [foo.bar], port: 0}], " +
      "route: [{destination: {host: a.b}}]}]",
    want: "valid",
  },
  {
    name: "TLS match port 70000",
    yaml: "hosts: [foo.bar]\ngateways: [gw]\ntls: [{match: [{sniHosts: [foo.bar], port: 70000}], " +
      "route: [{destination: {host: a.b}}]}]",
    want: "error",
    message: "port number 70000 must be in the range 1..65535",
  },
  {
    name: "TLS match with a bad subnet",
    yaml: "hosts: [foo.bar]\ngateways: [gw]\ntls: [{match: [{sniHosts: [foo.bar], " +
      "destinationSubnets: [10.0.0.0/33]}], route: [{destination: {host: a.b}}]}]",
    want: "error",
    message: '"10.0.0.0/33" is not a valid CIDR block',
  },

  // --- TCP routes
  {
    name: "TCP match fields",
    yaml: `
hosts: [foo.bar]
tcp:
- match:
  - destinationSubnets: [10.1.0.0/16]
    port: 3306
    sourceLabels: {app: a, example.com/tier: db}
    gateways: [mesh]
    sourceNamespace: NOT_CHECKED_BY_ISTIO
    sourceSubnet: not-checked-either
  route: [{destination: {host: mysql.db.svc.cluster.local}}]`,
    want: "valid",
  },
  {
    name: "TCP match with a bad source label",
    yaml: "hosts: [foo.bar]\ntcp: [{match: [{sourceLabels: {'b@d': x}}], " +
      "route: [{destination: {host: a.b}}]}]",
    want: "error",
    message: 'invalid label key "b@d"; use [prefix/]name',
  },
  {
    name: "TCP match with a long label value (Istio sets no length limit)",
    yaml: `hosts: [foo.bar]\ntcp: [{match: [{sourceLabels: {app: ${"v".repeat(70)}}}], ` +
      "route: [{destination: {host: a.b}}]}]",
    want: "valid",
  },
  {
    name: "TCP match with a leading-zero IPv4 subnet",
    yaml: "hosts: [foo.bar]\ntcp: [{match: [{destinationSubnets: [010.0.0.1]}], " +
      "route: [{destination: {host: a.b}}]}]",
    want: "error",
    message: '"010.0.0.1" is not a valid IP address',
  },
  {
    name: "TCP match with an unmasked CIDR",
    yaml: "hosts: [foo.bar]\ntcp: [{match: [{destinationSubnets: [10.0.0.1/8]}], " +
      "route: [{destination: {host: a.b}}]}]",
    want: "valid",
  },

  // --- Gateway names (validateGatewayNames, ValidateFQDN)
  { name: "gateway mesh", yaml: gateways("[mesh]"), want: "valid" },
  { name: "gateway short name", yaml: gateways("[my-gateway]"), want: "valid" },
  { name: "gateway upper case", yaml: gateways("[ns/My-Gateway]"), want: "valid" },
  {
    name: "gateway ns/a.b (name not a label)",
    yaml: gateways("[ns/a.b]"),
    want: "error",
    message: 'invalid gateway name "a.b"; a Gateway name is a',
  },
  {
    name: "gateway ./name",
    yaml: gateways("[./gw]"),
    want: "error",
    message: 'invalid gateway namespace "."',
  },
  {
    name: "gateway ns/ (empty name)",
    yaml: gateways("[ns/]"),
    want: "error",
    message: 'invalid gateway "ns/"; neither namespace nor',
  },
  {
    name: "gateway FQDN with a trailing dot",
    yaml: gateways("[gw.istio-system.svc.cluster.local.]"),
    want: "warning",
    message: "istio-system/gw",
  },
  {
    name: "gateway FQDN with a numeric TLD",
    yaml: gateways("[gw.123]"),
    want: "error",
    message: 'invalid gateway "gw.123": the top-level domain',
  },
  {
    name: "gateway FQDN of 256 characters",
    yaml: gateways(`[${"g.".repeat(128)}]`),
    want: "error",
    message: "invalid gateway",
  },
  {
    name: "after a name without /, Istio checks no further gateway",
    yaml: gateways("[mesh, 'ns/b@d']"),
    want: "valid",
  },
  {
    name: "a bad gateway after ns/name ones",
    yaml: gateways("[ns/a, 'ns/b@d']"),
    want: "error",
    message: 'invalid gateway name "b@d"; a Gateway name is a',
  },
  {
    name: "gateway * and mesh",
    yaml: hosts("['*']", "gateways: [mesh, gw]\n"),
    want: "error",
    message: "bound to gateways",
  },

  // --- exportTo
  {
    name: "exportTo . and *",
    yaml: hosts("[foo.bar]", "exportTo: ['.', '*']\n"),
    want: "error",
    message: '"*" can\'t be combined with other exportTo',
  },
  {
    name: "exportTo ~",
    yaml: hosts("[foo.bar]", "exportTo: ['~']\n"),
    want: "error",
    message: 'invalid exportTo entry "~"; use ".", "*" or a',
  },
  { name: "exportTo a namespace", yaml: hosts("[foo.bar]", "exportTo: [other]\n"), want: "valid" },
];

tableTest("VirtualService: Istio's rules, case by case", HEADER, CASES);

// Istio's "non-method-get" and "uri-with-prefix-exact": the warning Istio's validation gives for
// a prefix covered by an earlier one (even in the same rule) is mesh analyze's IST0131.
Deno.test("VirtualService: a match covered by an earlier prefix is found (IST0131)", () => {
  const rule = (matches: string): HTTPRoute => ({
    match: parseYaml(matches),
    route: [{ destination: { host: "foo.baz" } }],
  });
  const covered = unreachableRules([
    rule(
      "[{uri: {prefix: /api/v1/product}}, {uri: {prefix: /api/v1/products}, method: {exact: GET}}]",
    ),
  ]);
  assert.deepEqual(covered.map((f) => f.kind), ["ineffective"]);
  const exact = unreachableRules([
    rule("[{uri: {prefix: /}}, {uri: {exact: /}, method: {exact: GET}}]"),
  ]);
  assert.deepEqual(exact, []);
});

sampleTest("VirtualService: every Bookinfo sample parses without errors", async () => {
  const { NETWORKING } = await import("../../tests/samples.ts");
  for await (const e of Deno.readDir(NETWORKING)) {
    if (!e.name.endsWith(".yaml")) continue;
    const r = parseResources(await Deno.readTextFile(`${NETWORKING}/${e.name}`), e.name);
    const errors = r.diagnostics.filter((d) => d.severity === "error");
    assert.deepEqual(errors.map(formatDiagnostic), [], e.name);
  }
});

const tree = await istioTreeSamples();
Deno.test({
  name:
    "VirtualService: every VirtualService in Istio's samples/ parses without errors or warnings",
  ignore: !tree,
  fn: async () => {
    const problems: string[] = [];
    let read = 0;
    const walk = async (dir: string): Promise<void> => {
      for await (const e of Deno.readDir(dir)) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else if (/\.ya?ml$/.test(e.name)) {
          const text = await Deno.readTextFile(p);
          if (text.includes("{{") || !/kind:\s*VirtualService/.test(text)) continue;
          const r = parseResources(text, p.slice(tree!.length + 1));
          read += r.resources.filter((x) => x.kind === "VirtualService").length;
          for (const d of r.diagnostics) {
            if (d.kind === "VirtualService" && !isMeshNote(d)) problems.push(formatDiagnostic(d));
          }
        }
      }
    };
    await walk(tree!);
    assert.deepEqual(problems, []);
    assert.ok(read >= 25, `only ${read} VirtualServices read`);
  },
});
