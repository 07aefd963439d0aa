/**
 * `mesh analyze FILE|DIR|- ...`: cross-resource checks as istioctl analyze.
 * @module
 */
import { flagHelp, type FlagSpecs } from "../util/flags.ts";

/** Flags of `mesh analyze`. */
export const analyzeFlags: FlagSpecs = {
  namespace: { type: "string", default: "default", help: "namespace for resources that name none" },
  output: {
    type: "string",
    values: ["log", "json", "yaml"],
    default: "log",
    help: "output format (also -o); log is istioctl's one line per message",
  },
  "output-threshold": {
    type: "string",
    values: ["Info", "Warning", "Error"],
    default: "Info",
    help: "print messages of this level or worse",
  },
  "failure-threshold": {
    type: "string",
    values: ["Info", "Warning", "Error"],
    default: "Error",
    help: "exit 1 when a message is of this level or worse",
  },
  recursive: { type: "bool", default: false, help: "read subdirectories of DIR too" },
};

/** Help text of `mesh analyze`. */
export function analyzeHelp(): string {
  return `mesh analyze FILE|DIR|- ...\n\nCross-checks Istio YAML and the Kubernetes objects beside it as istioctl analyze does;\nexit 0 when no errors, 1 on errors, 2 usage error. Checks and codes: docs/analyze.md.\n\n${
    flagHelp(analyzeFlags)
  }`;
}

/** Runs `mesh analyze`. */
export async function analyzeCommand(argv: string[]): Promise<number> {
  const { runAnalyze } = await import("../control/analyze/cli.ts");
  return await runAnalyze(argv, analyzeFlags, analyzeHelp());
}
