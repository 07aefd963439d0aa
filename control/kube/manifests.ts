/**
 * The Kubernetes objects `mesh install webhooks` and `mesh install rbac` print: the
 * ValidatingWebhookConfiguration that sends Istio resources to the control plane's `/validate`
 * (`control/admission.ts`), and the least-privilege ServiceAccount, ClusterRole and binding the
 * control plane runs with.
 *
 * The role reads (get, list, watch) what the control plane reads: every Istio kind mesh knows,
 * Services, EndpointSlices, Pods and Namespaces, and (a Role in its own namespace) the mesh
 * ConfigMap; it writes only resources' `status`
 * (`--write-status`). `writable` adds create, update, patch and delete on the Istio kinds, for
 * `mesh apply` and `mesh delete` through the control plane's admin API.
 *
 * @example
 * ```ts
 * webhookConfiguration({ caBundlePem: root, url: "https://127.0.0.1:15012/validate" });
 * rbacObjects({ namespace: "istio-system", serviceAccount: "mesh-control" });
 * ```
 * @module
 */
import { KIND_INFO, KINDS, MESH } from "../../api/kinds.ts";

/** The webhook's name (what kubectl's refusal names). */
export const WEBHOOK_NAME = "validation.mesh.dev";

/** Where the API server reaches the webhook. */
export type WebhookTarget =
  | { url: string }
  | { service: { namespace: string; name: string; port: number } };

/** The ValidatingWebhookConfiguration for the control plane's `/validate`. */
export function webhookConfiguration(
  o: { caBundlePem: string; name?: string; failurePolicy?: "Fail" | "Ignore" } & WebhookTarget,
): Record<string, unknown> {
  const groups = [
    ...new Set(KINDS.map((k) => KIND_INFO[k].group).filter((g) => g.endsWith("istio.io"))),
  ];
  const clientConfig: Record<string, unknown> = {
    caBundle: btoa(o.caBundlePem),
    ...("url" in o ? { url: o.url } : { service: { ...o.service, path: "/validate" } }),
  };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: o.name ?? "mesh-validator", labels: { app: "mesh" } },
    webhooks: [{
      name: WEBHOOK_NAME,
      clientConfig,
      rules: [{
        operations: ["CREATE", "UPDATE"],
        apiGroups: groups,
        apiVersions: ["*"],
        resources: ["*"],
        scope: "*",
      }],
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: o.failurePolicy ?? "Fail",
      matchPolicy: "Equivalent",
      timeoutSeconds: 10,
    }],
  };
}

/** The resources of each Istio group mesh reads, for RBAC rules. */
function istioResources(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const k of KINDS) {
    const { group, plural } = KIND_INFO[k];
    if (group === MESH) continue;
    out.set(group, [...(out.get(group) ?? []), plural]);
  }
  return out;
}

/** The control plane's ServiceAccount, ClusterRole and ClusterRoleBinding. */
export function rbacObjects(
  o: { namespace: string; serviceAccount: string; writable?: boolean },
): Record<string, unknown>[] {
  const name = `mesh-control-${o.namespace}`;
  const read = ["get", "list", "watch"];
  const rules: Record<string, unknown>[] = [];
  for (const [group, plural] of istioResources()) {
    rules.push({
      apiGroups: [group],
      resources: plural,
      verbs: o.writable ? [...read, "create", "update", "patch", "delete"] : read,
    });
    rules.push({
      apiGroups: [group],
      resources: plural.map((p) => `${p}/status`),
      verbs: ["get", "update", "patch"],
    });
  }
  rules.push(
    { apiGroups: [""], resources: ["services", "pods", "namespaces"], verbs: read },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: read },
  );
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: o.serviceAccount, namespace: o.namespace, labels: { app: "mesh" } },
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name, labels: { app: "mesh" } },
      rules,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name, labels: { app: "mesh" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name: o.serviceAccount, namespace: o.namespace }],
    },
    // Istio's mesh ConfigMap (`istio`, MeshConfig) is read in the control plane's namespace only.
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "mesh-control", namespace: o.namespace, labels: { app: "mesh" } },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: read }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "mesh-control", namespace: o.namespace, labels: { app: "mesh" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "mesh-control" },
      subjects: [{ kind: "ServiceAccount", name: o.serviceAccount, namespace: o.namespace }],
    },
  ];
}
