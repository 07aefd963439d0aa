/**
 * Shared plumbing for the Bookinfo sample apps: command-line flags, serving, header propagation
 * and outbound calls that are meant to travel through the mesh sidecar.
 *
 * Outbound calls:
 * - By default `meshFetch` is a plain `fetch` bounded by a timeout. Deno's fetch honours
 *   `HTTP_PROXY` / `http_proxy` / `ALL_PROXY` for `http://` URLs and then sends an absolute-form
 *   request line (`GET http://details:9080/details/0 HTTP/1.1`) with `Host: details:9080` to the
 *   proxy. `NO_PROXY` / `no_proxy` entries bypass the proxy (there is no built-in default list,
 *   not even for loopback).
 * - If `MESH_OUTBOUND=http://127.0.0.1:15001` is set, `meshFetch` instead opens a TCP connection
 *   to that address itself and writes an origin-form request (`GET /details/0 HTTP/1.1`) carrying
 *   the original `Host: details:9080`. This path ignores the proxy variables entirely. (Deno's
 *   fetch silently replaces a caller-supplied `Host` header, so this cannot be done with fetch.)
 */

/** Request headers that are copied from an inbound request onto the outbound calls it causes. */
export const FORWARDED_HEADERS: readonly string[] = [
  "x-request-id",
  "traceparent",
  "tracestate",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "b3",
  "user-agent",
  "end-user",
];

/** Default bound for every outbound call, in milliseconds. */
export const OUTBOUND_TIMEOUT_MS = 3000;

export interface AppConfig {
  host: string;
  port: number;
  /** Only meaningful for apps that accept `--version` (reviews). */
  version: string;
}

export interface FlagOptions {
  /** Allowed `--version` values; when absent the flag is rejected. */
  versions?: readonly string[];
  defaultVersion?: string;
}

export class UsageError extends Error {
  override name = "UsageError";
}

interface EnvLike {
  get(key: string): string | undefined;
}

