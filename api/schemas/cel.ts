/**
 * A syntax check of CEL expressions, as cel-go's parser does it with a default environment
 * (which Istio uses for Telemetry access log filters): the grammar only, no type checking, so
 * `response.code` passes although it isn't boolean. Optional syntax (`.?`, `?:` entries) and
 * backquoted identifiers need options Istio doesn't enable, so they are refused too.
 * @module
 */

/** Reserved words that may not be identifiers. */
const RESERVED = new Set([
  "as",
  "break",
  "const",
  "continue",
  "else",
  "for",
  "function",
  "if",
  "import",
  "let",
  "loop",
  "package",
  "namespace",
  "return",
  "var",
  "void",
  "while",
]);

/** cel-go's default limits. */
const MAX_DEPTH = 250;
const MAX_CODE_POINTS = 100_000;

type TokenKind = "ident" | "number" | "string" | "op" | "eof";
interface Token {
  kind: TokenKind;
  text: string;
  at: number;
}

class CelSyntaxError extends Error {}

const OPERATORS = [
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "<",
  ">",
  "!",
  "+",
  "-",
  "*",
  "/",
  "%",
  "?",
  ":",
  ".",
  ",",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
];

function fail(message: string, at: number): never {
  throw new CelSyntaxError(`${message} at offset ${at}`);
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/[ \t\n\r\f]/.test(c)) {
      i++;
      continue;
    }
    if (src.startsWith("//", i)) {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    const start = i;
    const str = /^([rRbB]{0,2})('''|"""|'|")/.exec(src.slice(i, i + 5));
    if (str && !/[rR].*[rR]|[bB].*[bB]/.test(str[1])) {
      i = lexString(src, i + str[1].length, /[rR]/.test(str[1]), str[2]);
      out.push({ kind: "string", text: src.slice(start, i), at: start });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i])) i++;
      const text = src.slice(start, i);
      out.push({ kind: text === "in" ? "op" : "ident", text, at: start });
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      i = lexNumber(src, i);
      out.push({ kind: "number", text: src.slice(start, i), at: start });
      continue;
    }
    if (c === "`") fail("backquoted identifiers are not enabled", i);
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) fail(`unexpected character ${JSON.stringify(c)}`, i);
    out.push({ kind: "op", text: op, at: i });
    i += op.length;
  }
  out.push({ kind: "eof", text: "<EOF>", at: src.length });
  return out;
}

function lexNumber(src: string, start: number): number {
  let i = start;
  if (/^0[xX][0-9a-fA-F]/.test(src.slice(i, i + 3))) {
    i += 2;
    while (/[0-9a-fA-F]/.test(src[i] ?? "")) i++;
    const digits = src.slice(start + 2, i);
    if (/[uU]/.test(src[i] ?? "")) {
      if (BigInt(`0x${digits}`) > 0xffffffffffffffffn) fail("invalid uint literal", start);
      return i + 1;
    }
    if (BigInt(`0x${digits}`) > 0x8000000000000000n) fail("invalid int literal", start);
    return i;
  }
  while (/[0-9]/.test(src[i] ?? "")) i++;
  let float = false;
  if (src[i] === "." && /[0-9]/.test(src[i + 1] ?? "")) {
    float = true;
    i++;
    while (/[0-9]/.test(src[i] ?? "")) i++;
  }
  const exp = /^[eE][+-]?[0-9]+/.exec(src.slice(i));
  if (exp) {
    float = true;
    i += exp[0].length;
  }
  if (float) return i;
  const digits = src.slice(start, i);
  if (/[uU]/.test(src[i] ?? "")) {
    if (BigInt(digits) > 0xffffffffffffffffn) fail("invalid uint literal", start);
    return i + 1;
  }
  // A leading '-' is a separate token; -9223372036854775808 is still an int.
  if (BigInt(digits) > 0x8000000000000000n) fail("invalid int literal", start);
  return i;
}

/** Scans a string body after its prefix; returns the index after the closing quote. */
function lexString(src: string, at: number, raw: boolean, quote: string): number {
  let i = at + quote.length;
  const triple = quote.length === 3;
  while (i < src.length) {
    if (src.startsWith(quote, i)) return i + quote.length;
    const c = src[i];
    if (!triple && (c === "\n" || c === "\r")) fail("newline in a string literal", i);
    if (c === "\\" && !raw) {
      const n = src[i + 1] ?? "";
      if ("\\'\"`?abfnrtv".includes(n) && n !== "") i += 2;
      else if (n === "x" || n === "X") i = hexEscape(src, i, 2);
      else if (n === "u") i = hexEscape(src, i, 4);
      else if (n === "U") i = hexEscape(src, i, 8);
      else if (/[0-3]/.test(n) && /^[0-7]{2}$/.test(src.slice(i + 2, i + 4))) i += 4;
      else fail(`invalid escape sequence \\${n}`, i);
      continue;
    }
    i++;
  }
  return fail("unterminated string literal", at);
}

function hexEscape(src: string, at: number, n: number): number {
  if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(src.slice(at + 2, at + 2 + n))) {
    fail("invalid escape sequence", at);
  }
  return at + 2 + n;
}

class Parser {
  #pos = 0;
  #depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): void {
    this.#expr();
    const t = this.#peek();
    if (t.kind !== "eof") fail(`unexpected ${JSON.stringify(t.text)}`, t.at);
  }

  #peek(offset = 0): Token {
    return this.tokens[Math.min(this.#pos + offset, this.tokens.length - 1)];
  }

  #isOp(text: string, offset = 0): boolean {
    const t = this.#peek(offset);
    return t.kind === "op" && t.text === text;
  }

  #take(text: string): void {
    const t = this.#peek();
    if (t.kind !== "op" || t.text !== text) {
      fail(`expected ${JSON.stringify(text)}, found ${JSON.stringify(t.text)}`, t.at);
    }
    this.#pos++;
  }

  #expr(): void {
    if (++this.#depth > MAX_DEPTH) fail("expression nested too deeply", this.#peek().at);
    this.#binary(0);
    if (this.#isOp("?")) {
      this.#pos++;
      this.#binary(0);
      this.#take(":");
      this.#expr();
    }
    this.#depth--;
  }

  /** Precedence levels, loosest first: ||, &&, relations, + -, * / %. */
  static readonly LEVELS: readonly (readonly string[])[] = [
    ["||"],
    ["&&"],
    ["<", "<=", ">=", ">", "==", "!=", "in"],
    ["+", "-"],
    ["*", "/", "%"],
  ];

  #binary(level: number): void {
    if (level === Parser.LEVELS.length) return this.#unary();
    this.#binary(level + 1);
    while (Parser.LEVELS[level].some((op) => this.#isOp(op))) {
      this.#pos++;
      this.#binary(level + 1);
    }
  }

  #unary(): void {
    for (const op of ["!", "-"]) {
      if (this.#isOp(op)) {
        while (this.#isOp(op)) this.#pos++;
        return this.#member();
      }
    }
    this.#member();
  }

  #member(): void {
    this.#primary();
    for (;;) {
      if (this.#isOp(".")) {
        this.#pos++;
        if (this.#isOp("?")) fail("optional field selection is not enabled", this.#peek().at);
        this.#ident();
        if (this.#isOp("(")) this.#args(")");
      } else if (this.#isOp("[")) {
        this.#pos++;
        if (this.#isOp("?")) fail("optional index is not enabled", this.#peek().at);
        this.#expr();
        this.#take("]");
      } else return;
    }
  }

  #ident(): string {
    const t = this.#peek();
    if (t.kind !== "ident") fail(`expected an identifier, found ${JSON.stringify(t.text)}`, t.at);
    this.#pos++;
    return t.text;
  }

  #args(close: string): void {
    this.#pos++;
    if (this.#isOp(close)) {
      this.#pos++;
      return;
    }
    this.#expr();
    while (this.#isOp(",")) {
      this.#pos++;
      this.#expr();
    }
    this.#take(close);
  }

  #primary(): void {
    const t = this.#peek();
    if (t.kind === "number" || t.kind === "string") {
      this.#pos++;
      return;
    }
    if (this.#isOp("-") && this.#peek(1).kind === "number") {
      this.#pos += 2;
      return;
    }
    if (t.kind === "ident" && ["true", "false", "null"].includes(t.text)) {
      this.#pos++;
      return;
    }
    if (this.#isOp("(")) {
      this.#pos++;
      this.#expr();
      this.#take(")");
      return;
    }
    if (this.#isOp("[")) return this.#list();
    if (this.#isOp("{")) return this.#entries(false);
    if (this.#isOp(".") || t.kind === "ident") return this.#name();
    fail(`unexpected ${JSON.stringify(t.text)}`, t.at);
  }

  /** An identifier, a global call, or a message construction (`a.b.Type{field: x}`). */
  #name(): void {
    if (this.#isOp(".")) this.#pos++;
    const first = this.#peek();
    const name = this.#ident();
    if (RESERVED.has(name)) fail(`reserved identifier: ${name}`, first.at);
    if (this.#isOp("(")) return this.#args(")");
    let n = 0;
    while (this.#isOp(".", n) && this.#peek(n + 1).kind === "ident") n += 2;
    if (this.#isOp("{", n)) {
      this.#pos += n;
      this.#entries(true);
    }
  }

  #list(): void {
    this.#pos++;
    if (this.#isOp("]")) {
      this.#pos++;
      return;
    }
    for (;;) {
      if (this.#isOp("?")) fail("optional list entries are not enabled", this.#peek().at);
      this.#expr();
      if (!this.#isOp(",")) break;
      this.#pos++;
      if (this.#isOp("]")) break;
    }
    this.#take("]");
  }

  /** A map literal, or a message's field initializers (`fields`). */
  #entries(fields: boolean): void {
    this.#pos++;
    while (!this.#isOp("}")) {
      if (this.#isOp("?")) fail("optional entries are not enabled", this.#peek().at);
      if (fields) this.#ident();
      else this.#expr();
      this.#take(":");
      this.#expr();
      if (!this.#isOp(",")) break;
      this.#pos++;
    }
    this.#take("}");
  }
}

/** Why `expression` is not a CEL expression cel-go parses, or undefined when it is one. */
export function celProblem(expression: string): string | undefined {
  if ([...expression].length > MAX_CODE_POINTS) {
    return `expression is longer than ${MAX_CODE_POINTS} characters`;
  }
  try {
    new Parser(lex(expression)).parse();
    return undefined;
  } catch (e) {
    if (e instanceof CelSyntaxError) return e.message;
    if (e instanceof RangeError) return "expression nested too deeply";
    throw e;
  }
}
