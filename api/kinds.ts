/**
 * The kind registry: every fact about each resource kind mesh reads, in one place. The parser
 * (api/resources.ts), the stores and `mesh get` (control/store/kinds.ts), the analyzer and, later,
 * CRD generation read it; nothing else keeps a list of kinds.
 *
 * A kind is identified by its id ({@linkcode Kind}), which is the `kind` users write except where
 * two API groups use the same name: the Gateway API's `Gateway` is `KubernetesGateway` here
 * (Istio's own name for it internally), Istio's is `Gateway`. {@linkcode kindOf} maps a
 * document's group and kind to the id.
 *
 * Kinds of Istio's API that mesh recognizes but does not read are in {@linkcode UNREAD_KINDS}:
 * they are validated where a schema exists and always reported as not supported, never skipped
 * in silence.
 *
 * @example
 * ```ts
 * import { KIND_INFO, kindOf } from "./kinds.ts";
 *
 * kindOf("networking.istio.io", "VirtualService"); // "VirtualService"
 * KIND_INFO.VirtualService.shortNames; // ["vs"]
 * KIND_INFO.VirtualService.versions[0]; // "v1" (the newest)
 * ```
 * @module
 */

import type { z } from "zod";
import type { CheckContext, Reporter } from "./schemas/common.ts";
import { checkVirtualService, virtualServiceSpec } from "./schemas/virtual_service.ts";
import { checkDestinationRule, destinationRuleSpec } from "./schemas/destination_rule.ts";
import { checkGateway, gatewaySpec } from "./schemas/gateway.ts";
import { checkServiceEntry, serviceEntrySpec } from "./schemas/service_entry.ts";
import { checkWorkloadEntry, workloadEntrySpec } from "./schemas/workload_entry.ts";
import { checkSidecar, sidecarSpec } from "./schemas/sidecar.ts";
import { checkWorkloadGroup, workloadGroupSpec } from "./schemas/workload_group.ts";
import { checkPeerAuthentication, peerAuthenticationSpec } from "./schemas/peer_authentication.ts";
import {
  authorizationPolicySpec,
  checkAuthorizationPolicy,
} from "./schemas/authorization_policy.ts";
import {
  checkRequestAuthentication,
  requestAuthenticationSpec,
} from "./schemas/request_authentication.ts";
import { checkTelemetry, telemetrySpec } from "./schemas/telemetry.ts";
import { checkMeshConfig, meshConfigSpec } from "./schemas/mesh_config.ts";
import { GATEWAY_API_KINDS } from "./schemas/gateway_api/kinds.ts";
import {
  checkEnvoyFilter,
  ENVOY_FILTER_VERSIONS,
  envoyFilterSpec,
} from "./schemas/envoy_filter.ts";
import {
  checkProxyConfigKind,
  PROXY_CONFIG_VERSIONS,
  proxyConfigKindSpec,
} from "./schemas/proxy_config_kind.ts";
import { checkWasmPlugin, WASM_PLUGIN_VERSIONS, wasmPluginSpec } from "./schemas/wasm_plugin.ts";

/** The API group of Istio's networking kinds. */
export const NETWORKING = "networking.istio.io";
/** The API group of Istio's security kinds. */
export const SECURITY = "security.istio.io";
/** The API group of Istio's telemetry kind. */
export const TELEMETRY = "telemetry.istio.io";
/** The API group of mesh's own MeshConfig. */
export const MESH = "config.mesh.dev";

const NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
const SECURITY_VERSIONS = ["v1", "v1beta1"] as const;

/** What mesh does with a kind's resources. */
export type Support =
  /** The data plane acts on them (each warns about the fields it doesn't honour). */
  | "enforced"
  /** Validated as Istio does and stored, but not acted on (one warning per resource). */
  | "validated";

