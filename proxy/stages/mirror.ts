/**
 * Request mirroring (VirtualService `mirror`/`mirrors`): copies of a request go to the mirror
 * clusters, each for its share of requests, with `-shadow` on the authority, as Envoy's;
 * nothing waits for them, and their answers and failures are dropped.
 *
 * @example
 * ```ts
 * mirror({ endpoints, balancer }, { mirrors: route.mirrors, method, path, headers, body });
 * ```
 * @module
 */
import type { Balancer } from "../balancer.ts";
import { originationOf } from "../runtime.ts";
import { faultHits, shadowAuthority } from "../route_actions.ts";
import type { EndpointClient } from "./endpoint.ts";

/** How long a mirrored request may take before it is dropped. */
export const MIRROR_TIMEOUT_MS = 15_000;

/** Where mirrored requests go. */
export interface MirrorContext {
  endpoints: EndpointClient;
  balancer(name: string): Balancer | undefined;
  random?: () => number;
}

/** One request to mirror (its body whole: a streamed one isn't mirrored). */
export interface MirrorRequest {
  mirrors: { cluster: string; percent: number }[];
  method: string;
  path: string;
  headers: [string, string][];
  body: Uint8Array | null;
}

/** Sends the copies without waiting. */
export function mirror(ctx: MirrorContext, r: MirrorRequest): void {
  const random = ctx.random ?? Math.random;
  for (const m of r.mirrors) {
    if (!faultHits(m.percent, random)) continue;
    const lb = ctx.balancer(m.cluster);
    const ep = lb?.pick(random());
    if (!ep || !lb) continue;
    const headers = r.headers.map(([k, v]): [string, string] =>
      k === "host" ? [k, shadowAuthority(v)] : [k, v]
    );
    // Bounded, so a shadow that never answers holds nothing for long.
    ctx.endpoints.send(
      { method: r.method, path: r.path, headers, body: r.body, length: r.body?.length },
      { endpoint: ep, origination: originationOf(lb.cluster) },
      AbortSignal.timeout(MIRROR_TIMEOUT_MS),
    )
      .then((res) => res.full ? undefined : res.body.cancel())
      .catch(() => {});
  }
}
