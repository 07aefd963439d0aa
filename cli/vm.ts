/**
 * `mesh vm`: one-command VM onboarding (Istio's `istioctl x workload entry configure`, simpler).
 *
 * - `mesh vm onboard --namespace NS --service-account SA --group NAME --out DIR`, on the control
 *   plane's host: mints a bootstrap token (as `mesh token create`), reads the CA's roots (as
 *   `mesh ca root --bundle`) and writes DIR: `token`, `root-cert.pem`, `mesh.env` (the proxy's
 *   MESH_* settings), `mesh-proxy.service` and `README.md`, all or nothing.
 * - `mesh vm install DIR [--prefix=/]`, as root on the VM: puts them in place, creates the user
 *   `mesh`, installs `/usr/local/bin/mesh`, starts the unit; `--uninstall` undoes it
 *   (cli/vm_install.ts). See docs/vm.md.
 *
 * @example
 * ```ts
 * await vmCommand([
 *   "onboard", "--namespace=default", "--service-account=web", "--group=web",
 *   "--out=./web-vm", "--control=https://10.0.0.5:15012", "--data-dir=/var/lib/mesh",
 * ]);
 * await vmCommand(["install", "./web-vm"]); // on the VM, as root
 * ```
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import { prepareAtomicWrite, type PreparedWrite } from "../util/atomic_write.ts";
import { checkName } from "../ca/spiffe.ts";
import { istioLabelProblem } from "../api/schemas/workload_entry.ts";
import { common } from "./common.ts";
import {
  envVars,
  ONBOARD_FILES,
  type ProxySettings,
  renderEnv,
  renderReadme,
  renderUnit,
} from "./vm_files.ts";

/** Flags of `mesh vm onboard`. */
export const onboardFlags: FlagSpecs = {
  namespace: { type: "string", required: true, help: "namespace of the VM workload" },
  "service-account": {
    type: "string",
    help: "service account of the VM workload (default: the WorkloadGroup template's, " +
      "with --config-dir; needed otherwise)",
  },
  group: {
    type: "string",
    required: true,
    help: "WorkloadGroup (networking.istio.io) the workload belongs to (--workload-group)",
  },
  out: {
    type: "string",
    required: true,
    help: "directory to write token, root-cert.pem, mesh.env, mesh-proxy.service, README.md",
  },
  control: {
    type: "string",
    help: "the control plane's URL as the VM reaches it (default https://<this host>:15012; " +
      "its certificate must name that host: mesh start --san)",
  },
  "data-dir": { type: "string", default: "./mesh-data", help: "the control plane's data dir" },
  "config-dir": {
    type: "string",
    help: "the control plane's config dir: the WorkloadGroup must exist there, and its " +
      "template's labels, serviceAccount, locality and single port are the defaults",
  },
  "token-ttl": {
    type: "duration",
    default: "24h",
    min: 60_000,
    max: 90 * 86_400_000,
    help: "bootstrap token lifetime (the proxy needs it again whenever it restarts)",
  },
  "app-port": { type: "port", default: 0, help: "port of the app on the VM (0 = none)" },
  labels: { type: "labels", default: "", help: "workload labels, over the group's, e.g. app=web" },
  capture: {
    type: "bool",
    default: false,
    help: "transparent capture: the unit runs `mesh iptables` (as root) before the proxy",
  },
  locality: { type: "string", help: "the VM's locality, region/zone/subzone" },
  address: {
    type: "string",
    help: "the address peers reach the VM at (default: found by `mesh vm install`)",
  },
  "trust-domain": { type: "string", default: "cluster.local", help: "SPIFFE trust domain" },
  force: {
    type: "bool",
    default: false,
    help: "replace the files of an --out directory that isn't empty",
  },
  ...common,
};

/** Flags of `mesh vm install`. */
export const installFlags: FlagSpecs = {
  prefix: { type: "string", default: "/", help: "root every installed path here (for tests)" },
  uninstall: {
    type: "bool",
    default: false,
    help: "undo what install did, from its manifest (/var/lib/mesh/install-manifest.json)",
  },
  address: {
    type: "string",
    help: "the address peers reach this VM at, when mesh.env has none " +
      "(default: this host's address towards the control plane)",
  },
  ...common,
};

/** Help text of `mesh vm`. */
export function vmHelp(): string {
  return `mesh vm onboard --namespace NS --service-account SA --group NAME --out DIR [flags]
    on the control plane's host: write DIR, everything a VM needs to join the mesh
mesh vm install DIR [--prefix=/]      as root on the VM: install DIR's files and start the proxy
mesh vm install --uninstall [--prefix=/]   undo exactly what install did

mesh vm onboard:
${flagHelp(onboardFlags)}

mesh vm install:
${flagHelp(installFlags)}

See docs/vm.md.`;
}

