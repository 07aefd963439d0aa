/**
 * RE2 regular expressions (the syntax of Istio's `regex` fields, as Envoy's `safe_regex`
 * compiles them) translated to equivalent JavaScript regular expressions.
 *
 * The translation is written for the `v` flag and sets no other flag: RE2's flags are
 * rendered in the pattern itself, so they can change anywhere in it as RE2 allows.
 *
 * - `(?i)`: runs of case-folded atoms go in a `(?i:...)` modifier group; `v` folds case as
 *   RE2 does (simple Unicode folding; a negated class is folded, then negated).
 * - `(?s)`, `(?m)`: `.` becomes `[\s\S]` or `[^\n]` (RE2 stops only at `\n`, JavaScript at
 *   four line terminators); multi-line `^` and `$` become `(?<![^\n])` and `(?![^\n])`.
 * - `(?U)`: greedy and lazy quantifiers are swapped.
 * - `\A`, `\z` become `^`, `$` (never multi-line: the result has no `m` flag); `\s` is RE2's
 *   `[\t\n\f\r ]`; POSIX classes become ranges; `\pL`, `\p{Greek}` become `\p{L}`,
 *   `\p{Script=Greek}`; `\Q...\E` becomes escaped literals; `(?P<name>` becomes `(?<name>`.
 * - Every literal is re-escaped for the `v` flag (RE2 accepts `\-`, `]` or `{` where `v`
 *   doesn't).
 *
 * What RE2 refuses (lookaround, backreferences, atomic groups, possessive quantifiers, repeat
 * counts over 1000) is an error naming it, as is `\C` (one byte), which has no JavaScript
 * equivalent. Full-match anchoring is the caller's: `^(?:${source})$`.
 *
 * @example
 * ```ts
 * const t = translateRe2("(?i)^/api/(?P<v>v\\d+)");
 * if ("error" in t) throw new Error(t.error);
 * new RegExp(`^(?:${t.source})$`, t.flags).test("/API/v2"); // true
 * ```
 * @module
 */

/** A translated pattern, or why it isn't valid RE2 (or can't be expressed in JavaScript). */
export type Re2Translation = { source: string; flags: string } | { error: string };

/** Largest repeat count RE2 accepts in `{n,m}` (and the limit on nested counts' product). */
export const RE2_MAX_REPEAT = 1000;

interface Flags {
  /** Case-insensitive. */
  i: boolean;
  /** Multi-line `^` and `$`. */
  m: boolean;
  /** `.` matches `\n`. */
  s: boolean;
  /** Ungreedy: `*` is lazy, `*?` greedy. */
  U: boolean;
}

interface Piece {
  js: string;
  /** An atom whose matching depends on case folding; assertions and groups are not. */
  kind: "atom" | "assert" | "group";
  /** Case-insensitive (atoms only). */
  fold: boolean;
  quantified: boolean;
  /** The largest product of nested `{n,m}` counts inside. */
  prod: number;
}

interface Frame {
  open: string;
  alts: Piece[][];
  cur: Piece[];
  /** The flags to restore when the group closes. */
  saved: Flags;
}

class Re2Error extends Error {}

/** Characters escaped outside a class (u/v syntax characters). */
const SYNTAX_OUT = new Set("^$\\.*+?()[]{}|/");
/** Characters escaped inside a `v` class (syntax characters and reserved punctuators). */
const SYNTAX_IN = new Set("^$\\.*+?()[]{}|/-&!#%,:;<=>@`~");

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function invisible(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029;
}

/** A code point as a literal outside a class. */
function litOut(cp: number): string {
  const c = String.fromCodePoint(cp);
  return SYNTAX_OUT.has(c) ? "\\" + c : invisible(cp) ? hex(cp) : c;
}

/** A code point as a literal inside a `v` class. */
function litIn(cp: number): string {
  const c = String.fromCodePoint(cp);
  return SYNTAX_IN.has(c) ? "\\" + c : invisible(cp) ? hex(cp) : c;
}

