/**
 * The CLI side of the admin API: `mesh apply`, `mesh delete`, `mesh get`, `mesh status`, and
 * `mesh token create --admin`. Talks to the control plane's admin port (`--server`,
 * `MESH_SERVER`, default `http://127.0.0.1:15014`) with an admin token (`--token-file`,
 * `MESH_TOKEN_FILE`). Exit codes: 0 ok, 1 refused or failed, 2 usage.
 *
 * @example
 * ```ts
 * const code = await adminCommand("get", ["vs", "-n", "default", "-o", "yaml"], readInputs);
 * ```
 * @module
 */
import { formatDiagnostic, hasErrors } from "../api/diagnostic.ts";
import { parseResources, type Resource } from "../api/resources.ts";
import { TokenIssuer } from "../ca/token.ts";
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import { stringifyYaml } from "../util/yaml.ts";
import { keysFromText } from "./admin_api.ts";
import { bodyOf } from "./store/common.ts";
import { kindsHelp, qualifiedName, resolveKind, typeName } from "./store/kinds.ts";
import type { ChangeResult, ResourceKey, StoreInfo } from "./store/types.ts";
import type { PartName } from "../api/push_protocol.ts";
import type { PartStatus } from "./proxy_conn.ts";

/** Reads `FILE|DIR|-` arguments into texts (main.ts's reader). */
export type InputReader = (paths: string[]) => Promise<{ file: string; text: string }[]>;

const clientFlags: FlagSpecs = {
  server: {
    type: "string",
    default: "http://127.0.0.1:15014",
    help: "URL of the control plane's admin port",
  },
  "token-file": {
    type: "string",
    help: "file with an admin token from `mesh token create --admin`",
  },
};

const fileFlags: FlagSpecs = {
  filename: {
    type: "list",
    help: "FILE, DIR (its *.yaml, *.yml, *.json) or - for stdin; repeatable (-f)",
  },
  namespace: {
    type: "string",
    help: "namespace for resources that name none (-n; default default)",
  },
};

const applyFlags: FlagSpecs = { ...fileFlags, ...clientFlags };

const deleteFlags: FlagSpecs = {
  ...fileFlags,
  "ignore-not-found": { type: "bool", default: false, help: "exit 0 when a resource is missing" },
  ...clientFlags,
};

const OUTPUTS = ["table", "yaml", "json", "name"] as const;

const getFlags: FlagSpecs = {
  namespace: { type: "string", default: "default", help: "namespace to list (-n)" },
  "all-namespaces": { type: "bool", default: false, help: "list every namespace (-A)" },
  output: { type: "string", values: OUTPUTS, default: "table", help: "output format (-o)" },
  ...clientFlags,
};

const statusFlags: FlagSpecs = { server: clientFlags.server };

const adminTokenFlags: FlagSpecs = {
  admin: { type: "bool", help: "create an admin token (for mesh apply/delete/get)" },
  "data-dir": { type: "string", default: "./mesh-data", help: "the control plane's data dir" },
  ttl: { type: "duration", default: "1h", help: "token lifetime" },
  name: { type: "string", default: "mesh-admin", help: "who holds the token, for audit logs" },
  "log-level": { type: "string", values: ["debug", "info", "warn", "error"], help: "ignored" },
};

/** Help of one admin command, or undefined. */
export function adminHelp(cmd: string): string | undefined {
  const auth = "\n\nNeeds an admin token: mesh token create --admin --data-dir DIR > admin.token";
  switch (cmd) {
    case "apply":
      return `mesh apply -f FILE|DIR|- [-f ...] [flags]\n\nValidates the resources, then creates or updates them through the control plane's admin API.\nPrints kind.group/name created|configured|unchanged. Exit 0 ok, 1 rejected (nothing written), 2 usage.${auth}\n\n${
        flagHelp(applyFlags)
      }`;
    case "delete":
      return `mesh delete -f FILE|DIR|- [flags]\nmesh delete KIND NAME... [-n NS] [flags]\n\nDeletes resources (only kind, namespace and name of each document are read).\nExit 0 ok, 1 refused or not found, 2 usage.${auth}\n\n${
        flagHelp(deleteFlags)
      }`;
    case "get":
      return `mesh get KIND [NAME] [flags]\n\nKIND: ${kindsHelp()}; singular, plural or short, any case.${auth}\n\n${
        flagHelp(getFlags)
      }`;
    case "status":
      return `mesh status [--server URL]\n\nPrints the control plane's config store, rejected files with their diagnostics, and each\nconnected proxy's sync state (from /debug/configz and /debug/syncz).\n\n${
        flagHelp(statusFlags)
      }`;
  }
  return undefined;
}

