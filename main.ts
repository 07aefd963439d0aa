#!/usr/bin/env -S deno run -A
/**
 * The `mesh` command: `mesh start --mode=control|proxy|gateway`, `mesh validate`,
 * `mesh token create`, `mesh version`. Every flag may also come from a `MESH_*`
 * environment variable (`--config-dir` ← `MESH_CONFIG_DIR`).
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "./util/flags.ts";
import { VERSION } from "./version.ts";
import { startControl } from "./control/control.ts";
import { startProxy } from "./proxy/proxy.ts";
import { TokenIssuer } from "./ca/token.ts";
import { certSha256 } from "./ca/pem.ts";
import { checkName } from "./ca/spiffe.ts";
import { parseResources } from "./api/resources.ts";
import { formatDiagnostic } from "./api/diagnostic.ts";
import { type Level, setLogLevel } from "./util/log.ts";
import { ADMIN_USAGE, adminCommand, adminHelp, adminTokenCommand } from "./control/admin_client.ts";
import { runAnalyze } from "./control/analyze/cli.ts";

const MODES = ["control", "proxy", "gateway"] as const;

const common: FlagSpecs = {
  "log-level": {
    type: "string",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    help: "log verbosity",
  },
};

const controlFlags: FlagSpecs = {
  mode: { type: "string", values: MODES, help: "what to run", required: true },
  "config-dir": {
    type: "string",
    required: true,
    help: "directory of Istio YAML to serve (watched)",
  },
  "data-dir": { type: "string", default: "./mesh-data", help: "where the CA and token keys live" },
  listen: {
    type: "string",
    default: "127.0.0.1:15012",
    help: "host:port of the TLS push and signing port",
  },
  "admin-port": {
    type: "port",
    default: 15014,
    help: "admin HTTP port on 127.0.0.1 (/ready, /debug/syncz, /debug/configz, /apis/v1/...)",
  },
  "trust-domain": { type: "string", default: "cluster.local", help: "SPIFFE trust domain" },
  "cert-ttl": {
    type: "duration",
    default: "24h",
    help: "workload certificate lifetime (at most 90 days)",
  },
  "outbound-traffic-policy": {
    type: "string",
    values: ["ALLOW_ANY", "REGISTRY_ONLY"],
    default: "ALLOW_ANY",
    help: "what sidecars do with hosts outside the registry",
  },
  san: {
    type: "list",
    default: [],
    help: "extra DNS names or IPs for the control plane's certificate",
  },
  ...common,
};

const proxyFlags: FlagSpecs = {
  mode: { type: "string", values: MODES, help: "what to run", required: true },
  control: { type: "string", default: "https://127.0.0.1:15012", help: "URL of the control plane" },
  "token-file": {
    type: "string",
    required: true,
    help: "file with a bootstrap token from `mesh token create`",
  },
  "root-cert": {
    type: "string",
    help: "PEM file with the mesh root (default: trust the root pinned in the token)",
  },
  namespace: { type: "string", default: "default", help: "workload namespace" },
  "service-account": { type: "string", default: "default", help: "workload service account" },
  "trust-domain": { type: "string", default: "cluster.local", help: "SPIFFE trust domain" },
  labels: { type: "labels", default: "", help: "workload labels, e.g. app=reviews,version=v1" },
  "workload-name": {
    type: "string",
    help: "name the workload registers under (default app-version)",
  },
  address: {
    type: "string",
    default: "127.0.0.1",
    help: "address peers reach this workload at; inbound binds here",
  },
  "app-port": {
    type: "port",
    default: 0,
    help: "port of the local application (sidecar; 0 = no inbound)",
  },
  "inbound-port": { type: "port", default: 15006, help: "mTLS inbound listener port" },
  "outbound-port": {
    type: "port",
    default: 15001,
    help: "outbound listener port on 127.0.0.1 (use as HTTP_PROXY)",
  },
  "admin-port": {
    type: "port",
    default: 15000,
    help: "admin port on 127.0.0.1 (/ready, /config_dump, /stats/prometheus)",
  },
  "gateway-address": {
    type: "string",
    default: "0.0.0.0",
    help: "address gateway listeners bind to (gateway)",
  },
  ...common,
};

const validateFlags: FlagSpecs = {
  namespace: { type: "string", default: "default", help: "namespace for resources that name none" },
  ...common,
};

const analyzeFlags: FlagSpecs = {
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

const tokenFlags: FlagSpecs = {
  namespace: { type: "string", required: true, help: "namespace the token allows" },
  "service-account": { type: "string", required: true, help: "service account the token allows" },
  "data-dir": { type: "string", default: "./mesh-data", help: "the control plane's data dir" },
  ttl: { type: "duration", default: "1h", help: "token lifetime" },
  ...common,
};

const USAGE = `mesh ${VERSION}: a service mesh that speaks Istio's configuration API.

Usage:
  mesh start --mode=control --config-dir DIR [flags]   run the control plane
  mesh start --mode=proxy --token-file F [flags]       run a sidecar proxy
  mesh start --mode=gateway --token-file F [flags]     run an ingress/egress gateway
  mesh validate FILE|DIR|- ...                         check Istio YAML
  mesh analyze FILE|DIR|- ...                          cross-check resources (istioctl analyze)
  mesh token create --namespace NS --service-account SA  print a bootstrap token
  mesh token create --admin                            print an admin token (apply/delete/get)
${ADMIN_USAGE}
  mesh version                                         print the version

Run 'mesh help COMMAND' or 'mesh COMMAND --help' for a command's flags.
Every flag can also be set with a MESH_* environment variable (--config-dir = MESH_CONFIG_DIR).`;

function helpFor(cmd: string): string | undefined {
  switch (cmd) {
    case "start":
      return `mesh start --mode=control|proxy|gateway [flags]\n\nControl mode flags:\n${
        flagHelp(controlFlags)
      }\n\nProxy and gateway mode flags:\n${flagHelp(proxyFlags)}`;
    case "validate":
      return `mesh validate FILE|DIR|- ...\n\nChecks Istio YAML; exit 0 valid, 1 invalid, 2 usage error.\n\n${
        flagHelp(validateFlags)
      }`;
    case "analyze":
      return `mesh analyze FILE|DIR|- ...\n\nCross-checks Istio YAML and the Kubernetes objects beside it as istioctl analyze does;\nexit 0 when no errors, 1 on errors, 2 usage error. Checks and codes: docs/analyze.md.\n\n${
        flagHelp(analyzeFlags)
      }`;
    case "token":
      return `mesh token create --namespace NS --service-account SA [flags]\n\nPrints a bootstrap token signed by the control plane's key in --data-dir.\n\nmesh token create --admin [--data-dir DIR] [--ttl D] [--name WHO] prints an admin token for\nmesh apply, delete and get instead.\n\n${
        flagHelp(tokenFlags)
      }`;
    case "apply":
    case "delete":
    case "get":
    case "status":
      return adminHelp(cmd);
    case "version":
      return "mesh version\n\nPrints the version.";
  }
  return undefined;
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: Deno.Signal) => () => resolve(sig);
    Deno.addSignalListener("SIGINT", on("SIGINT"));
    Deno.addSignalListener("SIGTERM", on("SIGTERM"));
  });
}

async function start(argv: string[]): Promise<number> {
  const modeArg = argv.find((a) => a.startsWith("--mode"));
  let mode = modeArg?.includes("=") ? modeArg.split("=")[1] : argv[argv.indexOf("--mode") + 1];
  if (!modeArg) mode = Deno.env.get("MESH_MODE") ?? "";
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(helpFor("start"));
    return 0;
  }
  if (!MODES.includes(mode as typeof MODES[number])) {
    throw new UsageError(
      `--mode ${JSON.stringify(mode ?? "")}: must be one of control, proxy, gateway`,
    );
  }
  if (mode === "control") {
    const { flags, args } = parseFlags(argv, controlFlags);
    if (args.length) {
      throw new UsageError(`unexpected argument ${JSON.stringify(args[0])} (see --help)`);
    }
    setLogLevel(flags.logLevel as Level);
    const control = await startControl({
      configDir: flags.configDir as string,
      dataDir: flags.dataDir as string,
      listen: flags.listen as string,
      adminPort: flags.adminPort as number,
      trustDomain: flags.trustDomain as string,
      workloadTtlMs: flags.certTtl as number,
      outboundTrafficPolicy: flags.outboundTrafficPolicy as "ALLOW_ANY",
      sans: flags.san as string[],
    });
    await waitForSignal();
    await control.close();
    return 0;
  }
  const { flags, args } = parseFlags(argv, proxyFlags);
  if (args.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args[0])} (see --help)`);
  }
  setLogLevel(flags.logLevel as Level);
  const gateway = mode === "gateway";
  let labels = flags.labels as Record<string, string>;
  if (gateway && Object.keys(labels).length === 0) {
    labels = { istio: "ingressgateway", app: "istio-ingressgateway" };
  }
  const explicit = (name: string) =>
    argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)) ||
    Deno.env.get(`MESH_${name.toUpperCase().replace(/-/g, "_")}`) !== undefined;
  for (
    const [flag, value] of [["namespace", flags.namespace], [
      "service-account",
      flags.serviceAccount,
    ]]
  ) {
    const err = checkName(`--${flag}`, value as string);
    if (err) throw new UsageError(err);
  }
  const proxy = await startProxy({
    mode: gateway ? "gateway" : "sidecar",
    control: flags.control as string,
    tokenFile: flags.tokenFile as string,
    rootCertFile: flags.rootCert as string | undefined,
    namespace: gateway && !explicit("namespace") ? "istio-system" : flags.namespace as string,
    serviceAccount: gateway && !explicit("service-account")
      ? "istio-ingressgateway"
      : flags.serviceAccount as string,
    trustDomain: flags.trustDomain as string,
    labels,
    address: flags.address as string,
    workloadName: flags.workloadName as string | undefined,
    appPort: (flags.appPort as number) || undefined,
    inboundPort: flags.inboundPort as number,
    outboundPort: flags.outboundPort as number,
    adminPort: flags.adminPort as number,
    gatewayAddress: flags.gatewayAddress as string,
  });
  await waitForSignal();
  await proxy.close();
  return 0;
}

async function readInputs(paths: string[]): Promise<{ file: string; text: string }[]> {
  const out: { file: string; text: string }[] = [];
  for (const p of paths) {
    if (p === "-") {
      out.push({ file: "<stdin>", text: await new Response(Deno.stdin.readable).text() });
      continue;
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(p);
    } catch {
      throw new UsageError(`${p}: no such file or directory`);
    }
    if (st.isDirectory) {
      const entries = [];
      for await (const e of Deno.readDir(p)) entries.push(e.name);
      for (const name of entries.sort()) {
        if (/\.(ya?ml|json)$/i.test(name)) out.push(...await readInputs([`${p}/${name}`]));
      }
    } else {
      out.push({ file: p, text: await Deno.readTextFile(p) });
    }
  }
  return out;
}

async function validate(argv: string[]): Promise<number> {
  const { flags, args, help } = parseFlags(argv, validateFlags);
  if (help) {
    console.log(helpFor("validate"));
    return 0;
  }
  if (args.length === 0) {
    throw new UsageError("mesh validate needs at least one FILE, DIR or - (see --help)");
  }
  let errors = 0;
  let count = 0;
  for (const { file, text } of await readInputs(args)) {
    const { resources, diagnostics } = parseResources(text, file, {
      defaultNamespace: flags.namespace as string,
    });
    count += resources.length;
    for (const d of diagnostics) {
      if (d.severity === "error") errors++;
      console.error(formatDiagnostic(d));
    }
  }
  console.log(
    errors ? `${errors} error(s) in ${args.join(" ")}` : `ok: ${count} resource(s) valid`,
  );
  return errors ? 1 : 0;
}

async function token(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === undefined) {
    console.log(helpFor("token"));
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "create") {
    throw new UsageError(`unknown command "token ${sub}"; did you mean "token create"?`);
  }
  if (rest.some((a) => a === "--admin" || a === "--admin=true")) {
    return await adminTokenCommand(rest);
  }
  const { flags, help } = parseFlags(rest, tokenFlags);
  if (help) {
    console.log(helpFor("token"));
    return 0;
  }
  for (
    const [flag, value] of [["namespace", flags.namespace], [
      "service-account",
      flags.serviceAccount,
    ]]
  ) {
    const err = checkName(`--${flag}`, value as string);
    if (err) throw new UsageError(err);
  }
  const dataDir = flags.dataDir as string;
  let rootPem: string;
  try {
    rootPem = await Deno.readTextFile(`${dataDir}/ca/root-cert.pem`);
  } catch {
    console.error(
      `mesh: no CA in ${dataDir}/ca: start the control plane with --data-dir ${dataDir} first, or pass the right --data-dir`,
    );
    return 1;
  }
  const issuer = await TokenIssuer.loadOrCreate(dataDir, false);
  const t = await issuer.create({
    namespace: flags.namespace as string,
    serviceAccount: flags.serviceAccount as string,
    ttlSeconds: Math.round((flags.ttl as number) / 1000),
    rootSha256: await certSha256(rootPem),
  });
  console.log(t);
  return 0;
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
        const h = rest[0] ? helpFor(rest[0]) : USAGE;
        if (!h) throw new UsageError(`unknown command "${rest[0]}" (see mesh --help)`);
        console.log(h);
        return 0;
      }
      case "version":
      case "--version":
        console.log(`mesh ${VERSION} (deno ${Deno.version.deno})`);
        return 0;
      case "start":
        return await start(rest);
      case "validate":
        return await validate(rest);
      case "analyze":
        return await runAnalyze(rest, analyzeFlags, helpFor("analyze")!);
      case "apply":
      case "delete":
      case "get":
      case "status":
        return await adminCommand(cmd, rest, readInputs);
      case "token":
        return await token(rest);
      default:
        throw new UsageError(`unknown command "${cmd}" (see mesh --help)`);
    }
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
