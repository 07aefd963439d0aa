/**
 * `mesh proxy-status [NODE]`, as `istioctl proxy-status`: every connected proxy with the state
 * of each part of its config (SYNCED, STALE, NOT SENT) and the control-plane instance serving
 * it; with a node id (or a unique part of one), each part's versions and any rejection.
 * Reads the control plane's `/debug/syncz` on its admin port (`--server`, `MESH_SERVER`).
 *
 * @example
 * ```ts
 * await proxyStatusCommand(["--server", "http://127.0.0.1:15014"]);
 * ```
 * @module
 */
import { flagHelp, type FlagSpecs, parseFlags, UsageError } from "../util/flags.ts";
import { PART_NAMES, type PartName } from "../api/push_protocol.ts";
import { XDS_TYPE } from "../control/metrics.ts";
import { type Syncz, table } from "../control/admin_client.ts";

const flags: FlagSpecs = {
  server: {
    type: "string",
    default: "http://127.0.0.1:15014",
    help: "URL of the control plane's admin port",
  },
  output: { type: "string", default: "table", help: "table or json" },
};

type SyncEntry = Syncz;

/** The help text. */
export function proxyStatusHelp(): string {
  return `mesh proxy-status [NODE] [flags]

Shows every connected proxy and, per part of its config, whether it has what the control plane
says it should (SYNCED), something else or a message awaiting its ack (STALE), or nothing yet
(NOT SENT): CDS clusters, LDS listeners, EDS endpoints, RDS routes, SDS roots, and policies
(authorization and JWT). With NODE (a node id, or a unique part of one): the versions of each
part and any rejection, with the proxy's error.

${flagHelp(flags)}`;
}

/** Rows of the overview (exported for tests). */
export function overview(list: readonly SyncEntry[]): string {
  const cols: PartName[] = ["clusters", "listeners", "endpoints", "routes", "secrets", "policies"];
  const rows = [["NAME", ...cols.map((p) => XDS_TYPE[p].toUpperCase()), "ISTIOD", "VERSION"]];
  for (const e of [...list].sort((a, b) => a.node < b.node ? -1 : 1)) {
    rows.push([
      e.node,
      ...cols.map((p) => {
        const s = e.parts?.[p];
        if (!s) return e.acked && e.acked === e.sent ? "SYNCED" : "STALE";
        return s.error ? `${s.state} (rejected)` : s.state;
      }),
      e.instance ?? "-",
      e.acked ?? "-",
    ]);
  }
  return table(rows);
}

function detail(e: SyncEntry): string {
  const lines = [
    `proxy:     ${e.node} (${e.mode}, ${e.identity})`,
    `served by: ${e.instance ?? "-"} since ${e.connectedAt}; protocol ${e.protocol ?? 1}`,
    `revision:  sent ${e.sent ?? "-"}, acknowledged ${e.acked ?? "-"}`,
    "",
  ];
  const rows = [["PART", "TYPE", "STATE", "SHOULD HAVE", "ACKNOWLEDGED"]];
  for (const p of PART_NAMES) {
    const s = e.parts?.[p];
    rows.push([p, XDS_TYPE[p].toUpperCase(), s?.state ?? "-", s?.version ?? "-", s?.acked ?? "-"]);
  }
  lines.push(table(rows));
  for (const p of PART_NAMES) {
    const s = e.parts?.[p];
    if (s?.error) lines.push(`  ${p} version ${s.rejected} was rejected: ${s.error}`);
  }
  return lines.join("\n");
}

/** Runs the command; returns the exit code. */
export async function proxyStatusCommand(argv: string[]): Promise<number> {
  const { flags: f, args, help } = parseFlags(argv, flags);
  if (help) {
    console.log(proxyStatusHelp());
    return 0;
  }
  if (args.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(args[1])}`);
  if (f.output !== "table" && f.output !== "json") {
    throw new UsageError(`--output ${JSON.stringify(f.output)}: use table or json`);
  }
  const server = String(f.server).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(server)) {
    throw new UsageError(
      `--server ${JSON.stringify(f.server)}: use a URL like http://127.0.0.1:15014`,
    );
  }
  let list: SyncEntry[];
  try {
    const res = await fetch(`${server}/debug/syncz`);
    if (!res.ok) throw new Error(`answered ${res.status}`);
    list = await res.json();
  } catch (err) {
    console.error(
      `mesh: can't read proxy status from ${server}/debug/syncz (${(err as Error).message}); ` +
        "is the control plane running with --admin-port? Point to it with --server (MESH_SERVER)",
    );
    return 1;
  }
  let shown = list;
  if (args[0] !== undefined) {
    shown = list.filter((e) => e.node === args[0]);
    if (shown.length === 0) shown = list.filter((e) => e.node.includes(args[0]));
    if (shown.length !== 1) {
      console.error(
        shown.length === 0
          ? `mesh: no connected proxy matches ${
            JSON.stringify(args[0])
          }; run mesh proxy-status to list them`
          : `mesh: ${shown.length} proxies match ${
            JSON.stringify(args[0])
          }; give more of the node id`,
      );
      return 1;
    }
  }
  if (f.output === "json") console.log(JSON.stringify(shown, null, 2));
  else if (args[0] !== undefined) console.log(detail(shown[0]));
  else console.log(list.length ? overview(list) : "no proxies connected");
  return 0;
}
