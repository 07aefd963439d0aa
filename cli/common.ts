/**
 * What every `mesh` command shares: the common flags, reading YAML inputs,
 * waiting for a stop signal.
 * @module
 */
import { type FlagSpecs, UsageError } from "../util/flags.ts";
import { checkName } from "../ca/spiffe.ts";

/** The modes of `mesh start`. */
export const MODES = ["control", "proxy", "gateway"] as const;

/** Flags every command takes. */
export const common: FlagSpecs = {
  "log-level": {
    type: "string",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    help: "log verbosity",
  },
};

/** Resolves on SIGINT or SIGTERM with the signal's name. */
export function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: Deno.Signal) => () => resolve(sig);
    Deno.addSignalListener("SIGINT", on("SIGINT"));
    Deno.addSignalListener("SIGTERM", on("SIGTERM"));
  });
}

/** Checks `--namespace` and `--service-account` values; throws a UsageError naming the flag. */
export function checkIdentityFlags(namespace: string, serviceAccount: string): void {
  for (const [flag, value] of [["namespace", namespace], ["service-account", serviceAccount]]) {
    const err = checkName(`--${flag}`, value);
    if (err) throw new UsageError(err);
  }
}

export { readInputs } from "../util/inputs.ts";
