/**
 * Lightweight simulated sidecars for the push benchmark (bench/push.ts): each is one push stream
 * (proxy/push_stream.ts, mesh's own HTTP/2 client) that says hello like a real sidecar, acks every
 * config or push message at once and records when it received what, and how many bytes. Nothing
 * is compiled or served. Certificates are issued once per service account (the way the proxy gets
 * its own: a CSR to `POST /v1/certificates` with a bootstrap token) and shared by that account's
 * clients.
 *
 * Lines are read cheaply: the revision (`version`) and nonce from the line's head, the parts'
 * versions by a regex when every part object starts with its version, else by `JSON.parse`.
 * @module
 */
import { createCsr } from "../ca/csr.ts";
import { openPushStream, type PushStream } from "../proxy/push_stream.ts";

/** A certificate for one service account. */
export interface SimIdentity {
  serviceAccount: string;
  keyPem: string;
  certChainPem: string;
  rootsPem: string;
}

/** Gets a certificate for `spiffe://<trustDomain>/ns/<ns>/sa/<sa>` with a bootstrap token. */
export async function issueIdentity(opts: {
  port: number;
  rootPem: string;
  token: string;
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}): Promise<SimIdentity> {
  const spiffe = `spiffe://${opts.trustDomain}/ns/${opts.namespace}/sa/${opts.serviceAccount}`;
  const { keyPem, csrPem } = await createCsr(spiffe);
  const client = Deno.createHttpClient({ caCerts: [opts.rootPem] });
  try {
    const res = await fetch(`https://127.0.0.1:${opts.port}/v1/certificates`, {
      method: "POST",
      client,
      headers: { "content-type": "application/json", authorization: `Bearer ${opts.token}` },
      body: JSON.stringify({ csr: csrPem }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`certificate request refused (${res.status}): ${text}`);
    const { certChain, roots } = JSON.parse(text);
    return {
      serviceAccount: opts.serviceAccount,
      keyPem,
      certChainPem: certChain,
      rootsPem: roots,
    };
  } finally {
    client.close();
  }
}

const PART_NAMES = "secrets|listeners|routes|clusters|endpoints|policies";
const PART_OPEN = new RegExp(`"(?:${PART_NAMES})":\\{`, "g");
const PART_VERSION = new RegExp(`"(${PART_NAMES})":\\{"version":"([^"]*)"`, "g");
const HEAD_TYPE = /^\{"type":"(\w+)"/;
const HEAD_NONCE = /"nonce":"([^"]*)"/;
const HEAD_VERSION = /"version":"(\d+)"/;

/** What one message line says, as far as the simulator cares. */
export interface Parsed {
  type: string;
  /** The snapshot revision (NaN when absent). */
  version: number;
  /** The ack to send, or undefined. */
  ack?: string;
}

/** Reads a line from the control plane; exported for tests. */
export function parseLine(line: string): Parsed {
  const head = line.length > 400 ? line.slice(0, 400) : line;
  const type = HEAD_TYPE.exec(head)?.[1] ?? "";
  if (type === "config") {
    const v = HEAD_VERSION.exec(head)?.[1];
    if (v === undefined) {
      // Not where generate.ts puts it: parse the whole thing.
      const msg = JSON.parse(line);
      const version = String(msg.config?.version ?? "");
      return {
        type,
        version: Number(version),
        ack: JSON.stringify({ type: "ack", version }) + "\n",
      };
    }
    return { type, version: Number(v), ack: `{"type":"ack","version":"${v}"}\n` };
  }
  if (type === "push") {
    const nonce = HEAD_NONCE.exec(head)?.[1];
    const v = HEAD_VERSION.exec(head)?.[1];
    const parts: Record<string, string> = {};
    let found = 0;
    PART_VERSION.lastIndex = 0;
    for (let m = PART_VERSION.exec(line); m; m = PART_VERSION.exec(line)) {
      parts[m[1]] = m[2];
      found++;
    }
    const opened = line.match(PART_OPEN)?.length ?? 0;
    if (nonce === undefined || v === undefined || opened !== found) {
      const msg = JSON.parse(line);
      const exact: Record<string, string> = {};
      for (const [k, p] of Object.entries(msg.parts ?? {})) {
        exact[k] = String((p as { version?: unknown }).version);
      }
      return {
        type,
        version: Number(msg.version),
        ack: JSON.stringify({ type: "ack", nonce: msg.nonce, parts: exact }) + "\n",
      };
    }
    return {
      type,
      version: Number(v),
      ack: JSON.stringify({ type: "ack", nonce, parts }) + "\n",
    };
  }
  return { type, version: NaN };
}

/** One simulated sidecar. */
export interface SimClient {
  index: number;
  stream?: PushStream;
  /** performance.now() when opened / when its first config was acked (NaN until then). */
  openedAt: number;
  firstAckAt: number;
  /** Highest revision received so far. */
  version: number;
  messages: number;
  bytes: number;
  /** Set while a change is being watched: when a message at ≥ the target revision came. */
  reachedAt: number;
  /** When `version` was reached. */
  versionAt: number;
  /** Bytes received since the change was made (keepalives aside). */
  changeBytes: number;
  /** Why its stream ended, if it did. */
  ended?: string;
  errors: number;
}

/** N simulated sidecars against one control plane. */
export class SimFleet {
  readonly clients: SimClient[] = [];
  /** The revision a change is being watched for (Infinity when none). */
  #target = Infinity;
  #reached = 0;
  #firstAcks = 0;
  #waiters: Array<() => void> = [];
  nonJsonLines = 0;
  /** performance.now() of the last line other than a keepalive, on any client. */
  lastRxAt = 0;
  /** The first message kind seen (`config` or `push`). */
  protocol?: string;

  constructor(
    readonly opts: {
      port: number;
      identities: SimIdentity[];
      namespace: string;
      /** Connections being opened at once. */
      inFlight: number;
    },
  ) {}

  get firstAcks(): number {
    return this.#firstAcks;
  }
  get reached(): number {
    return this.#reached;
  }
  #notify(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  /** Waits until `done()` or `timeoutMs`; returns whether it got there. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  #onLine(c: SimClient, line: string): void {
    const now = performance.now();
    c.bytes += line.length + 1;
    if (line.length < 40 && line.includes('"keepalive"')) return;
    this.lastRxAt = now;
    if (this.#target !== Infinity) c.changeBytes += line.length + 1;
    let p: Parsed;
    try {
      p = parseLine(line);
    } catch {
      this.nonJsonLines++;
      return;
    }
    if (p.type === "error") {
      c.errors++;
      return;
    }
    if (!p.ack) return;
    c.stream?.send(p.ack);
    c.messages++;
    this.protocol ??= p.type;
    if (p.version > c.version || c.version !== c.version) {
      c.version = p.version;
      c.versionAt = now;
    }
    let wake = false;
    if (c.firstAckAt !== c.firstAckAt) {
      c.firstAckAt = now;
      this.#firstAcks++;
      wake = true;
    }
    if (c.reachedAt !== c.reachedAt && p.version >= this.#target) {
      c.reachedAt = now;
      this.#reached++;
      wake = true;
    }
    if (wake) this.#notify();
  }

  #hello(i: number, sa: string): string {
    const ip = `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const app = sa.replace(/^sa-/, "svc-");
    return JSON.stringify({
      type: "hello",
      protocol: 2,
      node: {
        id: `sidecar~${ip}~sim-${i}.${this.opts.namespace}`,
        mode: "sidecar",
        namespace: this.opts.namespace,
        serviceAccount: sa,
        labels: { app },
        address: ip,
        inboundPort: 15006,
        appPort: 9080,
        workloadName: `sim-${i}`,
      },
    }) + "\n";
  }

  /** Opens `n` clients, at most `inFlight` connecting at once; resolves when all were started. */
  async connect(n: number): Promise<void> {
    let next = 0;
    const ids = this.opts.identities;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const id = ids[i % ids.length];
        const c: SimClient = {
          index: i,
          openedAt: NaN,
          firstAckAt: NaN,
          version: NaN,
          versionAt: NaN,
          messages: 0,
          bytes: 0,
          reachedAt: NaN,
          changeBytes: 0,
          errors: 0,
        };
        this.clients.push(c);
        await new Promise<void>((resolve) => {
          const s = openPushStream({
            host: "127.0.0.1",
            port: this.opts.port,
            authority: `127.0.0.1:${this.opts.port}`,
            tls: { ca: id.rootsPem, key: id.keyPem, cert: id.certChainPem },
            first: this.#hello(i, id.serviceAccount),
            onOpen: () => {
              c.openedAt = performance.now();
              resolve();
            },
            onLine: (line) => this.#onLine(c, line),
          });
          c.stream = s;
          s.done.then((end) => {
            c.ended = end.reason.message;
            resolve();
            this.#notify();
          });
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.inFlight, n) }, worker));
  }

  /**
   * Starts watching for revision `target` (after {@linkcode arm}): a client already there got
   * it when it reached its current version.
   */
  watch(target: number): void {
    for (const c of this.clients) c.reachedAt = c.version >= target ? c.versionAt : NaN;
    this.#reached = this.clients.filter((c) => c.reachedAt === c.reachedAt).length;
    this.#target = target;
  }

  /** Starts counting bytes for a change before its revision is known. */
  arm(): void {
    for (const c of this.clients) {
      c.changeBytes = 0;
      c.reachedAt = NaN;
    }
    this.#reached = 0;
    this.#target = Number.MAX_SAFE_INTEGER;
  }

  /** Stops watching. */
  unwatch(): void {
    this.#target = Infinity;
  }

  /** Highest revision every client has (NaN when one has none). */
  minVersion(): number {
    let m = Infinity;
    for (const c of this.clients) {
      if (c.ended) continue;
      if (c.version !== c.version) return NaN;
      m = Math.min(m, c.version);
    }
    return m;
  }

  /** Closes every stream; waits (bounded) for them to end. */
  async close(timeoutMs = 10_000): Promise<void> {
    for (const c of this.clients) c.stream?.close("bench done");
    await Promise.race([
      Promise.all(this.clients.map((c) => c.stream?.done)),
      new Promise((r) => setTimeout(r, timeoutMs)),
    ]);
  }
}

/** Measures how late the event loop runs timers (the simulator being busy). */
export class LoopLag {
  #timer: ReturnType<typeof setInterval>;
  #last = performance.now();
  maxMs = 0;
  sumMs = 0;
  ticks = 0;
  constructor(readonly intervalMs = 20) {
    this.#timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.#last - intervalMs);
      this.#last = now;
      this.maxMs = Math.max(this.maxMs, lag);
      this.sumMs += lag;
      this.ticks++;
    }, intervalMs);
  }
  reset(): void {
    this.maxMs = 0;
    this.sumMs = 0;
    this.ticks = 0;
    this.#last = performance.now();
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}