/** Everything mesh knows about one kind. */
export interface KindInfo {
  /** The `kind` written in documents (`Gateway` for both Istio's and the Gateway API's). */
  readonly kind: string;
  /** The API group. */
  readonly group: string;
  /** Accepted versions of the group, newest first. */
  readonly versions: readonly string[];
  /** Lower-case plural, as in the CRD (`virtualservices`). */
  readonly plural: string;
  /** The CRD's short names (`vs`). */
  readonly shortNames: readonly string[];
  /** Whether resources live in a namespace. */
  readonly scope: "Namespaced" | "Cluster";
  /** What mesh does with the kind. */
  readonly support: Support;
  /** The `spec` schema (strict: unknown fields are errors). */
  // deno-lint-ignore no-explicit-any
  readonly schema: z.ZodType<any>;
  /** Istio's semantic checks on a structurally valid `spec`. */
  // deno-lint-ignore no-explicit-any
  readonly check: (spec: any, r: Reporter, ctx: CheckContext) => void;
  /**
   * Whether the CRD requires `spec` (ServiceEntry, WorkloadEntry, WorkloadGroup and the Gateway
   * API kinds); elsewhere a document without one is read as an empty spec, as the API server
   * stores it.
   */
  readonly specRequired?: boolean;
}

function networking(
  kind: string,
  rest: Pick<KindInfo, "plural" | "shortNames" | "support" | "schema" | "check" | "specRequired">,
): KindInfo {
  return { kind, group: NETWORKING, versions: NETWORKING_VERSIONS, scope: "Namespaced", ...rest };
}

function security(
  kind: string,
  rest: Pick<KindInfo, "plural" | "shortNames" | "schema" | "check">,
): KindInfo {
  return {
    kind,
    group: SECURITY,
    versions: SECURITY_VERSIONS,
    scope: "Namespaced",
    support: "enforced",
    ...rest,
  };
}

const REGISTRY = {
  VirtualService: networking("VirtualService", {
    plural: "virtualservices",
    shortNames: ["vs"],
    support: "enforced",
    schema: virtualServiceSpec,
    check: checkVirtualService,
  }),
  DestinationRule: networking("DestinationRule", {
    plural: "destinationrules",
    shortNames: ["dr"],
    support: "enforced",
    schema: destinationRuleSpec,
    check: checkDestinationRule,
  }),
  Gateway: networking("Gateway", {
    plural: "gateways",
    shortNames: ["gw"],
    support: "enforced",
    schema: gatewaySpec,
    check: checkGateway,
  }),
  ServiceEntry: networking("ServiceEntry", {
    specRequired: true,
    plural: "serviceentries",
    shortNames: ["se"],
    support: "enforced",
    schema: serviceEntrySpec,
    check: checkServiceEntry,
  }),
  WorkloadEntry: networking("WorkloadEntry", {
    specRequired: true,
    plural: "workloadentries",
    shortNames: ["we"],
    support: "enforced",
    schema: workloadEntrySpec,
    check: (spec, r) => checkWorkloadEntry(spec, ["spec"], r),
  }),
  Sidecar: networking("Sidecar", {
    plural: "sidecars",
    shortNames: [],
    support: "enforced",
    schema: sidecarSpec,
    check: checkSidecar,
  }),
  WorkloadGroup: networking("WorkloadGroup", {
    specRequired: true,
    plural: "workloadgroups",
    shortNames: ["wg"],
    support: "enforced",
    schema: workloadGroupSpec,
    check: checkWorkloadGroup,
  }),
  PeerAuthentication: security("PeerAuthentication", {
    plural: "peerauthentications",
    shortNames: ["pa"],
    schema: peerAuthenticationSpec,
    check: checkPeerAuthentication,
  }),
  AuthorizationPolicy: security("AuthorizationPolicy", {
    plural: "authorizationpolicies",
    shortNames: ["ap"],
    schema: authorizationPolicySpec,
    check: checkAuthorizationPolicy,
  }),
  RequestAuthentication: security("RequestAuthentication", {
    plural: "requestauthentications",
    shortNames: ["ra"],
    schema: requestAuthenticationSpec,
    check: checkRequestAuthentication,
  }),
  Telemetry: {
    kind: "Telemetry",
    group: TELEMETRY,
    versions: ["v1", "v1alpha1"],
    plural: "telemetries",
    shortNames: ["telemetry"],
    scope: "Namespaced",
    support: "enforced",
    schema: telemetrySpec,
    check: checkTelemetry,
  },
  MeshConfig: {
    kind: "MeshConfig",
    group: MESH,
    versions: ["v1alpha1"],
    plural: "meshconfigs",
    shortNames: [],
    scope: "Namespaced",
    support: "enforced",
    schema: meshConfigSpec,
    check: checkMeshConfig,
  },
  // The Gateway API (gateway.networking.k8s.io), converted to Gateways and VirtualServices by
  // control/gateway_api.
  ...GATEWAY_API_KINDS,
} satisfies Record<string, KindInfo>;