/** Runs `mesh vm`. */
export async function vmCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(vmHelp());
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "onboard" && sub !== "install") {
    throw new UsageError(`unknown command "vm ${sub}": use vm onboard or vm install`);
  }
  const { flags, args, help } = parseFlags(rest, sub === "onboard" ? onboardFlags : installFlags);
  if (help) {
    console.log(vmHelp());
    return 0;
  }
  if (sub === "onboard") {
    if (args.length) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(args[0])}: the directory is --out`,
      );
    }
    return await onboard(flags);
  }
  const { installVm, uninstallVm } = await import("./vm_install.ts");
  const prefix = flags.prefix as string;
  if (!prefix.startsWith("/")) {
    throw new UsageError(`--prefix ${JSON.stringify(prefix)}: must be an absolute path`);
  }
  if (flags.uninstall === true) {
    if (args.length) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(args[0])}: --uninstall reads the manifest, no DIR`,
      );
    }
    await uninstallVm({ prefix });
    return 0;
  }
  if (args.length !== 1) {
    throw new UsageError(
      args.length
        ? `one directory, not ${args.length}: mesh vm install DIR`
        : "missing DIR: mesh vm install DIR (the directory `mesh vm onboard --out` wrote)",
    );
  }
  await installVm({ dir: args[0], prefix, address: flags.address as string | undefined });
  return 0;
}

/** A WorkloadGroup's defaults for onboarding. */
interface GroupDefaults {
  labels: Record<string, string>;
  serviceAccount?: string;
  locality?: string;
  appPort?: number;
  where: string;
}

/** The WorkloadGroup `ns/name` of `configDir`'s resources; a UsageError naming --group if none. */
async function findGroup(configDir: string, ns: string, name: string): Promise<GroupDefaults> {
  const { readInputs } = await import("../util/inputs.ts");
  const { parseResources } = await import("../api/resources.ts");
  let inputs;
  try {
    inputs = await readInputs([configDir], { recursive: true });
  } catch (err) {
    throw new UsageError(`--config-dir ${configDir}: ${(err as Error).message}`);
  }
  const others: string[] = [];
  for (const { file, text } of inputs) {
    const parsed = parseResources(text, file);
    for (const r of parsed.resources) {
      if (r.kind !== "WorkloadGroup") continue;
      if (r.metadata.name !== name || r.metadata.namespace !== ns) {
        others.push(`${r.metadata.namespace}/${r.metadata.name}`);
        continue;
      }
      const t = r.spec.template;
      const ports = Object.values(t.ports ?? {});
      return {
        labels: { ...(r.spec.metadata?.labels ?? {}), ...(t.labels ?? {}) },
        serviceAccount: t.serviceAccount || undefined,
        locality: t.locality || undefined,
        appPort: ports.length === 1 ? ports[0] : undefined,
        where: `${r.source.file}:${r.source.line}`,
      };
    }
    const bad = parsed.invalid.find((r) =>
      r.kind === "WorkloadGroup" && r.metadata.name === name && r.metadata.namespace === ns
    );
    if (bad) {
      throw new UsageError(
        `--group ${name}: WorkloadGroup ${ns}/${name} in ${bad.source.file}:${bad.source.line} ` +
          `is invalid; fix it (mesh validate ${bad.source.file})`,
      );
    }
  }
  throw new UsageError(
    `--group ${name}: no WorkloadGroup ${ns}/${name} in --config-dir ${configDir}` +
      (others.length ? ` (it has ${others.slice(0, 5).join(", ")})` : "") +
      `; create it there (kind: WorkloadGroup, namespace ${ns}) or fix --group/--namespace`,
  );
}

/** Checks `--locality`: one to three non-empty parts, `region/zone/subzone`. */
function checkLocality(l: string): void {
  const parts = l.split("/");
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(p))) {
    throw new UsageError(
      `--locality ${JSON.stringify(l)}: must be region, region/zone or region/zone/subzone ` +
        "(letters, digits, '-', '_', '.')",
    );
  }
}

/** The control URL, checked: https with a host. */
function checkControl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--control ${JSON.stringify(url)}: must be a URL like https://host:15012`);
  }
  if (u.protocol !== "https:" || !u.hostname || u.pathname !== "/" || u.search) {
    throw new UsageError(
      `--control ${JSON.stringify(url)}: must be https://host:port (the control plane's TLS port)`,
    );
  }
  return `https://${u.host}`;
}

/** Whether `dir` exists and has entries; throws a UsageError when it is not a directory. */
async function nonEmpty(dir: string): Promise<boolean> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(dir);
  } catch {
    return false;
  }
  if (!st.isDirectory) {
    throw new UsageError(`--out ${dir}: is a file, not a directory; name a new directory`);
  }
  for await (const _ of Deno.readDir(dir)) return true;
  return false;
}

