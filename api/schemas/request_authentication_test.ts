/**
 * RequestAuthentication validation, case by case as Istio decides it: the table of Istio's
 * TestValidateRequestAuthentication, its CRD test data (testdata/crds/reqauth-*.yaml), and
 * TestParseJwksURI (pkg/config/security).
 */
import { type Case, tableTest } from "./case_table.ts";

const HEADER = { apiVersion: "security.istio.io/v1", kind: "RequestAuthentication" };

/** One JWT rule (flow-style fields). */
const rule = (fields: string) => `jwtRules: [{${fields}}]`;
const GOOD = "issuer: foo.com, jwksUri: 'https://foo.com/cert'";
const RSA_N = "xAE7eB6qugXyCAG3yhh7pkDkT65pHymX-P7KfIupjf59vsdo91bSP9C8H07pSAGQO1MV_xFj9Vsw" +
  "gsCg4R6otmg5PV2He95lZdHtOcU5DXIg_pbhLdKXbi66GlVeK6ABZOUW3WYtnNHD-91gVuoeJT_DwtGGcp4ignkgX" +
  "fkiEm4sw-4sfb4qdt5oLbyVpmW6x9cfa7vs2WTfURiCrBoUqgBo_-4WTiULmmHSGZHOjzwa8WtrtOQGsAFjIbno85j" +
  "p6MnGGGZPYZbDAa_b3y5u-YpW7ypZrvD8BgtKVjgtQgZhLAGezMt0ua3DRrWnKqTZ0BJ_EyxOGuHJrLsn00fnMQ";
/** An inline key set, quoted for YAML. */
const jwks = (keys: object[]) => JSON.stringify(JSON.stringify({ keys }));
/** A rule whose only key location is a jwksUri. */
const uri = (u: string) => rule(`issuer: foo.com, jwksUri: ${JSON.stringify(u)}`);
const TARGET = "targetRef: {group: gateway.networking.k8s.io, kind: Gateway";

