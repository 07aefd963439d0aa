/**
 * Kubernetes CustomResourceDefinitions (apiextensions.k8s.io/v1) for the Istio kinds mesh
 * knows, built from the kind registry (api/kinds.ts) with schemas from mesh's own zod schemas
 * (api/crd_schema.ts): what `mesh install crds` prints.
 *
 * The kinds are Istio's: those mesh reads (VirtualService, DestinationRule, Gateway,
 * ServiceEntry, WorkloadEntry, Sidecar, WorkloadGroup, PeerAuthentication,
 * AuthorizationPolicy, RequestAuthentication, Telemetry) and those it validates and reports as
 * not supported (EnvoyFilter, ProxyConfig, WasmPlugin), so that a manifest with them applies
 * as it does with Istio. Not included: the Gateway API kinds (their CRDs come from the Gateway
 * API project) and mesh's own MeshConfig (Istio keeps mesh config in a ConfigMap, not a kind).
 *
 * Names, short names, categories and printer columns are Istio's; every version is served, the
 * newest (v1 where the kind has one) is the storage version, and each has the status
 * subresource.
 *
 * @example
 * ```ts
 * import { allCrds, crdFor, crdsYaml } from "./crds.ts";
 *
 * crdFor("VirtualService").metadata.name; // "virtualservices.networking.istio.io"
 * allCrds().length; // 14
 * crdsYaml(["DestinationRule"]); // one YAML document
 * ```
 * @module
 */

import type { z } from "zod";
import { KIND_INFO, KINDS, UNREAD_KINDS } from "./kinds.ts";
import { type CrdSchema, crdSchemaOf } from "./crd_schema.ts";
import { stringifyYaml } from "../util/yaml.ts";

/** An additional printer column (`kubectl get` output). */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
}

/** A CustomResourceDefinition, as plain data. */
export interface Crd {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories: string[];
    };
    scope: "Namespaced" | "Cluster";
    versions: CrdVersion[];
  };
}

/** One version of a CRD. */
export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  additionalPrinterColumns?: PrinterColumn[];
  schema: { openAPIV3Schema: CrdSchema };
  subresources: { status: Record<string, never> };
}

/** What a CRD needs to know about a kind. */
interface CrdKindInfo {
  kind: string;
  group: string;
  /** Newest first; the first is the storage version. */
  versions: readonly string[];
  plural: string;
  shortNames: readonly string[];
  scope: "Namespaced" | "Cluster";
  // deno-lint-ignore no-explicit-any
  schema: z.ZodType<any>;
  specRequired: boolean;
}

/** Plurals of the kinds mesh doesn't read (the registry has no plural for them), as Istio's. */
const UNREAD_PLURALS: Record<string, string> = {
  EnvoyFilter: "envoyfilters",
  ProxyConfig: "proxyconfigs",
  WasmPlugin: "wasmplugins",
};

const AGE: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "When the object was created (metadata.creationTimestamp)",
};

function column(name: string, jsonPath: string, description: string): PrinterColumn {
  return { name, type: "string", jsonPath, description };
}

/** Printer columns, as Istio's CRDs have them; other kinds show Age only. */
const COLUMNS: Record<string, PrinterColumn[]> = {
  VirtualService: [
    column(
      "Gateways",
      ".spec.gateways",
      "The names of gateways and sidecars that should apply these routes",
    ),
    column("Hosts", ".spec.hosts", "The destination hosts to which traffic is being sent"),
    AGE,
  ],
  DestinationRule: [
    column("Host", ".spec.host", "The name of a service from the service registry"),
    AGE,
  ],
  ServiceEntry: [
    column("Hosts", ".spec.hosts", "The hosts associated with the ServiceEntry"),
    column(
      "Location",
      ".spec.location",
      "Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)",
    ),
    column(
      "Resolution",
      ".spec.resolution",
      "Service resolution mode for the hosts (NONE, STATIC, or DNS)",
    ),
    AGE,
  ],
  WorkloadEntry: [
    AGE,
    column("Address", ".spec.address", "Address associated with the network endpoint."),
  ],
  AuthorizationPolicy: [column("Action", ".spec.action", "The operation to take."), AGE],
  PeerAuthentication: [
    column("Mode", ".spec.mtls.mode", "Defines the mTLS mode used for peer authentication."),
    AGE,
  ],
};

function crdKinds(): CrdKindInfo[] {
  const read = KINDS.map((id) => KIND_INFO[id])
    .filter((k) => k.group.endsWith(".istio.io"))
    .map((k) => ({
      kind: k.kind,
      group: k.group,
      versions: k.versions,
      plural: k.plural,
      shortNames: k.shortNames,
      scope: k.scope,
      schema: k.schema,
      specRequired: k.specRequired === true,
    }));
  const unread = UNREAD_KINDS.flatMap((k) =>
    k.schema && k.versions && UNREAD_PLURALS[k.kind]
      ? [{
        kind: k.kind,
        group: k.group,
        versions: k.versions,
        plural: UNREAD_PLURALS[k.kind],
        shortNames: [],
        scope: "Namespaced" as const,
        schema: k.schema,
        specRequired: false,
      }]
      : []
  );
  return [...read, ...unread];
}

let cached: CrdKindInfo[] | undefined;
/** Converted spec schemas by kind (converting probes zod, so once is enough). */
const specSchemas = new Map<string, CrdSchema>();
function kinds(): CrdKindInfo[] {
  return cached ??= crdKinds();
}

/** The kinds `mesh install crds` prints, in registry order. */
export function crdKindNames(): string[] {
  return kinds().map((k) => k.kind);
}

/** The CRD of `kind` (an Istio kind name, e.g. `VirtualService`); throws for other names. */
export function crdFor(kind: string): Crd {
  const k = kinds().find((x) => x.kind === kind);
  if (!k) {
    throw new Error(`no CRD for kind "${kind}"; mesh has CRDs for ${crdKindNames().join(", ")}`);
  }
  const spec = structuredClone(
    specSchemas.get(kind) ?? specSchemas.set(kind, crdSchemaOf(k.schema)).get(kind)!,
  );
  const openAPIV3Schema: CrdSchema = {
    type: "object",
    properties: {
      spec,
      status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
    ...(k.specRequired ? { required: ["spec"] } : {}),
  };
  const columns = COLUMNS[k.kind] ?? [AGE];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${k.plural}.${k.group}`,
      labels: { "app.kubernetes.io/part-of": "mesh" },
    },
    spec: {
      group: k.group,
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.kind.toLowerCase(),
        ...(k.shortNames.length ? { shortNames: [...k.shortNames] } : {}),
        categories: ["istio-io", k.group.replaceAll(".", "-")],
      },
      scope: k.scope,
      versions: k.versions.map((name, i) => ({
        name,
        served: true,
        storage: i === 0,
        additionalPrinterColumns: columns,
        schema: { openAPIV3Schema },
        subresources: { status: {} },
      })),
    },
  };
}

/** Every CRD `mesh install crds` prints. */
export function allCrds(): Crd[] {
  return crdKindNames().map(crdFor);
}

/** The CRDs of `kinds` (all by default) as one multi-document YAML stream. */
export function crdsYaml(kinds: readonly string[] = crdKindNames()): string {
  return kinds.map((k) => stringifyYaml(crdFor(k))).join("---\n");
}
