import assert from "node:assert/strict";
import { reviewAdmission } from "./admission.ts";

const review = (
  object: unknown,
  o: { operation?: string; kind?: string; group?: string } = {},
) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "u-1",
    kind: {
      group: o.group ?? "networking.istio.io",
      version: "v1",
      kind: o.kind ?? "VirtualService",
    },
    operation: o.operation ?? "CREATE",
    namespace: "default",
    name: "reviews",
    object,
  },
});

const vs = (spec: unknown) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "reviews", namespace: "default", uid: "x", managedFields: [] },
  spec,
});

Deno.test("admission: a valid VirtualService is allowed, an invalid one denied naming the field", () => {
  const ok = reviewAdmission(
    review(vs({ hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews" } }] }] })),
  );
  assert.deepEqual(ok, {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: "u-1", allowed: true },
  });
  const bad = reviewAdmission(
    review(
      vs({
        hosts: ["reviews"],
        http: [{ route: [{ destination: { host: "reviews" }, weight: -1 }] }],
      }),
    ),
  );
  assert.equal(bad.response.uid, "u-1");
  assert.equal(bad.response.allowed, false);
  assert.equal(bad.response.status?.code, 400);
  assert.match(
    bad.response.status?.message ?? "",
    /^VirtualService default\/reviews: spec\.http\[0\]\.route\[0\]\.weight/,
  );
  const unknown = reviewAdmission(review(vs({ hosts: ["reviews"], htp: [] })));
  assert.match(unknown.response.status?.message ?? "", /unknown field "htp"/);
});

Deno.test("admission: warnings ride along; deletes and kinds mesh doesn't read are allowed", () => {
  const warned = reviewAdmission(review(vs({
    hosts: ["reviews"],
    http: [{ match: [{ statPrefix: "x" }], route: [{ destination: { host: "reviews" } }] }],
  })));
  assert.equal(warned.response.allowed, true);
  assert.ok((warned.response.warnings ?? []).length >= 1);
  assert.equal(reviewAdmission(review(undefined, { operation: "DELETE" })).response.allowed, true);
  assert.equal(
    reviewAdmission(review({ spec: { x: 1 } }, { group: "apps", kind: "Deployment" })).response
      .allowed,
    true,
  );
  const broken = reviewAdmission({ nope: true });
  assert.equal(broken.response.allowed, false);
  assert.match(
    broken.response.status?.message ?? "",
    /not an admission\.k8s\.io\/v1 AdmissionReview/,
  );
});
