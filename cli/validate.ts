/**
 * `mesh validate FILE|DIR|- ...`: checks Istio YAML; exit 0 valid, 1 invalid, 2 usage error.
 * @module
 */
import {
  expandShortFlags,
  flagHelp,
  type FlagSpecs,
  parseFlags,
  UsageError,
} from "../util/flags.ts";
import { parseResources } from "../api/resources.ts";
import { type Diagnostic, formatDiagnostic } from "../api/diagnostic.ts";
import { common, readInputs } from "./common.ts";

/** Flags of `mesh validate`. */
export const validateFlags: FlagSpecs = {
  namespace: { type: "string", default: "default", help: "namespace for resources that name none" },
  output: {
    type: "string",
    values: ["text", "json"],
    default: "text",
    help: "text (file:line:col: ...) or json (one object with every diagnostic); also -o",
  },
  ...common,
};

/** Help text of `mesh validate`. */
export function validateHelp(): string {
  return `mesh validate FILE|DIR|- ...\n\nChecks Istio YAML; exit 0 valid, 1 invalid, 2 usage error.\n\n${
    flagHelp(validateFlags)
  }`;
}

/** Runs `mesh validate`. */
export async function validateCommand(argv: string[]): Promise<number> {
  const { flags, args, help } = parseFlags(expandShortFlags(argv), validateFlags);
  if (help) {
    console.log(validateHelp());
    return 0;
  }
  if (args.length === 0) {
    throw new UsageError("mesh validate needs at least one FILE, DIR or - (see --help)");
  }
  let errors = 0;
  let warnings = 0;
  let count = 0;
  const json = flags.output === "json";
  const all: Diagnostic[] = [];
  const files: string[] = [];
  for (const { file, text } of await readInputs(args)) {
    const { resources, diagnostics } = parseResources(text, file, {
      defaultNamespace: flags.namespace as string,
    });
    files.push(file);
    count += resources.length;
    for (const d of diagnostics) {
      if (d.severity === "error") errors++;
      else warnings++;
      if (json) all.push(d);
      else console.error(formatDiagnostic(d));
    }
  }
  if (json) {
    console.log(
      JSON.stringify(
        { valid: errors === 0, resources: count, errors, warnings, files, diagnostics: all },
        null,
        2,
      ),
    );
  } else {
    console.log(
      errors ? `${errors} error(s) in ${args.join(" ")}` : `ok: ${count} resource(s) valid`,
    );
  }
  return errors ? 1 : 0;
}
