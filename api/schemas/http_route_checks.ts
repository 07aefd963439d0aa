/**
 * The checks of VirtualService route parts as Istio states them (pkg/config/validation
 * validation.go, virtualservice.go, header_value_validator.go): string
 * matches, header names and values, gateway names, labels, destinations, subnets, redirects,
 * direct responses and rewrites (retries, faults and CORS: http_route_policies.ts). Each reports through a
 * {@linkcode Reporter}; none throws on user input.
 * @module
 */

import { countSet, type Path, quote, regexProblem, type Reporter } from "./common.ts";
import { fqdnProblem, isGoIP, isIstioLabel, wildcardDomainProblem } from "./server_hosts.ts";
import type {
  Destination,
  HeaderOperations,
  HTTPDirectResponse,
  HTTPMatchRequest,
  HTTPRedirect,
  HTTPRewrite,
  StringMatch,
} from "./http_route.ts";

// ---------------------------------------------------------------------------------------------
// String matches and regular expressions

/** Istio's limit on a regular expression's length (a stand-in for Envoy's program size). */
const MAX_REGEX = 1024;

/** Checks an RE2 regular expression Istio compiles (empty ones are refused). */
export function checkRegex(re: string, path: Path, r: Reporter): void {
  if (re === "") {
    r.error(path, "empty regular expression; write a pattern or use another match type");
  } else if (re.length > MAX_REGEX) {
    r.error(path, `regular expression is ${re.length} characters long; the limit is ${MAX_REGEX}`);
  } else {
    const problem = regexProblem(re);
    if (problem) r.error(path, `invalid regular expression: ${problem}; Istio uses RE2 syntax`);
  }
}

/** How a string match is checked: `uri` allows an empty prefix, the others don't. */
export type StringMatchRule = "uri" | "other";

/**
 * Checks a string match: at most one of exact, prefix and regex (the CRD's oneOf); a prefix may
 * not be empty (except in `uri`); a regex must compile. An empty match tests for presence.
 */
export function checkStringMatch(
  sm: StringMatch,
  path: Path,
  r: Reporter,
  rule: StringMatchRule = "other",
): void {
  const set = countSet(sm, ["exact", "prefix", "regex"]);
  if (set.length > 1) {
    r.error(path, `set only one of exact, prefix or regex; found ${set.join(" and ")}`);
    return;
  }
  if (sm.prefix === "" && rule !== "uri") {
    r.error([...path, "prefix"], "an empty prefix matches everything; set a prefix or remove it");
  }
  if (sm.regex !== undefined) checkRegex(sm.regex, [...path, "regex"], r);
}

// ---------------------------------------------------------------------------------------------
// Header names and values

/** An HTTP header name: RFC 9110 token characters. */
export const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([":method", ":scheme", ":authority", ":path", ":status"]);
const JWT_CLAIMS = "@request.auth.claims";

/** Whether a match key names JWT claims (`@request.auth.claims.a.b` or `...claims[a][b]`). */
export function isJwtClaimKey(name: string): boolean {
  if (!name.toLowerCase().startsWith(JWT_CLAIMS)) return false;
  const rest = name.slice(JWT_CLAIMS.length);
  return (rest.startsWith(".") && rest.length > 1) ||
    (rest.startsWith("[") && rest.endsWith("]") && rest.length > 2);
}

/** Problems with a header name in a match: a token, one of the five pseudo-headers, or a claim. */
export function matchHeaderNameProblem(name: string): string | undefined {
  if (name === "") return "header names may not be empty";
  if (isJwtClaimKey(name) || PSEUDO_HEADERS.has(name) || HEADER_TOKEN.test(name)) return undefined;
  return `invalid header name ${quote(name)}; use letters, digits and !#$%&'*+-.^_\`|~ ` +
    "(or one of :method, :scheme, :authority, :path, :status)";
}

/** Whether a header name is the authority (`:authority` or `Host`, any case). */
export function isAuthorityHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === ":authority" || lower === "host";
}

/**
 * Problems with a header name to change: request `set`/`add` may name the authority; `remove`
 * and the response side may not touch `Host`; no side may change another `:pseudo` header.
 */
