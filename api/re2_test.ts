/**
 * The RE2 → JavaScript translation, case by case: each regex with inputs it must match and
 * inputs it must not, as RE2 (Envoy's safe_regex, full-match) would; then search semantics,
 * groups, and what RE2 refuses.
 */
import assert from "node:assert/strict";
import { translateRe2 } from "./re2.ts";

function compile(re: string, flags = ""): RegExp {
  const t = translateRe2(re);
  if ("error" in t) throw new Error(`${JSON.stringify(re)}: ${t.error}`);
  return new RegExp(t.source, t.flags + flags);
}

/** Full match, as Envoy matches a StringMatch regex. */
function full(re: string): RegExp {
  const t = translateRe2(re);
  if ("error" in t) throw new Error(`${JSON.stringify(re)}: ${t.error}`);
  return new RegExp(`^(?:${t.source})$`, t.flags);
}

interface Case {
  re: string;
  match: string[];
  noMatch?: string[];
}

const FULL_MATCH: Case[] = [
  // Inline flags: at the start, mid-pattern, scoped to the enclosing group, and (?flags:...).
  { re: "(?i)^/api", match: ["/api", "/API", "/Api"], noMatch: ["/apix", "x/api"] },
  { re: "(?i)jason", match: ["jason", "JASON", "JaSoN"], noMatch: ["jasonx"] },
  { re: "a(?i)b", match: ["ab", "aB"], noMatch: ["Ab", "AB"] },
  { re: "(a(?i)b)c", match: ["abc", "aBc"], noMatch: ["aBC", "Abc"] },
  { re: "a(?i)b|c", match: ["ab", "aB", "c", "C"], noMatch: ["Ab"] },
  { re: "((?i)a)a", match: ["aa", "Aa"], noMatch: ["AA", "aA"] },
  { re: "(?i:get|head)", match: ["GET", "get", "Head"], noMatch: ["POST", "gett"] },
  { re: "(?i:a)b", match: ["ab", "Ab"], noMatch: ["aB"] },
  { re: "(?i)a(?-i)b", match: ["ab", "Ab"], noMatch: ["AB", "aB"] },
  { re: "(?i)a(?-i:b)c", match: ["AbC", "abc"], noMatch: ["ABC"] },
  { re: "(?i)(?:v1|v2)/x", match: ["V1/X", "v2/x"], noMatch: ["v3/x"] },
  { re: "(?i)a{2}", match: ["aa", "aA", "AA"], noMatch: ["a", "aaa"] },
  { re: "(?i)[a-c]+", match: ["abc", "ABC", "bCa"], noMatch: ["abd"] },
  { re: "(?i)[^a]", match: ["b", "B", "1"], noMatch: ["a", "A"] },
  { re: "(?i)k", match: ["k", "K", "\u212a"] }, // RE2 folds the Kelvin sign with k
  { re: "(?i)é", match: ["é", "É"] },
  { re: "(?i)\\p{Lu}", match: ["A", "a"], noMatch: ["1"] },
  { re: "(?i)\\P{Lu}", match: ["1"], noMatch: ["A", "a"] }, // folded, then negated
  // `.`: RE2 stops only at \n (JavaScript's `.` also refuses \r, U+2028, U+2029).
  { re: "a.b", match: ["axb", "a\rb", "a\u2028b", "a😀b"], noMatch: ["a\nb", "ab"] },
  { re: "(?s)a.b", match: ["a\nb", "a\rb"] },
  { re: "(?s:.).", match: ["\nx"], noMatch: ["\n\n"] },
  { re: "(?s)(?-s:.)", match: ["x"], noMatch: ["\n"] },
  // Multi-line: ^ and $ at \n only.
  { re: "(?m)a$\\n^b", match: ["a\nb"] },
  { re: "(?m)a$\\r", noMatch: ["a\r"], match: [] },
  { re: "a$", match: ["a"], noMatch: ["a\n"] },
  // Named groups.
  { re: "(?P<v>v\\d+)", match: ["v1", "v42"], noMatch: ["v", "x1"] },
  { re: "(?<v>v\\d+)/(?P<rest>.*)", match: ["v1/a/b"] },
  { re: "(?P<1st>a)", match: ["a"] },
  // \A and \z.
  { re: "\\Aabc\\z", match: ["abc"], noMatch: ["abcd"] },
  // POSIX classes (ASCII).
  { re: "[[:alpha:]]+", match: ["abc", "ABC"], noMatch: ["ab1", "é"] },
  { re: "[[:^digit:]]+", match: ["abc", "\n", "é"], noMatch: ["a1"] },
  { re: "[[:alnum:]_-]+", match: ["a_b-1"], noMatch: ["a.b"] },
  { re: "[[:punct:]]+", match: ["!-/:@[`{~"], noMatch: ["a"] },
  { re: "[[:space:]]", match: ["\v", " ", "\t"], noMatch: ["\u00a0"] },
  { re: "[[:xdigit:][:lower:]]+", match: ["0aFz"], noMatch: ["G"] },
  { re: "[^[:alpha:]]", match: ["1"], noMatch: ["a"] },
  { re: "[[:^alpha:]a]", match: ["1", "a"], noMatch: ["b"] },
  { re: "(?i)[[:upper:]]", match: ["a", "A"] },
  { re: "(?i)[[:^upper:]]", match: ["1"], noMatch: ["a", "A"] },
  { re: "[:alpha:]+", match: [":ahp"], noMatch: ["b"] }, // outside brackets: plain characters
  // Perl classes: RE2's \s is [\t\n\f\r ], no \v, no Unicode spaces.
  { re: "\\s", match: [" ", "\t", "\n", "\f", "\r"], noMatch: ["\v", "\u00a0", "\u2003"] },
  { re: "\\S+", match: ["a\u00a0\v"], noMatch: ["a b"] },
  { re: "[\\s\\d]+", match: ["5 6"], noMatch: ["\v"] },
  { re: "[^\\s]", match: ["a"], noMatch: [" "] },
  { re: "[\\S]", match: ["\v"], noMatch: [" "] },
  { re: "\\w+\\W", match: ["ab_9!", "abé"], noMatch: ["é", "ab"] },
  { re: "\\d+", match: ["0123456789"], noMatch: ["٣"] },
  // Unicode classes.
  { re: "\\pL+", match: ["abc", "αβγ", "é"], noMatch: ["1"] },
  { re: "\\PL", match: ["1"], noMatch: ["a"] },
  { re: "\\p{Greek}+", match: ["αβγ"], noMatch: ["abc"] },
  { re: "\\p{^Greek}", match: ["a"], noMatch: ["α"] },
  { re: "\\P{^Greek}", match: ["α"], noMatch: ["a"] },
  { re: "\\pN\\p{Lu}", match: ["1A"], noMatch: ["1a"] },
  { re: "[\\p{Greek}\\d]+", match: ["α1"], noMatch: ["a"] },
  { re: "[^\\p{L}]", match: ["1"], noMatch: ["a"] },
  { re: "\\p{Any}", match: ["😀", "\n"] },
  { re: "\\pC", match: ["\u0001", "\u200b"], noMatch: ["a"] },
  { re: "\\p{Han}+\\p{Latin}", match: ["中文a"] },
  // Code points, not UTF-16 units.
  { re: ".", match: ["😀", "é"], noMatch: ["😀😀"] },
  { re: "[\\x{1F600}-\\x{1F64F}]", match: ["😀"], noMatch: ["a"] },
  { re: "é+", match: ["éé"] },
  // \Q...\E.
  { re: "\\Qa.b*c\\E", match: ["a.b*c"], noMatch: ["aXbbc"] },
  { re: "\\Qa.b", match: ["a.b"], noMatch: ["axb"] },
  { re: "\\Qab\\E+", match: ["abbb"], noMatch: ["abab"] },
  { re: "x\\Q[]{}|\\E", match: ["x[]{}|"] },
  // Escapes.
  { re: "\\x{41}\\x41\\101", match: ["AAA"] },
  { re: "\\012\\0\\a\\f\\t\\n\\r\\v", match: ["\n\0\x07\f\t\n\r\v"] },
  { re: "\\-\\#\\!\\ \\_\\:\\<", match: ["-#! _:<"] },
  { re: "[\\-a]+", match: ["-a"] },
  { re: "[\\]\\[]+", match: ["[]"] },
  // Literals RE2 reads where the `v` flag wouldn't.
  { re: "x]", match: ["x]"] },
  { re: "x}", match: ["x}"] },
  { re: "a{,3}", match: ["a{,3}"], noMatch: ["aaa"] },
  { re: "a{01}", match: ["a{01}"], noMatch: ["a"] },
  { re: "a{x}", match: ["a{x}"] },
  { re: "{", match: ["{"] },
  { re: "a-b", match: ["a-b"] },
  { re: "[]a]+", match: ["]a]"], noMatch: ["b"] },
  { re: "[^]a]", match: ["b"], noMatch: ["]", "a"] },
  { re: "[a-]+", match: ["a-"] },
  { re: "[-a]+", match: ["-a"] },
  { re: "[\\d-z]+", match: ["5-z"], noMatch: ["y"] },
  { re: "[a-c-e]+", match: ["b-e"], noMatch: ["d"] },
  { re: "[&&|~~]+", match: ["&|~"] },
  { re: "[[a]+", match: ["[a"] },
  { re: "[.*+?$^]+", match: [".*+?$^"] },
  // Repetitions.
  { re: "a{2}", match: ["aa"], noMatch: ["a", "aaa"] },
  { re: "a{2,}", match: ["aa", "aaaa"], noMatch: ["a"] },
  { re: "a{1,3}b", match: ["ab", "aaab"], noMatch: ["aaaab"] },
  { re: "a{0}b", match: ["b"], noMatch: ["ab"] },
  { re: "a{2,1000}", match: ["aa"] },
  { re: "(x{100}){10}", match: ["x".repeat(1000)] },
  { re: "^*a", match: ["a"] }, // RE2 repeats empty-width assertions
  { re: "a*(?i)*", match: ["aa", ""] },
  // Alternation and groups.
  { re: "a|", match: ["a", ""] },
  { re: "(|a)b", match: ["b", "ab"] },
  { re: "()", match: [""] },
  { re: "/api/v[0-9]+/products", match: ["/api/v12/products"] },
];

