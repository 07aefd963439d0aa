/**
 * The `mesh analyze FILE|DIR|- ...` command: reads the inputs, runs the analyzers, prints the
 * messages as istioctl does (or `-o json|yaml`), and returns the exit code: 1 when a message
 * reaches `--failure-threshold` (default Error), else 0. Usage mistakes throw
 * {@linkcode UsageError} (exit 2 in `main.ts`).
 * @module
 */
import { type FlagSpecs, parseFlags, UsageError } from "../../util/flags.ts";
import { stringifyYaml } from "../../util/yaml.ts";
import { isDns1123Label } from "../../api/resources.ts";
import type { Input } from "./context.ts";
import { analyze } from "./mod.ts";
import { atLeast, formatMessage, type Level, LEVELS, messageRecord } from "./messages.ts";

/** Where istioctl points users for the meaning of each code. */
export const ANALYSIS_DOCS = "https://istio.io/latest/docs/reference/config/analysis";

const OUTPUTS = ["log", "json", "yaml"];

/** Rewrites istioctl's `-o json`, `-ojson` and `-o=json` to `--output=json`. */
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

/** Reads FILE, DIR (its `*.yaml`, `*.yml`, `*.json`; subdirectories with `recursive`) or `-`. */
export async function readAnalyzeInputs(
  paths: readonly string[],
  recursive: boolean,
): Promise<Input[]> {
  const out: Input[] = [];
  const visit = async (p: string, top: boolean): Promise<void> => {
    if (p === "-") {
      out.push({ file: "<stdin>", text: await new Response(Deno.stdin.readable).text() });
      return;
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(p);
    } catch {
      throw new UsageError(`${p}: no such file or directory`);
    }
    if (st.isDirectory) {
      if (!top && !recursive) return;
      const entries: Deno.DirEntry[] = [];
      for await (const e of Deno.readDir(p)) entries.push(e);
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const base = p.endsWith("/") ? p.slice(0, -1) : p;
      for (const e of entries) {
        if (e.isDirectory) {
          if (recursive) await visit(`${base}/${e.name}`, false);
        } else if (/\.(ya?ml|json)$/i.test(e.name)) {
          await visit(`${base}/${e.name}`, false);
        }
      }
      return;
    }
    out.push({ file: p, text: await Deno.readTextFile(p) });
  };
  for (const p of paths) await visit(p, true);
  return out;
}

/** Runs `mesh analyze` with `argv` (after the command name); returns the exit code. */
export async function runAnalyze(
  argv: readonly string[],
  specs: FlagSpecs,
  help: string,
): Promise<number> {
  const { flags, args, help: wantHelp } = parseFlags(expandShortFlags(argv), specs);
  if (wantHelp) {
    console.log(help);
    return 0;
  }
  if (args.length === 0) {
    throw new UsageError("mesh analyze needs at least one FILE, DIR or - (see --help)");
  }
  const namespace = String(flags.namespace ?? "default");
  if (!isDns1123Label(namespace)) {
    throw new UsageError(
      `--namespace ${
        JSON.stringify(namespace)
      } is not a DNS label (lowercase letters, digits, '-')`,
    );
  }
  const output = String(flags.output ?? "log");
  if (!OUTPUTS.includes(output)) {
    throw new UsageError(
      `--output ${JSON.stringify(output)}: must be one of ${OUTPUTS.join(", ")}`,
    );
  }
  const outputThreshold = (flags.outputThreshold ?? "Info") as Level;
  const failureThreshold = (flags.failureThreshold ?? "Error") as Level;
  for (
    const [flag, v] of [["output-threshold", outputThreshold], [
      "failure-threshold",
      failureThreshold,
    ]]
  ) {
    if (!LEVELS.includes(v as Level)) {
      throw new UsageError(`--${flag} ${JSON.stringify(v)}: must be one of ${LEVELS.join(", ")}`);
    }
  }

  const inputs = await readAnalyzeInputs(args, flags.recursive === true);
  if (inputs.length === 0) {
    throw new UsageError(`no .yaml, .yml or .json files in ${args.join(" ")}`);
  }
  const { messages } = analyze(inputs, { defaultNamespace: namespace });
  const shown = messages.filter((m) => atLeast(m.level, outputThreshold));
  const failed = messages.some((m) => atLeast(m.level, failureThreshold));

  if (output === "json") {
    console.log(JSON.stringify(shown.map(messageRecord), null, 2));
  } else if (output === "yaml") {
    console.log(stringifyYaml(shown.map(messageRecord)).trimEnd());
  } else {
    const what = args.join(" ");
    for (const m of shown) console.log(formatMessage(m));
    if (failed) {
      console.error(`Error: Analyzers found issues when analyzing ${what}.`);
      console.error(
        `See ${ANALYSIS_DOCS} for more information about causes and resolutions ` +
          "(MSH codes: docs/analyze.md).",
      );
    } else if (shown.length === 0) {
      console.error(`\u2714 No validation issues found when analyzing ${what}.`);
    }
  }
  return failed ? 1 : 0;
}
