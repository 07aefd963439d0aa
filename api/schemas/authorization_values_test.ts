/**
 * The values of an AuthorizationPolicy as Istio checks them, from the tables of Istio's
 * pkg/config/security (TestValidateCondition, TestCheckValidPathTemplate, TestIsValidLiteral,
 * TestCheckWildcardValues, TestCheckTrustDomainValues), each put into a policy, and Go's
 * syntax for addresses and ports (net/netip, strconv).
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy" };

/** A policy with one condition. */
function when(key: string, values: string[], want: Case["want"], message?: string): Case {
  return {
    name: `when ${key} is ${values.map((v) => JSON.stringify(v)).join(", ")}`,
    yaml: `rules: [{when: [{key: ${JSON.stringify(key)}, values: ${JSON.stringify(values)}}]}]`,
    want,
    message,
  };
}

/** A policy with one path. */
function path(p: string, want: Case["want"], message?: string): Case {
  return {
    name: `path ${JSON.stringify(p)}`,
    yaml: `rules: [{to: [{operation: {paths: [${JSON.stringify(p)}]}}]}]`,
    want,
    message,
  };
}

/** A policy with one value in a source field. */
function source(field: string, v: string, want: Case["want"], message?: string): Case {
  return {
    name: `${field} ${JSON.stringify(v)}`,
    yaml: `rules: [{from: [{source: {${field}: [${JSON.stringify(v)}]}}]}]`,
    want,
    message,
  };
}

const UNKNOWN = "unknown key";
const BAD_IP = "invalid IP address";

const CONDITIONS: Case[] = [
  // --- TestValidateCondition
  when("request.headers[:authority]", ["productpage", ""], "error", "empty values"),
  when("request.headers[:authority]", ["productpage"], "valid"),
  when("request.headers[]", ["productpage"], "error", "write it as request.headers[name]"),
  when("source.ip", ["1.2.3.4", "5.6.7.0/24"], "valid"),
  when("source.ip", ["a.b.c.d"], "error", BAD_IP),
  when("remote.ip", ["1.2.3.4", "5.6.7.0/24"], "valid"),
  when("remote.ip", ["a.b.c.d"], "error", BAD_IP),
  when("source.namespace", ["value"], "valid"),
  when("source.user", ["value"], "error", UNKNOWN),
  when("source.principal", ["value"], "valid"),
  when("source.serviceAccount", ["too/many/slashes"], "error", "write it as name or namespace/"),
  when("source.serviceAccount", ["/emptyns"], "error", "write it as name or namespace/name"),
  when("source.serviceAccount", ["emptysa/"], "error", "write it as name or namespace/name"),
  when("source.serviceAccount", ["ns/sa"], "valid"),
  when("source.serviceAccount", ["sa"], "valid"),
  when("source.trustDomain", ["cluster.local"], "valid"),
  when("source.trustDomain", ["*"], "valid"),
  when("source.trustDomain", ["foo*"], "valid"),
  when("source.trustDomain", ["*bar"], "valid"),
  when("source.trustDomain", ["fo*-bar"], "error", "a * may only begin or end the value"),
  when("source.trustDomain", ["fo*bar*"], "error", "at most one * is allowed"),
  when("source.trustDomain", [""], "error", "empty values"),
  when("request.auth.principal", ["value"], "valid"),
  when("request.auth.audiences", ["value"], "valid"),
  when("request.auth.presenter", ["value"], "valid"),
  when("request.auth.claims[id]", ["123"], "valid"),
  when("request.auth.claims[]", ["value"], "error", "write it as request.auth.claims[name]"),
  when("destination.ip", ["1.2.3.4", "5.6.7.0/24"], "valid"),
  when("destination.ip", ["a.b.c.d"], "error", BAD_IP),
  when("destination.port", ["80", "90"], "valid"),
  when("destination.port", ["80", "x"], "error", 'invalid port "x"'),
  when("destination.labels[app]", ["value"], "error", "replaced by selector"),
  when("destination.name", ["value"], "error", "no longer supported"),
  when("destination.namespace", ["value"], "error", "replaced by the policy's own namespace"),
  when("destination.user", ["value"], "error", "no longer supported"),
  when("connection.sni", ["value"], "valid"),
  when("experimental.envoy.filters.a.b[c]", ["value"], "valid"),
  when("experimental.envoy.filters.a.b.x", ["value"], "error", "experimental.envoy.filters[name]"),
  // --- Beyond the table
  when("source.serviceAccount", ["ns/*"], "error", "wildcards are not allowed"),
  when("request.headers", ["x"], "error", "write it as request.headers[name]"),
  when("request.header[x-user]", ["admin"], "error", UNKNOWN),
  when("destination.port", ["0080"], "valid"),
  when("destination.port", ["65536"], "error", 'invalid port "65536"'),
  when("destination.port", ["-1"], "error", "invalid port"),
  {
    name: "a condition with only notValues",
    yaml: "rules: [{when: [{key: source.namespace, notValues: [x]}]}]",
    want: "valid",
  },
  {
    name: "a condition with empty values and notValues lists",
    yaml: "rules: [{when: [{key: source.namespace, values: [], notValues: []}]}]",
    want: "error",
    message: "set values or notValues",
  },
  {
    name: "an unknown key without values",
    yaml: "rules: [{when: [{key: nope}]}]",
    want: "error",
    message: "set values or notValues",
  },
];

