/**
 * The validating admission webhook (Istio's `istiod` validation): the API server sends an
 * `AdmissionReview` (admission.k8s.io/v1) for each create or update of an Istio resource, and
 * the answer allows it or denies it with the same diagnostics `mesh validate` prints (field
 * path and message); warnings ride along as the review's `warnings` (kubectl prints them).
 * Deletes, and kinds mesh doesn't read, are allowed: the webhook refuses only what mesh would
 * refuse to serve.
 *
 * @example
 * ```ts
 * const answer = reviewAdmission(JSON.parse(body));
 * answer.response.allowed; // false for an invalid VirtualService
 * ```
 * @module
 */
import type { Diagnostic } from "../api/diagnostic.ts";
import { kindOf } from "../api/kinds.ts";
import { validateResource } from "../api/resources.ts";

/** The largest review body read (the API server's own limit on objects is ~3 MiB). */
export const MAX_REVIEW_BYTES = 6 * 1024 * 1024;

/** The request part of an AdmissionReview, as far as mesh reads it. */
interface ReviewRequest {
  uid?: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
}

/** An AdmissionReview answer. */
export interface AdmissionAnswer {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; reason?: string };
    warnings?: string[];
  };
}

/** Kubernetes keeps at most this many warnings, each at most this long. */
const MAX_WARNINGS = 30;
const MAX_WARNING_CHARS = 256;

function line(d: Diagnostic): string {
  return d.path ? `${d.path}: ${d.message}` : d.message;
}

/** Answers one AdmissionReview; never throws (a review it can't read is denied, saying why). */
export function reviewAdmission(review: unknown): AdmissionAnswer {
  const req = (review as { request?: ReviewRequest } | undefined)?.request;
  const uid = typeof req?.uid === "string" ? req.uid : "";
  const answer = (allowed: boolean, extra: Partial<AdmissionAnswer["response"]> = {}) => ({
    apiVersion: "admission.k8s.io/v1" as const,
    kind: "AdmissionReview" as const,
    response: { uid, allowed, ...extra },
  });
  if (!req || !uid) {
    return answer(false, {
      status: {
        code: 400,
        message: "not an admission.k8s.io/v1 AdmissionReview with a request uid",
      },
    });
  }
  if (req.operation !== "CREATE" && req.operation !== "UPDATE") return answer(true);
  const group = req.kind?.group ?? "";
  const kind = req.kind?.kind ?? "";
  if (!kindOf(group, kind)) return answer(true);
  const obj = req.object as Record<string, unknown> | undefined;
  if (!obj || typeof obj !== "object") {
    return answer(false, { status: { code: 400, message: "the review carries no object" } });
  }
  const meta = (obj.metadata ?? {}) as Record<string, unknown>;
  const doc = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      ...meta,
      ...(meta.namespace === undefined && req.namespace ? { namespace: req.namespace } : {}),
      // A generateName'd object has no name yet; validate it under a stand-in.
      ...(meta.name === undefined ? { name: req.name || "generated" } : {}),
    },
    spec: obj.spec,
  };
  const r = validateResource(doc, {
    file: `${kind} ${req.namespace ?? ""}/${req.name ?? meta.name ?? ""}`,
    line: 1,
  });
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  const warnings = r.diagnostics.filter((d) => d.severity === "warning")
    .slice(0, MAX_WARNINGS)
    .map((d) => line(d).slice(0, MAX_WARNING_CHARS));
  const w = warnings.length ? { warnings } : {};
  if (errors.length) {
    return answer(false, {
      status: {
        code: 400,
        reason: "Invalid",
        message: `${kind} ${doc.metadata.namespace ?? ""}/${doc.metadata.name}: ` +
          errors.map(line).join("; "),
      },
      ...w,
    });
  }
  return answer(true, w);
}
