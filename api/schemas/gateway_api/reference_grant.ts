/**
 * The Gateway API's ReferenceGrant: lets objects of some kinds in another namespace refer to
 * objects of this namespace (routes to Services, Gateways to Secrets).
 * @module
 */

import { z } from "zod";
import type { CheckContext, Reporter } from "../common.ts";
import { group, kind, namespace, objectName } from "./common.ts";

/** The `spec` schema of a ReferenceGrant. */
export const referenceGrantSpec = z.strictObject({
  from: z.array(z.strictObject({ group, kind, namespace }))
    .min(1, { error: "from needs at least one entry" }).max(16, { error: "at most 16 from" }),
  to: z.array(z.strictObject({ group, kind, name: objectName.optional() }))
    .min(1, { error: "to needs at least one entry" }).max(16, { error: "at most 16 to" }),
});
/** `spec` of a ReferenceGrant. */
export type ReferenceGrantSpec = z.infer<typeof referenceGrantSpec>;

/** ReferenceGrant has no rules beyond its schema. */
export function checkReferenceGrant(_spec: ReferenceGrantSpec, _r: Reporter, _ctx: CheckContext) {}