/** Rewrites kubectl-style short flags (`-f x`, `-n=x`, `-A`) to their long forms. */
function expandShort(argv: string[], short: Record<string, string>): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const m = /^-([a-zA-Z])(?:=(.*))?$/.exec(a);
    if (m && short[m[1]]) {
      out.push(m[2] === undefined ? `--${short[m[1]]}` : `--${short[m[1]]}=${m[2]}`);
    } else out.push(a);
  }
  return out;
}

/** Pulls every `--filename X` out of argv (the flag repeats). */
function takeFilenames(argv: string[]): { files: string[]; rest: string[] } {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--filename") {
      if (i + 1 >= argv.length) throw new UsageError("flag -f needs a value (see --help)");
      files.push(argv[++i]);
    } else if (a.startsWith("--filename=")) {
      files.push(a.slice("--filename=".length));
    } else {
      rest.push(a);
    }
  }
  return { files, rest };
}

interface Client {
  server: string;
  token?: string;
  tokenFile?: string;
}

async function client(flags: Record<string, unknown>, needToken: boolean): Promise<Client> {
  const server = String(flags.server).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(server)) {
    throw new UsageError(
      `--server ${JSON.stringify(flags.server)}: use a URL like http://127.0.0.1:15014`,
    );
  }
  const tokenFile = flags.tokenFile as string | undefined;
  let token: string | undefined;
  if (needToken && tokenFile) {
    try {
      token = (await Deno.readTextFile(tokenFile)).trim();
    } catch (err) {
      throw new UsageError(`--token-file ${tokenFile}: ${(err as Error).message}`);
    }
  }
  return { server, token, tokenFile };
}

class RequestFailed extends Error {}

async function call(
  c: Client,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(`${c.server}${path}`, { method, headers, body });
  } catch (err) {
    throw new RequestFailed(
      `can't reach the control plane at ${c.server} (${(err as Error).message}); ` +
        "is it running? Point to its admin port with --server (MESH_SERVER)",
    );
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: text.trim() || res.statusText };
  }
  if (res.status === 401) {
    const hint = c.token ? "" : " (no token sent: pass --token-file or set MESH_TOKEN_FILE)";
    throw new RequestFailed(`unauthorized: ${json.error}${hint}`);
  }
  if (res.status === 507 || (res.status === 503 && json.code === "EROFS")) {
    // The disk under the config dir is full or read-only: one line with the dir and the fix.
    const why = res.status === 507 ? "507 Insufficient Storage" : "503 Service Unavailable";
    throw new RequestFailed(
      `the control plane can't store it (${why}): ${String(json.error).replace(/\s*\n\s*/g, " ")}`,
    );
  }
  if (res.status >= 500 || res.status === 409 || res.status === 413) {
    throw new RequestFailed(`the control plane refused (${res.status}): ${json.error}`);
  }
  return { status: res.status, json };
}

function printRejection(json: Record<string, unknown>): void {
  for (const d of (json.diagnostics as string[] | undefined) ?? []) console.error(d);
  console.error(`mesh: ${json.error}`);
}

