/**
 * The headers a routed request goes upstream with, before the route's own changes: its one
 * authority as `host`, hop-by-hop and framing headers dropped, the loop marker and a request
 * id added.
 *
 * @example
 * ```ts
 * upstreamHeaders(new Request("http://reviews:9080/"), "reviews:9080", { via: "p1" });
 * // [["host", "reviews:9080"], ["x-mesh-via", "p1"], ["x-request-id", "..."]]
 * ```
 * @module
 */
import { hasVerifiedXfcc } from "../listener.ts";
import { hopFilter } from "../hop_headers.ts";
import { VIA_HEADER } from "../loop.ts";
import { offeredUpgrade, upgradeHeaders } from "../upgrade.ts";

/** How a request's headers go upstream. */
export interface UpstreamHeaderOptions {
  /** An `x-request-id` the proxy made up (sent when the client sent none). */
  requestId?: string;
  /** The client isn't trusted with Envoy's `x-envoy-*` headers (a gateway's clients). */
  untrusted?: boolean;
  /** The `x-mesh-via` value to send (this proxy's id appended; loop detection). */
  via?: string;
}

/**
 * Headers to send upstream: `host` is the request's one authority (absolute-form's wins over
 * the client's `Host`; a route's authority rewrite replaces it); hop-by-hop headers and those
 * `Connection` names, framing, client-sent XFCC (an XFCC a MUTUAL gateway listener set from a
 * verified client certificate is kept) and, from untrusted clients, `x-envoy-*` are dropped.
 */
export function upstreamHeaders(
  req: Request,
  authority: string,
  opts: UpstreamHeaderOptions = {},
): [string, string][] {
  const out: [string, string][] = [];
  let hasRequestId = false;
  const keepXfcc = hasVerifiedXfcc(req);
  const connection = req.headers.get("connection");
  const drop = hopFilter(connection === null ? [] : [connection], opts.untrusted === true);
  req.headers.forEach((v, k) => {
    if (drop(k) || k === "content-length" || k === "host" || k === VIA_HEADER) return;
    if (k === "x-forwarded-client-cert" && !keepXfcc) return;
    if (k === "expect") return; // the client's 100-continue is answered by the listener
    if (k === "x-request-id") hasRequestId = true;
    out.push([k, v]);
  });
  out.push(["host", authority]);
  const upgrade = offeredUpgrade(req); // the one hop-by-hop exchange that goes on (upgrade.ts)
  if (upgrade) out.push(...upgradeHeaders(upgrade));
  if (opts.via) out.push([VIA_HEADER, opts.via]);
  if (!hasRequestId) out.push(["x-request-id", opts.requestId ?? crypto.randomUUID()]);
  return out;
}