type Ranges = [number, number][];
const ch = (s: string) => s.codePointAt(0)!;
const r = (a: string, b = a): [number, number] => [ch(a), ch(b)];

/** RE2's POSIX classes (ASCII only). */
const POSIX: Record<string, Ranges> = {
  alnum: [r("0", "9"), r("A", "Z"), r("a", "z")],
  alpha: [r("A", "Z"), r("a", "z")],
  ascii: [[0, 0x7f]],
  blank: [r("\t"), r(" ")],
  cntrl: [[0, 0x1f], [0x7f, 0x7f]],
  digit: [r("0", "9")],
  graph: [r("!", "~")],
  lower: [r("a", "z")],
  print: [r(" ", "~")],
  punct: [r("!", "/"), r(":", "@"), r("[", "`"), r("{", "~")],
  space: [r("\t", "\r"), r(" ")],
  upper: [r("A", "Z")],
  word: [r("0", "9"), r("A", "Z"), r("a", "z"), r("_")],
  xdigit: [r("0", "9"), r("A", "F"), r("a", "f")],
};
/** RE2's `\s`: Perl's ASCII space, without `\v`. */
const PERL_SPACE: Ranges = [r("\t", "\n"), r("\f", "\r"), r(" ")];

function rangesIn(rs: Ranges): string {
  return rs.map(([lo, hi]) => lo === hi ? litIn(lo) : `${litIn(lo)}-${litIn(hi)}`).join("");
}

/** RE2's Unicode general categories (it has no `Cn`, no `LC`, no long names). */
const CATEGORIES = new Set(
  ("C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So " +
    "Z Zl Zp Zs").split(" "),
);
/** Script names of four letters that are names, not ISO 15924 aliases (which RE2 doesn't take). */
const FOUR_LETTER_SCRIPTS = new Set([
  "Ahom",
  "Cham",
  "Kawi",
  "Lisu",
  "Modi",
  "Newa",
  "Thai",
  "Toto",
]);
const scriptKnown = new Map<string, boolean>();

function isScript(name: string): boolean {
  if (!/^[A-Z][A-Za-z_]*$/.test(name)) return false;
  if (/^[A-Z][a-z]{3}$/.test(name) && !FOUR_LETTER_SCRIPTS.has(name)) return false;
  let known = scriptKnown.get(name);
  if (known === undefined) {
    try {
      new RegExp(`\\p{Script=${name}}`, "v");
      known = true;
    } catch {
      known = false;
    }
    scriptKnown.set(name, known);
  }
  return known;
}

/** A Unicode class as a `v` class item (valid inside or outside a class). */
function unicodeClass(name: string, negated: boolean): string {
  if (name === "C") return `[${negated ? "^" : ""}\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]`;
  const p = negated ? "\\P" : "\\p";
  if (name === "Any" || CATEGORIES.has(name)) return `${p}{${name}}`;
  if (isScript(name)) return `${p}{Script=${name}}`;
  throw new Re2Error(
    `unknown Unicode class ${JSON.stringify(name)}; RE2 takes a general category (L, Lu, Nd...), ` +
      "a script (Greek, Latin, Han...) or Any",
  );
}

const NAME = /^[A-Za-z0-9_]+$/;

/**
 * Translates an RE2 regular expression to a JavaScript source and flags that match the same
 * strings the same way (search semantics: anchor it yourself for a full match). Never throws.
 */
export function translateRe2(source: string): Re2Translation {
  let out: string;
  try {
    out = new Translator(source).run();
  } catch (e) {
    if (e instanceof Re2Error) return { error: e.message };
    return { error: `can't translate the regular expression: ${(e as Error).message}` };
  }
  try {
    new RegExp(out, "v");
  } catch (e) {
    // A translation bug, not the user's: say so rather than pass on a pattern that throws.
    return { error: `can't express the regular expression in JavaScript: ${(e as Error).message}` };
  }
  return { source: out, flags: "v" };
}

class Translator {
  readonly #src: string;
  #pos = 0;
  #flags: Flags = { i: false, m: false, s: false, U: false };
  #stack: Frame[];
  #names = new Set<string>();
  /** The previous token was a repetition operator (RE2 refuses `a**`). */
  #lastRepeat = false;

