/**
 * What every proxy pair under test offers the bench: where the client
 * connects for each kind of traffic, the proxy processes to measure, and a
 * way to stop it all.
 * @module
 */

/** A kind of traffic the pair can't carry, and why. */
export interface Unsupported {
  unsupported: string;
  /** A target to try anyway, so the row records what a client actually sees. */
  probe?: string;
}

/** Where to send one kind of traffic to proxy A (or straight to the app). */
export interface Endpoint {
  /** http(s) URL, host:port for gRPC, tcp://host:port for TCP, ws:// URL for WebSocket. */
  target: string;
  /** `Name: value` headers the client must send (e.g. the mesh's `Host`). */
  headers: string[];
  /** Processes to measure for this traffic, by name, when not the pair's own. */
  proxies?: Record<string, number>;
  /** Why this is expected to fail, if it is; recorded with the observed error. */
  expectedFailure?: string;
}

/** The backends the pairs forward to. */
export interface Backends {
  /** bench/app.ts: HTTP/1.1 (and h2c), 1 KiB body. */
  http: number;
  /** fortio's gRPC ping server, when fortio is available. */
  grpc?: number;
  /** fortio's TCP echo server, when fortio is available. */
  tcp?: number;
  /** tests/peers/wsclient's echo server (`-serve`), when Go could build it. */
  ws?: number;
}

/** A running pair: client → proxy A → mTLS → proxy B → app. */
export interface Pair {
  name: "nginx" | "haproxy" | "mesh";
  /** proxy-a and proxy-b, by pid (master pid for nginx; descendants are counted). */
  proxies: Record<string, number>;
  /** HTTP/1.1 from the client. */
  http: Endpoint;
  /** HTTP/2 with prior knowledge (h2c) from the client; HTTP/1.1 between the proxies. */
  h2: Endpoint | Unsupported;
  /** h2c from the client and HTTP/2 over mTLS between the proxies (HTTP/1.1 to the app). */
  h2Upgrade?: Endpoint | Unsupported;
  /** gRPC (HTTP/2 end to end). */
  grpc: Endpoint | Unsupported;
  /** Raw TCP, mTLS between the proxies. */
  tcp: Endpoint | Unsupported;
  /** WebSocket echo (ws:// URL), mTLS between the proxies. */
  ws?: Endpoint | Unsupported;
  /** How the pair is set up, recorded in the results. */
  settings: Record<string, unknown>;
  /** Recent output of the pair's processes, for error messages. */
  output(): string;
  close(): Promise<void>;
}

/** True when `x` says the traffic isn't supported. */
export function isUnsupported(x: Endpoint | Unsupported): x is Unsupported {
  return "unsupported" in x;
}
