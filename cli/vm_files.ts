/**
 * The files of VM onboarding, as text: what `mesh vm onboard` writes into its directory
 * (`mesh.env`, `mesh-proxy.service`, `README.md`; the token and root come from the CA) and
 * what `mesh vm install` reads back and puts in place (the paths in {@linkcode VM_PATHS}, the
 * `/usr/local/bin/mesh` wrapper). Pure: no I/O.
 *
 * @example
 * ```ts
 * const env = renderEnv({
 *   control: "https://10.0.0.5:15012", namespace: "default", serviceAccount: "vm", group: "web",
 *   labels: { app: "web" }, capture: false,
 * });
 * parseEnvFile(env).MESH_WORKLOAD_GROUP; // "web"
 * const unit = renderUnit({ capture: true }); // ExecStartPre=+/usr/local/bin/mesh iptables ...
 * unitCommands(unit).start; // ["/usr/local/bin/mesh", "start", "--mode=proxy"]
 * ```
 * @module
 */
import UNIT_TEMPLATE from "../deploy/systemd/mesh-proxy.service" with { type: "text" };

/** Where `mesh vm install` puts each file (under `--prefix`). */
export const VM_PATHS = {
  env: "/etc/mesh/mesh.env",
  root: "/etc/mesh/root-cert.pem",
  token: "/var/lib/mesh/token",
  /** The proxy's certificate across restarts (`--cert-dir`): it renews with it, not the token. */
  certs: "/var/lib/mesh/certs",
  unit: "/etc/systemd/system/mesh-proxy.service",
  bin: "/usr/local/bin/mesh",
  manifest: "/var/lib/mesh/install-manifest.json",
} as const;

/** The directories those files live in, parents first. */
export const VM_DIRS = [
  "/etc",
  "/etc/mesh",
  "/etc/systemd",
  "/etc/systemd/system",
  "/usr",
  "/usr/local",
  "/usr/local/bin",
  "/var",
  "/var/lib",
  "/var/lib/mesh",
] as const;

/** The files `mesh vm onboard` writes into its directory. */
export const ONBOARD_FILES = {
  token: "token",
  root: "root-cert.pem",
  env: "mesh.env",
  unit: "mesh-proxy.service",
  readme: "README.md",
} as const;

/** The systemd unit's name. */
export const UNIT_NAME = "mesh-proxy.service";

/** The proxy's settings, as `mesh vm onboard` resolved them. */
export interface ProxySettings {
  /** The control plane's URL, as the VM reaches it. */
  control: string;
  namespace: string;
  serviceAccount: string;
  /** The WorkloadGroup (`--workload-group`). */
  group: string;
  labels: Record<string, string>;
  capture: boolean;
  trustDomain?: string;
  appPort?: number;
  locality?: string;
  /** The VM's address, when known; else `mesh vm install` finds it. */
  address?: string;
}

/** The proxy ports a VM uses (its own host: Istio's fixed ports). */
export const VM_PORTS = { inbound: 15006, outbound: 15001, admin: 15000, dns: 15053 } as const;

