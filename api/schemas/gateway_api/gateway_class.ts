/**
 * The Gateway API's GatewayClass (cluster-scoped): which controller handles the Gateways of a
 * class. Istio handles classes whose `controllerName` is `istio.io/gateway-controller` (the
 * built-in `istio` class among them).
 * @module
 */

import { z } from "zod";
import type { CheckContext, Reporter } from "../common.ts";
import { formatString, group, kind, namespace, objectName } from "./common.ts";

/** The `spec` schema of a GatewayClass. */
export const gatewayClassSpec = z.strictObject({
  controllerName: formatString({
    min: 1,
    max: 253,
    re:
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/,
    what: "controllerName",
    hint: "write a domain-prefixed path like istio.io/gateway-controller",
  }),
  description: z.string().max(64, { error: "description is limited to 64 characters" })
    .optional(),
  parametersRef: z.strictObject({
    group,
    kind,
    name: objectName,
    namespace: namespace.optional(),
  }).optional(),
});
/** `spec` of a GatewayClass. */
export type GatewayClassSpec = z.infer<typeof gatewayClassSpec>;

/** GatewayClass has no rules beyond its schema. */
export function checkGatewayClass(_spec: GatewayClassSpec, _r: Reporter, _ctx: CheckContext) {}
