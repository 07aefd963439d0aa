/**
 * WebSocket echo load with mesh's Go test peer (tests/peers/wsclient): one
 * wsclient process per connection, all at once, each sending `messages`
 * messages of `size` bytes and checking every echo before the next. The
 * rate is the echoed messages over the wall time of the slowest connection;
 * wsclient reports no per-message latencies, so the percentiles are NaN.
 * @module
 */
import { run, tail } from "../spawn.ts";
import type { LoadResult } from "./load.ts";

/** One WebSocket load run. */
export interface WsLoad {
  bin: string;
  /** ws:// URL (the client connects to its host:port). */
  url: string;
  /** `Name: value` headers; only `Host` is used (wsclient `-host`). */
  headers: string[];
  connections: number;
  /** Messages per connection. */
  messages: number;
  size: number;
  timeoutS: number;
}

/** wsclient's command line for one connection. */
export function wsLoadArgs(l: WsLoad): string[] {
  const host = l.headers.find((h) => /^host:/i.test(h))?.replace(/^host:\s*/i, "");
  return [
    "-url",
    l.url,
    ...(host ? ["-host", host] : []),
    "-n",
    String(l.messages),
    "-size",
    String(l.size),
    "-timeout",
    `${l.timeoutS}s`,
  ];
}

/** wsclient's result line. */
interface WsLine {
  ok: boolean;
  echoed: number;
  ms: number;
  error?: string;
}

/** Sums the connections' results: messages echoed per second of wall time. */
export function wsSummary(lines: WsLine[], wallMs: number, expected: number): LoadResult {
  const echoed = lines.reduce((n, l) => n + (l.echoed ?? 0), 0);
  const failed = lines.filter((l) => !l.ok);
  return {
    tool: "wsclient",
    rps: wallMs > 0 ? echoed / (wallMs / 1000) : 0,
    requests: echoed,
    errors: expected - echoed,
    p50_ms: NaN,
    p90_ms: NaN,
    p99_ms: NaN,
    codes: { ok: lines.length - failed.length, failed: failed.length },
    sockets: lines.length,
    ...(failed.length ? { error_sample: failed[0].error ?? "wsclient failed" } : {}),
  };
}

/** Runs the connections side by side; throws if a client printed no result. */
export async function wsLoad(l: WsLoad): Promise<LoadResult> {
  const start = performance.now();
  const outs = await Promise.all(
    Array.from(
      { length: l.connections },
      () => run(l.bin, wsLoadArgs(l), { timeoutMs: (l.timeoutS + 15) * 1000 }),
    ),
  );
  const wallMs = performance.now() - start;
  const lines = outs.map((o) => {
    const line = o.stdout.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line) as WsLine;
    } catch {
      throw new Error(
        `wsclient ${o.timedOut ? "overran its time bound" : `exited with ${o.code}`}: ` +
          tail(o.stderr + o.stdout, 3),
      );
    }
  });
  // The echoes over the slowest connection's own time (dial and handshake included,
  // process start not).
  const slowest = Math.max(...lines.map((x) => x.ms));
  return wsSummary(lines, slowest > 0 ? slowest : wallMs, l.connections * l.messages);
}
