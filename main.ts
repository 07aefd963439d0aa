#!/usr/bin/env -S deno run -A
/**
 * The `mesh` command. Each command's code is loaded when it runs (a proxy
 * doesn't carry the control plane), with literal import specifiers so
 * `deno compile` includes them all. Every flag may also come from a `MESH_*`
 * environment variable (`--config-dir` ← `MESH_CONFIG_DIR`).
 * @module
 */
import { UsageError } from "./util/flags.ts";
import { VERSION } from "./version.ts";

const ADMIN_COMMANDS = ["apply", "delete", "get", "status"];

const USAGE = `mesh ${VERSION}: a service mesh that speaks Istio's configuration API.

Usage:
  mesh start --mode=control --config-dir DIR [flags]   run the control plane
  mesh start --mode=proxy --token-file F [flags]       run a sidecar proxy
  mesh start --mode=gateway --token-file F [flags]     run an ingress/egress gateway
  mesh validate FILE|DIR|- ...                         check Istio YAML
  mesh analyze FILE|DIR|- ...                          cross-check resources (istioctl analyze)
  mesh token create --namespace NS --service-account SA  print a bootstrap token
  mesh token create --admin                            print an admin token (apply/delete/get)
  mesh apply -f FILE|DIR|-                             create or update resources
  mesh delete -f FILE|DIR|- | KIND NAME...             delete resources
  mesh get KIND [NAME] [-n NS] [-o yaml|json]          read resources
  mesh status                                          config, rejected files and proxies
  mesh proxy-status [NODE]                             each proxy's config sync state, per part
  mesh ca init|root|issue|status|rotate-root           the embedded CA
  mesh install crds [--kinds=K,...]                    print Istio's CRDs for Kubernetes
  mesh iptables [--cleanup|--dry-run] [flags]          capture TCP into the sidecar (istio-iptables)
  mesh vm onboard|install                              join a VM to the mesh in one command
  mesh version                                         print the version

Run 'mesh help COMMAND' or 'mesh COMMAND --help' for a command's flags.
Every flag can also be set with a MESH_* environment variable (--config-dir = MESH_CONFIG_DIR).`;

async function helpFor(cmd: string): Promise<string | undefined> {
  switch (cmd) {
    case "start":
      return (await import("./cli/start.ts")).startHelp();
    case "validate":
      return (await import("./cli/validate.ts")).validateHelp();
    case "analyze":
      return (await import("./cli/analyze.ts")).analyzeHelp();
    case "token":
      return (await import("./cli/token.ts")).tokenHelp();
    case "ca":
      return (await import("./cli/ca.ts")).caHelp();
    case "install":
      return (await import("./cli/install.ts")).installHelp();
    case "proxy-status":
      return (await import("./cli/proxy_status.ts")).proxyStatusHelp();
    case "iptables":
      return (await import("./cli/iptables.ts")).iptablesHelp();
    case "vm":
      return (await import("./cli/vm.ts")).vmHelp();
    case "version":
      return "mesh version\n\nPrints the version.";
  }
  if (ADMIN_COMMANDS.includes(cmd)) {
    return (await import("./control/admin_client.ts")).adminHelp(cmd);
  }
  return undefined;
}

/** Runs the CLI with `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case "--help":
      case "-h":
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      case "help": {
        const h = rest[0] ? await helpFor(rest[0]) : USAGE;
        if (!h) throw new UsageError(`unknown command "${rest[0]}" (see mesh --help)`);
        console.log(h);
        return 0;
      }
      case "version":
      case "--version":
        console.log(`mesh ${VERSION} (deno ${Deno.version.deno})`);
        return 0;
      case "start":
        return await (await import("./cli/start.ts")).startCommand(rest);
      case "validate":
        return await (await import("./cli/validate.ts")).validateCommand(rest);
      case "analyze":
        return await (await import("./cli/analyze.ts")).analyzeCommand(rest);
      case "token":
        return await (await import("./cli/token.ts")).tokenCommand(rest);
      case "ca":
        return await (await import("./cli/ca.ts")).caCommand(rest);
      case "install":
        return await (await import("./cli/install.ts")).installCommand(rest);
      case "proxy-status":
        return await (await import("./cli/proxy_status.ts")).proxyStatusCommand(rest);
      case "iptables":
        return await (await import("./cli/iptables.ts")).iptablesCommand(rest);
      case "vm":
        return await (await import("./cli/vm.ts")).vmCommand(rest);
    }
    if (ADMIN_COMMANDS.includes(cmd)) {
      const { adminCommand } = await import("./control/admin_client.ts");
      const { readInputs } = await import("./cli/common.ts");
      return await adminCommand(cmd as "apply" | "delete" | "get" | "status", rest, readInputs);
    }
    throw new UsageError(`unknown command "${cmd}" (see mesh --help)`);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mesh: ${err.message}`);
      return 2;
    }
    console.error(`mesh: ${(err as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
