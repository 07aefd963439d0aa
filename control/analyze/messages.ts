/**
 * The messages `mesh analyze` reports: a catalog of message types (Istio's `IST` codes where
 * Istio has the same check, `MSH` codes for mesh's own), and the message value with its
 * renderings: istioctl's one-line form, and a plain object for `-o json` / `-o yaml`.
 *
 * @example
 * ```ts
 * import { formatMessage, newMessage, ReferencedResourceNotFound } from "./messages.ts";
 *
 * const m = newMessage(ReferencedResourceNotFound, ["host", "reviews2"], {
 *   resource: { kind: "VirtualService", namespace: "default", name: "reviews" },
 *   file: "reviews.yaml",
 *   line: 12,
 * });
 * formatMessage(m);
 * // 'Error [IST0101] (VirtualService default/reviews reviews.yaml:12) Referenced host not found: "reviews2"'
 * ```
 * @module
 */

export * from "./message_type.ts";
export * from "./istio_messages.ts";
import { define, goList, goQuote, type Level, LEVELS, type MessageType } from "./message_type.ts";

/** The resource a message is about. */
export interface ResourceRef {
  kind: string;
  /** Absent for cluster-scoped kinds (Namespace). */
  namespace?: string;
  name: string;
}

/** One finding. */
export interface Message {
  code: string;
  name: string;
  level: Level;
  /** The text after the origin, e.g. `Referenced host not found: "reviews2"`. */
  message: string;
  resource?: ResourceRef;
  /** Where the finding points (the field when known, else the resource). */
  file?: string;
  line?: number;
}

/** A message in machine-readable form (`-o json`): istioctl's fields plus mesh's own. */
export interface MessageRecord {
  code: string;
  name: string;
  level: Level;
  /** `Kind namespace/name`, as in the text form. */
  origin?: string;
  /** `file:line`, as in the text form. */
  reference?: string;
  message: string;
  documentationUrl?: string;
  resource?: ResourceRef;
  file?: string;
  line?: number;
}

// ---------------------------------------------------------------------------------------------
// Istio's messages (same code, name, level and text as istioctl)

/** A bug in an analyzer. */
export const InternalError = define(
  "IST0001",
  "InternalError",
  "Error",
  "There was an internal error in the toolchain. This is almost always a bug in the implementation.",
  (detail: string) => `Internal error: ${detail}`,
);

/** A resource names another that is not in the input. */
export const ReferencedResourceNotFound = define(
  "IST0101",
  "ReferencedResourceNotFound",
  "Error",
  "A resource being referenced does not exist.",
  (reftype: string, refval: string) => `Referenced ${reftype} not found: ${goQuote(refval)}`,
);

/** The resource fails validation (mesh's `validate` errors). */
export const SchemaValidationError = define(
  "IST0106",
  "SchemaValidationError",
  "Error",
  "The resource has a schema validation error.",
  (err: string) => `Schema validation error: ${err}`,
);

/** Two VirtualServices bound to the mesh claim the same host. */
export const ConflictingMeshGatewayVirtualServiceHosts = define(
  "IST0109",
  "ConflictingMeshGatewayVirtualServiceHosts",
  "Error",
  "Conflicting hosts on VirtualServices associated with mesh gateway",
  (virtualServices: string, host: string) =>
    `The VirtualServices ${virtualServices} associated with mesh gateway define the same host ` +
    `${host} which can lead to undefined behavior. This can be fixed by merging the conflicting ` +
    "VirtualServices into a single resource.",
);

/** A route to a multi-port service names no port. */
export const VirtualServiceDestinationPortSelectorRequired = define(
  "IST0112",
  "VirtualServiceDestinationPortSelectorRequired",
  "Error",
  "A VirtualService routes to a service with more than one port exposed, but does not specify which to use.",
  (destHost: string, destPorts: readonly number[]) =>
    `This VirtualService routes to a service ${goQuote(destHost)} that exposes multiple ports ` +
    `${goList(destPorts)}. Specifying a port in the destination is required to disambiguate.`,
);

/** An HTTP rule no request can reach. */
export const VirtualServiceUnreachableRule = define(
  "IST0130",
  "VirtualServiceUnreachableRule",
  "Warning",
  "A VirtualService rule will never be used because a previous rule uses the same match.",
  (ruleno: string, reason: string) => `VirtualService rule ${ruleno} not used (${reason}).`,
);

/** A match that an earlier rule already takes. */
export const VirtualServiceIneffectiveMatch = define(
  "IST0131",
  "VirtualServiceIneffectiveMatch",
  "Info",
  "A VirtualService rule match duplicates a match in a previous rule.",
  (ruleno: string, matchno: string, dupno: string) =>
    `VirtualService rule ${ruleno} match ${matchno} is not used ` +
    `(duplicate/overlapping match in rule ${dupno}).`,
);

/** VirtualService hosts that its Gateway doesn't serve. */
export const VirtualServiceHostNotFoundInGateway = define(
  "IST0132",
  "VirtualServiceHostNotFoundInGateway",
  "Warning",
  "Host defined in VirtualService not found in Gateway.",
  (hosts: readonly string[], virtualService: string, gateway: string) =>
    `one or more host ${
      goList(hosts)
    } defined in VirtualService ${virtualService} not found in Gateway ${gateway}.`,
);

/** The resource validates with a warning (mesh's `validate` warnings). */
export const SchemaWarning = define(
  "IST0133",
  "SchemaWarning",
  "Warning",
  "The resource has a schema validation warning.",
  (err: string) => `Schema validation warning: ${err}`,
);

