/**
 * Rules the security kinds (PeerAuthentication, AuthorizationPolicy, RequestAuthentication)
 * share, as Istio applies them: the `istio.io/dry-run` annotation, and the syntax Go gives
 * addresses, CIDR blocks, ports and booleans (Istio parses them with `net/netip`,
 * `strconv.ParseUint` and `strconv.ParseBool`). Selectors and `targetRef(s)` are checked by
 * policy_targets.ts.
 *
 * A note on empty lists: Istio decodes YAML into protobuf messages, where an empty list is the
 * same as an unset one. The webhook's checks therefore see `principals: []` as absent; only the
 * CRD's CEL rules (`has(self.x)`) see an empty list as present. {@linkcode has} and
 * {@linkcode present} name the two.
 *
 * @example
 * ```ts
 * isGoIP("10.0.0.1"); // true
 * isGoIP("010.0.0.1"); // false: Go refuses leading zeros
 * parseGoBool("True"); // true
 * ```
 * @module
 */

import { type Path, quote, type Reporter } from "./common.ts";

/** The annotation that makes an AuthorizationPolicy a dry run (evaluated, never enforced). */
export const DRY_RUN_ANNOTATION = "istio.io/dry-run";

/** A list with at least one element: what Istio's webhook sees as set. */
export function has(list: readonly unknown[] | undefined): boolean {
  return list !== undefined && list.length > 0;
}

/** A field written at all, even as `[]`: what the CRD's CEL rules see as set. */
export function present(value: unknown): boolean {
  return value !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Go syntax

/** `strconv.ParseBool`: true, false, or undefined when Go refuses the text. */
export function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

/** Whether an AuthorizationPolicy's annotations make it a dry run. */
export function isDryRun(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const v = annotations?.[DRY_RUN_ANNOTATION];
  return v !== undefined && parseGoBool(v) === true;
}

/** `net/netip` IPv4: four decimal fields, no leading zeros, each at most 255. */
function isGoIPv4(s: string): boolean {
  const fields = s.split(".");
  return fields.length === 4 &&
    fields.every((f) => /^(0|[1-9]\d{0,2})$/.test(f) && Number(f) <= 255);
}

/** `net/netip` IPv6, with an optional `%zone`. */
function isGoIPv6(input: string): boolean {
  let s = input;
  const pct = s.indexOf("%");
  if (pct >= 0) {
    if (pct === s.length - 1) return false; // an empty zone
    s = s.slice(0, pct);
  }
  let fields = 0; // 16-bit fields written
  let ellipsis = false;
  if (s.startsWith("::")) {
    ellipsis = true;
    s = s.slice(2);
    if (s === "") return true;
  }
  while (fields < 8) {
    const m = /^[0-9a-fA-F]{1,4}/.exec(s);
    if (!m) return false;
    const rest = s.slice(m[0].length);
    if (/^[0-9a-fA-F]/.test(rest)) return false; // more than 4 hex digits
    if (rest.startsWith(".")) {
      // An embedded IPv4 address: the last two fields.
      if (!ellipsis && fields !== 6) return false;
      if (fields + 2 > 8) return false;
      if (!isGoIPv4(s)) return false;
      fields += 2;
      s = "";
      break;
    }
    fields++;
    s = rest;
    if (s === "") break;
    if (s[0] !== ":" || s.length === 1) return false;
    s = s.slice(1);
    if (s[0] === ":") {
      if (ellipsis) return false; // a second ::
      ellipsis = true;
      s = s.slice(1);
      if (s === "") break;
    }
  }
  if (s !== "") return false;
  return ellipsis ? fields < 8 : fields === 8;
}

/** `netip.ParseAddr`: an IPv4 or IPv6 address as Go reads it. */
export function isGoIP(s: string): boolean {
  for (const c of s) {
    if (c === ".") return isGoIPv4(s);
    if (c === ":") return isGoIPv6(s);
    if (c === "%") return false;
  }
  return false;
}

/** `netip.ParsePrefix`: `address/bits`, no zone, bits without sign or leading zeros. */
export function isGoPrefix(s: string): boolean {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!isGoIP(ip) || ip.includes("%")) return false;
  if (!/^(0|[1-9]\d*)$/.test(bits)) return false;
  return Number(bits) <= (ip.includes(":") ? 128 : 32);
}

/** Problems with an IP address or CIDR block, as Istio checks `ipBlocks` and `source.ip`. */
export function ipBlockProblem(v: string): string | undefined {
  if (v.includes("/") ? isGoPrefix(v) : isGoIP(v)) return undefined;
  return v.includes("/")
    ? `invalid CIDR block ${quote(v)}; write an address and a prefix length, like 10.0.0.0/16`
    : `invalid IP address ${quote(v)}; write it like 10.0.0.1 or 2001:db8::1`;
}

/** A port as Istio reads it in policies: decimal digits (leading zeros allowed), at most 65535. */
export function isGoPort(v: string): boolean {
  return /^\d+$/.test(v) && Number(v) <= 65535;
}

// ---------------------------------------------------------------------------------------------
// The dry-run annotation

/**
 * Checks `istio.io/dry-run`: only an AuthorizationPolicy may carry it, only with action ALLOW
 * or DENY, and its value must be a Go boolean (`true`, `false`, `1`, `0`, `T`, `F`, ...).
 * Istio's webhook checks it on every kind; `action` is undefined for the other kinds.
 */
export function checkDryRunAnnotation(
  annotations: Readonly<Record<string, string>> | undefined,
  target: { kind: string; action?: string },
  r: Reporter,
): void {
  const value = annotations?.[DRY_RUN_ANNOTATION];
  if (value === undefined) return;
  const at: Path = ["metadata", "annotations", DRY_RUN_ANNOTATION];
  if (target.kind !== "AuthorizationPolicy") {
    r.error(
      at,
      `${DRY_RUN_ANNOTATION} is only for AuthorizationPolicy; remove it from this ${target.kind}`,
    );
    return;
  }
  const action = target.action ?? "ALLOW";
  if (action !== "ALLOW" && action !== "DENY") {
    r.error(
      at,
      `${DRY_RUN_ANNOTATION} works only with action ALLOW or DENY; this policy is ${action}`,
    );
  } else if (parseGoBool(value) === undefined) {
    r.error(at, `${DRY_RUN_ANNOTATION} must be "true" or "false"; got ${quote(value)}`);
  }
}
