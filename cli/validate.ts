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
import {
  formatSkipped,
  parseResources,
  type Resource,
  type SkippedDocument,
} from "../api/resources.ts";
import { convertGatewayApi } from "../control/gateway_api/convert.ts";
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
  const skippedAll: SkippedDocument[] = [];
  const read: Resource[] = [];
  for (const { file, text } of await readInputs(args)) {
    const { resources, diagnostics, skipped } = parseResources(text, file, {
      defaultNamespace: flags.namespace as string,
    });
    files.push(file);
    count += resources.length;
    read.push(...resources);
    skippedAll.push(...skipped);
    for (const d of diagnostics) {
      if (d.severity === "error") errors++;
      else warnings++;
      if (json) all.push(d);
      else console.error(formatDiagnostic(d));
    }
    if (!json) {
      // Documents mesh doesn't read are named (those of Istio's kinds were warned about).
      const warned = new Set(diagnostics.map((d) => d.line));
      for (const s of skipped) if (!warned.has(s.line)) console.error(formatSkipped(s));
    }
  }
  // The Gateway API across all inputs: what Istio's status would say isn't accepted,
  // resolved or programmed, and what mesh does differently, as warnings.
  for (const d of convertGatewayApi(read).diagnostics) {
    warnings++;
    if (json) all.push(d);
    else console.error(formatDiagnostic(d));
  }
  if (json) {
    console.log(
      JSON.stringify(
        {
          valid: errors === 0,
          resources: count,
          errors,
          warnings,
          files,
          diagnostics: all,
          skipped: skippedAll,
        },
        null,
        2,
      ),
    );
  } else {
    const notRead = skippedAll.length ? `; ${skippedAll.length} document(s) not read by mesh` : "";
    console.log(
      errors
        ? `${errors} error(s) in ${args.join(" ")}${notRead}`
        : `ok: ${count} resource(s) valid${notRead}`,
    );
  }
  return errors ? 1 : 0;
}
