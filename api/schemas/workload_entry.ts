/**
 * WorkloadEntry (`networking.istio.io`), also the shape of ServiceEntry endpoints and of a
 * WorkloadGroup's template; and the label rules Istio applies to workloads and subsets
 * (labels.Instance.Validate), which are not Kubernetes' metadata label rules.
 * @module
 */

import { z } from "zod";
import {
  NOT_SUPPORTED,
  type Path,
  portNumber,
  quote,
  type Reporter,
  uint32,
  warnUnsupported,
} from "./common.ts";
import { fqdnProblem, isGoIP } from "./server_hosts.ts";
import { UNSUPPORTED_WE } from "./unsupported.ts";

/** `spec` of a WorkloadEntry, and an endpoint of a ServiceEntry. */
export interface WorkloadEntrySpec {
  /** IP address, DNS name, or `unix:///absolute/path`. */
  address?: string;
  /** Service port name to workload port. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  serviceAccount?: string;
  weight?: number;
  network?: string;
  locality?: string;
}

// ---------------------------------------------------------------------------------------------
// Istio's label rules (pkg/config/labels): upper case allowed, values of any length

const LABEL = "[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?";
const QUALIFIED = "(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const TAG_KEY = new RegExp(`^(${LABEL}(?:\\.${LABEL})*/)?(${QUALIFIED})$`);
const TAG_VALUE = new RegExp(`^(?:${QUALIFIED})?$`);

/** What is wrong with one label as Istio's labels.Instance.Validate sees it, or undefined. */
export function istioLabelProblem(key: string, value: string): string | undefined {
  const m = TAG_KEY.exec(key);
  if (!m) {
    return `invalid label key ${quote(key)}: use an optional DNS prefix and '/', then ` +
      "letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
  }
  if (m[1] && m[1].length - 1 > 253) {
    return `invalid label key ${quote(key)}: the prefix is longer than 253 characters`;
  }
  if (m[2].length > 63) {
    return `invalid label key ${quote(key)}: the name is longer than 63 characters`;
  }
  if (!TAG_VALUE.test(value)) {
    return `invalid label value ${quote(value)}: use letters, digits, '-', '_' and '.', ` +
      "starting and ending with a letter or digit (or nothing)";
  }
  return undefined;
}

/** Checks a label map as Istio does for workloads, endpoints and subsets. */
export function checkIstioLabels(
  labels: Record<string, string> | undefined,
  path: Path,
  r: Reporter,
): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    const problem = istioLabelProblem(key, value);
    if (problem) r.error([...path, key], problem);
  }
}

/**
 * Checks a workload selector's labels as Istio does (validateWorkloadSelector,
 * ValidateAlphaWorkloadSelector and the CRDs): no empty key, no `*` anywhere, values of at most
 * 63 characters; other label syntax is not checked. No labels is a warning: it selects every
 * workload in the namespace.
 */
export function checkSelectorMap(
  labels: Record<string, string> | undefined,
  path: Path,
  r: Reporter,
): void {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) {
    r.warn(
      path,
      "workload selector specified without labels; it selects every workload in the namespace",
    );
  }
  for (const [key, value] of entries) {
    if (key === "") r.error([...path, key], "empty key is not supported in a selector");
    if (key.includes("*") || value.includes("*")) {
      r.error(
        [...path, key],
        `wildcard is not supported in a selector: ${quote(`${key}=${value}`)}`,
      );
    }
    if (value.length > 63) {
      r.error([...path, key], `selector values are at most 63 characters; got ${value.length}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Schema (the CRD's limits)

const PORT_NAME = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** A string of at most `max` characters (a CRD maxLength). */
function maxLength(max: number, what: string) {
  return z.string().max(max, { error: `${what} are at most ${max} characters` });
}

/** A map of at most `max` entries (a CRD maxProperties). */
function maxEntries<T extends z.ZodType>(value: T, max: number, what: string) {
  return z.record(z.string(), value).refine((m) => Object.keys(m).length <= max, {
    error: `at most ${max} ${what}`,
  });
}

/** The fields of a WorkloadEntry, for the schemas that embed one. */
export function workloadEntryShape() {
  return {
    address: maxLength(256, "addresses").optional(),
    ports: maxEntries(portNumber, 128, "ports").optional(),
    labels: maxEntries(z.string(), 256, "labels").optional(),
    network: maxLength(2048, "network names").optional(),
    locality: maxLength(2048, "localities").optional(),
    weight: uint32.optional(),
    serviceAccount: maxLength(253, "service accounts").optional(),
  };
}

/** The schema of a WorkloadEntry `spec` (also a ServiceEntry endpoint). */
export const workloadEntrySpec: z.ZodType<WorkloadEntrySpec> = z.strictObject(
  workloadEntryShape(),
);

// ---------------------------------------------------------------------------------------------
// Checks

/** Istio's ValidateUnixAddress of what follows `unix://`, or undefined. */
export function unixPathProblem(address: string): string | undefined {
  const path = address.slice("unix://".length);
  if (path === "") return "a unix address needs a path, like unix:///var/run/app.sock";
  if (path.startsWith("@")) return undefined;
  if (!path.startsWith("/")) {
    return `${quote(address)} is not an absolute path; use unix:///path or unix://@abstract`;
  }
  if (path.endsWith("/")) return `${quote(address)} names a directory, not a socket file`;
  return undefined;
}

/**
 * The rules of the WorkloadEntry CRD that hold wherever one is embedded (ServiceEntry endpoints,
 * WorkloadGroup templates): unix addresses are absolute or abstract, not directories, and have
 * no ports; port names are DNS labels of under 63 characters.
 */
export function checkEntryShape(spec: WorkloadEntrySpec, path: Path, r: Reporter): void {
  const address = spec.address;
  if (address?.startsWith("unix://")) {
    const problem = unixPathProblem(address);
    if (problem) r.error([...path, "address"], problem);
    if (spec.ports !== undefined) {
      r.error([...path, "ports"], "a unix address has no ports; remove ports");
    }
  }
  for (const name of Object.keys(spec.ports ?? {})) {
    if (name.length >= 63 || !PORT_NAME.test(name)) {
      r.error(
        [...path, "ports", name],
        `invalid port name ${quote(name)}; use a DNS label of under 63 characters, like http`,
      );
    }
  }
}

/** How an endpoint's address may be written, by where it is. */
export type AddressRule = "ip-or-fqdn" | "ip";

/** Options of {@linkcode checkWorkloadEntry}. */
export interface WorkloadEntryOptions {
  /** The ServiceEntry's port names, for its endpoints. */
  servicePorts?: ReadonlyMap<string, number>;
  /** `ip` for the endpoints of a STATIC ServiceEntry; else an IP or an FQDN. */
  addresses?: AddressRule;
}

/**
 * Checks a WorkloadEntry, or an endpoint of a STATIC ServiceEntry, as Istio's
 * validateWorkloadEntry does: an address (or a network, with a warning), unix sockets, the
 * ports (known to the ServiceEntry), labels.
 */
export function checkWorkloadEntry(
  spec: WorkloadEntrySpec,
  path: Path,
  r: Reporter,
  options: WorkloadEntryOptions = {},
): void {
  warnUnsupported(spec, UNSUPPORTED_WE, path, r);
  checkEntryShape(spec, path, r);
  const { servicePorts, addresses = "ip-or-fqdn" } = options;
  const address = spec.address ?? "";
  if (address === "") {
    if (!spec.network) {
      r.error([...path, "address"], `missing required field "address"; set the workload's IP`);
    } else {
      r.warn(
        [...path, "address"],
        `address is unset; the workload is reached through network ${quote(spec.network)}`,
      );
    }
  } else if (address.startsWith("unix://")) {
    r.warn([...path, "address"], `unix socket endpoints are ${NOT_SUPPORTED}`);
    if (servicePorts && servicePorts.size !== 1) {
      r.error([...path, "address"], "a unix endpoint needs exactly one service port");
    }
  } else if (!isGoIP(address)) {
    if (addresses === "ip") {
      r.error(
        [...path, "address"],
        `endpoint address ${quote(address)} is not an IP address; resolution STATIC needs ` +
          "IPs (use resolution DNS for host names)",
      );
    } else if (fqdnProblem(address)) {
      r.error(
        [...path, "address"],
        `endpoint address ${quote(address)} is neither an IP address nor an FQDN`,
      );
    }
  }
  checkEndpointPorts(spec, path, r, servicePorts);
  checkIstioLabels(spec.labels, [...path, "labels"], r);
}

/** The endpoint ports: names (DNS labels) the ServiceEntry defines. */
export function checkEndpointPorts(
  spec: WorkloadEntrySpec,
  path: Path,
  r: Reporter,
  servicePorts?: ReadonlyMap<string, number>,
): void {
  for (const name of Object.keys(spec.ports ?? {})) {
    if (servicePorts && !servicePorts.has(name)) {
      const known = [...servicePorts.keys()].map(quote).join(", ") || "none";
      r.error(
        [...path, "ports", name],
        `port ${quote(name)} is not a port name of this ServiceEntry (${known}); ` +
          "endpoint ports map a service port name to the workload's port",
      );
    }
  }
}