/** A value as an EnvironmentFile line holds it: bare when safe, else double-quoted. */
function envValue(v: string): string {
  if (/[\n\r]/.test(v)) throw new Error(`an environment value can't hold a line break: ${v}`);
  return /^[A-Za-z0-9_.,:/=@+%-]*$/.test(v) ? v : `"${v.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;
}

/** `a=b,c=d` from a label map (sorted keys). */
export function labelsText(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

/** The variables of `mesh.env`, in file order (see {@linkcode renderEnv}). */
export function envVars(s: ProxySettings): Array<[string, string]> {
  const vars: Array<[string, string]> = [
    ["MESH_CONTROL", s.control],
    ["MESH_TOKEN_FILE", VM_PATHS.token],
    ["MESH_CERT_DIR", VM_PATHS.certs],
    ["MESH_ROOT_CERT", VM_PATHS.root],
    ["MESH_NAMESPACE", s.namespace],
    ["MESH_SERVICE_ACCOUNT", s.serviceAccount],
    ["MESH_TRUST_DOMAIN", s.trustDomain ?? "cluster.local"],
    ["MESH_WORKLOAD_GROUP", s.group],
    ["MESH_LABELS", labelsText(s.labels)],
  ];
  if (s.address) vars.push(["MESH_ADDRESS", s.address]);
  if (s.appPort) vars.push(["MESH_APP_PORT", String(s.appPort)]);
  if (s.locality) vars.push(["MESH_LOCALITY", s.locality]);
  vars.push(
    ["MESH_INBOUND_PORT", String(VM_PORTS.inbound)],
    ["MESH_OUTBOUND_PORT", String(VM_PORTS.outbound)],
    ["MESH_ADMIN_PORT", String(VM_PORTS.admin)],
  );
  if (s.capture) {
    vars.push(
      ["MESH_CAPTURE", "true"],
      ["MESH_DNS_PORT", String(VM_PORTS.dns)],
      ["MESH_REDIRECT_DNS", "true"],
    );
  }
  return vars;
}

/**
 * `mesh.env`: the proxy's settings as MESH_* variables (every `mesh start` flag may come from
 * `MESH_<FLAG>`), in systemd's EnvironmentFile syntax. With capture, `MESH_REDIRECT_DNS` is
 * for the unit's `mesh iptables` (which reads the same file: the ports agree).
 */
export function renderEnv(s: ProxySettings): string {
  const head = [
    `# mesh sidecar of the VM workload ${s.namespace}/${s.group} (WorkloadGroup ${s.group}),`,
    "# written by `mesh vm onboard`. `mesh vm install` puts it at /etc/mesh/mesh.env, where",
    "# mesh-proxy.service reads it. Each MESH_<FLAG> is a `mesh start --<flag>` (`mesh help start`)",
    "# or, with capture, a `mesh iptables` flag.",
  ];
  return [...head, ...envVars(s).map(([k, v]) => `${k}=${envValue(v)}`)].join("\n") + "\n";
}

/**
 * Parses an EnvironmentFile as systemd reads it (the subset mesh writes and people type):
 * `KEY=VALUE` lines, `#` and `;` comments, blank lines, single- or double-quoted values (`\`
 * escapes in double quotes). Throws naming the line for anything else.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: expected KEY=VALUE, got ${JSON.stringify(raw)}`);
    let v = m[2];
    if (v.length >= 2 && v[0] === "'" && v.endsWith("'")) v = v.slice(1, -1);
    else if (v.length >= 2 && v[0] === '"' && v.endsWith('"')) {
      v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    out[m[1]] = v;
  });
  return out;
}

/** Sets `KEY=value` in env-file `text` (replacing its line, else appending one). */
export function setEnvVar(text: string, key: string, value: string): string {
  const line = `${key}=${envValue(value)}`;
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trim().startsWith(`${key}=`));
  if (i >= 0) lines[i] = line;
  else {
    if (lines[lines.length - 1] === "") lines.pop();
    lines.push(line, "");
  }
  return lines.join("\n");
}

/** What {@linkcode renderUnit} takes. */
export interface UnitOptions {
  /** Transparent capture: `mesh iptables` before the proxy starts, `--cleanup` after it stops. */
  capture: boolean;
}

/**
 * The proxy's unit, from deploy/systemd/mesh-proxy.service: its `#@ ` lines (notes on the
 * template) are dropped, its `#@capture ` lines become ExecStartPre/ExecStopPost with capture
 * and are dropped without.
 */
export function renderUnit(o: UnitOptions): string {
  const out: string[] = [];
  for (const line of UNIT_TEMPLATE.split("\n")) {
    if (line.startsWith("#@capture ")) {
      if (o.capture) out.push(line.slice("#@capture ".length));
    } else if (!line.startsWith("#@ ")) out.push(line);
  }
  return out.join("\n");
}

/** The command lines of a unit's `[Service]`, split on spaces, `+`/`-` prefixes kept. */
export interface UnitCommands {
  pre: string[][];
  start: string[];
  stopPost: string[][];
  /** `Environment=` assignments. */
  environment: Record<string, string>;
  /** `EnvironmentFile=` paths (a leading `-` kept). */
  environmentFiles: string[];
  user?: string;
}

