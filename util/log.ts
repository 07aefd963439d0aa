/**
 * A small structured logger: one line per event, `time level component msg key=value...`,
 * written to stderr so stdout stays free for command output.
 *
 * @example
 * ```ts
 * const log = logger("proxy");
 * log.info("config applied", { version: "12" });
 * ```
 * @module
 */

/** Log levels in order of severity. */
export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: Level = (Deno.env.get("MESH_LOG_LEVEL") as Level | undefined) ?? "info";
if (!(threshold in order)) threshold = "info";

/** Sets the lowest level that is written. */
export function setLogLevel(level: Level): void {
  threshold = level;
}

/** A logger bound to one component name. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const encoder = new TextEncoder();

function fmt(value: unknown): string {
  if (value instanceof Error) value = value.message;
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s !== undefined && /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s ?? String(value));
}

/** Returns a logger whose lines carry `component`. */
export function logger(component: string): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[threshold]) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase()} ${component} ${msg}`;
    if (fields) { for (const [k, v] of Object.entries(fields)) line += ` ${k}=${fmt(v)}`; }
    try {
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    } catch {
      // stderr closed: nothing sensible to do.
    }
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