async function apply(argv: string[], readInputs: InputReader): Promise<number> {
  const { files, rest } = takeFilenames(expandShort(argv, { f: "filename", n: "namespace" }));
  const { flags, args, help } = parseFlags(rest, applyFlags);
  if (help) {
    console.log(adminHelp("apply"));
    return 0;
  }
  if (args.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}; use -f FILE`);
  }
  if (files.length === 0) throw new UsageError("mesh apply needs -f FILE|DIR|- (see --help)");
  const c = await client(flags, true);
  const namespace = flags.namespace as string | undefined;
  const resources: Resource[] = [];
  let errors = 0;
  for (const { file, text } of await readInputs(files)) {
    const parsed = parseResources(text, file, { defaultNamespace: namespace ?? "default" });
    for (const d of parsed.diagnostics) console.error(formatDiagnostic(d));
    if (hasErrors(parsed.diagnostics)) {
      errors += parsed.diagnostics.filter((d) => d.severity === "error").length;
    }
    resources.push(...parsed.resources);
  }
  if (errors) {
    console.error(`mesh: ${errors} error(s); nothing was applied`);
    return 1;
  }
  if (resources.length === 0) {
    console.error(`mesh: no Istio networking resources in ${files.join(" ")}; nothing was applied`);
    return 1;
  }
  // Send what was validated, as one List: the server validates it again and writes all or nothing.
  const body = JSON.stringify(
    { apiVersion: "v1", kind: "List", items: resources.map(bodyOf) },
    null,
    1,
  );
  const { status, json } = await call(c, "POST", "/apis/v1/apply", body);
  if (status !== 200) {
    printRejection(json);
    return 1;
  }
  for (const r of json.results as ChangeResult<string>[]) {
    console.log(`${qualifiedName(r.kind, r.name)} ${r.action}`);
  }
  return 0;
}

async function del(argv: string[], readInputs: InputReader): Promise<number> {
  const { files, rest } = takeFilenames(expandShort(argv, { f: "filename", n: "namespace" }));
  const { flags, args, help } = parseFlags(rest, deleteFlags);
  if (help) {
    console.log(adminHelp("delete"));
    return 0;
  }
  const namespace = (flags.namespace as string | undefined) ?? "default";
  const keys: ResourceKey[] = [];
  if (files.length > 0) {
    if (args.length) throw new UsageError("give either -f FILE or KIND NAME..., not both");
    let errors = 0;
    for (const { file, text } of await readInputs(files)) {
      const found = keysFromText(text, namespace, file);
      for (const d of found.diagnostics) console.error(formatDiagnostic(d));
      errors += found.diagnostics.filter((d) => d.severity === "error").length;
      keys.push(...found.keys);
    }
    if (errors) {
      console.error(`mesh: ${errors} error(s); nothing was deleted`);
      return 1;
    }
  } else {
    const [kindArg, ...names] = args;
    if (!kindArg) {
      throw new UsageError("mesh delete needs -f FILE|DIR|- or KIND NAME... (see --help)");
    }
    const { kind, name } = kindAndName(kindArg, names);
    const all = name ? [name, ...names.slice(1)] : names;
    if (all.length === 0) throw new UsageError(`mesh delete ${kindArg} needs a NAME`);
    for (const n of all) keys.push({ kind, namespace, name: n });
  }
  if (keys.length === 0) {
    console.error(`mesh: no Istio networking resources in ${files.join(" ")}; nothing was deleted`);
    return 1;
  }
  const c = await client(flags, true);
  const { status, json } = await call(c, "POST", "/apis/v1/delete", JSON.stringify({ keys }));
  if (status !== 200) {
    printRejection(json);
    return 1;
  }
  let missing = 0;
  for (const r of json.results as ChangeResult<string>[]) {
    if (r.action === "deleted") {
      console.log(`${qualifiedName(r.kind, r.name)} deleted`);
    } else if (!flags.ignoreNotFound) {
      missing++;
      console.error(
        `Error from server (NotFound): ${
          typeName(r.kind)
        } "${r.name}" not found in namespace "${r.namespace}"`,
      );
    }
  }
  return missing ? 1 : 0;
}

/** `vs reviews` or `vs/reviews` → the kind and the first name, if any. */
function kindAndName(kindArg: string, names: string[]): { kind: string; name?: string } {
  const slash = kindArg.indexOf("/");
  const kindName = slash < 0 ? kindArg : kindArg.slice(0, slash);
  const kind = resolveKind(kindName);
  if (!kind) {
    throw new UsageError(`unknown kind ${JSON.stringify(kindName)}; use one of ${kindsHelp()}`);
  }
  return { kind, name: slash < 0 ? names[0] : kindArg.slice(slash + 1) };
}

type Item = ReturnType<typeof bodyOf>;

/** Rows as aligned columns (the first row is the header). */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i] + 3)).join("").trimEnd()
  )
    .join("\n");
}

/** Kind-specific columns, as `istioctl`/kubectl show them. */
function columns(kind: string): [string, (r: Item) => string][] {
  const list = (v: unknown) => (Array.isArray(v) && v.length ? JSON.stringify(v) : "");
  const spec = (r: Item) => r.spec as unknown as Record<string, unknown>;
  switch (kind) {
    case "VirtualService":
      return [["GATEWAYS", (r) => list(spec(r).gateways)], ["HOSTS", (r) => list(spec(r).hosts)]];
    case "DestinationRule":
      return [["HOST", (r) => String(spec(r).host ?? "")]];
    case "Gateway":
      return [["SERVERS", (r) => String((spec(r).servers as unknown[] | undefined)?.length ?? 0)]];
    case "ServiceEntry":
      return [
        ["HOSTS", (r) => list(spec(r).hosts)],
        ["LOCATION", (r) => String(spec(r).location ?? "")],
        ["RESOLUTION", (r) => String(spec(r).resolution ?? "")],
      ];
    case "WorkloadEntry":
      return [["ADDRESS", (r) => String(spec(r).address ?? "")]];
  }
  return [];
}

async function get(argv: string[]): Promise<number> {
  const short = { n: "namespace", o: "output", A: "all-namespaces" };
  const { flags, args, help } = parseFlags(expandShort(argv, short), getFlags);
  if (help) {
    console.log(adminHelp("get"));
    return 0;
  }
  if (args.length === 0) throw new UsageError(`mesh get needs a KIND: ${kindsHelp()}`);
  if (args.length > 2) throw new UsageError(`unexpected argument ${JSON.stringify(args[2])}`);
  const { kind, name } = kindAndName(args[0], args.slice(1));
  const all = flags.allNamespaces as boolean;
  if (all && name) throw new UsageError("a NAME can't be combined with -A; pass -n NS");
  const namespace = flags.namespace as string;
  const c = await client(flags, true);
  const q = new URLSearchParams({ kind });
  if (!all) q.set("namespace", namespace);
  if (name) q.set("name", name);
  const { status, json } = await call(c, "GET", `/apis/v1/resources?${q}`);
  if (status === 404) {
    console.error(`Error from server (NotFound): ${json.error}`);
    return 1;
  }
  if (status !== 200) {
    printRejection(json);
    return 1;
  }
  const items = json.items as Item[];
  const output = flags.output as typeof OUTPUTS[number];
  if (output === "yaml" || output === "json") {
    const value = name ? items[0] : { apiVersion: "v1", kind: "List", items };
    console.log(
      output === "json" ? JSON.stringify(value, null, 2) : stringifyYaml(value).trimEnd(),
    );
    return 0;
  }
  if (items.length === 0) {
    console.error(all ? "No resources found" : `No resources found in ${namespace} namespace.`);
    return 0;
  }
  if (output === "name") {
    for (const r of items) console.log(qualifiedName(r.kind, r.metadata.name));
    return 0;
  }
  const cols = columns(kind);
  const rows = [[...(all ? ["NAMESPACE"] : []), "NAME", ...cols.map(([h]) => h)]];
  for (const r of items) {
    rows.push([
      ...(all ? [r.metadata.namespace] : []),
      r.metadata.name,
      ...cols.map(([, f]) => f(r)),
    ]);
  }
  console.log(table(rows));
  return 0;
}

interface Configz {
  revision?: number;
  store?: StoreInfo;
  resources: unknown[];
  diagnostics: string[];
}

/** One entry of `/debug/syncz` (also read by `mesh proxy-status`). */
export interface Syncz {
  node: string;
  mode: string;
  identity: string;
  sent?: string;
  acked?: string;
  lastNack?: string;
  connectedAt: string;
  /** The push protocol the proxy speaks; the serving instance; per-part state (protocol 2). */
  protocol?: number;
  instance?: string;
  parts?: Record<PartName, PartStatus>;
}

/** The sync state of one proxy: SYNCED, STALE (sent, not acked yet), NACKED, NOT SENT. */
export function syncState(p: Pick<Syncz, "sent" | "acked" | "lastNack">): string {
  if (p.sent !== undefined && p.acked === p.sent) return "SYNCED";
  if (p.lastNack) return "NACKED";
  return p.sent === undefined ? "NOT SENT" : "STALE";
}

async function status(argv: string[]): Promise<number> {
  const { flags, args, help } = parseFlags(argv, statusFlags);
  if (help) {
    console.log(adminHelp("status"));
    return 0;
  }
  if (args.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
  const c = await client(flags, false);
  const configz = (await call(c, "GET", "/debug/configz")).json as unknown as Configz;
  const syncz = (await call(c, "GET", "/debug/syncz")).json as unknown as Syncz[];
  const s = configz.store;
  console.log(`control plane: ${c.server}`);
  console.log(
    s
      ? `config store:  ${s.backend}${
        s.location ? ` ${s.location}` : ""
      }, revision ${s.revision}, ${s.resources} resource(s)`
      : `config:        ${configz.resources.length} resource(s)`,
  );
  console.log(`push revision: ${configz.revision ?? "-"}`);
  console.log("");
  const rejected = s?.rejected ?? [];
  if (rejected.length === 0) {
    console.log("REJECTED FILES: none");
  } else {
    console.log(table([
      ["REJECTED FILE", "ERRORS", "SERVING"],
      ...rejected.map((
        r,
      ) => [r.file, String(r.errors), r.servingLastGood ? "last good version" : "nothing"]),
    ]));
  }
  if (configz.diagnostics.length) {
    console.log("");
    console.log("DIAGNOSTICS");
    for (const d of configz.diagnostics) console.log(d);
  }
  console.log("");
  if (syncz.length === 0) {
    console.log("PROXIES: none connected");
  } else {
    console.log(table([
      ["PROXY", "MODE", "IDENTITY", "SENT", "ACKED", "STATUS", "CONNECTED"],
      ...syncz.map((p) => [
        p.node,
        p.mode,
        p.identity,
        p.sent ?? "-",
        p.acked ?? "-",
        syncState(p),
        p.connectedAt,
      ]),
    ]));
    for (const p of syncz.filter((p) => p.lastNack)) {
      console.log(`  ${p.node} last rejected a config: ${p.lastNack}`);
    }
  }
  return 0;
}

/** `mesh token create --admin`: prints an admin token signed with the data dir's token key. */
export async function adminTokenCommand(argv: string[]): Promise<number> {
  const { flags, args, help } = parseFlags(argv, adminTokenFlags);
  if (help) {
    console.log(
      `mesh token create --admin [flags]\n\nPrints an admin token for the admin API (mesh apply, delete, get).\n\n${
        flagHelp(adminTokenFlags)
      }`,
    );
    return 0;
  }
  if (args.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
  const issuer = await TokenIssuer.loadOrCreate(flags.dataDir as string, false);
  console.log(
    await issuer.createAdmin({
      ttlSeconds: Math.round((flags.ttl as number) / 1000),
      subject: flags.name as string,
    }),
  );
  return 0;
}

/** Runs `mesh apply|delete|get|status ARGS`; returns the exit code (usage errors throw). */
export async function adminCommand(
  cmd: "apply" | "delete" | "get" | "status",
  argv: string[],
  readInputs: InputReader,
): Promise<number> {
  try {
    switch (cmd) {
      case "apply":
        return await apply(argv, readInputs);
      case "delete":
        return await del(argv, readInputs);
      case "get":
        return await get(argv);
      case "status":
        return await status(argv);
    }
  } catch (err) {
    if (err instanceof RequestFailed) {
      console.error(`mesh: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