function operationNameProblem(name: string, mayBeAuthority: boolean): string | undefined {
  if (name === "") return "header names may not be empty";
  if (mayBeAuthority && isAuthorityHeader(name)) return undefined;
  if (name.toLowerCase() === "host") return "the Host header can't be changed here";
  if (name.startsWith(":")) return `pseudo-header ${quote(name)} can't be changed`;
  return undefined;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Problems with a header value Envoy would add, read as Envoy's header parser reads it: text,
 * `%%` for a percent sign, and `%VARIABLE%` or `%VARIABLE(args)%` (args a JSON array of strings
 * or free text up to the closing parenthesis).
 */
export function headerValueProblem(value: string): string | undefined {
  if (CONTROL.test(value)) return "header values may not contain control characters";
  type State = "text" | "name" | "array?" | "string?" | "string" | ",]" | ")" | "%";
  let state: State = "text";
  const bad = (why: string) =>
    `invalid header value ${quote(value)}: ${why}; write %% for a percent sign`;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    switch (state) {
      case "text":
        if (c !== "%") break;
        if (i + 1 === value.length) return bad("a % ends the value");
        if (value[i + 1] === "%") i++;
        else state = "name";
        break;
      case "name":
        if (c === "%") state = "text";
        else if (c === "(") state = "array?";
        break;
      case "array?":
        if (c === "[") state = "string?";
        else if (c !== " ") state = "string";
        break;
      case ",]":
        if (c === ",") state = "string?";
        else if (c === "]") state = ")";
        else if (c !== " ") return bad("expected ',' or ']' in the arguments");
        break;
      case "string?":
        if (c === '"') state = "string";
        else if (c !== " ") return bad("expected '\"' in the arguments");
        break;
      case "string":
        if (c === "\\") {
          if (i + 1 === value.length) return bad("a backslash ends the value");
          i++;
        } else if (c === ")") state = "%";
        else if (c === '"') state = ",]";
        break;
      case ")":
        if (c === ")") state = "%";
        else if (c !== " ") return bad("expected ')' after the arguments");
        break;
      case "%":
        if (c === "%") state = "text";
        else if (c !== " ") return bad("expected '%' after the arguments");
        break;
    }
  }
  return state === "text" ? undefined : bad("a %VARIABLE% is not closed");
}

/**
 * Checks the header changes of a route or a destination, as Istio's
 * `ValidateHTTPHeaderWithAuthorityOperationName`, `ValidateHTTPHeaderOperationName` and
 * `ValidateHTTPHeaderValue`: names are refused only when empty, `Host` (outside request
 * `set`/`add`) or `:`-prefixed (but the authority in request `set`/`add`), never for their
 * characters (the proxy skips a change it can't make); values for control characters and
 * Envoy's `%` syntax. All are errors.
 */
export function checkHeaderOperations(
  ops: HeaderOperations | undefined,
  path: Path,
  r: Reporter,
): void {
  for (const side of ["request", "response"] as const) {
    const op = ops?.[side];
    if (!op) continue;
    for (const kind of ["set", "add"] as const) {
      for (const [name, value] of Object.entries(op[kind] ?? {})) {
        // As Istio, the name and the value are both checked (and both reported).
        const nameProblem = operationNameProblem(name, side === "request");
        if (nameProblem) r.error([...path, side, kind, name], nameProblem);
        const valueProblem = headerValueProblem(value);
        if (valueProblem) r.error([...path, side, kind, name], valueProblem);
      }
    }
    op.remove?.forEach((name, i) => {
      const problem = operationNameProblem(name, false);
      if (problem) r.error([...path, side, "remove", i], problem);
    });
  }
}

