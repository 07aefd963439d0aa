/**
 * Which protocol an upstream port speaks, as Istio selects it: the port's `protocol` when
 * given (case-insensitive), else the prefix of its name (`grpc-api`, `http2`), else an
 * `appProtocol` (`grpc`, `http2`, `kubernetes.io/h2c`). `GRPC` and `HTTP2` are HTTP/2;
 * `GRPC-WEB` is HTTP/1.1 (Istio serves it as HTTP). The proxy uses HTTP/2 only to endpoints
 * outside the mesh (`proxy/stages/concrete.ts`).
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

/** Whether the port speaks HTTP/2 (gRPC or HTTP/2). */
export function speaksHttp2(p: PortProtocolHints): boolean {
  if (p.protocol) return HTTP2.has(p.protocol.toUpperCase());
  const prefix = p.name?.split("-")[0];
  if (prefix) {
    const up = prefix.toUpperCase();
    if (HTTP2.has(up)) return true;
    // A name with a known protocol prefix decides; otherwise appProtocol may.
    if (["HTTP", "HTTPS", "TCP", "TLS", "MONGO", "REDIS", "MYSQL", "GRPC-WEB"].includes(up)) {
      return false;
    }
  }
  return p.appProtocol ? HTTP2.has(p.appProtocol.toUpperCase()) : false;
}