Deno.test("translateRe2: each regex matches (full match) what RE2 matches", () => {
  for (const { re, match, noMatch = [] } of FULL_MATCH) {
    const rx = full(re);
    for (const s of match) assert.ok(rx.test(s), `${re} should match ${JSON.stringify(s)}`);
    for (const s of noMatch) assert.ok(!rx.test(s), `${re} should not match ${JSON.stringify(s)}`);
  }
});

/** Search semantics: the leftmost match, or null. */
const SEARCH: [string, string, string | null][] = [
  ["(?m)^b", "a\nb", "b"],
  ["^b", "a\nb", null],
  ["(?m)^b", "a\rb", null],
  ["(?m)a$", "a\nb", "a"],
  ["a$", "a\nb", null],
  ["a$", "a\n", null], // RE2's $ is \z, not Perl's \Z
  ["\\Ab", "a\nb", null],
  ["(?m)\\Ab", "a\nb", null],
  ["(?m)a\\z", "a\nb", null],
  ["a+", "aaa", "aaa"],
  ["a+?", "aaa", "a"],
  ["(?U)a+", "aaa", "a"],
  ["(?U)a+?", "aaa", "aaa"],
  ["(?U)a{1,3}", "aaa", "a"],
  ["(?U)(?-U)a+", "aaa", "aaa"],
  ["(?U:a+)a+", "aaaa", "aaaa"],
  ["\\bfoo\\b", "a foo b", "foo"],
  ["\\bfoo\\b", "afoo b", null],
  ["\\Bo", "foo", "o"],
  ["(?i)\\bk", "ſk", "k"],
];

