/**
 * A gateway HTTPS listener with client certificates (Gateway `tls.mode: MUTUAL`): a
 * `node:tls` listener with mesh's own HTTP/1.1 server loop, handing each request to the same
 * routed handler the other gateway listeners use. As Istio's gateway does, the client
 * certificate's details reach the upstream in `x-forwarded-client-cert`
 * (`Hash=...;Subject="...";URI=...;DNS=...`), and a client-sent one is replaced.
 *
 * Every routed listener is now `listener.ts`'s; this module keeps the MUTUAL entry points.
 * @module
 */
import {
  hasVerifiedXfcc,
  type ListenerLimits,
  type ServeHandler,
  serveHttp,
  xfccFor,
} from "./listener.ts";

export { hasVerifiedXfcc, xfccFor };

/** Serving material of a MUTUAL gateway server: its certificate and the client CAs. */
export interface MutualTls {
  cert: string;
  key: string;
  /** CAs that client certificates must chain to. */
  ca: string;
}

/**
 * Starts a MUTUAL TLS listener on `address:port` whose requests go to `handler` (a
 * `Deno.serve`-style handler); resolves once listening, with a shutdown function.
 */
export function serveMutualTls(
  address: string,
  port: number,
  material: MutualTls,
  handler: ServeHandler,
  limits?: ListenerLimits,
): Promise<{ shutdown(): Promise<void> }> {
  return serveHttp({
    name: `gateway:${port}`,
    hostname: address,
    port,
    handler,
    tls: material,
    limits,
  });
}
