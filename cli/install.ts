/**
 * `mesh install`: what a Kubernetes cluster needs before it holds mesh's configuration.
 *
 * - `mesh install crds [--kinds=K,...]`: the CustomResourceDefinitions of the Istio kinds
 *   mesh knows, as one multi-document YAML stream on stdout (`| kubectl apply -f -`).
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";

/** Flags per `mesh install` subcommand. */
export const installFlags: Record<string, FlagSpecs> = {
  crds: {
    kinds: {
      type: "list",
      default: "",
      help: "only these kinds, comma-separated (e.g. VirtualService,DestinationRule)",
    },
  },
};

const SUBCOMMANDS = Object.keys(installFlags);

/** Help text of `mesh install`. */
export function installHelp(): string {
  return `mesh install ${SUBCOMMANDS.join("|")} [flags]

  crds   print the CustomResourceDefinitions of the Istio kinds mesh knows (apiextensions.k8s.io/v1,
         schemas from mesh's validation) as YAML; apply them with
         mesh install crds | kubectl apply -f -

` + Object.entries(installFlags).map(([sub, f]) => `mesh install ${sub}:\n${flagHelp(f)}`)
    .join("\n\n");
}

/** Runs `mesh install`. */
export async function installCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(installHelp());
    return sub === undefined ? 2 : 0;
  }
  if (!SUBCOMMANDS.includes(sub)) {
    throw new UsageError(
      `unknown command "install ${sub}"; mesh install has: ${SUBCOMMANDS.join(", ")}`,
    );
  }
  const { flags, args, help } = parseFlags(rest, installFlags[sub]);
  if (help) {
    console.log(installHelp());
    return 0;
  }
  if (args.length > 0) {
    throw new UsageError(
      `mesh install ${sub} takes no arguments, got "${args[0]}"; ` +
        "choose kinds with --kinds=VirtualService,DestinationRule",
    );
  }
  const { crdKindNames, crdsYaml } = await import("../api/crds.ts");
  const known = crdKindNames();
  const kinds = flags.kinds as string[];
  const unknown = kinds.filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new UsageError(
      `--kinds: no CRD for ${unknown.join(", ")}; choose from ${known.join(", ")}`,
    );
  }
  const out = crdsYaml(kinds.length ? [...new Set(kinds)] : known);
  const bytes = new TextEncoder().encode(out);
  try {
    for (let n = 0; n < bytes.length;) n += await Deno.stdout.write(bytes.subarray(n));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err; // `| head`: the reader had enough
  }
  return 0;
}
