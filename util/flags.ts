/**
 * Command-line flags with environment fallbacks: each flag `--foo-bar` may also
 * come from `MESH_FOO_BAR`; the command line wins. Bad input throws a
 * {@linkcode UsageError} whose one-line message names the flag and the fix.
 *
 * @example
 * ```ts
 * const spec = { port: { type: "int", default: 15001, help: "listen port" } } as const;
 * const { flags, args } = parseFlags(["--port=8080", "file.yaml"], spec, {});
 * flags.port; // 8080
 * ```
 * @module
 */

/** A flag's type. */
export type FlagType = "string" | "int" | "port" | "bool" | "duration" | "labels" | "list";

/** One flag's definition. */
export interface FlagSpec {
  type: FlagType;
  help: string;
  default?: unknown;
  /** Allowed values for string flags. */
  values?: readonly string[];
  /** Whether the flag must be given. */
  required?: boolean;
  /** Smallest and largest value of an int flag, or of a duration flag in milliseconds. */
  min?: number;
  max?: number;
}

/** Flag definitions by long name (kebab-case). */
export type FlagSpecs = Record<string, FlagSpec>;

/** A mistake on the command line; printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The environment variable that stands in for a flag. */
export function envName(flag: string): string {
  return "MESH_" + flag.toUpperCase().replace(/-/g, "_");
}

/** Parses `1h`, `30m`, `10s`, `250ms`, `1h30m`, `1.5s` into milliseconds. */
export function parseDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  if (!s) return undefined;
  while ((m = re.exec(s)) !== null) {
    const n = Number(m[1]);
    total += m[2] === "h" ? n * 3_600_000 : m[2] === "m" ? n * 60_000 : m[2] === "s" ? n * 1000 : n;
    pos = re.lastIndex;
  }
  return pos === s.length ? total : undefined;
}

/** Parses `a=b,c=d` into a map. */
export function parseLabels(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (!s.trim()) return out;
  for (const part of s.split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) return undefined;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** Milliseconds as the shortest duration text (`1500` → `1.5s`, `60000` → `1m`). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 || ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function convert(name: string, spec: FlagSpec, raw: string, from: string): unknown {
  const bad = (what: string) =>
    new UsageError(`${from} ${JSON.stringify(raw)}: ${what} (see --help)`);
  const inRange = (n: number, show: (n: number) => string) => {
    if (spec.min !== undefined && spec.max !== undefined && (n < spec.min || n > spec.max)) {
      throw bad(`must be from ${show(spec.min)} to ${show(spec.max)}`);
    }
    if (spec.min !== undefined && n < spec.min) throw bad(`must be at least ${show(spec.min)}`);
    if (spec.max !== undefined && n > spec.max) throw bad(`must be at most ${show(spec.max)}`);
    return n;
  };
  switch (spec.type) {
    case "string":
      if (spec.values && !spec.values.includes(raw)) {
        throw bad(`must be one of ${spec.values.join(", ")}`);
      }
      return raw;
    case "int": {
      if (!/^-?\d+$/.test(raw.trim())) throw bad("must be a whole number");
      return inRange(Number(raw), String);
    }
    case "port": {
      const n = Number(raw);
      if (!/^\d{1,5}$/.test(raw.trim()) || n > 65535) throw bad("must be a port from 0 to 65535");
      return n;
    }
    case "bool":
      if (["true", "1", "yes", ""].includes(raw)) return true;
      if (["false", "0", "no"].includes(raw)) return false;
      throw bad("must be true or false");
    case "duration": {
      const ms = parseDuration(raw);
      if (ms === undefined) throw bad("must be a duration like 30s, 5m, 24h");
      return inRange(ms, formatDuration);
    }
    case "labels": {
      const l = parseLabels(raw);
      if (!l) throw bad("must be key=value pairs separated by commas, e.g. app=reviews,version=v1");
      return l;
    }
    case "list":
      return raw.split(",").map((x) => x.trim()).filter(Boolean);
  }
  throw new UsageError(`flag --${name} has an unknown type`);
}

/** Parsed flags (camelCase keys) and the remaining positional arguments. */
export interface Parsed {
  flags: Record<string, unknown>;
  args: string[];
  /** Whether --help or -h was given. */
  help: boolean;
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Parses argv against `specs`, filling in environment variables and defaults. */
export function parseFlags(
  argv: string[],
  specs: FlagSpecs,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Parsed {
  const flags: Record<string, unknown> = {};
  const args: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a === "-h" || a === "--help") {
      help = true;
      continue;
    }
    if (!a.startsWith("--")) {
      if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown flag ${a} (see --help)`);
      args.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    let raw: string;
    if (eq >= 0) raw = a.slice(eq + 1);
    else if (spec.type === "bool") raw = "true";
    else {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value (see --help)`);
      raw = argv[++i];
    }
    flags[camel(name)] = convert(name, spec, raw, `--${name}`);
  }
  for (const [name, spec] of Object.entries(specs)) {
    const key = camel(name);
    if (key in flags) continue;
    const e = env[envName(name)];
    if (e !== undefined && e !== "") flags[key] = convert(name, spec, e, envName(name));
    else if (spec.default !== undefined) {
      flags[key] = typeof spec.default === "string" && spec.type !== "string"
        ? convert(name, spec, spec.default, `default of --${name}`)
        : spec.default;
    } else if (spec.required && !help) {
      throw new UsageError(`missing --${name} (or ${envName(name)}): ${spec.help}`);
    }
  }
  return { flags, args, help };
}

/** Renders flag help, one flag per line. */
export function flagHelp(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `  --${name}${
      s.type === "bool" ? "" : "=" + (s.values ? s.values.join("|") : s.type.toUpperCase())
    }`;
    const def = s.default !== undefined && s.default !== ""
      ? ` (default ${JSON.stringify(s.default)})`
      : "";
    return [left, `${s.help}${def} [${envName(name)}]`];
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([l, r]) => l.padEnd(w) + r).join("\n");
}

/** Rewrites kubectl/istioctl-style `-o json`, `-ojson` and `-o=json` to `--output=json`. */
export function expandShortFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (a === "-o") {
      if (i + 1 >= argv.length) throw new UsageError("flag -o needs a value (see --help)");
      out.push(`--output=${argv[++i]}`);
    } else if (a.startsWith("-o") && !a.startsWith("--")) {
      out.push(`--output=${a.slice(a[2] === "=" ? 3 : 2)}`);
    } else {
      out.push(a);
    }
  }
  return out;
}
