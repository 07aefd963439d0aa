/**
 * Bounded child processes for the benchmark: every short-lived command (load
 * tools, openssl, probes) runs with a deadline and is tracked, so an interrupt
 * can stop whatever is in flight.
 * @module
 */

/** Short-lived children in flight, so an interrupt can stop them. */
const running = new Set<Deno.ChildProcess>();
/** Set once the bench is stopping: no new commands start after that. */
let stopping = false;

/** What a bounded command printed and how it ended. */
export interface RunOutput {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
  /** True when the deadline passed and the command was killed. */
  timedOut: boolean;
}

/** Runs `cmd` to completion, killed (SIGKILL) once `timeoutMs` passes. */
export async function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; env?: Record<string, string> },
): Promise<RunOutput> {
  if (stopping) throw new Error("the bench is stopping");
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running.add(child);
  let timedOut = false;
  const guard = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      success: out.success && !timedOut,
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(guard);
    running.delete(child);
  }
}

/** True once {@linkcode killRunning} was called: the bench is on its way out. */
export function isStopping(): boolean {
  return stopping;
}

/** Kills every short-lived child still running, and refuses new ones (on interrupt or exit). */
export function killRunning(): void {
  stopping = true;
  for (const c of running) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
}

/** True when `cmd` can be started (it exists on the PATH and is executable). */
export async function have(cmd: string, args: string[] = ["--version"]): Promise<boolean> {
  try {
    await run(cmd, args, { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** First line of a command's output (stdout, else stderr), e.g. a version banner. */
export async function firstLine(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await run(cmd, args, { timeoutMs: 10_000 });
    const text = (out.stdout.trim() || out.stderr.trim()).split("\n")[0];
    return text || undefined;
  } catch {
    return undefined;
  }
}

/** The last few non-empty lines of `text`, for error messages. */
export function tail(text: string, lines = 6): string {
  return text.trim().split("\n").filter((l) => l.trim()).slice(-lines).join("\n");
}

/** Pids of this process's direct children still alive, from `/proc/<pid>/stat`. */
export function childPids(): number[] {
  const out: number[] = [];
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // f[0] is the state, f[1] the parent pid; zombies are already gone.
        if (Number(f[1]) === Deno.pid && f[0] !== "Z") out.push(Number(e.name));
      } catch { /* exited */ }
    }
  } catch { /* no /proc */ }
  return out;
}

/**
 * Last resort at exit: stops (SIGTERM, then SIGKILL after `graceMs`) any
 * direct child of this process still running, by pid. Everything the bench
 * starts is its direct child, so this reaches only processes it started, e.g.
 * one a failed setup step could not hand back for stopping.
 */
export async function reapChildren(graceMs = 3000): Promise<number[]> {
  const pids = childPids();
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGTERM");
    } catch { /* gone */ }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && childPids().some((p) => pids.includes(p))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const pid of childPids().filter((p) => pids.includes(p))) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  return pids;
}