/** A Gateway port that the Service in front of its workloads doesn't expose. */
export const GatewayPortNotDefinedOnService = define(
  "IST0162",
  "GatewayPortNotDefinedOnService",
  "Warning",
  "Gateway port not exposed by service",
  (port: number, selector: string) =>
    `The gateway is listening on a target port (port ${port}) that is not defined in the ` +
    `Service associated with its workload instances (Pod selector ${selector}). If you need to ` +
    "access the gateway port through the gateway Service, it will not be available.",
);

/** A DestinationRule for a host no service has. */
export const UnknownDestinationRuleHost = define(
  "IST0174",
  "UnknownDestinationRuleHost",
  "Warning",
  "Host defined in destination rule does not match any services in the mesh.",
  (host: string) =>
    `The host ${host} defined in the DestinationRule does not match any services in the mesh.`,
);

/** ServiceEntries disagree on a port's protocol. */
export const ConflictingServiceEntryProtocol = define(
  "IST0177",
  "ConflictingServiceEntryProtocol",
  "Warning",
  "Multiple ServiceEntries define the same host and port with different protocols.",
  (serviceEntries: string, host: string, port: number, protocols: string) =>
    `Multiple ServiceEntries (${serviceEntries}) define the same host ${goQuote(host)} and ` +
    `port ${port} with conflicting protocols (${protocols}).`,
);

// ---------------------------------------------------------------------------------------------
// mesh's own messages (no Istio equivalent)

/** The same kind/namespace/name twice in the input; the later one wins. */
export const DuplicateResource = define(
  "MSH0001",
  "DuplicateResource",
  "Warning",
  "The same kind, namespace and name is defined more than once; the later definition is used.",
  (other: string) =>
    `Duplicate resource: also defined at ${other}; the later definition is used and this one ` +
    "is ignored",
);

// ---------------------------------------------------------------------------------------------
// Building and rendering

/** Where a message points. */
export interface MessageTarget {
  resource?: ResourceRef;
  file?: string;
  line?: number;
}

/** A message of `type` with `args` about `target`. */
export function newMessage<A extends unknown[]>(
  type: MessageType<A>,
  args: A,
  target: MessageTarget = {},
): Message {
  const m: Message = {
    code: type.code,
    name: type.name,
    level: type.level,
    message: type.format(...args),
  };
  if (target.resource) m.resource = { ...target.resource };
  if (target.file !== undefined) m.file = target.file;
  if (target.line !== undefined && target.line > 0) m.line = target.line;
  return m;
}

/** `Kind namespace/name` (or `Kind name` for cluster-scoped kinds). */
export function friendlyName(r: ResourceRef): string {
  return r.namespace ? `${r.kind} ${r.namespace}/${r.name}` : `${r.kind} ${r.name}`;
}

/** `file:line` as istioctl prints a local file position (JSON files get no line). */
export function reference(m: Message): string | undefined {
  if (m.file === undefined || m.file === "") return undefined;
  if (m.line === undefined || /\.json$/i.test(m.file)) return m.file;
  return `${m.file}:${m.line}`;
}

/**
 * istioctl's line: `Level [CODE] (Kind namespace/name file:line) text`. The parenthesized
 * origin is left out when the message concerns no resource and no file.
 */
export function formatMessage(m: Message): string {
  const parts = [m.resource ? friendlyName(m.resource) : undefined, reference(m)].filter(
    (p): p is string => p !== undefined,
  );
  const origin = parts.length ? ` (${parts.join(" ")})` : "";
  return `${m.level} [${m.code}]${origin} ${m.message}`;
}

/** Istio's page for an `IST` code. */
export function documentationUrl(code: string): string | undefined {
  return code.startsWith("IST")
    ? `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/`
    : undefined;
}

/** The machine-readable form of a message (undefined fields left out). */
export function messageRecord(m: Message): MessageRecord {
  const out: MessageRecord = { code: m.code, name: m.name, level: m.level, message: m.message };
  if (m.resource) out.origin = friendlyName(m.resource);
  const ref = reference(m);
  if (ref !== undefined) out.reference = ref;
  const url = documentationUrl(m.code);
  if (url) out.documentationUrl = url;
  if (m.resource) out.resource = { ...m.resource };
  if (m.file !== undefined) out.file = m.file;
  if (m.line !== undefined) out.line = m.line;
  return out;
}

function comparator(r: ResourceRef): string {
  return `${r.kind}/${r.name}/${r.namespace ?? ""}`;
}

/**
 * Sorts as istioctl does (level, code, resource, then text; mesh puts lines of one file in
 * numeric order before comparing text) and drops messages whose text form is identical.
 */
export function sortAndDedupe(messages: readonly Message[]): Message[] {
  const sorted = [...messages].sort((a, b) => {
    const la = LEVELS.indexOf(a.level);
    const lb = LEVELS.indexOf(b.level);
    if (la !== lb) return la - lb;
    if (a.code !== b.code) return a.code < b.code ? -1 : 1;
    if (!a.resource !== !b.resource) return a.resource ? 1 : -1;
    if (a.resource && b.resource) {
      const ca = comparator(a.resource);
      const cb = comparator(b.resource);
      if (ca !== cb) return ca < cb ? -1 : 1;
    }
    if (a.file === b.file && (a.line ?? 0) !== (b.line ?? 0)) return (a.line ?? 0) - (b.line ?? 0);
    const sa = formatMessage(a);
    const sb = formatMessage(b);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  });
  const out: Message[] = [];
  for (const m of sorted) {
    if (out.length && formatMessage(out[out.length - 1]) === formatMessage(m)) continue;
    out.push(m);
  }
  return out;
}

/** Whether `level` is `threshold` or worse. */
export function atLeast(level: Level, threshold: Level): boolean {
  return LEVELS.indexOf(level) <= LEVELS.indexOf(threshold);
}
