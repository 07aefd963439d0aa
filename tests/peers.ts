/**
 * Third-party test peers for conformance and protocol tests: h2spec (HTTP/2
 * conformance), gRPC's Go interop client and server, our own WebSocket client
 * and echo server (tests/peers/wsclient), and h2load.
 *
 * The Go peers are built as the bench builds fortio (bench/tools/fortio.ts):
 * `go install module/pkg@version` into the bench's cache dir, outside the
 * repository ({@linkcode cacheBinDir}, `~/.cache/mesh-bench/bin`), here in a
 * folder per module@version under `peers/`, so nothing built or fetched is ever
 * committed and a missing binary is simply rebuilt. Go builds test peers only;
 * nothing in the product uses it.
 *
 * Each finder returns `{ path }` of a ready binary, or `{ skip }` with a
 * one-line reason when Go (or the tool) is not installed, and throws an error
 * naming the module and version when a build fails.
 *
 * @example
 * ```ts
 * import { h2spec, runH2spec } from "./peers.ts";
 * const p = await h2spec();
 * if (p.skip) console.log(`skipped: ${p.skip}`);
 * else console.log(await runH2spec({ host: "127.0.0.1", port: 8443, tls: true, insecure: true, timeoutS: 2 }));
 * ```
 * @module
 */
import { firstLine, run, tail } from "../bench/spawn.ts";
import { cacheBinDir } from "../bench/tools/fortio.ts";

export { cacheBinDir };

/** A ready binary, or why there is none. */
export type Peer = { path: string; skip?: undefined } | { path?: undefined; skip: string };

/** gRPC's Go interop client and server, or why there are none. */
export type GrpcInteropPeer =
  | { client: string; server: string; version: string; skip?: undefined }
  | { client?: undefined; server?: undefined; version?: undefined; skip: string };

/** h2spec: the module, its version (the newest the module proxy serves; it has no go.mod). */
export const H2SPEC_MODULE = "github.com/summerwind/h2spec";
export const H2SPEC_VERSION = "v2.2.1+incompatible";

/** gRPC-Go, for its interop client and server; the fallback is tried only when the first fails. */
export const GRPC_MODULE = "google.golang.org/grpc";
export const GRPC_VERSION = "v1.85.0";
export const GRPC_FALLBACK_VERSION = "v1.84.0";

/** Our WebSocket test peer's Go module (source in tests/peers/wsclient). */
export const WSCLIENT_DIR = new URL("./peers/wsclient/", import.meta.url).pathname;