Deno.test("translateRe2: search semantics (anchors, multi-line, ungreedy, boundaries)", () => {
  for (const [re, input, want] of SEARCH) {
    const m = compile(re).exec(input);
    assert.equal(m ? m[0] : null, want, `${re} in ${JSON.stringify(input)}`);
  }
});

Deno.test("translateRe2: groups keep their numbers and names", () => {
  const m = compile("(a)(?i:(b))(?:c)(?P<d>d)(?<e>e)").exec("aBcde")!;
  assert.deepEqual([...m], ["aBcde", "a", "B", "d", "e"]);
  assert.equal(m.groups?.d, "d");
  assert.equal(m.groups?.e, "e");
  // A name JavaScript can't take is a plain group, still numbered.
  assert.deepEqual([...compile("(?P<1st>a)(b)").exec("ab")!], ["ab", "a", "b"]);
  // Rewrites (as uriRegexRewrite does): global replace with numbered groups.
  assert.equal("/v1/a/v2/b".replace(compile("/(?P<v>v\\d)/", "g"), "/$1-x/"), "/v1-x/a/v2-x/b");
  assert.deepEqual(translateRe2("a"), { source: "a", flags: "v" });
});

Deno.test("translateRe2: what RE2 refuses is an error naming it", () => {
  const bad: [string, string][] = [
    ["a(?=b)", "lookahead"],
    ["a(?!b)", "lookahead"],
    ["(?<=a)b", "lookbehind"],
    ["(?<!a)b", "lookbehind"],
    ["(a)\\1", "backreference \\1"],
    ["(a)\\9", "backreference \\9"],
    ["\\8", "backreference \\8"],
    ["(?<n>a)\\k<n>", "\\k is not supported"],
    ["(?P<n>a)(?P=n)", "named backreferences"],
    ["(?P<n>a)(?P>n)", "named backreferences"],
    ["(?>a)", "atomic groups"],
    ["a*+", "possessive"],
    ["a++", "possessive"],
    ["a?+", "possessive"],
    ["a{2}+", "possessive"],
    ["a**", "bad repetition operator"],
    ["a*??", "bad repetition operator"],
    ["a{2}{3}", "bad repetition operator"],
    ["x{1001}", "larger than RE2's limit of 1000"],
    ["x{2,1001}", "larger than RE2's limit"],
    ["x{3,2}", "minimum is larger than the maximum"],
    ["(x{100}){11}", "nested repeat counts"],
    ["((x{10}){10}){11}", "nested repeat counts"],
    ["(?#comment)", "unsupported group syntax"],
    ["(?x)a", "unsupported group syntax"],
    ["(?i-)a", "unsupported group syntax"],
    ["(?)a", "unsupported group syntax"],
    ["(?(1)a|b)", "unsupported group syntax"],
    ["(?R)", "unsupported group syntax"],
    ["abc\\Z", "use \\z"],
    ["\\u0041", "use \\x{hex}"],
    ["\\G", "\\G is not supported"],
    ["a\\E", "\\E is not supported"],
    ["\\é", "not supported"],
    ["[\\b]", "\\b is not supported"],
    ["[\\Qa\\E]", "\\Q is not supported"],
    ["\\C", "\\C"],
    ["\\x4", "invalid escape \\x"],
    ["\\x{110000}", "past the last code point"],
    ["\\p{Foo}", "unknown Unicode class"],
    ["\\p{Grek}", "unknown Unicode class"],
    ["\\p{Script=Greek}", "unknown Unicode class"],
    ["\\pX", "unknown Unicode class"],
    ["\\p{L", "missing }"],
    ["\\p", "\\p must be followed"],
    ["[[:foo:]]", "unknown POSIX class"],
    ["[b-a]", "invalid character class range"],
    ["[a-\\d]", "invalid character class range"],
    ["(?P<n>a)(?P<n>b)", "duplicate capture group name"],
    ["(?P<>a)", "invalid capture group name"],
    ["(?P<a-b>a)", "invalid capture group name"],
    ["(?P<n", "missing >"],
    ["(v1", "Unterminated group"],
    ["((a)", "Unterminated group"],
    ["a)", "unmatched )"],
    ["[a-", "Unterminated character class"],
    ["[", "Unterminated character class"],
    ["[]", "Unterminated character class"],
    ["*a", "Nothing to repeat"],
    ["?", "Nothing to repeat"],
    ["a|*", "Nothing to repeat"],
    ["(*)", "Nothing to repeat"],
    ["(?i)*", "Nothing to repeat"],
    ["{2}", "Nothing to repeat"],
    ["\\", "trailing backslash"],
    ["[\\", "trailing backslash"],
    ["a\ud800", "lone surrogate"],
  ];
  for (const [re, message] of bad) {
    const t = translateRe2(re);
    assert.ok("error" in t, `${JSON.stringify(re)} should be refused, got ${JSON.stringify(t)}`);
    assert.ok(t.error.includes(message), `${JSON.stringify(re)}: ${t.error}`);
  }
});

Deno.test("translateRe2: every translation compiles, whatever the input", () => {
  // Random strings over RE2's syntax: each is refused with a reason or compiles.
  const alphabet = [
    "a",
    "B",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "?",
    "*",
    "+",
    "|",
    "^",
    "$",
    ".",
    "\\",
    "-",
    ":",
    "P",
    "<",
    ">",
    "i",
    "0",
    "1",
    "2",
    ",",
    "d",
    "s",
    "p",
    "Q",
    "E",
    "é",
    "😀",
    "&",
  ];
  let seed = 1;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let k = 0; k < 20000; k++) {
    let re = "";
    for (let j = rand(12); j > 0; j--) re += alphabet[rand(alphabet.length)];
    const t = translateRe2(re);
    if ("error" in t) {
      assert.ok(!t.error.startsWith("can't"), `${JSON.stringify(re)}: ${t.error}`);
    } else new RegExp(`^(?:${t.source})$`, t.flags);
  }
});
