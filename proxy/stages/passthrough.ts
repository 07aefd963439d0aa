/**
 * What a routed listener does with a request for a host no virtual host covers: the
 * sidecar's outbound listeners send it straight to the host it names when the mesh allows
 * (`outboundTrafficPolicy: ALLOW_ANY`, Istio's PassthroughCluster), and refuse it otherwise
 * (BlackHoleCluster, 502); a gateway has no catch-all (404).
 *
 * @example
 * ```ts
 * const fallback = passthroughOrBlackHole(endpoints); // sidecar outbound
 * const gateway = blackHole(404);
 * ```
 * @module
 */
import { clientGone } from "../client_gone.ts";
import type { Endpoint } from "../../api/proxy_config.ts";
import type { Runtime } from "../runtime.ts";
import { isOwnListener } from "../loop.ts";
import { acceptUpgrade } from "../upgrade.ts";
import type { EndpointClient } from "./endpoint.ts";
import { responseOf } from "./endpoint.ts";
import type { LogicalRequest } from "./logical.ts";
import { upstreamHeaders } from "./upstream_headers.ts";

/** What a listener answers for a request no virtual host covers. */
export type Fallback = (lr: LogicalRequest, rt: Runtime) => Promise<Response> | Response;

/** Refuses with `status` (BlackHoleCluster, `NR`). */
export function blackHole(status: 404 | 502): Fallback {
  return (lr) => {
    lr.ex.service = lr.ex.cluster = "BlackHoleCluster";
    return lr.ex.fail({ kind: "no_route", status });
  };
}

/** The sidecar's: PassthroughCluster under ALLOW_ANY, else BlackHoleCluster (502). */
export function passthroughOrBlackHole(endpoints: EndpointClient): Fallback {
  const refuse = blackHole(502);
  return (lr, rt) =>
    rt.config.outboundTrafficPolicy === "ALLOW_ANY" ? passthrough(endpoints, lr) : refuse(lr, rt);
}

/**
 * Sends the request once to the host and port it names (no route, so no retries, timeout or
 * balancing); this proxy's own listeners are never a target (loop detection by address).
 */
export async function passthrough(
  endpoints: EndpointClient,
  lr: LogicalRequest,
): Promise<Response> {
  const ex = lr.ex;
  const req = ex.req;
  ex.service = ex.cluster = "PassthroughCluster";
  const address = lr.host.replace(/^\[|\]$/g, "");
  const ep: Endpoint = { address, port: lr.port, mtls: false, labels: {} };
  if (isOwnListener(address, lr.port, lr.ownPorts)) {
    return ex.fail({ kind: "loop", why: `${lr.authority} is this proxy's own listener` }, ep);
  }
  const cl = req.headers.get("content-length");
  try {
    const res = await endpoints.send(
      {
        method: req.method,
        path: lr.path,
        headers: upstreamHeaders(req, lr.authority, { requestId: ex.requestId, via: lr.via }),
        body: req.body,
        length: cl !== null ? Number(cl) : undefined,
      },
      { endpoint: ep },
      clientGone(req),
    );
    ex.finish(res.status, { ep });
    if (res.upgrade) return acceptUpgrade(req, { ...res, upgrade: res.upgrade });
    return await responseOf(res);
  } catch (err) {
    if (clientGone(req).aborted) return ex.fail({ kind: "downstream_reset" }, ep);
    return ex.fail({ kind: "unreachable", detail: (err as Error).message }, ep);
  }
}
