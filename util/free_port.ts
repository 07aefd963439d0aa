/**
 * Ports for tests and the demo that must be chosen before a process binds them
 * (a Gateway's listener port is part of its config, for example).
 *
 * A port taken from the kernel with `port: 0` and released comes from the
 * ephemeral range, the same range every outgoing connection draws its local port
 * from; under a busy test run another socket can take it before the process binds
 * it. So this picks from below that range, where the kernel never hands ports out
 * on its own, and checks that the port can be bound right now.
 *
 * @example
 * ```ts
 * import { freePort } from "./free_port.ts";
 * const port = freePort(); // e.g. 21807
 * ```
 * @module
 */

/** The kernel's ephemeral port range on Linux; `[32768, 60999]` where it can't be read. */
export function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range")
      .trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch { /* not Linux, or no permission */ }
  return [32768, 60999];
}

const handedOut = new Set<number>();

function bindable(port: number, hostname: string): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A TCP port on `hostname` that could be bound a moment ago, outside the ephemeral
 * range and never returned before by this process.
 */
export function freePort(hostname = "127.0.0.1"): number {
  const [lo] = ephemeralRange();
  const min = 10_000;
  if (lo - min >= 1_000) {
    for (let i = 0; i < 200; i++) {
      const port = min + Math.floor(Math.random() * (lo - min));
      if (handedOut.has(port) || !bindable(port, hostname)) continue;
      handedOut.add(port);
      return port;
    }
  }
  // The range starts too low to leave room below it: fall back on the kernel's pick.
  for (;;) {
    const l = Deno.listen({ hostname, port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