/** The id of a kind mesh reads (see the module doc). */
export type Kind = keyof typeof REGISTRY;

/** Every kind mesh reads, by id, in the order mesh lists them. */
export const KIND_INFO: Readonly<Record<Kind, KindInfo>> = REGISTRY;

/** Every kind id, in registry order. */
export const KINDS: readonly Kind[] = Object.keys(KIND_INFO) as Kind[];

/** A kind of Istio's API that mesh recognizes but does not read. */
export interface UnreadKind {
  readonly kind: string;
  readonly group: string;
  /** Why mesh doesn't read it, ending the warning "<kind> resources are not supported by mesh". */
  readonly why: string;
  /** The versions Istio's CRD serves (newest first), where known. */
  readonly versions?: readonly string[];
  /** Istio's validation of the spec, where mesh has it. */
  // deno-lint-ignore no-explicit-any
  readonly schema?: z.ZodType<any>;
  // deno-lint-ignore no-explicit-any
  readonly check?: (spec: any, r: Reporter, ctx: CheckContext) => void;
}

/** Istio kinds mesh recognizes and reports as not supported (validated where a schema exists). */
export const UNREAD_KINDS: readonly UnreadKind[] = [
  {
    kind: "EnvoyFilter",
    group: NETWORKING,
    versions: ENVOY_FILTER_VERSIONS,
    why: "mesh's proxy is not Envoy",
    schema: envoyFilterSpec,
    check: checkEnvoyFilter,
  },
  {
    kind: "ProxyConfig",
    group: NETWORKING,
    versions: PROXY_CONFIG_VERSIONS,
    why: "set proxy settings with mesh's flags",
    schema: proxyConfigKindSpec,
    check: checkProxyConfigKind,
  },
  {
    kind: "WasmPlugin",
    group: "extensions.istio.io",
    versions: WASM_PLUGIN_VERSIONS,
    why: "mesh's proxy runs no Wasm",
    schema: wasmPluginSpec,
    check: checkWasmPlugin,
  },
];

const BY_GROUP_KIND = new Map<string, Kind>(
  KINDS.map((id) => [`${KIND_INFO[id].group}/${KIND_INFO[id].kind}`, id]),
);

/** The id of the kind a document's `apiVersion` group and `kind` name, if mesh reads it. */
export function kindOf(group: string, kind: string): Kind | undefined {
  return BY_GROUP_KIND.get(`${group}/${kind}`);
}

/** Whether `s` is a kind id. */
export function isKind(s: string): s is Kind {
  return Object.hasOwn(KIND_INFO, s);
}

/** The API groups mesh reads, each with its versions (newest first). */
export function apiGroups(): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const id of KINDS) {
    const { group, versions } = KIND_INFO[id];
    if (!out.has(group)) out.set(group, versions);
  }
  return out;
}

/** `group/version` of the newest version of a kind, e.g. `networking.istio.io/v1`. */
export function apiVersionOf(id: Kind): string {
  const k = KIND_INFO[id];
  return `${k.group}/${k.versions[0]}`;
}
