/** The value formats shared by every kind: durations, RE2 regexes, hosts, labels. */
import assert from "node:assert/strict";
import {
  durationProblem,
  headerValueProblem,
  labelKeyProblem,
  labelValueProblem,
  parseDuration,
  regexProblem,
} from "./schemas/common.ts";

Deno.test("durations: Go/protobuf strings with units, at least 1ms, millisecond precision", () => {
  const ok: [string, bigint][] = [
    ["1.5s", 1_500_000_000n],
    ["100ms", 100_000_000n],
    ["1h", 3_600_000_000_000n],
    ["0.5s", 500_000_000n],
    ["1h30m", 5_400_000_000_000n],
    ["2m0.5s", 120_500_000_000n],
    [".25s", 250_000_000n],
    ["1000us", 1_000_000n],
  ];
  for (const [text, ns] of ok) {
    assert.equal(parseDuration(text), ns, text);
    assert.equal(durationProblem(text), undefined, text);
  }
  const bad: [string, string][] = [
    ["5", "has no unit"],
    ["1d", 'unknown unit "d"'],
    ["-1s", "negative duration"],
    ["0s", "too short"],
    ["999us", "too short"],
    ["1.5ms", "finer than a millisecond"],
    ["", "empty duration"],
    ["s", "invalid duration"],
    ["1 s", "has no unit"],
    ["10 seconds", "has no unit"],
    ["1e3s", 'unknown unit "e"'],
    ["99999999999999999999h", "too long"],
    ["1".repeat(100) + "s", "characters long"],
  ];
  for (const [text, message] of bad) {
    const problem = durationProblem(text);
    assert.ok(problem?.includes(message), `${JSON.stringify(text)}: ${problem}`);
  }
  assert.equal(durationProblem("0s", { min: "0" }), undefined);
  assert.match(durationProblem("1.5s", { precision: "s" }) ?? "", /finer than a second/);
});

Deno.test("regexes: RE2 syntax is accepted, what RE2 lacks is named", () => {
  for (
    const re of [
      "/api/v[0-9]+/products",
      "^/(?:reviews|ratings)/.*$",
      "(?i)jason",
      "(?i:get|head)",
      "(?s).*",
      "(?P<version>v\\d+)",
      "(?<version>v\\d+)",
      "\\pL+\\p{Greek}\\PN",
      "\\Qa.b*c\\E",
      "\\Aabc\\z",
      "[[:alpha:]]+",
      "[]a]",
      "\\x{41}\\x41",
      "\\012",
      "a{2,1000}",
      "é+",
    ]
  ) {
    assert.equal(regexProblem(re), undefined, re);
  }
  const bad: [string, string][] = [
    ["a(?=b)", "lookahead"],
    ["a(?!b)", "lookahead"],
    ["(?<=a)b", "lookbehind"],
    ["(?<!a)b", "lookbehind"],
    ["(a)\\1", "backreference \\1"],
    ["(?<n>a)\\k<n>", "\\k is not supported"],
    ["(?P<n>a)(?P=n)", "named backreferences"],
    ["(?>a)", "atomic groups"],
    ["a*+", "possessive"],
    ["a++", "possessive"],
    ["abc\\Z", "use \\z"],
    ["\\u0041", "use \\x{hex}"],
    ["(v1", "Unterminated group"],
    ["[a-", "Unterminated character class"],
    ["*a", "Nothing to repeat"],
    ["x{1001}", "larger than RE2's limit"],
    ["(?#comment)", "unsupported group syntax"],
    ["\\", "trailing backslash"],
    ["", "empty regular expression"],
    ["a".repeat(1025), "the limit is 1024"],
  ];
  for (const [re, message] of bad) {
    const problem = regexProblem(re);
    assert.ok(problem?.includes(message), `${JSON.stringify(re.slice(0, 20))}: ${problem}`);
  }
});

Deno.test("Kubernetes label keys and values", () => {
  for (const key of ["app", "app.kubernetes.io/name", "topology.istio.io/network", "a_b-c.d"]) {
    assert.equal(labelKeyProblem(key), undefined, key);
  }
  for (const key of ["", "*", "-app", "app/", "Bad_Prefix/app", "a".repeat(64)]) {
    assert.ok(labelKeyProblem(key), key);
  }
  for (const value of ["", "v1", "1.2.3", "a-b_c"]) {
    assert.equal(labelValueProblem(value), undefined);
  }
  for (const value of ["v 1", "*", "-v1", "a".repeat(64)]) {
    assert.ok(labelValueProblem(value), value);
  }
});

Deno.test("header values Envoy would accept", () => {
  for (const v of ["plain", "100%%", "%HOSTNAME%", "t=%START_TIME(%s.%3f)%", "%REQ(x-id)% x"]) {
    assert.equal(headerValueProblem(v), undefined, v);
  }
  for (const v of ["abc%123", "%START_TIME%%", "bad\nline", "50% off"]) {
    assert.ok(headerValueProblem(v), v);
  }
});
