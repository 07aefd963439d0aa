/**
 * Applying and removing transparent capture with the real tools: `iptables-save -t nat`
 * reads the table, `iptables-restore -T nat` (without `--noflush`) loads the whole edited
 * table back in one commit, so a refused restore changes nothing. After loading, the table is
 * read back; if mesh's chains aren't there as written, the saved table is restored and the
 * apply fails. Re-applying replaces earlier MESH_* chains, so it is idempotent.
 *
 * @example
 * ```ts
 * const r = await applyCapture({ proxyUids: [1337] }); // inbound → 15006, outbound → 15001
 * await cleanupCapture();
 * ```
 * @module
 */
import {
  type CaptureInput,
  type CaptureOptions,
  captureOptions,
  captureRules,
  compareCapture,
  mergeCapture,
  meshPart,
  type NatRules,
  parseSave,
  resolvConfNameservers,
  ruleText,
  stripCapture,
} from "./iptables_rules.ts";

/** What went wrong, for callers that act on it. */
export type CaptureErrorKind = "missing-tool" | "permission" | "refused" | "verify" | "failed";

/** Capture could not be applied or removed; the message says why and what to do. */
export class CaptureError extends Error {
  override name = "CaptureError";
  constructor(readonly kind: CaptureErrorKind, message: string) {
    super(message);
  }
}

/** One finished run of a tool. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (throws `Deno.errors.NotFound` when it isn't there). */
export type Runner = (cmd: string, args: string[], stdin?: string) => Promise<RunResult>;

/** Runs programs with `Deno.Command`. */
export const runCommand: Runner = async (cmd, args, stdin) => {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    } catch {
      // the tool exited before reading it all; its exit status says why
    }
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
};

/** How {@linkcode applyCapture} and {@linkcode cleanupCapture} run the tools. */
export interface ToolOptions {
  /** Default {@linkcode runCommand}. */
  run?: Runner;
  /** The programs (default `iptables-save`, `iptables-restore`; e.g. the `-legacy` ones). */
  save?: string;
  restore?: string;
  /** Test hook: extra rule lines loaded with mesh's (a bogus one makes the restore fail). */
  _extraRules?: string[];
}

/** What {@linkcode applyCapture} did. */
export interface ApplyResult {
  options: CaptureOptions;
  /** mesh's chains and rules as loaded. */
  applied: NatRules;
  /** Whether earlier mesh rules were replaced. */
  replaced: boolean;
  /** Whether the rules read back are the same text as written (else only the same count). */
  exact: boolean;
}

/** What {@linkcode cleanupCapture} did. */
export interface CleanupResult {
  /** mesh's chains and rules that were removed (none: nothing was there). */
  removed: NatRules;
}

const INSTALL_HINT = "install it: apt-get install iptables (dnf install iptables-nft on Fedora)";
const CAP_HINT =
  "capture needs CAP_NET_ADMIN: run mesh iptables as root, or give its systemd unit AmbientCapabilities=CAP_NET_ADMIN";

/** Turns a failed run's stderr into a {@linkcode CaptureError}. */
export function toolError(tool: string, r: RunResult, input?: string): CaptureError {
  const msg = r.stderr.trim().split("\n").map((l) => l.trim())
    .filter((l) => l && !/^Try `/.test(l)).join("; ") ||
    `exit status ${r.code}`;
  if (/permission denied|operation not permitted|must be root/i.test(msg)) {
    return new CaptureError("permission", `${CAP_HINT} (${tool}: ${msg})`);
  }
  if (/can't initialize|unable to initialize|cannot initialize/i.test(msg)) {
    return new CaptureError(
      "permission",
      `${CAP_HINT}; as root already, the kernel may lack the nat table (modprobe iptable_nat) (${tool}: ${msg})`,
    );
  }
  if (input !== undefined) {
    const n = Number(msg.match(/line:?\s*(\d+)/i)?.[1]);
    const line = n ? input.split("\n")[n - 1] : undefined;
    return new CaptureError(
      "refused",
      `${tool} refused the rules, nothing was changed: ${msg}${
        line && line !== "COMMIT" ? ` (line ${n}: ${line})` : ""
      }`,
    );
  }
  return new CaptureError("failed", `${tool} failed: ${msg}`);
}

async function runTool(
  o: ToolOptions,
  which: "save" | "restore",
  args: string[],
  stdin?: string,
): Promise<string> {
  const tool = o[which] ?? `iptables-${which}`;
  let r: RunResult;
  try {
    r = await (o.run ?? runCommand)(tool, args, stdin);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CaptureError("missing-tool", `${tool} not found on PATH: ${INSTALL_HINT}`);
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new CaptureError("permission", `${tool} can't be run: ${(err as Error).message}`);
    }
    throw new CaptureError("failed", `${tool}: ${(err as Error).message}`);
  }
  if (r.code !== 0) throw toolError(tool, r, stdin);
  return r.stdout;
}