  constructor(src: string) {
    this.#src = src;
    this.#stack = [{ open: "", alts: [], cur: [], saved: { ...this.#flags } }];
  }

  run(): string {
    while (this.#pos < this.#src.length) {
      const wasRepeat = this.#lastRepeat;
      this.#lastRepeat = false;
      this.#token(wasRepeat);
    }
    if (this.#stack.length > 1) {
      throw new Re2Error("Unterminated group: missing closing )");
    }
    return emitAlts(this.#top());
  }

  #top(): Frame {
    return this.#stack[this.#stack.length - 1];
  }

  #peek(offset = 0): string {
    return this.#src[this.#pos + offset] ?? "";
  }

  /** The next code point, consumed; errors on a lone surrogate (not UTF-8 text). */
  #next(): number {
    const cp = this.#src.codePointAt(this.#pos);
    if (cp === undefined) throw new Re2Error("unexpected end of the regular expression");
    if (cp >= 0xd800 && cp <= 0xdfff) throw new Re2Error("invalid UTF-8 (a lone surrogate)");
    this.#pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  #push(p: Omit<Piece, "quantified" | "prod"> & { prod?: number }): void {
    this.#top().cur.push({ quantified: false, prod: 1, ...p });
  }

  #atom(js: string): void {
    this.#push({ js, kind: "atom", fold: this.#flags.i });
  }

  #assert(js: string): void {
    this.#push({ js, kind: "assert", fold: false });
  }

  #token(wasRepeat: boolean): void {
    const c = this.#peek();
    switch (c) {
      case "(":
        this.#pos++;
        return this.#group();
      case ")": {
        if (this.#stack.length === 1) {
          throw new Re2Error("unmatched ): a closing parenthesis without its (");
        }
        this.#pos++;
        const f = this.#stack.pop()!;
        const all = [...f.alts, f.cur];
        const prod = Math.max(1, ...all.flat().map((p) => p.prod));
        this.#flags = f.saved;
        this.#top().cur.push({
          js: f.open + emitAlts(f) + ")",
          kind: "group",
          fold: false,
          quantified: false,
          prod,
        });
        return;
      }
      case "|": {
        this.#pos++;
        const f = this.#top();
        f.alts.push(f.cur);
        f.cur = [];
        return;
      }
      case "^":
        this.#pos++;
        return this.#assert(this.#flags.m ? "(?<![^\\n])" : "^");
      case "$":
        this.#pos++;
        return this.#assert(this.#flags.m ? "(?![^\\n])" : "$");
      case ".":
        this.#pos++;
        return this.#atom(this.#flags.s ? "[\\s\\S]" : "[^\\n]");
      case "[":
        this.#pos++;
        return this.#atom(this.#class());
      case "*":
      case "+":
      case "?":
        return this.#repeat(wasRepeat);
      case "{": {
        const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.#src.slice(this.#pos));
        // RE2 reads `{` that isn't a valid repeat (`{,3}`, `{01}`, `{a}`) as a literal.
        if (m && !/^0\d/.test(m[1]) && !/^0\d/.test(m[3] ?? "")) return this.#repeat(wasRepeat);
        this.#pos++;
        return this.#atom(litOut(ch("{")));
      }
      case "\\":
        return this.#escape();
    }
    this.#atom(litOut(this.#next()));
  }

  #repeat(wasRepeat: boolean): void {
    const start = this.#pos;
    let min: number, max: number; // max -1: unbounded
    let q: string;
    const c = this.#peek();
    if (c === "{") {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.#src.slice(this.#pos))!;
      this.#pos += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? -1 : Number(m[3]);
      if (min > RE2_MAX_REPEAT || max > RE2_MAX_REPEAT) {
        throw new Re2Error(
          `repeat count in ${m[0]} is larger than RE2's limit of ${RE2_MAX_REPEAT}`,
        );
      }
      if (max >= 0 && min > max) {
        throw new Re2Error(`invalid repeat count ${m[0]}: the minimum is larger than the maximum`);
      }
      q = m[0];
    } else {
      this.#pos++;
      [min, max] = c === "*" ? [0, -1] : c === "+" ? [1, -1] : [0, 1];
      q = c;
    }
    let lazy = false;
    if (this.#peek() === "?") {
      lazy = true;
      this.#pos++;
    }
    const op = this.#src.slice(start, this.#pos);
    if (wasRepeat) {
      throw new Re2Error(
        `bad repetition operator: a repetition of a repetition, before ${
          JSON.stringify(op)
        }; group the first, as (?:a*)*`,
      );
    }
    if (this.#peek() === "+") {
      throw new Re2Error(
        `possessive repetition ${JSON.stringify(op + "+")} is not supported by RE2`,
      );
    }
    const cur = this.#top().cur;
    const last = cur[cur.length - 1];
    if (!last) {
      throw new Re2Error(`Nothing to repeat: missing argument to repetition operator ${op}`);
    }
    // `a*(?i)*` repeats `a*` again; `^*` repeats an assertion: both need a group in JavaScript.
    const js = last.quantified || last.kind === "assert" ? `(?:${last.js})` : last.js;
    const m = c === "{" ? (max < 0 ? min : max) : 0;
    const prod = m > 0 ? Math.min(last.prod * m, RE2_MAX_REPEAT + 1) : last.prod;
    if (prod > RE2_MAX_REPEAT) {
      throw new Re2Error(
        `nested repeat counts multiply past RE2's limit of ${RE2_MAX_REPEAT} (at ${op})`,
      );
    }
    if (this.#flags.U) lazy = !lazy;
    cur[cur.length - 1] = {
      js: js + q + (lazy ? "?" : ""),
      kind: last.kind === "assert" ? "group" : last.kind,
      fold: last.fold,
      quantified: true,
      prod,
    };
    this.#lastRepeat = true;
  }

  /** After `(`. */
  #group(): void {
    if (this.#peek() !== "?") {
      this.#open("(");
      return;
    }
    const rest = this.#src.slice(this.#pos + 1, this.#pos + 12);
    if (rest.startsWith("=") || rest.startsWith("!")) {
      throw new Re2Error("lookahead (?= or (?! is not supported by RE2");
    }
    if (rest.startsWith("<=") || rest.startsWith("<!")) {
      throw new Re2Error("lookbehind (?<= or (?<! is not supported by RE2");
    }
    if (rest.startsWith(">")) throw new Re2Error("atomic groups (?> are not supported by RE2");
    if (rest.startsWith("P=") || rest.startsWith("P>")) {
      throw new Re2Error("named backreferences (?P=name) are not supported by RE2");
    }
    if (rest.startsWith("P<") || rest.startsWith("<")) {
      const at = this.#pos + (rest.startsWith("P") ? 3 : 2);
      const end = this.#src.indexOf(">", at);
      if (end < 0) throw new Re2Error("invalid named capture group: missing >");
      const name = this.#src.slice(at, end);
      if (!NAME.test(name)) {
        throw new Re2Error(
          `invalid capture group name ${JSON.stringify(name)}; use letters, digits and _`,
        );
      }
      if (this.#names.has(name)) {
        throw new Re2Error(`duplicate capture group name ${JSON.stringify(name)}`);
      }
      this.#names.add(name);
      this.#pos = end + 1;
      // A JavaScript name can't start with a digit; the group's number is what matters.
      this.#open(/^[A-Za-z_]/.test(name) ? `(?<${name}>` : "(");
      return;
    }
    // Flags: (?i) (?i-s) (?-m) and (?i:...).
    const m = /^\?([imsU]*)(?:(-)([imsU]*))?([:)])/.exec(this.#src.slice(this.#pos));
    if (!m || (m[2] && !m[3]) || (m[4] === ")" && !m[1] && !m[2])) {
      throw new Re2Error(
        `unsupported group syntax ${
          JSON.stringify(this.#src.slice(this.#pos - 1, this.#pos + 3))
        }` +
          "; RE2 groups are (...), (?:...), (?P<name>...) and flags like (?i)",
      );
    }
    this.#pos += m[0].length;
    const flags = { ...this.#flags };
    for (const f of m[1]) flags[f as keyof Flags] = true;
    for (const f of m[3] ?? "") flags[f as keyof Flags] = false;
    if (m[4] === ":") this.#open("(?:");
    this.#flags = flags;
  }

  #open(js: string): void {
    this.#stack.push({ open: js, alts: [], cur: [], saved: { ...this.#flags } });
  }

  /** At a backslash outside a class. */
  #escape(): void {
    const n = this.#peek(1);
    switch (n) {
      case "A":
        this.#pos += 2;
        return this.#assert("^");
      case "z":
        this.#pos += 2;
        return this.#assert("$");
      case "b":
      case "B":
        this.#pos += 2;
        return this.#assert("\\" + n);
      case "Q": {
        this.#pos += 2;
        const end = this.#src.indexOf("\\E", this.#pos);
        const stop = end < 0 ? this.#src.length : end;
        while (this.#pos < stop) this.#atom(litOut(this.#next()));
        this.#pos = end < 0 ? stop : end + 2;
        return;
      }
      case "C":
        throw new Re2Error(
          "\\C (any single byte) can't be matched in JavaScript, which matches whole " +
            "characters; Istio's validation (Go's regexp) refuses it too; use . instead",
        );
    }
    this.#atom(this.#classEscape(false));
  }

  /**
   * An escape that is a character or a class, as a `v` class item when `inClass`, else as an
   * atom; `#pos` is at the backslash.
   */
  #classEscape(inClass: boolean): string {
    this.#pos++;
    if (this.#pos >= this.#src.length) throw new Re2Error("trailing backslash; escape it as \\\\");
    const n = this.#peek();
    switch (n) {
      case "d":
      case "D":
      case "w":
      case "W":
        this.#pos++;
        return "\\" + n;
      case "s":
        this.#pos++;
        return inClass ? rangesIn(PERL_SPACE) : `[${rangesIn(PERL_SPACE)}]`;
      case "S":
        this.#pos++;
        return `[^${rangesIn(PERL_SPACE)}]`;
      case "p":
      case "P": {
        this.#pos++;
        let negated = n === "P";
        let name: string;
        if (this.#peek() === "{") {
          const close = this.#src.indexOf("}", this.#pos);
          if (close < 0) throw new Re2Error("invalid Unicode class: missing }");
          name = this.#src.slice(this.#pos + 1, close);
          this.#pos = close + 1;
          if (name.startsWith("^")) {
            negated = !negated;
            name = name.slice(1);
          }
        } else if (this.#pos < this.#src.length) {
          name = String.fromCodePoint(this.#next());
        } else {
          throw new Re2Error("\\p must be followed by a class name, like \\pL or \\p{Greek}");
        }
        return unicodeClass(name, negated);
      }
    }
    const cp = this.#charEscape();
    return inClass ? litIn(cp) : litOut(cp);
  }

  /** A single-character escape (after the backslash): its code point. */
  #charEscape(): number {
    const n = this.#peek();
    if (n >= "1" && n <= "7" && this.#peek(1) >= "0" && this.#peek(1) <= "7" || n === "0") {
      // Octal: up to three digits.
      const m = /^[0-7]{1,3}/.exec(this.#src.slice(this.#pos))!;
      this.#pos += m[0].length;
      return parseInt(m[0], 8);
    }
    if (n >= "1" && n <= "9") throw new Re2Error(`backreference \\${n} is not supported by RE2`);
    if (n === "x") {
      const braced = /^x\{([0-9A-Fa-f]+)\}/.exec(this.#src.slice(this.#pos));
      if (braced) {
        const cp = parseInt(braced[1], 16);
        if (braced[1].length > 8 || cp > 0x10ffff) {
          throw new Re2Error(`escape \\${braced[0]} is past the last code point, \\x{10FFFF}`);
        }
        this.#pos += braced[0].length;
        return cp;
      }
      const two = /^x([0-9A-Fa-f]{2})/.exec(this.#src.slice(this.#pos));
      if (!two) throw new Re2Error("invalid escape \\x; write \\x41 or \\x{41}");
      this.#pos += 3;
      return parseInt(two[1], 16);
    }
    const controls: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (n in controls) {
      this.#pos++;
      return controls[n];
    }
    if (/[A-Za-z]/.test(n)) {
      const hint = n === "k"
        ? " (backreferences are not supported by RE2)"
        : n === "u"
        ? "; use \\x{hex} for a code point"
        : n === "Z"
        ? "; use \\z for the end of text"
        : n === "E"
        ? " (\\E ends a \\Q...\\E quote)"
        : "";
      throw new Re2Error(`escape \\${n} is not supported by RE2${hint}`);
    }
    const cp = this.#next();
    // RE2: an escaped ASCII punctuation (or space) is itself; anything else is an error.
    if (cp >= 0x80) {
      throw new Re2Error(`escape \\${String.fromCodePoint(cp)} is not supported by RE2`);
    }
    return cp;
  }

  /** After `[`: the class, as a `v` class. */
  #class(): string {
    let js = "[";
    if (this.#peek() === "^") {
      js += "^";
      this.#pos++;
    }
    let first = true;
    for (;;) {
      if (this.#pos >= this.#src.length) {
        throw new Re2Error("Unterminated character class: missing closing ]");
      }
      const c = this.#peek();
      if (c === "]" && !first) {
        this.#pos++;
        return js + "]";
      }
      first = false;
      if (c === "[" && this.#peek(1) === ":") {
        const end = this.#src.indexOf(":]", this.#pos + 2);
        if (end >= 0) {
          let name = this.#src.slice(this.#pos + 2, end);
          const negated = name.startsWith("^");
          if (negated) name = name.slice(1);
          const rs = Object.hasOwn(POSIX, name) ? POSIX[name] : undefined;
          if (!rs) {
            throw new Re2Error(
              `unknown POSIX class ${JSON.stringify(this.#src.slice(this.#pos, end + 2))}; ` +
                `RE2 has ${Object.keys(POSIX).map((k) => `[:${k}:]`).join(" ")}`,
            );
          }
          this.#pos = end + 2;
          js += negated ? `[^${rangesIn(rs)}]` : rangesIn(rs);
          continue;
        }
      }
      if (c === "\\" && /[dDwWsSpP]/.test(this.#peek(1))) {
        js += this.#classEscape(true);
        continue;
      }
      const lo = this.#classChar();
      if (this.#peek() === "-" && this.#peek(1) !== "]" && this.#pos + 1 < this.#src.length) {
        this.#pos++;
        const hi = this.#classChar();
        if (hi < lo) {
          throw new Re2Error(
            `invalid character class range ${
              JSON.stringify(String.fromCodePoint(lo) + "-" + String.fromCodePoint(hi))
            }: the end is before the start`,
          );
        }
        js += `${litIn(lo)}-${litIn(hi)}`;
      } else {
        js += litIn(lo);
      }
    }
  }

  /** One character of a class (literal or escaped). */
  #classChar(): number {
    if (this.#peek() !== "\\") return this.#next();
    this.#pos++;
    if (this.#pos >= this.#src.length) throw new Re2Error("trailing backslash; escape it as \\\\");
    const n = this.#peek();
    if (/[dDwWsSpP]/.test(n)) {
      throw new Re2Error(`invalid character class range: \\${n} can't end a range`);
    }
    return this.#charEscape();
  }
}

/** A frame's alternatives, with runs of case-folded atoms in `(?i:...)`. */
function emitAlts(f: Frame): string {
  return [...f.alts, f.cur].map(emitSeq).join("|");
}

function emitSeq(pieces: Piece[]): string {
  let out = "";
  let run = "";
  for (const p of pieces) {
    if (p.kind === "atom" && p.fold) {
      run += p.js;
      continue;
    }
    if (run) out += `(?i:${run})`;
    run = "";
    out += p.js;
  }
  if (run) out += `(?i:${run})`;
  return out;
}
