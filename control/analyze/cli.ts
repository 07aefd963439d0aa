/**
 * The `mesh analyze FILE|DIR|- ...` command: reads the inputs, runs the analyzers, prints the
 * messages as istioctl does (or `-o json|yaml`), and returns the exit code: 1 when a message
 * reaches `--failure-threshold` (default Error), else 0. Usage mistakes throw
 * {@linkcode UsageError} (exit 2 in `main.ts`).
 * @module
 */
import { expandShortFlags, type FlagSpecs, parseFlags, UsageError } from "../../util/flags.ts";
import { stringifyYaml } from "../../util/yaml.ts";
import { formatSkipped, isDns1123Label } from "../../api/resources.ts";
import { readInputs } from "../../util/inputs.ts";
import { analyze } from "./mod.ts";
import { atLeast, formatMessage, type Level, LEVELS, messageRecord } from "./messages.ts";

/** Where istioctl points users for the meaning of each code. */
export const ANALYSIS_DOCS = "https://istio.io/latest/docs/reference/config/analysis";

const OUTPUTS = ["log", "json", "yaml"];

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

  const inputs = await readInputs(args, { recursive: flags.recursive === true });
  if (inputs.length === 0) {
    throw new UsageError(`no .yaml, .yml or .json files in ${args.join(" ")}`);
  }
  const { messages, notRead } = analyze(inputs, { defaultNamespace: namespace });
  // Named on standard error, so that standard output stays istioctl's.
  for (const s of notRead) console.error(formatSkipped(s));
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