const PATHS: Case[] = [
  // --- TestCheckValidPathTemplate
  path("/{*}/foo", "valid"),
  path("/{*}/foo/", "valid"),
  path("/foo/{**}/bar", "valid"),
  path("/foo/bar/{**}", "valid"),
  path("/foo/{**}buzz/bar", "error", "only allowed in whole {*} and {**} segments"),
  path("/{*}/foo/{}/bar", "error", "only allowed in whole"),
  path("/foo/{*}/bar/*", "error", "isn't a plain literal"),
  path("/foo/{*}/bar/**/buzz", "error", "isn't a plain literal"),
  path("/foo/{buzz}/bar", "error", "only allowed in whole"),
  path("/{buzz}", "error", "only allowed in whole"),
  path("/foo/{buzz}/bar/{**}", "error", "only allowed in whole"),
  path("/foo/{buzz=*}/bar/{**}", "error", "only allowed in whole"),
  path("/{*}/foo/{buzz=**}/bar", "error", "only allowed in whole"),
  path("/{*}/foo/{**}bar", "error", "only allowed in whole"),
  path("/{*}/foo/{*}.txt", "error", "only allowed in whole"),
  path("/{*}/foo/{temp", "error", "only allowed in whole"),
  path("/{*}/foo/temp}/bar", "error", "only allowed in whole"),
  path("/{*}/foo/temp}/*", "error", "only allowed in whole"),
  path("/{**}/foo/temp/{*}/bar", "error", "{**} must be the last template"),
  path("/{**}/{**}", "error", "{**} must be the last template"),
  path("/{**}/foo/temp/{**}/bar", "error", "{**} must be the last template"),
  path("/{*}/foo/?abc", "error", "isn't a plain literal"),
  // --- TestIsValidLiteral, as a segment after {*}
  path("/{*}/123abcABC", "valid"),
  path("/{*}/._~-", "valid"),
  path("/{*}/a=c", "valid"),
  path("/{*}/-._~%20!$&'()+,;:@", "valid"),
  path("/{*}/`~!@#$%^&()-_+;:,<.>'\"\\| ", "error", "isn't a plain literal"),
  path("/{*}/ab*c", "error", "isn't a plain literal"),
  path("/{*}/*", "error", "isn't a plain literal"),
  path("/{*}/ab**c", "error", "isn't a plain literal"),
  path("/{*}/**", "error", "isn't a plain literal"),
  path("/{*}/?abc", "error", "isn't a plain literal"),
  path("/{*}/?a=c", "error", "isn't a plain literal"),
  path("/{*}/{abc", "error", "only allowed in whole"),
  path("/{*}/abc}", "error", "only allowed in whole"),
  path("/{*}/{abc}", "error", "only allowed in whole"),
  // --- Paths without templates
  path("/prefix/*", "valid"),
  path("*/suffix", "valid"),
  path("/a b?c#d", "valid"),
  path("/{*}//double", "error", "isn't a plain literal"),
];