/** Reads the commands and environment of `unit` (the subset of the syntax mesh's units use). */
export function unitCommands(unit: string): UnitCommands {
  const c: UnitCommands = {
    pre: [],
    start: [],
    stopPost: [],
    environment: {},
    environmentFiles: [],
  };
  for (const raw of unit.split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(raw.trim());
    if (!m) continue;
    const words = m[2].trim().split(/\s+/).filter(Boolean);
    switch (m[1]) {
      case "ExecStartPre":
        c.pre.push(words);
        break;
      case "ExecStart":
        c.start = words;
        break;
      case "ExecStopPost":
        c.stopPost.push(words);
        break;
      case "Environment":
        for (const w of words) {
          const eq = w.indexOf("=");
          if (eq > 0) c.environment[w.slice(0, eq)] = w.slice(eq + 1);
        }
        break;
      case "EnvironmentFile":
        c.environmentFiles.push(m[2].trim());
        break;
      case "User":
        c.user = m[2].trim();
    }
  }
  return c;
}

/** What {@linkcode renderReadme} takes. */
export interface ReadmeOptions {
  settings: ProxySettings;
  /** The directory as the operator named it (`--out`). */
  dir: string;
  /** When the token expires. */
  tokenExpires: Date;
}

/** `README.md` of an onboarding directory: the one line that installs and starts the proxy. */
export function renderReadme(o: ReadmeOptions): string {
  const s = o.settings;
  const base = o.dir.replace(/\/+$/, "").split("/").pop() || o.dir;
  return `# ${s.namespace}/${s.group}: a VM workload for mesh

Written by \`mesh vm onboard\`. It holds a bootstrap token (\`token\`, good until
${o.tokenExpires.toISOString()}): keep this directory private, and copy it to the VM
(\`scp -r ${o.dir} vm:\`). With the \`mesh\` binary on the VM's PATH (\`deno task compile\`
builds it), this one line installs and starts the sidecar:

    sudo mesh vm install ${base}

It writes /etc/mesh/mesh.env, /etc/mesh/root-cert.pem, /var/lib/mesh/token (mode 0600, user
\`mesh\`), /etc/systemd/system/${UNIT_NAME} and /usr/local/bin/mesh, creates the system user
\`mesh\`, then runs \`systemctl daemon-reload && systemctl enable --now mesh-proxy\`.
\`sudo mesh vm install --uninstall\` undoes exactly that.

The workload joins as ${s.namespace}/${s.serviceAccount} (spiffe://${
    s.trustDomain ?? "cluster.local"
  }/ns/${s.namespace}/sa/${s.serviceAccount}),
WorkloadGroup ${s.group}, labels ${labelsText(s.labels) || "(none)"}${
    s.appPort ? `, app port ${s.appPort}` : ""
  }, control plane ${s.control}.
${
    s.capture
      ? "Capture is on: the unit runs `mesh iptables` (as root) before the proxy starts, so the\n" +
        "app calls services by name with no proxy settings.\n"
      : "The app sends its outbound requests through http://127.0.0.1:15001 (HTTP_PROXY).\n"
  }
See docs/vm.md in mesh's repository.
`;
}

/** What {@linkcode wrapperScript} takes. */
export interface WrapperOptions {
  /** The deno executable. */
  deno: string;
  /** `deno run` arguments (util/v8_flags.ts denoRunArgs of main.ts). */
  runArgs: string[];
  /** DENO_DIR to use when the environment sets none. */
  denoDir: string;
}

/** Single-quotes `s` for sh. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `/usr/local/bin/mesh` when mesh runs from its source checkout rather than as a compiled
 * binary: a script that runs main.ts with deno and mesh's V8 flags.
 */
export function wrapperScript(o: WrapperOptions): string {
  return `#!/bin/sh
# mesh from its source checkout, written by \`mesh vm install\` (a compiled mesh binary,
# \`deno task compile\`, is installed here instead when it runs the install).
export DENO_DIR="\${DENO_DIR:-${o.denoDir.replace(/["\\$`]/g, (c) => `\\${c}`)}}"
exec ${[o.deno, ...o.runArgs].map(shQuote).join(" ")} "$@"
`;
}