/** Runs `mesh vm onboard` with parsed flags. */
async function onboard(flags: Record<string, unknown>): Promise<number> {
  const ns = flags.namespace as string;
  const group = flags.group as string;
  for (const [flag, v] of [["--namespace", ns], ["--group", group]]) {
    const err = checkName(flag, v);
    if (err) throw new UsageError(`${err}; use a DNS label like web-vms`);
  }
  const flagLabels = flags.labels as Record<string, string>;
  for (const [k, v] of Object.entries(flagLabels)) {
    const p = istioLabelProblem(k, v);
    if (p) throw new UsageError(`--labels: ${p}`);
  }
  if (flags.locality !== undefined) checkLocality(flags.locality as string);
  const control = checkControl(
    (flags.control as string | undefined) ?? `https://${Deno.hostname()}:15012`,
  );
  const configDir = flags.configDir as string | undefined;
  const g = configDir ? await findGroup(configDir, ns, group) : undefined;
  let sa = flags.serviceAccount as string | undefined;
  if (sa !== undefined && g?.serviceAccount && sa !== g.serviceAccount) {
    throw new UsageError(
      `--service-account ${sa} contradicts WorkloadGroup ${ns}/${group} (${g.where}), whose ` +
        `template has serviceAccount ${g.serviceAccount}; drop --service-account or change the group`,
    );
  }
  sa ??= g?.serviceAccount;
  if (sa === undefined) {
    throw new UsageError(
      "missing --service-account: the workload's service account (or --config-dir with a " +
        "WorkloadGroup whose template names one)",
    );
  }
  const saErr = checkName("--service-account", sa);
  if (saErr) throw new UsageError(saErr);
  const out = flags.out as string;
  if (!flags.force && await nonEmpty(out)) {
    throw new UsageError(
      `--out ${out}: the directory exists and is not empty; pass --force to replace its files, ` +
        "or name a new directory",
    );
  }
  const settings: ProxySettings = {
    control,
    namespace: ns,
    serviceAccount: sa,
    group,
    labels: { ...(g?.labels ?? {}), ...flagLabels },
    capture: flags.capture === true,
    trustDomain: flags.trustDomain as string,
    appPort: (flags.appPort as number) || g?.appPort,
    locality: (flags.locality as string | undefined) ?? g?.locality,
    address: flags.address as string | undefined,
  };

  // The token, as `mesh token create` mints it; the roots, as `mesh ca root --bundle` reads them.
  const dataDir = flags.dataDir as string;
  const { mintBootstrapToken } = await import("./token.ts");
  const ttlMs = flags.tokenTtl as number;
  const token = await mintBootstrapToken({
    dataDir,
    namespace: ns,
    serviceAccount: sa,
    ttlMs,
  });
  const { loadCa } = await import("./ca.ts");
  const rootsPem = (await loadCa(dataDir, settings.trustDomain ?? "cluster.local")).trustBundlePem;

  const files: Array<[string, string, number]> = [
    [ONBOARD_FILES.token, token + "\n", 0o600],
    [ONBOARD_FILES.root, rootsPem, 0o644],
    [ONBOARD_FILES.env, renderEnv(settings), 0o644],
    [ONBOARD_FILES.unit, renderUnit({ capture: settings.capture }), 0o644],
    [
      ONBOARD_FILES.readme,
      renderReadme({ settings, dir: out, tokenExpires: new Date(Date.now() + ttlMs) }),
      0o644,
    ],
  ];
  const cantWrite = (err: unknown) =>
    new Error(
      `can't write --out ${out}: ${(err as Error).message}; name a directory you can write`,
    );
  try {
    await Deno.mkdir(out, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw cantWrite(err);
  }
  // All or nothing: every file prepared beside its target first, then all renamed in place.
  const prepared: PreparedWrite[] = [];
  try {
    for (const [name, data, mode] of files) {
      prepared.push(await prepareAtomicWrite(`${out}/${name}`, data, { mode }));
    }
  } catch (err) {
    await Promise.all(prepared.map((p) => p.abort()));
    throw cantWrite(err);
  }
  for (const p of prepared) await p.commit();

  console.log(`wrote ${out}: ${files.map((f) => f[0]).join(", ")}`);
  console.log(
    `workload ${ns}/${sa} in WorkloadGroup ${group}, control plane ${control}` +
      (flags.control === undefined ? " (this host's name: pass --control if the VM can't)" : ""),
  );
  for (const note of await missingFlagNotes(settings)) console.error(`note: ${note}`);
  const base = out.replace(/\/+$/, "").split("/").pop() || out;
  console.log(`copy ${out} to the VM, then run there: sudo mesh vm install ${base}`);
  return 0;
}

/** Notes on mesh.env variables this build's `mesh start` (and `mesh iptables`) don't read yet. */
async function missingFlagNotes(s: ProxySettings): Promise<string[]> {
  const { proxyFlags } = await import("./start.ts");
  const { iptablesFlags } = await import("./iptables.ts");
  const notes: string[] = [];
  for (const [key] of envVars(s)) {
    const flag = key.slice("MESH_".length).toLowerCase().replace(/_/g, "-");
    if (!Object.hasOwn(proxyFlags, flag) && !Object.hasOwn(iptablesFlags, flag)) {
      notes.push(
        `this mesh's \`mesh start\` has no --${flag} yet; ${key} stays in mesh.env for one that does`,
      );
    }
  }
  return notes;
}