/** A `go install` or `go build` gets this long before it is killed. */
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** Where the peers built from module@version live: `<cacheBinDir>/peers/<module>@<version>`. */
export function peerDir(module: string, version: string): string {
  return `${cacheBinDir()}/peers/${module.replaceAll("/", "_")}@${version}`;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && ((st.mode ?? 0o755) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Absolute path of `cmd` on the PATH, if it is there. */
export async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && await isExecutable(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return undefined;
}

let goFound: Promise<string | undefined> | undefined;

/**
 * The `go` command: `$MESH_TEST_GO` if set (only that), else `go` on the PATH,
 * else /usr/local/go/bin/go; undefined when none runs.
 */
export function goCommand(): Promise<string | undefined> {
  goFound ??= (async () => {
    const forced = Deno.env.get("MESH_TEST_GO");
    for (const go of forced ? [forced] : [await which("go"), "/usr/local/go/bin/go"]) {
      if (go && (await firstLine(go, ["version"]))?.startsWith("go version")) return go;
    }
    return undefined;
  })();
  return goFound;
}

const NO_GO = "Go not installed (no go on the PATH or at /usr/local/go/bin/go)";

function goEnv(gobin?: string): Record<string, string> {
  return {
    GOTOOLCHAIN: "local",
    GOFLAGS: "-buildvcs=false",
    CGO_ENABLED: "0",
    ...(gobin ? { GOBIN: gobin } : {}),
  };
}

/** Builds share one promise per key, so parallel callers wait for one build. */
const builds = new Map<string, Promise<string>>();

/**
 * Runs `build(tmp)` to fill a fresh temp dir beside `dir`, checks that every
 * binary in `bins` is there, and renames the temp dir to `dir`, so `dir`
 * exists only complete. Throws `what failed: go's last lines`.
 */
async function buildInto(
  dir: string,
  bins: string[],
  what: string,
  build: (tmp: string) => Promise<string | undefined>,
): Promise<void> {
  const parent = dir.slice(0, dir.lastIndexOf("/"));
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: ".build-" });
  try {
    await Deno.chmod(tmp, 0o755);
    const err = await build(tmp);
    if (err !== undefined) throw new Error(`${what} failed: ${err}`);
    for (const b of bins) {
      if (!(await isExecutable(`${tmp}/${b}`))) throw new Error(`${what} produced no ${b}`);
    }
    try {
      await Deno.rename(tmp, dir);
    } catch (e) {
      // Another process finished the same build first: keep its copy.
      if (!(await Promise.all(bins.map((b) => isExecutable(`${dir}/${b}`)))).every(Boolean)) {
        throw e;
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function goRun(go: string, args: string[], gobin?: string): Promise<string | undefined> {
  const out = await run(go, args, { timeoutMs: BUILD_TIMEOUT_MS, env: goEnv(gobin) });
  if (out.timedOut) return `took over ${BUILD_TIMEOUT_MS / 60_000} minutes`;
  return out.success ? undefined : tail(out.stderr || out.stdout, 4);
}

/**
 * The folder holding `bins` built from `pkgs` (package paths inside `module`)
 * at the first of `versions` that is cached or builds; `{ skip }` when it must
 * be built and Go is missing. Throws naming every version's failure.
 */
async function goInstalled(
  module: string,
  versions: string[],
  pkgs: string[],
  bins: string[],
): Promise<{ dir: string; version: string } | { skip: string }> {
  for (const v of versions) {
    const dir = peerDir(module, v);
    if ((await Promise.all(bins.map((b) => isExecutable(`${dir}/${b}`)))).every(Boolean)) {
      return { dir, version: v };
    }
  }
  const go = await goCommand();
  if (!go) return { skip: `${NO_GO}: cannot build ${module}` };
  const errors: string[] = [];
  for (const v of versions) {
    const dir = peerDir(module, v);
    const targets = pkgs.map((p) => `${p}@${v}`);
    const key = `${dir}\n${bins.join(",")}`;
    let p = builds.get(key);
    if (!p) {
      p = buildInto(
        dir,
        bins,
        `go install ${targets.join(" ")}`,
        (tmp) => goRun(go, ["install", ...targets], tmp),
      ).then(() => dir);
      builds.set(key, p);
      p.catch(() => builds.delete(key));
    }
    try {
      return { dir: await p, version: v };
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  throw new Error(`building ${module} failed: ${errors.join("; then ")}`);
}

/** h2spec, the HTTP/2 conformance tester, built from {@linkcode H2SPEC_MODULE}@{@linkcode H2SPEC_VERSION}. */
export async function h2spec(): Promise<Peer> {
  const r = await goInstalled(H2SPEC_MODULE, [H2SPEC_VERSION], [`${H2SPEC_MODULE}/cmd/h2spec`], [
    "h2spec",
  ]);
  return "skip" in r ? { skip: r.skip } : { path: `${r.dir}/h2spec` };
}

/** gRPC-Go's interop client and server (`interop/client`, `interop/server`). */
export async function grpcInterop(): Promise<GrpcInteropPeer> {
  const r = await goInstalled(
    GRPC_MODULE,
    [GRPC_VERSION, GRPC_FALLBACK_VERSION],
    [`${GRPC_MODULE}/interop/client`, `${GRPC_MODULE}/interop/server`],
    ["client", "server"],
  );
  if ("skip" in r) return { skip: r.skip };
  return { client: `${r.dir}/client`, server: `${r.dir}/server`, version: r.version };
}

/** A short hash of the wsclient module's source, its cache key. */
async function wsclientHash(): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const f of ["go.mod", "go.sum", "main.go"]) {
    parts.push(new TextEncoder().encode(`${f}\n`), await Deno.readFile(`${WSCLIENT_DIR}${f}`));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Our WebSocket test client and echo server (tests/peers/wsclient, using
 * github.com/coder/websocket), built with `go build`; cached by a hash of its
 * source, so an edit is rebuilt.
 */
export async function wsClient(): Promise<Peer> {
  const version = await wsclientHash();
  const dir = peerDir("mesh.test/wsclient", version);
  if (await isExecutable(`${dir}/wsclient`)) return { path: `${dir}/wsclient` };
  const go = await goCommand();
  if (!go) return { skip: `${NO_GO}: cannot build tests/peers/wsclient` };
  let p = builds.get(dir);
  if (!p) {
    p = buildInto(
      dir,
      ["wsclient"],
      `go build tests/peers/wsclient`,
      (tmp) => goRun(go, ["-C", WSCLIENT_DIR, "build", "-o", `${tmp}/wsclient`, "."]),
    ).then(() => dir);
    builds.set(dir, p);
    p.catch(() => builds.delete(dir));
  }
  return { path: `${await p}/wsclient` };
}

/**
 * h2load from nghttp2-client, found on the PATH as the bench runs it
 * (bench/tools/h2load.ts runs plain `h2load`); never built.
 */
export async function h2load(): Promise<Peer> {
  const path = await which("h2load");
  return path ? { path } : { skip: "h2load not installed (apt-get install -y nghttp2-client)" };
}

/** nghttpd from nghttp2-server, the reference HTTP/2 server h2spec is tried on. */
export async function nghttpd(): Promise<Peer> {
  const path = await which("nghttpd");
  return path ? { path } : { skip: "nghttpd not installed (apt-get install -y nghttp2-server)" };
}

// ---------------------------------------------------------------------------
// h2spec runs

/** What h2spec tests and how. */
export interface H2specOptions {
  host: string;
  port: number;
  /** Connect over TLS (`-t`); `insecure` skips verifying the server's certificate (`-k`). */
  tls?: boolean;
  insecure?: boolean;
  /** Seconds h2spec waits for each expected frame (`-o`). */
  timeoutS: number;
  /** Request path (`-P`). */
  path?: string;
  /** Also run the strict cases (`-S`). */
  strict?: boolean;
  /** Only these specs or cases, e.g. `["http2/5.1", "generic/1/1"]`. */
  specs?: string[];
  /** The whole run is killed after this long; default 30 s plus 2 × timeoutS per case (~150). */
  runTimeoutS?: number;
  /** The h2spec binary; default {@linkcode h2spec}'s. */
  bin?: string;
  /** A hosts file for h2spec alone ({@linkcode withHostsFile}): `host` can be a name. */
  hostsFile?: string;
}

/** One h2spec case. */
export interface H2specCase {
  /** h2spec's own id for it, usable as a spec argument: `http2/5.1.1/2`. */
  id: string;
  /** `generic`, `http2` or `hpack`. */
  spec: string;
  /** Section number, e.g. `5.1.1`, and its title. */
  section: string;
  sectionName: string;
  description: string;
  status: "passed" | "failed" | "skipped";
  /** For a failure: the requirement, what was expected and what came. */
  message?: string;
  timeS: number;
}

/** A parsed h2spec run. */
export interface H2specResult {
  cases: H2specCase[];
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** h2spec's own count line, e.g. `145 tests, 144 passed, 0 skipped, 1 failed`. */
  summary?: string;
  exitCode: number;
  /** h2spec's standard output and error. */
  output: string;
}

/** The h2spec command line for a run writing its JUnit report to `junitFile`. */
export function h2specArgs(o: H2specOptions, junitFile: string): string[] {
  const args = ["-h", o.host, "-p", String(o.port), "-o", String(o.timeoutS), "-j", junitFile];
  if (o.tls) args.push("-t");
  if (o.insecure) args.push("-k");
  if (o.path) args.push("-P", o.path);
  if (o.strict) args.push("-S");
  args.push(...(o.specs ?? []));
  return args;
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1]] = unescapeXml(m[2]);
  return out;
}

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (e[0] !== "#") return named[e.toLowerCase()];
    return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

/**
 * Requirements of failed cases from h2spec's "Failures:" listing, by case id:
 * `-> The endpoint MUST respond with a connection error of type PROTOCOL_ERROR.`
 */
export function h2specRequirements(output: string): Map<string, string> {
  const out = new Map<string, string>();
  const at = output.lastIndexOf("\nFailures:");
  if (at < 0) return out;
  let spec = "";
  let section = "";
  let last: string | undefined;
  for (const line of output.slice(at).split("\n").slice(1)) {
    if (/^\S/.test(line)) {
      spec = /^Generic/.test(line) ? "generic" : /^HPACK/.test(line) ? "hpack" : "http2";
      last = undefined;
      continue;
    }
    const sec = line.match(/^\s+(\d+(?:\.\d+)*)\.\s/);
    if (sec) {
      section = sec[1];
      continue;
    }
    const c = line.match(/^\s+(?:×|x)\s+(\d+):/);
    if (c) {
      last = `${spec}/${section}/${c[1]}`;
      continue;
    }
    const req = line.match(/^\s+->\s+(.*)$/);
    if (req && last) {
      out.set(last, req[1].trim());
      last = undefined;
    }
  }
  return out;
}

/**
 * Parses h2spec's `-j` JUnit report. h2spec writes a failure's text unescaped
 * (`<error>expected…\nactual</error>`, the last line being what came), so this
 * reads the elements with patterns rather than an XML parser. `output`, h2spec's
 * console listing, adds each failure's requirement to its message.
 */
export function parseH2specJunit(xml: string, output = ""): H2specCase[] {
  const reqs = h2specRequirements(output);
  const cases: H2specCase[] = [];
  const suites = xml.matchAll(/<testsuite\b([^>]*)>([\s\S]*?)<\/testsuite>/g);
  for (const [, sAttrs, body] of suites) {
    const s = attrs(sAttrs);
    const pkg = s.package ?? "";
    const section = s.id ?? pkg.split("/").slice(1).join("/");
    const spec = pkg.split("/")[0];
    const sectionName = (s.name ?? "").replace(/^[\d.]+\.\s*/, "");
    let n = 0;
    const tcs = body.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g);
    for (const [, cAttrs, inner = ""] of tcs) {
      const c = attrs(cAttrs);
      n++;
      const id = `${pkg}/${n}`;
      const bad = inner.match(/<(failure|error)\b[^>]*>([\s\S]*?)<\/\1>/);
      const skipped = /<skipped\b/.test(inner);
      let message: string | undefined;
      if (bad) {
        const lines = bad[2].replace(/^Expect:\n/, "").split("\n").map((l) => l.trim())
          .filter((l) => l && l !== "Actual:");
        const actual = lines.length > 1 ? lines.pop() : undefined;
        const req = reqs.get(id);
        message = (req ? `${req} ` : "") +
          (actual !== undefined
            ? `Expected: ${lines.join(" | ")}; actual: ${actual}`
            : lines.join(" "));
      }
      cases.push({
        id,
        spec,
        section,
        sectionName,
        description: c.classname ?? "",
        status: bad ? "failed" : skipped ? "skipped" : "passed",
        ...(message !== undefined ? { message } : {}),
        timeS: Number(c.time ?? 0),
      });
    }
  }
  return cases;
}

/** Runs h2spec against a server and parses its JUnit report. Throws if h2spec ran no case. */
export async function runH2spec(o: H2specOptions): Promise<H2specResult> {
  let bin = o.bin;
  if (!bin) {
    const p = await h2spec();
    if (p.path === undefined) throw new Error(`h2spec unavailable: ${p.skip}`);
    bin = p.path;
  }
  const dir = await Deno.makeTempDir({ prefix: "mesh-h2spec-" });
  try {
    const junit = `${dir}/junit.xml`;
    const bound = o.runTimeoutS ?? 30 + 2 * o.timeoutS * 150;
    const [cmd, args] = o.hostsFile
      ? withHostsFile(o.hostsFile, bin, h2specArgs(o, junit))
      : [bin, h2specArgs(o, junit)];
    const out = await run(cmd, args, { timeoutMs: bound * 1000 });
    const output = out.stdout + out.stderr;
    if (out.timedOut) throw new Error(`h2spec overran ${bound} s: ${tail(output, 3)}`);
    let xml: string;
    try {
      xml = await Deno.readTextFile(junit);
    } catch {
      throw new Error(`h2spec wrote no report (exit ${out.code}): ${tail(output, 3)}`);
    }
    const cases = parseH2specJunit(xml, output);
    if (cases.length === 0) {
      throw new Error(`h2spec ran no case (exit ${out.code}): ${tail(output, 3)}`);
    }
    const count = (s: H2specCase["status"]) => cases.filter((c) => c.status === s).length;
    const summary = output.match(/^\d+ tests, \d+ passed, \d+ skipped, \d+ failed$/m)?.[0];
    return {
      cases,
      total: cases.length,
      passed: count("passed"),
      failed: count("failed"),
      skipped: count("skipped"),
      ...(summary ? { summary } : {}),
      exitCode: out.code,
      output,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// gRPC interop runs

/** The interop cases that need only a client and the interop server. */
export const GRPC_INTEROP_CASES = [
  "empty_unary",
  "large_unary",
  "client_streaming",
  "server_streaming",
  "ping_pong",
  "empty_stream",
  "cancel_after_begin",
  "cancel_after_first_response",
  "timeout_on_sleeping_server",
  "status_code_and_message",
  "custom_metadata",
  "special_status_message",
] as const;

/** One interop client run. */
export interface GrpcInteropOptions {
  serverHost: string;
  serverPort: number;
  testCase: string;
  useTLS?: boolean;
  /** The name checked in the server's certificate (and sent as the authority). */
  serverHostOverride?: string;
  /** CA to verify the server with; with `useTLS` and none, gRPC's own test CA (testdata/ca.pem). */
  caFile?: string;
  /** The client is killed after this long; default 60 s. */
  timeoutMs?: number;
  /** The client binary; default {@linkcode grpcInterop}'s. */
  bin?: string;
  /**
   * A hosts file for the client alone (see {@linkcode withHostsFile}): `server_host` can then be
   * a service's name, which gRPC sends as the authority.
   */
  hostsFile?: string;
}

/** How an interop client run ended. */
export interface GrpcInteropResult {
  testCase: string;
  passed: boolean;
  exitCode: number;
  timedOut: boolean;
  /** The client's output (gRPC logs at info level). */
  output: string;
  /** Its last lines, or the fatal error, for a message. */
  detail: string;
}

/** The interop client's command line. */
export function grpcInteropClientArgs(o: GrpcInteropOptions): string[] {
  const args = [
    `-server_host=${o.serverHost}`,
    `-server_port=${o.serverPort}`,
    `-test_case=${o.testCase}`,
  ];
  if (o.useTLS) {
    // The client reads -ca_file only with -use_test_ca (else it trusts the system's roots).
    args.push("-use_tls=true", "-use_test_ca=true");
    if (o.caFile) args.push(`-ca_file=${o.caFile}`);
  }
  if (o.serverHostOverride) args.push(`-server_host_override=${o.serverHostOverride}`);
  return args;
}

/** gRPC-Go's logging at info level, so the interop peers say what they did. */
export const GRPC_LOG_ENV = {
  GRPC_GO_LOG_SEVERITY_LEVEL: "info",
  GRPC_GO_LOG_VERBOSITY_LEVEL: "0",
};

/** Runs one interop case with the Go interop client; passed means it exited 0. */
export async function runGrpcInteropClient(o: GrpcInteropOptions): Promise<GrpcInteropResult> {
  let bin = o.bin;
  if (!bin) {
    const p = await grpcInterop();
    if (p.client === undefined) throw new Error(`gRPC interop client unavailable: ${p.skip}`);
    bin = p.client;
  }
  const [cmd, args] = o.hostsFile
    ? withHostsFile(o.hostsFile, bin, grpcInteropClientArgs(o))
    : [bin, grpcInteropClientArgs(o)];
  const out = await run(cmd, args, { timeoutMs: o.timeoutMs ?? 60_000, env: GRPC_LOG_ENV });
  const output = out.stderr + out.stdout;
  const fatal = output.split("\n").find((l) => /FATAL|failed|Failed/.test(l) && !/INFO:/.test(l));
  return {
    testCase: o.testCase,
    passed: out.success,
    exitCode: out.code,
    timedOut: out.timedOut,
    output,
    detail: out.timedOut ? "timed out" : (fatal?.trim() ?? tail(output, 2)),
  };
}

/**
 * `cmd args` run with `hostsFile` over `/etc/hosts` in a mount namespace of its own
 * (`unshare --mount`, root only): the machine's `/etc/hosts` is untouched. A client can so
 * dial a service by name (its authority) at a loopback address.
 */
export function withHostsFile(hostsFile: string, cmd: string, args: string[]): [string, string[]] {
  return [
    "unshare",
    ["--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, cmd, ...args],
  ];
}

/** Whether {@linkcode withHostsFile} works here (`unshare --mount` needs root). */
export async function canUseHostsFile(): Promise<boolean> {
  try {
    const o = await new Deno.Command("unshare", {
      args: ["--mount", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return o.success;
  } catch {
    return false;
  }
}

/** A hosts file: this machine's `/etc/hosts` and `names` at `address`; returns its path. */
export async function hostsFileWith(
  dir: string,
  address: string,
  names: string[],
): Promise<string> {
  const base = await Deno.readTextFile("/etc/hosts").catch(() => "127.0.0.1 localhost\n");
  const path = `${dir}/hosts`;
  await Deno.writeTextFile(path, `${base.trimEnd()}\n${address} ${names.join(" ")}\n`);
  return path;
}

/** The interop server's command line; it listens on all addresses at `port` (0: any). */
export function grpcInteropServerArgs(
  o: { port?: number; tlsCert?: string; tlsKey?: string } = {},
): string[] {
  const args = [`-port=${o.port ?? 0}`];
  if (o.tlsCert && o.tlsKey) {
    args.push("-use_tls=true", `-tls_cert_file=${o.tlsCert}`, `-tls_key_file=${o.tlsKey}`);
  }
  return args;
}

/** The port in the interop server's `interop server listening on [::]:PORT` log line. */
export function grpcInteropServerPort(output: string): number | undefined {
  const m = output.match(/interop server listening on \S*:(\d+)/);
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------------------
// WebSocket client runs

/** One wsclient run. */
export interface WsClientOptions {
  url: string;
  /** HTTP proxy URL; requests go in absolute form, or through CONNECT with `proxyConnect`. */
  proxy?: string;
  proxyConnect?: boolean;
  /** Host header instead of the URL's. */
  host?: string;
  /** Messages of `size` bytes, then one of `big` bytes if set. */
  n?: number;
  size?: number;
  big?: number;
  text?: boolean;
  /** After this many messages, send half of one more and reset the connection. */
  vanishAfter?: number;
  timeoutS?: number;
  bin?: string;
}

/** wsclient's one-line result. */
export interface WsClientResult {
  ok: boolean;
  url: string;
  sent: number;
  echoed: number;
  bytes: number;
  vanished?: boolean;
  ms: number;
  error?: string;
}

/** wsclient's command line. */
export function wsClientArgs(o: WsClientOptions): string[] {
  const args = ["-url", o.url, "-timeout", `${o.timeoutS ?? 60}s`];
  if (o.proxy) args.push("-proxy", o.proxy);
  if (o.proxyConnect) args.push("-proxy-connect");
  if (o.host) args.push("-host", o.host);
  if (o.n !== undefined) args.push("-n", String(o.n));
  if (o.size !== undefined) args.push("-size", String(o.size));
  if (o.big) args.push("-big", String(o.big));
  if (o.text) args.push("-text");
  if (o.vanishAfter !== undefined) args.push("-vanish-after", String(o.vanishAfter));
  return args;
}

/** Runs wsclient once (killed 15 s past its own timeout) and parses its JSON line. */
export async function runWsClient(o: WsClientOptions): Promise<WsClientResult> {
  let bin = o.bin;
  if (!bin) {
    const p = await wsClient();
    if (p.path === undefined) throw new Error(`wsclient unavailable: ${p.skip}`);
    bin = p.path;
  }
  const out = await run(bin, wsClientArgs(o), { timeoutMs: ((o.timeoutS ?? 60) + 15) * 1000 });
  const line = out.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as WsClientResult;
  } catch {
    throw new Error(
      `wsclient ${out.timedOut ? "overran its time bound" : `exited with ${out.code}`}: ` +
        tail(out.stderr + out.stdout, 3),
    );
  }
}

/** The port in wsclient -serve's first line, `{"listening":"127.0.0.1:PORT","port":PORT}`. */
export function wsServerPort(output: string): number | undefined {
  const m = output.match(/^\{"listening":"[^"]*","port":(\d+)\}$/m);
  return m ? Number(m[1]) : undefined;
}

/** A line wsclient -serve prints as each connection ends. */
export interface WsServerConn {
  conn: number;
  host: string;
  path: string;
  messages?: number;
  bytes?: number;
  /** `closed: 1000`, or the error that ended it (a reset, for a client that vanished). */
  end: string;
}

/** The connection lines in wsclient -serve's output so far. */
export function wsServerConns(output: string): WsServerConn[] {
  return output.split("\n").filter((l) => l.startsWith('{"bytes"') || l.includes('"conn":'))
    .map((l) => JSON.parse(l) as WsServerConn);
}