const CASES: Case[] = [
  // --- Istio's TestValidateRequestAuthentication
  { name: "an empty spec", yaml: "", want: "valid" },
  {
    name: "a selector without labels",
    yaml: "selector: {}",
    want: "warning",
    message: "without labels",
  },
  { name: "an empty jwtRules list", yaml: "jwtRules: []", want: "valid" },
  {
    name: "the dry-run annotation (only for AuthorizationPolicy)",
    yaml: `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: test
  annotations: {istio.io/dry-run: "true"}
spec: {}`,
    want: "error",
    message: "istio.io/dry-run is only for AuthorizationPolicy",
  },
  { name: "a workload selector", yaml: "selector: {matchLabels: {app: httpbin}}", want: "valid" },
  {
    name: "an empty JWT rule",
    yaml: "jwtRules: [{}]",
    want: "error",
    message: 'missing required field "issuer"',
  },
  {
    name: "an empty issuer",
    yaml: rule(`issuer: ""`),
    want: "error",
    message: "issuer may not be empty",
  },
  {
    name: "no issuer but a jwksUri",
    yaml: rule("jwksUri: 'https://foo.com/cert'"),
    want: "valid",
  },
  { name: "a jwksUri without scheme", yaml: uri("foo.com"), want: "error", message: "invalid URL" },
  {
    name: "a jwksUri with a port that isn't a number",
    yaml: uri("https://foo.com:not-a-number"),
    want: "error",
    message: "invalid port",
  },
  {
    name: "a selector with an empty value",
    yaml: `selector: {matchLabels: {app: httpbin, version: ""}}\n${rule(GOOD)}`,
    want: "valid",
  },
  {
    name: "a selector with an empty key",
    yaml: `selector: {matchLabels: {app: httpbin, "": v1}}\n${rule(GOOD)}`,
    want: "error",
    message: "label keys may not be empty",
  },
  { name: "a targetRef to a Gateway", yaml: `${TARGET}, name: foo}\n${rule(GOOD)}`, want: "valid" },
  {
    name: "a targetRef without a name",
    yaml: `${TARGET}, name: ""}\n${rule(GOOD)}`,
    want: "error",
    message: "name may not be empty",
  },
  {
    name: "a targetRef with a namespace",
    yaml: `${TARGET}, name: foo, namespace: bar}\n${rule(GOOD)}`,
    want: "error",
    message: "cross-namespace references are not supported",
  },
  {
    name: "a targetRef to another group",
    yaml: `targetRef: {group: wrong-group, kind: Gateway, name: foo}\n${rule(GOOD)}`,
    want: "error",
    message: "a policy can target",
  },
  {
    name: "a targetRef to another kind",
    yaml: `targetRef: {group: gateway.networking.k8s.io, kind: wrong-kind, name: foo}`,
    want: "error",
    message: "a policy can target",
  },
  {
    name: "a targetRef and a selector",
    yaml: `${TARGET}, name: foo}\nselector: {matchLabels: {app: httpbin}}\n${rule(GOOD)}`,
    want: "error",
    message: "can't both be set",
  },
  {
    name: "a header location without name",
    yaml: rule(`${GOOD}, fromHeaders: [{name: "", prefix: "Bearer "}]`),
    want: "error",
    message: "the header name may not be empty",
  },
  {
    name: "an empty query parameter location",
    yaml: rule(`${GOOD}, fromParams: [""]`),
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "a header location with a prefix",
    yaml: rule(`${GOOD}, fromHeaders: [{name: x-foo, prefix: "Bearer "}]`),
    want: "valid",
  },
  {
    name: "an empty cookie location",
    yaml: rule(`${GOOD}, fromCookies: ["", foo]`),
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "an inline RSA public key",
    yaml: rule(`issuer: foo.com, jwks: ${jwks([{ e: "AQAB", kid: "k", kty: "RSA", n: RSA_N }])}`),
    want: "valid",
  },
  {
    name: "jwks that isn't JSON",
    yaml: rule("issuer: foo.com, jwks: foo"),
    want: "error",
    message: "jwks is not valid JSON",
  },
  {
    name: "an inline private RSA key",
    yaml: rule(
      `issuer: foo.com, jwks: ${jwks([{ kty: "RSA", e: "AQAB", n: RSA_N, d: "jJVKLOMXjl" }])}`,
    ),
    want: "warning",
    message: "holds private key material",
  },
  {
    name: "an empty claim-to-header entry",
    yaml: rule(`${GOOD}, outputClaimToHeaders: [{}]`),
    want: "error",
    message: 'missing required field "header"',
  },
  {
    name: "a claim-to-header entry without claim",
    yaml: rule(`${GOOD}, outputClaimToHeaders: [{header: x-jwt-claim, claim: ""}]`),
    want: "error",
    message: "claim may not be empty",
  },
  {
    name: "a claim-to-header entry without header",
    yaml: rule(`${GOOD}, outputClaimToHeaders: [{header: "", claim: sub}]`),
    want: "error",
    message: "header may not be empty",
  },
  {
    name: "a claim copied to an invalid header name",
    yaml: rule(`${GOOD}, outputClaimToHeaders: [{header: "abc%123", claim: sub}]`),
    want: "error",
    message: 'invalid header name "abc%123"',
  },

  // --- Istio's CRD test data (reqauth-valid.yaml, reqauth-invalid.yaml)
  {
    name: "every field (reqauth-valid full)",
    yaml: `
targetRefs: [{group: "", kind: Service, name: foo}]
jwtRules:
- issuer: example.com
  jwksUri: https://example.com/.well-known/jwks.json
  forwardOriginalToken: true
  fromCookies: [foo]
  fromHeaders: [{name: foo, prefix: baz}]
  outputClaimToHeaders: [{claim: abc, header: def}]
  timeout: 5s
  outputPayloadToHeader: header
  spaceDelimitedClaims: [custom_scope, provider.login.scope]
  presence: REQUIRED`,
    want: "valid",
  },
  {
    name: "targetRefs and targetRef",
    yaml: `
targetRefs: [{group: "", kind: Service, name: foo, namespace: bar}]
targetRef: {group: "", kind: Service, name: foo, namespace: bar}`,
    want: "error",
    message: "targetRef and targetRefs can't both be set",
  },
  {
    name: "a selector and a targetRef",
    yaml: `selector: {matchLabels: {a: b}}\ntargetRef: {group: "", kind: Service, name: foo}`,
    want: "error",
    message: "selector and targetRef can't both be set",
  },
  {
    name: "a targetRef without name",
    yaml: `targetRef: {group: "", kind: Service}`,
    want: "error",
    message: 'missing required field "name"',
  },
  {
    name: "a targetRef with a namespace (CRD)",
    yaml: `targetRef: {group: "", kind: Service, name: foo, namespace: bar}`,
    want: "error",
    message: "cross-namespace references are not supported",
  },
  {
    name: "a targetRef group that isn't a DNS name",
    yaml: `targetRef: {group: "__", kind: Service, name: foo}`,
    want: "error",
    message: `invalid API group "__"`,
  },
  {
    name: "a targetRef kind that isn't a kind",
    yaml: `targetRef: {group: "", kind: Serv_ice, name: foo}`,
    want: "error",
    message: `invalid kind "Serv_ice"`,
  },
  { name: "a null JWT rule", yaml: "jwtRules: [null]", want: "error" },
  {
    name: "an empty audience",
    yaml: rule(`issuer: example, audiences: [""]`),
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "a jwksUri with control characters",
    yaml: `jwtRules: [{issuer: example, jwksUri: "hTPp\\\\\\blah"}]`,
    want: "error",
    message: "jwksUri",
  },
  {
    name: "a header location without name (CRD)",
    yaml: rule("issuer: example, fromHeaders: [{prefix: baz}]"),
    want: "error",
    message: 'missing required field "name"',
  },
  {
    name: "a header location with an empty name (CRD)",
    yaml: rule(`issuer: example, fromHeaders: [{name: "", prefix: baz}]`),
    want: "error",
    message: "the header name may not be empty",
  },
  {
    name: "an empty query parameter (CRD)",
    yaml: rule(`issuer: example, fromParams: [""]`),
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "an empty cookie (CRD)",
    yaml: rule(`issuer: example, fromCookies: [""]`),
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "a null claim-to-header entry",
    yaml: rule("issuer: example, outputClaimToHeaders: [~]"),
    want: "error",
  },
  {
    name: "a claim-to-header entry with an empty claim (CRD)",
    yaml: rule(`issuer: example, outputClaimToHeaders: [{claim: "", header: h}]`),
    want: "error",
    message: "claim may not be empty",
  },
  {
    name: "a claim-to-header entry with an empty header (CRD)",
    yaml: rule(`issuer: example, outputClaimToHeaders: [{claim: x, header: ""}]`),
    want: "error",
    message: "header may not be empty",
  },
  {
    name: "a claim copied to a pseudo-header",
    yaml: rule(`issuer: example, outputClaimToHeaders: [{claim: x, header: ":authority"}]`),
    want: "error",
    message: 'invalid header name ":authority"',
  },
  {
    name: "a timeout that isn't a duration",
    yaml: rule("issuer: example, timeout: apple"),
    want: "error",
    message: "invalid duration",
  },
  {
    name: "an empty space-delimited claim",
    yaml: rule(`issuer: example, spaceDelimitedClaims: [""]`),
    want: "error",
    message: "empty values are not allowed",
  },
  {
    name: "an unknown presence",
    yaml: rule("issuer: example, presence: MANDATORY"),
    want: "error",
    message: "must be one of OPTIONAL, REQUIRED",
  },

  // --- TestParseJwksURI
  { name: "jwksUri foo.bar.com", yaml: uri("foo.bar.com"), want: "error", message: "invalid URL" },
  {
    name: "jwksUri tcp://foo.bar.com:abc",
    yaml: uri("tcp://foo.bar.com:abc"),
    want: "error",
    message: 'got scheme "tcp"',
  },
  {
    name: "jwksUri http://foo.bar.com:abc",
    yaml: uri("http://foo.bar.com:abc"),
    want: "error",
    message: 'invalid port "abc"',
  },
  { name: "jwksUri http://foo.bar.com", yaml: uri("http://foo.bar.com"), want: "valid" },
  { name: "jwksUri https://foo.bar.com", yaml: uri("https://foo.bar.com"), want: "valid" },
  { name: "jwksUri with a port", yaml: uri("http://foo.bar.com:1234"), want: "valid" },
  {
    name: "jwksUri with a port and a path",
    yaml: uri("https://foo.bar.com:1234/secure/key"),
    want: "valid",
  },

  // --- Beyond the tables
  {
    name: "an empty issuer beside a jwksUri (CRD minLength)",
    yaml: rule(`issuer: "", jwksUri: "https://foo.com/cert"`),
    want: "error",
    message: "issuer may not be empty",
  },
  {
    name: "inline jwks without issuer",
    yaml: rule(`jwks: ${jwks([])}`),
    want: "error",
    message: 'missing required field "issuer"',
  },
  {
    name: "jwks and jwksUri",
    yaml: rule(`${GOOD}, jwks: ${jwks([])}`),
    want: "error",
    message: "jwks and jwksUri can't both be set",
  },
  {
    name: "jwksUri and jwks_uri",
    yaml: rule(`${GOOD}, jwks_uri: "https://foo.com/cert"`),
    want: "error",
    message: "jwksUri and jwks_uri can't both be set",
  },
  { name: "jwks_uri alone", yaml: rule(`jwks_uri: "https://foo.com/cert"`), want: "valid" },
  { name: "an empty jwksUri", yaml: uri(""), want: "error", message: "jwksUri may not be empty" },
  { name: "an upper-case scheme", yaml: uri("HTTPS://foo.com/keys"), want: "valid" },
  { name: "a port Go reads but no server has", yaml: uri("https://foo.com:99999"), want: "valid" },
  {
    name: "a space in the host",
    yaml: uri("https://exa mple.com/keys"),
    want: "error",
    message: "invalid character in the host",
  },
  {
    name: "a jwksUri without host",
    yaml: uri("https:///keys"),
    want: "warning",
    message: "names no host",
  },
  { name: "a timeout of 1ms", yaml: rule(`${GOOD}, timeout: 1ms`), want: "valid" },
  {
    name: "a timeout of 0s",
    yaml: rule(`${GOOD}, timeout: 0s`),
    want: "error",
    message: "it must be at least 1ms",
  },
  {
    name: "a timeout finer than a millisecond",
    yaml: rule(`${GOOD}, timeout: 1500us`),
    want: "error",
    message: "finer than a millisecond",
  },
  { name: "presence OPTIONAL", yaml: rule(`${GOOD}, presence: OPTIONAL`), want: "valid" },
  { name: "an empty key set", yaml: rule(`issuer: x, jwks: ${jwks([])}`), want: "valid" },
  {
    name: "a single key instead of a set",
    yaml: rule(`issuer: x, jwks: ${JSON.stringify(JSON.stringify({ kty: "EC", crv: "P-256" }))}`),
    want: "valid",
  },
  {
    name: "a key of an unknown type",
    yaml: rule(`issuer: x, jwks: ${jwks([{ kty: "DSA" }])}`),
    want: "error",
    message: `its "kty" must be one of`,
  },
  {
    name: "a symmetric key",
    yaml: rule(`issuer: x, jwks: ${jwks([{ kty: "oct", k: "c2VjcmV0" }])}`),
    want: "warning",
    message: "holds private key material",
  },
  {
    name: "65 space-delimited claims",
    yaml: rule(`issuer: x, spaceDelimitedClaims: [${Array(65).fill("c").join(", ")}]`),
    want: "error",
    message: "at most 64 spaceDelimitedClaims",
  },
  {
    name: "a misspelled field",
    yaml: rule("issuerr: x"),
    want: "error",
    message: '(did you mean "issuer"?)',
  },
];

tableTest("RequestAuthentication: Istio's cases", HEADER, CASES);