function parsePort(raw: string, source: string): number {
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw new UsageError(`${source}: invalid port ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/**
 * Parses `--port N`, `--host H`, `--version V` (also `--flag=value`). `PORT` from the
 * environment is used when `--port` is absent. Defaults: port 9080, host 127.0.0.1.
 */
export function parseFlags(
  args: readonly string[],
  env: EnvLike = Deno.env,
  options: FlagOptions = {},
): AppConfig {
  const envPort = env.get("PORT");
  const config: AppConfig = {
    host: "127.0.0.1",
    port: envPort !== undefined && envPort !== "" ? parsePort(envPort, "PORT") : 9080,
    version: options.defaultVersion ?? "",
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const next = args[i + 1];
      if (next === undefined) throw new UsageError(`${name} needs a value`);
      i++;
      return next;
    };
    switch (name) {
      case "--port":
        config.port = parsePort(takeValue(), "--port");
        break;
      case "--host": {
        const host = takeValue();
        if (host === "") throw new UsageError("--host must not be empty");
        config.host = host;
        break;
      }
      case "--version": {
        if (!options.versions) throw new UsageError("--version is not supported by this app");
        const version = takeValue();
        if (!options.versions.includes(version)) {
          throw new UsageError(
            `--version must be one of ${options.versions.join(", ")} (got ${version})`,
          );
        }
        config.version = version;
        break;
      }
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return config;
}

/** Copies the propagated headers from `from`; entries in `extra` are set on top. */
export function forwardHeaders(from: Headers, extra?: HeadersInit): Headers {
  const out = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = from.get(name);
    if (value !== null) out.set(name, value);
  }
  if (extra) {
    for (const [name, value] of new Headers(extra)) out.set(name, value);
  }
  return out;
}

export interface MeshFetchInit extends RequestInit {
  /** Overrides {@link OUTBOUND_TIMEOUT_MS}. The bound covers reading the body, too. */
  timeoutMs?: number;
}

/**
 * `fetch` for calls to other mesh services (`http://details:9080/...`). Always bounded by a
 * timeout; honours `MESH_OUTBOUND` (see the module comment) and otherwise Deno's proxy variables.
 */
export async function meshFetch(url: string | URL, init: MeshFetchInit = {}): Promise<Response> {
  const { timeoutMs = OUTBOUND_TIMEOUT_MS, signal, ...rest } = init;
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const outbound = Deno.env.get("MESH_OUTBOUND");
  if (outbound) {
    return await fetchViaOutbound(new URL(outbound), new URL(url), rest, combined);
  }
  return await fetch(url, { ...rest, signal: combined });
}

const CRLF = "\r\n";
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/** One HTTP/1.1 exchange over a fresh connection to `outbound`, addressed to `target`'s host. */
async function fetchViaOutbound(
  outbound: URL,
  target: URL,
  init: RequestInit,
  signal: AbortSignal,
): Promise<Response> {
  if (target.protocol !== "http:") {
    throw new TypeError(`MESH_OUTBOUND only carries http:// requests, got ${target.href}`);
  }
  signal.throwIfAborted();
  // Let Request normalise method, headers and body (including a default content-type).
  const request = new Request(target, init);
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
  const headers = new Headers(request.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.set("host", target.host);
  headers.set("connection", "close");
  if (!headers.has("accept")) headers.set("accept", "*/*");
  if (!headers.has("user-agent")) headers.set("user-agent", `Deno/${Deno.version.deno}`);
  if (body) headers.set("content-length", String(body.byteLength));
  else if (!["GET", "HEAD"].includes(request.method)) headers.set("content-length", "0");

  let head = `${request.method} ${target.pathname}${target.search} HTTP/1.1${CRLF}`;
  for (const [name, value] of headers) head += `${name}: ${value}${CRLF}`;
  head += CRLF;

  const connecting = Deno.connect({
    hostname: outbound.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: outbound.port === "" ? 80 : Number(outbound.port),
  });
  let conn: Deno.TcpConn;
  try {
    conn = await raceAbort(connecting, signal);
  } catch (err) {
    connecting.then((late) => late.close(), () => {});
    throw wrapError(err, signal, outbound);
  }
  const onAbort = () => closeQuietly(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  let raw: Uint8Array<ArrayBuffer>;
  try {
    await writeAll(conn, new TextEncoder().encode(head));
    if (body) await writeAll(conn, body);
    raw = await readToEnd(conn);
  } catch (err) {
    throw wrapError(err, signal, outbound);
  } finally {
    signal.removeEventListener("abort", onAbort);
    closeQuietly(conn);
  }
  return parseResponse(raw, request.method);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function wrapError(err: unknown, signal: AbortSignal, outbound: URL): unknown {
  if (signal.aborted) return signal.reason;
  return new TypeError(`request via MESH_OUTBOUND ${outbound.host} failed: ${err}`, { cause: err });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) offset += await conn.write(data.subarray(offset));
}

async function readToEnd(conn: Deno.Conn): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(16 * 1024);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    total += n;
    if (total > MAX_RESPONSE_BYTES) throw new Error("response too large");
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function indexOfCrlf(data: Uint8Array, from: number, double: boolean): number {
  for (let i = from; i + (double ? 3 : 1) < data.byteLength; i++) {
    if (data[i] !== 13 || data[i + 1] !== 10) continue;
    if (!double || (data[i + 2] === 13 && data[i + 3] === 10)) return i;
  }
  return -1;
}

function parseResponse(raw: Uint8Array<ArrayBuffer>, method: string): Response {
  const latin1 = new TextDecoder("latin1");
  let offset = 0;
  while (true) {
    const headEnd = indexOfCrlf(raw, offset, true);
    if (headEnd < 0) throw new TypeError("malformed HTTP response from MESH_OUTBOUND");
    const lines = latin1.decode(raw.subarray(offset, headEnd)).split(CRLF);
    offset = headEnd + 4;
    const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
    if (!status) throw new TypeError(`malformed status line ${JSON.stringify(lines[0])}`);
    const code = Number(status[1]);
    if (code >= 100 && code < 200) continue; // interim response; the final one follows
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    let body: Uint8Array<ArrayBuffer> | null = raw.subarray(offset);
    if (/\bchunked\b/i.test(headers.get("transfer-encoding") ?? "")) {
      body = dechunk(body);
    } else if (headers.has("content-length")) {
      const length = Number(headers.get("content-length"));
      if (!Number.isInteger(length) || length < 0 || length > body.byteLength) {
        throw new TypeError("truncated HTTP response from MESH_OUTBOUND");
      }
      body = body.subarray(0, length);
    }
    for (const name of HOP_BY_HOP) headers.delete(name);
    if (method === "HEAD" || code === 204 || code === 304) body = null;
    return new Response(body, { status: code, statusText: status[2] ?? "", headers });
  }
}

function dechunk(data: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (true) {
    const lineEnd = indexOfCrlf(data, offset, false);
    if (lineEnd < 0) throw new TypeError("malformed chunked body");
    const sizeText = new TextDecoder().decode(data.subarray(offset, lineEnd)).split(";")[0].trim();
    const size = parseInt(sizeText, 16);
    if (!/^[0-9a-f]+$/i.test(sizeText) || Number.isNaN(size)) {
      throw new TypeError("malformed chunk size");
    }
    offset = lineEnd + 2;
    if (size === 0) break;
    if (offset + size > data.byteLength) throw new TypeError("truncated chunked body");
    parts.push(data.subarray(offset, offset + size));
    offset += size + 2;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

export function json(data: unknown, status = 200, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(data), { status, headers: h });
}

export function html(body: string, status = 200, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "text/html; charset=utf-8");
  return new Response(body, { status, headers: h });
}

export function notFound(): Response {
  return json({ error: "not found" }, 404);
}

export function methodNotAllowed(allow: string): Response {
  return json({ error: "method not allowed" }, 405, { allow });
}

/** Health endpoint shared by all apps. */
export function health(): Response {
  return json({ status: "ok" });
}

/** `"7"` → 7; anything but a plain non-negative integer → null. */
export function parseId(segment: string): number | null {
  return /^\d{1,9}$/.test(segment) ? Number(segment) : null;
}

export function isRead(req: Request): boolean {
  return req.method === "GET" || req.method === "HEAD";
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export type Handler = (req: Request) => Response | Promise<Response>;

const USAGE = "flags: --port N (default 9080, 0 = any free port; env PORT), " +
  "--host H (default 127.0.0.1)";

/**
 * Parses flags, serves `makeHandler(config)` and prints exactly one stdout line,
 * `listening on http://<host>:<port>`. SIGTERM/SIGINT shut the server down and exit with 0.
 */
export function runApp(
  name: string,
  makeHandler: (config: AppConfig) => Handler,
  options: FlagOptions = {},
): Deno.HttpServer<Deno.NetAddr> {
  let config: AppConfig;
  try {
    config = parseFlags(Deno.args, Deno.env, options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const versions = options.versions ? `, --version ${options.versions.join("|")}` : "";
    console.error(`${name}: ${err.message}\n${USAGE}${versions}`);
    Deno.exit(2);
  }
  const handler = makeHandler(config);
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen({ hostname, port }) {
      const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
      console.log(`listening on http://${shown}:${port}`);
    },
  }, async (req) => {
    try {
      return await handler(req);
    } catch (err) {
      console.error(`${name}: ${req.method} ${req.url}: ${err}`);
      return json({ error: "internal error" }, 500);
    }
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => Deno.exit(0), 2000);
    server.shutdown().finally(() => {
      clearTimeout(force);
      Deno.exit(0);
    });
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  return server;
}
