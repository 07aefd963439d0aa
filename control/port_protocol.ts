/**
 * Which protocol an upstream port speaks, as Istio selects it: the port's `protocol` when
 * given (case-insensitive), else the prefix of its name (`grpc-api`, `http2`), else an
 * `appProtocol` (`grpc`, `http2`, `kubernetes.io/h2c`). `GRPC` and `HTTP2` are HTTP/2;
 * `GRPC-WEB` is HTTP/1.1 (Istio serves it as HTTP). A port that declares nothing (no
 * `protocol`, no known name prefix, no `appProtocol`) is auto-detected by Istio: its proxies
 * speak to it what the client spoke ({@linkcode declaresProtocol} is false).
 *
 * @example
 * ```ts
 * speaksHttp2({ protocol: "GRPC", name: "api" }); // true
 * speaksHttp2({ name: "grpc-api" }); // true
 * speaksHttp2({ protocol: "HTTP", name: "grpc" }); // false: the protocol field wins
 * ```
 * @module
 */

/** What a port says about its protocol. */
export interface PortProtocolHints {
  protocol?: string;
  name?: string;
  appProtocol?: string;
}

const HTTP2 = new Set(["GRPC", "HTTP2", "KUBERNETES.IO/H2C"]);
/** Name prefixes Istio reads as a protocol (besides the HTTP/2 ones). */
const KNOWN_PREFIXES = new Set([
  "HTTP",
  "HTTPS",
  "TCP",
  "TLS",
  "MONGO",
  "REDIS",
  "MYSQL",
  "GRPC-WEB",
  "UDP",
]);

/** Whether the port speaks HTTP/2 (gRPC or HTTP/2). */
export function speaksHttp2(p: PortProtocolHints): boolean {
  if (p.protocol) return HTTP2.has(p.protocol.toUpperCase());
  const prefix = p.name?.split("-")[0];
  if (prefix) {
    const up = prefix.toUpperCase();
    if (HTTP2.has(up)) return true;
    // A name with a known protocol prefix decides; otherwise appProtocol may.
    if (KNOWN_PREFIXES.has(up)) return false;
  }
  return p.appProtocol ? HTTP2.has(p.appProtocol.toUpperCase()) : false;
}

/**
 * Whether the port declares its protocol (field, known name prefix, or `appProtocol`); one
 * that doesn't is auto-detected, and proxies keep the client's HTTP version to it.
 */
export function declaresProtocol(p: PortProtocolHints): boolean {
  if (p.protocol || p.appProtocol) return true;
  const prefix = p.name?.split("-")[0]?.toUpperCase();
  return prefix !== undefined && (HTTP2.has(prefix) || KNOWN_PREFIXES.has(prefix));
}