/** Errors when the authority is set more than once (rewrite, then request `set`, then `add`). */
export function checkAuthorityOnce(
  rewrite: HTTPRewrite | undefined,
  headers: HeaderOperations | undefined,
  path: Path,
  r: Reporter,
): void {
  let current = rewrite?.authority ?? "";
  for (const kind of ["set", "add"] as const) {
    for (const [name, value] of Object.entries(headers?.request?.[kind] ?? {})) {
      if (!isAuthorityHeader(name)) continue;
      if (current !== "") {
        r.error(
          [...path, "headers", "request", kind, name],
          `the authority is already set to ${quote(current)}; set it in one place only`,
        );
        return;
      }
      current = value;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Gateway names, labels, destinations, addresses

/**
 * Checks gateway names (`mesh`, `name`, `namespace/name` or the old FQDN form, warned). As in
 * Istio, checking stops after the first name without a `/`.
 */
export function checkGatewayNames(names: readonly string[] | undefined, path: Path, r: Reporter) {
  for (const [i, name] of (names ?? []).entries()) {
    const at = [...path, i];
    const slash = name.indexOf("/");
    if (slash < 0) {
      if (name.includes(".")) {
        const parts = name.split(".");
        r.warn(
          at,
          `gateway ${quote(name)} uses the old FQDN form; write it as namespace/name: ` +
            quote(`${parts[1]}/${parts[0]}`),
        );
      }
      const problem = fqdnProblem(name);
      if (problem) r.error(at, `invalid gateway ${quote(name)}: ${problem}`);
      return;
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (ns === "" || gw === "") {
      r.error(at, `invalid gateway ${quote(name)}; neither namespace nor name may be empty`);
    }
    if (!isIstioLabel(ns)) r.error(at, `invalid gateway namespace ${quote(ns)}`);
    if (!isIstioLabel(gw)) {
      r.error(at, `invalid gateway name ${quote(gw)}; a Gateway name is a DNS label`);
    }
  }
}

const LABEL_NAME = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_PREFIX =
  /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Checks a label map as Istio's labels.Instance.Validate: keys `[prefix/]name`, no value limit. */
export function checkIstioLabels(
  labels: Record<string, string> | undefined,
  path: Path,
  r: Reporter,
): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    const slash = key.indexOf("/");
    const prefix = slash < 0 ? undefined : key.slice(0, slash);
    const name = slash < 0 ? key : key.slice(slash + 1);
    const keyOk = LABEL_NAME.test(name) && name.length <= 63 &&
      (prefix === undefined || (LABEL_PREFIX.test(prefix) && prefix.length <= 253));
    if (!keyOk) {
      r.error([...path, key], `invalid label key ${quote(key)}; use [prefix/]name`);
    } else if (!LABEL_VALUE.test(value)) {
      r.error([...path, key], `invalid label value ${quote(value)}`);
    }
  }
}

/** Checks a route, mirror or TCP/TLS destination: host, subset and port. */
export function checkDestination(d: Destination, path: Path, r: Reporter): void {
  const problem = d.host === "*" ? "it is *" : wildcardDomainProblem(d.host);
  if (problem) {
    r.error(
      [...path, "host"],
      `invalid destination host ${quote(d.host)}: ${problem}; use a service name like ` +
        "reviews, an FQDN, or a wildcard such as *.example.com",
    );
  }
  if (d.subset !== undefined && d.subset !== "" && !isIstioLabel(d.subset)) {
    r.error(
      [...path, "subset"],
      `invalid subset name ${quote(d.subset)}; subset names are DNS labels like v1`,
    );
  }
}

/** Problems with an IP address or CIDR block as Go's netip reads them. */
export function subnetProblem(s: string): string | undefined {
  const slashes = s.split("/").length - 1;
  if (slashes === 1) {
    const [ip, bits] = s.split("/");
    const max = ip.includes(":") ? 128 : 32;
    const ok = isGoIP(ip) && !ip.includes("%") && /^(?:0|[1-9]\d{0,2})$/.test(bits) &&
      Number(bits) <= max;
    return ok ? undefined : `${quote(s)} is not a valid CIDR block`;
  }
  return isGoIP(s) ? undefined : `${quote(s)} is not a valid IP address`;
}

/** Problems with a port that Istio checks only when set (non-zero). */
export function optionalPortProblem(port: number | undefined): string | undefined {
  if (port === undefined || port === 0 || port <= 65535) return undefined;
  return `port number ${port} must be in the range 1..65535`;
}

// ---------------------------------------------------------------------------------------------
// Actions: redirect, direct response, rewrite

/** Checks a redirect; a `prefixRewrite` needs every URI match of the route to be a prefix. */
export function checkRedirect(
  rd: HTTPRedirect,
  matches: readonly HTTPMatchRequest[] | undefined,
  path: Path,
  r: Reporter,
): void {
  if (rd.port !== undefined && rd.derivePort !== undefined) {
    r.error([...path, "derivePort"], "port and derivePort can't both be set; keep one");
  }
  if (rd.uri && rd.prefixRewrite) {
    r.error([...path, "prefixRewrite"], "uri and prefixRewrite can't both be set; keep one");
  }
  if (rd.prefixRewrite && matches?.some((m) => m.uri && m.uri.prefix === undefined)) {
    r.error(
      [...path, "prefixRewrite"],
      "prefixRewrite replaces the matched prefix; every uri match of the route must be a prefix",
    );
  }
  const port = rd.port !== undefined || rd.derivePort !== undefined;
  if (!rd.uri && !rd.prefixRewrite && !rd.authority && !port && !rd.scheme) {
    r.error(path, "empty redirect; set uri, prefixRewrite, authority, scheme or port");
  }
  const code = rd.redirectCode ?? 0;
  if (code !== 0 && (code < 300 || code > 399)) {
    r.error([...path, "redirectCode"], `${code} is not a redirect code; use a 3xx code like 301`);
  }
  if (rd.scheme && rd.scheme !== "http" && rd.scheme !== "https") {
    r.error([...path, "scheme"], `scheme must be "http" or "https"; got ${quote(rd.scheme)}`);
  }
  const portProblem = optionalPortProblem(rd.port);
  if (portProblem) r.error([...path, "port"], portProblem);
}

/**
 * Checks an HTTP status (Istio: 200..600). Deliberately stricter: mesh refuses 600, which Envoy
 * refuses too and which mesh can't send.
 */
export function checkHttpStatus(status: number, path: Path, r: Reporter): void {
  if (status < 200 || status > 599) {
    r.error(path, `HTTP status ${status} is not in the range 200..599`);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Checks a direct response: its status, and its body (base64 bytes; 100 KB warns, 1 MB errs). */
export function checkDirectResponse(dr: HTTPDirectResponse, path: Path, r: Reporter): void {
  checkHttpStatus(dr.status, [...path, "status"], r);
  const body = dr.body;
  if (!body) return;
  if (body.string !== undefined && body.bytes !== undefined) {
    r.error([...path, "body", "bytes"], "string and bytes can't both be set; keep one");
  }
  let size = 0;
  if (body.bytes !== undefined) {
    if (!BASE64.test(body.bytes)) r.error([...path, "body", "bytes"], "bytes must be base64");
    const pad = body.bytes.endsWith("==") ? 2 : body.bytes.endsWith("=") ? 1 : 0;
    size = Math.floor(body.bytes.length / 4) * 3 - pad;
  } else if (body.string !== undefined) {
    size = new TextEncoder().encode(body.string).length;
  }
  if (size > 1024 * 1024) {
    r.error([...path, "body"], "the body must be smaller than 1 MB (large bodies slow istiod)");
  } else if (size > 100 * 1024) {
    r.warn([...path, "body"], "bodies over 100 KB may slow the control plane down");
  }
}

/** Checks a rewrite: something to rewrite, and not both uri and uriRegexRewrite. */
export function checkRewrite(rw: HTTPRewrite, path: Path, r: Reporter): void {
  const regex = rw.uriRegexRewrite;
  if (rw.uri && regex) {
    r.error([...path, "uriRegexRewrite"], "uri and uriRegexRewrite can't both be set; keep one");
  } else if (!rw.uri && !regex && !rw.authority) {
    r.error(path, "empty rewrite; set uri, uriRegexRewrite or authority");
  } else if (regex) {
    if (!regex.match || !regex.rewrite) {
      r.error([...path, "uriRegexRewrite"], "uriRegexRewrite needs both match and rewrite");
    } else checkRegex(regex.match, [...path, "uriRegexRewrite", "match"], r);
  }
}

/**
 * The `namespace/name` a gateway reference stands for, as Istio resolves it: `mesh` stays, a
 * short name is in the VirtualService's namespace, and the old FQDN form `name.ns[.svc...]`
 * names `ns/name`.
 */
export function resolveGatewayName(ref: string, namespace: string): string {
  if (ref === "mesh" || ref.includes("/")) return ref;
  const dot = ref.indexOf(".");
  if (dot < 0) return `${namespace}/${ref}`;
  const rest = ref.slice(dot + 1);
  const next = rest.indexOf(".");
  return `${next < 0 ? rest : rest.slice(0, next)}/${ref.slice(0, dot)}`;
}