/** The nat table now, with counters (`iptables-save -c -t nat`). */
export async function saveNat(o: ToolOptions = {}): Promise<string> {
  return await runTool(o, "save", ["-c", "-t", "nat"]);
}

/** Loads a whole nat table in one commit, keeping counters (`iptables-restore -c -T nat`). */
export async function restoreNat(text: string, o: ToolOptions = {}): Promise<void> {
  await runTool(o, "restore", ["-c", "-w", "5", "-T", "nat"], text);
}

/** Whether two dumps hold the same chains, policies and rules (counters aside). */
export function sameTable(a: string, b: string): boolean {
  const norm = (text: string) => {
    const t = parseSave(text);
    return [
      ...t.chains.map(ruleText).map((c) => c.replace(/\s*\[\d+:\d+\]$/, "")),
      ...t.rules.map(ruleText),
    ]
      .join("\n");
  };
  return norm(a) === norm(b);
}

/** Puts the saved table back after a bad apply; the message says how that went. */
async function rollBack(saved: string, o: ToolOptions): Promise<string> {
  try {
    await restoreNat(saved, o);
    return sameTable(await saveNat(o), saved)
      ? "the table as it was before has been restored"
      : "the table was restored, but reads back different from before; check iptables-save -t nat";
  } catch (err) {
    return `restoring the table as it was failed too (${
      (err as Error).message
    }); check iptables-save -t nat`;
  }
}

/**
 * Applies capture: reads the nat table, replaces any MESH_* chains (and the rules jumping to
 * them) with those for `input`, loads it back in one commit, and checks it by reading it
 * again. Throws {@linkcode CaptureError} (and `CaptureOptionError` for bad settings).
 */
export async function applyCapture(
  input: CaptureInput | CaptureOptions,
  tools: ToolOptions = {},
): Promise<ApplyResult> {
  const options = captureOptions(input);
  const ours = captureRules(options);
  const loaded: NatRules = {
    chains: ours.chains,
    rules: [...ours.rules, ...(tools._extraRules ?? [])],
  };
  const saved = await saveNat(tools);
  const replaced = meshPart(saved).chains.length > 0 || meshPart(saved).rules.length > 0;
  await restoreNat(mergeCapture(saved, loaded), tools);
  let problems: string[];
  let exact = false;
  try {
    const check = compareCapture(loaded, meshPart(await saveNat(tools)));
    problems = check.problems;
    exact = check.exact;
  } catch (err) {
    problems = [`reading the table back failed: ${(err as Error).message}`];
  }
  if (problems.length) {
    const how = await rollBack(saved, tools);
    throw new CaptureError(
      "verify",
      `the nat table read back after iptables-restore doesn't hold mesh's rules (${
        problems.join("; ")
      }); ${how}`,
    );
  }
  return { options, applied: loaded, replaced, exact };
}

/**
 * Removes capture: every MESH_* chain and every rule jumping to one, in one commit. When
 * there are none, nothing is loaded and `removed` is empty.
 */
export async function cleanupCapture(tools: ToolOptions = {}): Promise<CleanupResult> {
  const saved = await saveNat(tools);
  const removed = meshPart(saved);
  if (!removed.chains.length && !removed.rules.length) return { removed };
  await restoreNat(stripCapture(saved), tools);
  const left = meshPart(await saveNat(tools));
  if (left.chains.length || left.rules.length) {
    const how = await rollBack(saved, tools);
    throw new CaptureError(
      "verify",
      `mesh's chains are still in the nat table after iptables-restore (${
        left.chains.join(", ")
      }); ${how}`,
    );
  }
  return { removed };
}

/** The IPv4 name servers of a resolv.conf file (and the others, which aren't captured). */
export async function systemNameservers(
  path = "/etc/resolv.conf",
): Promise<{ ipv4: string[]; other: string[] }> {
  return resolvConfNameservers(await Deno.readTextFile(path));
}
