/**
 * What the benchmark reads from `/proc`: CPU time and resident memory of a
 * process and its descendants (nginx's master and workers, a launcher's
 * children), the machine's TCP connection count, load average and CPU model.
 * @module
 */

let clockTicks = 100;

/** Reads the kernel's clock tick rate (`getconf CLK_TCK`) once; 100 if unknown. */
export async function initClockTicks(): Promise<void> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    if (n > 0) clockTicks = n;
  } catch { /* keep 100 */ }
}

/** True while `pid` runs (exists and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** `pid` and all its descendants, found through `/proc/<pid>/task/<tid>/children`. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of Deno.readDirSync(`/proc/${out[i]}/task`)) {
        const kids = Deno.readTextFileSync(`/proc/${out[i]}/task/${t.name}/children`).trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch { /* exited, or no /proc */ }
  }
  return [...new Set(out)];
}

/**
 * Parses utime + stime (in clock ticks) from a `/proc/<pid>/stat` line. These
 * cover every thread of the process.
 */
export function statTicks(stat: string): number {
  // Fields after "(comm) ": state is [0], utime [11], stime [12].
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** CPU seconds (user + system, all threads) used so far by `pid` and its descendants. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      ticks += statTicks(Deno.readTextFileSync(`/proc/${p}/stat`));
    } catch { /* exited */ }
  }
  return ticks / clockTicks;
}

function sumKb(pid: number, file: string, field: RegExp): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(Deno.readTextFileSync(`/proc/${p}/${file}`).match(field)?.[1] ?? 0);
    } catch { /* exited */ }
  }
  return kb;
}

/**
 * Resident memory (VmRSS) in MB of `pid` plus its descendants. Pages shared
 * between a master and its workers count once per process.
 */
export function rssMb(pid: number): number {
  return sumKb(pid, "status", /^VmRSS:\s+(\d+) kB/m) / 1024;
}

/** Proportional set size in MB of `pid` plus its descendants (shared pages split). */
export function pssMb(pid: number): number {
  return sumKb(pid, "smaps_rollup", /^Pss:\s+(\d+) kB/m) / 1024;
}

/** Samples the memory of some processes at an interval and keeps the maximum of each. */
export class MemorySampler {
  readonly #pids: Record<string, number>;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly rss: Record<string, number> = {};
  readonly pss: Record<string, number> = {};
  samples = 0;

  constructor(pids: Record<string, number>, intervalMs = 200) {
    this.#pids = pids;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    this.samples++;
    for (const [name, pid] of Object.entries(this.#pids)) {
      this.rss[name] = Math.max(this.rss[name] ?? 0, rssMb(pid));
      this.pss[name] = Math.max(this.pss[name] ?? 0, pssMb(pid));
    }
  }

  /** Takes a last sample and stops. */
  stop(): { rss: Record<string, number>; pss: Record<string, number> } {
    clearInterval(this.#timer);
    this.sample();
    return { rss: this.rss, pss: this.pss };
  }
}

/** The kernel's count of TCP connections opened on this machine (all processes). */
export function tcpActiveOpens(): number {
  try {
    const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
      l.startsWith("Tcp:")
    );
    const names = lines[0].split(/\s+/);
    return Number(lines[1].split(/\s+/)[names.indexOf("ActiveOpens")]) || 0;
  } catch {
    return 0;
  }
}

/** The 1-minute load average, or undefined without `/proc`. */
export function loadAverage(): number | undefined {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** The CPU model name from `/proc/cpuinfo`. */
export function cpuModel(): string | undefined {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1].trim();
  } catch {
    return undefined;
  }
}

/** Total memory in GB from `/proc/meminfo`. */
export function memoryGb(): number | undefined {
  try {
    const kb = Number(Deno.readTextFileSync("/proc/meminfo").match(/^MemTotal:\s+(\d+)/m)?.[1]);
    return kb ? Number((kb / 1024 / 1024).toFixed(1)) : undefined;
  } catch {
    return undefined;
  }
}
