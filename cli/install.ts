/**
 * `mesh install`: what a Kubernetes cluster needs before it holds mesh's configuration.
 *
 * - `mesh install crds [--kinds=K,...]`: the CustomResourceDefinitions of the Istio kinds
 *   mesh knows, as one multi-document YAML stream on stdout (`| kubectl apply -f -`).
 * - `mesh install webhooks --ca-file ROOT (--url URL | --service NS/NAME[:PORT])`: the
 *   ValidatingWebhookConfiguration that sends Istio resources to the control plane's
 *   `/validate`, with the mesh root as its CA bundle.
 * - `mesh install rbac [--namespace NS] [--service-account SA] [--writable]`: the control
 *   plane's ServiceAccount, least-privilege ClusterRole and binding.
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
  webhooks: {
    "ca-file": {
      type: "string",
      required: true,
      help:
        "PEM of the mesh root that signs the control plane's certificate (mesh ca root > root.pem)",
    },
    url: {
      type: "string",
      help: "where the API server reaches /validate, e.g. https://10.0.0.5:15012/validate",
    },
    service: {
      type: "string",
      help: "or the control plane's Service: NAMESPACE/NAME[:PORT] (port 15012 by default)",
    },
    "failure-policy": {
      type: "string",
      values: ["Fail", "Ignore"],
      default: "Fail",
      help: "what the API server does when the webhook can't be reached",
    },
  },
  rbac: {
    namespace: { type: "string", default: "istio-system", help: "the control plane's namespace" },
    "service-account": { type: "string", default: "mesh-control", help: "its service account" },
    writable: {
      type: "bool",
      default: false,
      help: "also let it create, update and delete Istio resources (mesh apply through it)",
    },
  },
};

const SUBCOMMANDS = Object.keys(installFlags);

/** Help text of `mesh install`. */
export function installHelp(): string {
  return `mesh install ${SUBCOMMANDS.join("|")} [flags]

  crds      print the CustomResourceDefinitions of the Istio kinds mesh knows (apiextensions.k8s.io/v1,
            schemas from mesh's validation) as YAML; apply them with
            mesh install crds | kubectl apply -f -
  webhooks  print the ValidatingWebhookConfiguration for the control plane's /validate
  rbac      print the control plane's ServiceAccount, ClusterRole and ClusterRoleBinding

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
      `mesh install ${sub} takes no arguments, got "${args[0]}" (see mesh install --help)`,
    );
  }
  if (sub === "webhooks") return await print(await webhooksYaml(flags));
  if (sub === "rbac") {
    const { rbacObjects } = await import("../control/kube/manifests.ts");
    const { stringifyYaml } = await import("../util/yaml.ts");
    return await print(
      rbacObjects({
        namespace: flags.namespace as string,
        serviceAccount: flags.serviceAccount as string,
        writable: flags.writable as boolean,
      }).map((o) => stringifyYaml(o)).join("---\n"),
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
  return await print(crdsYaml(kinds.length ? [...new Set(kinds)] : known));
}

/** The webhook configuration from `mesh install webhooks`' flags. */
async function webhooksYaml(flags: Record<string, unknown>): Promise<string> {
  const url = flags.url as string | undefined;
  const service = flags.service as string | undefined;
  if ((url === undefined) === (service === undefined)) {
    throw new UsageError(
      "mesh install webhooks: give either --url URL or --service NS/NAME[:PORT]",
    );
  }
  if (url !== undefined && !/^https:\/\/[^/]+\/validate$/.test(url)) {
    throw new UsageError(
      `--url ${url}: must be https://HOST:PORT/validate (the control plane's TLS port)`,
    );
  }
  let target: { url: string } | { service: { namespace: string; name: string; port: number } };
  if (service !== undefined) {
    const m = service.match(/^([a-z0-9-]+)\/([a-z0-9-]+)(?::(\d+))?$/);
    if (!m) {
      throw new UsageError(`--service ${service}: must be NAMESPACE/NAME or NAMESPACE/NAME:PORT`);
    }
    target = { service: { namespace: m[1], name: m[2], port: m[3] ? Number(m[3]) : 15012 } };
  } else target = { url: url! };
  const file = flags.caFile as string;
  let pem: string;
  try {
    pem = await Deno.readTextFile(file);
  } catch (err) {
    throw new UsageError(
      `--ca-file ${file}: ${(err as Error).message}; write it with mesh ca root > root.pem`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(
      `--ca-file ${file}: no PEM certificate in it; write it with mesh ca root > root.pem`,
    );
  }
  const { webhookConfiguration } = await import("../control/kube/manifests.ts");
  const { stringifyYaml } = await import("../util/yaml.ts");
  return stringifyYaml(
    webhookConfiguration({
      caBundlePem: pem,
      failurePolicy: flags.failurePolicy as "Fail" | "Ignore",
      ...target,
    }),
  );
}

/** Writes `text` to stdout (a closed pipe, as with `| head`, is not an error). */
async function print(text: string): Promise<number> {
  const bytes = new TextEncoder().encode(text);
  try {
    for (let n = 0; n < bytes.length;) n += await Deno.stdout.write(bytes.subarray(n));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err; // `| head`: the reader had enough
  }
  return 0;
}