const VALUES: Case[] = [
  // --- TestCheckWildcardValues (Istio checks source.trustDomain with it)
  when("source.trustDomain", ["foo"], "valid"),
  when("source.trustDomain", ["*foo"], "valid"),
  // --- TestCheckTrustDomainValues
  source("trustDomains", "cluster.local", "valid"),
  source("trustDomains", "*", "valid"),
  source("trustDomains", "cluster-*", "valid"),
  source("trustDomains", "*-cluster", "valid"),
  source("trustDomains", "", "error", "empty values"),
  source("trustDomains", "cluster.local/ns/foo", "error", "a trust domain has no '/'"),
  source("trustDomains", "spiffe://cluster.local", "error", "a trust domain has no '/'"),
  source("notTrustDomains", "a*b", "error", "a * may only begin or end the value"),
  source("notTrustDomains", "*a*", "error", "at most one * is allowed"),
  // --- CheckServiceAccount on the source fields
  source("serviceAccounts", "ns/*", "error", "wildcards are not allowed in service accounts"),
  source("notServiceAccounts", "a/b/c", "error", "write it as name or namespace/name"),
  source("serviceAccounts", "ns/", "error", "write it as name or namespace/name"),
  source("serviceAccounts", "a".repeat(321), "error", "at most 320"),
  // --- Go's net/netip (ValidateIPs)
  source("ipBlocks", "10.0.0.1", "valid"),
  source("ipBlocks", "10.0.0.0/8", "valid"),
  source("ipBlocks", "10.0.0.1/8", "valid"),
  source("ipBlocks", "0.0.0.0/0", "valid"),
  source("ipBlocks", "2001:db8::/32", "valid"),
  source("ipBlocks", "::ffff:10.0.0.1", "valid"),
  source("ipBlocks", "::", "valid"),
  source("ipBlocks", "fe80::1%eth0", "valid"),
  source("ipBlocks", "010.0.0.1", "error", BAD_IP),
  source("ipBlocks", "10.0.0", "error", BAD_IP),
  source("ipBlocks", "10.0.0.256", "error", BAD_IP),
  source("ipBlocks", "10.0.0.0/33", "error", "invalid CIDR block"),
  source("ipBlocks", "10.0.0.0/08", "error", "invalid CIDR block"),
  source("ipBlocks", "10.0.0.0/", "error", "invalid CIDR block"),
  source("ipBlocks", "fe80::1%eth0/64", "error", "invalid CIDR block"),
  source("ipBlocks", "1:2:3:4:5:6:7:8:9", "error", BAD_IP),
  source("ipBlocks", "1::2::3", "error", BAD_IP),
  source("ipBlocks", "12345::", "error", BAD_IP),
  source("notIpBlocks", "2001:db8::/129", "error", "invalid CIDR block"),
  source("remoteIpBlocks", "example.com", "error", BAD_IP),
  // --- ValidatePorts (strconv.ParseUint)
  {
    name: "ports with leading zeros and 0",
    yaml: `rules: [{to: [{operation: {ports: ["0080", "0", "65535"]}}]}]`,
    want: "valid",
  },
  {
    name: "port 65536",
    yaml: `rules: [{to: [{operation: {ports: ["65536"]}}]}]`,
    want: "error",
    message: 'invalid port "65536"',
  },
  {
    name: "port with a sign",
    yaml: `rules: [{to: [{operation: {notPorts: ["+80"]}}]}]`,
    want: "error",
    message: 'invalid port "+80"',
  },
];

tableTest("AuthorizationPolicy conditions: Istio's cases", HEADER, CONDITIONS);
tableTest("AuthorizationPolicy paths: Istio's cases", HEADER, PATHS);
tableTest("AuthorizationPolicy values: Istio's cases", HEADER, VALUES);
