/**
 * HTTP/2 message rules (RFC 9113 §8): field names and values, pseudo-header fields of
 * requests and responses, connection-specific fields (refused when received, dropped when
 * sent), trailers, and content-length. A message that breaks them is malformed: the caller
 * resets its stream with PROTOCOL_ERROR.
 *
 * @example
 * ```ts
 * import { checkRequest } from "./message.ts";
 * const r = checkRequest([[":method", "GET"], [":scheme", "https"], [":path", "/"], [":authority", "a"]]);
 * if ("error" in r) console.log(r.error); else console.log(r.method); // "GET"
 * ```
 * @module
 */
import type { HeaderField } from "./hpack.ts";

/** Connection-specific fields, which HTTP/2 forbids (§8.2.2). */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

const NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// deno-lint-ignore no-control-regex
const BAD_VALUE = /[\x00\r\n]|^[ \t]|[ \t]$/;
const REQUEST_PSEUDO = new Set([":method", ":scheme", ":path", ":authority"]);

/** A valid request's pseudo-header fields and framing. */
export interface RequestInfo {
  method: string;
  path?: string;
  authority?: string;
  /** Extended CONNECT's `:protocol` (RFC 8441), e.g. `websocket`. */
  protocol?: string;
  contentLength?: number;
}

/** A valid response's status and framing. */
export interface ResponseInfo {
  status: number;
  contentLength?: number;
}

/** Checks the regular fields from `from` on; returns an error or the content-length. */
function checkRegular(
  fields: readonly HeaderField[],
  from: number,
): { error: string } | { contentLength?: number } {
  let contentLength: number | undefined;
  for (let i = from; i < fields.length; i++) {
    const [name, value] = fields[i];
    if (name.startsWith(":")) return { error: `pseudo-header ${name} after regular fields` };
    if (!NAME.test(name)) {
      return {
        error: name === "" ? "empty field name" : `invalid field name ${JSON.stringify(name)}`,
      };
    }
    if (BAD_VALUE.test(value)) return { error: `invalid value of ${name}` };
    if (CONNECTION_SPECIFIC.has(name)) return { error: `connection-specific field ${name}` };
    if (name === "te" && value !== "trailers") return { error: "te other than trailers" };
    if (name === "content-length") {
      if (!/^[0-9]{1,15}$/.test(value)) return { error: "invalid content-length" };
      const n = Number(value);
      if (contentLength !== undefined && contentLength !== n) {
        return { error: "conflicting content-length" };
      }
      contentLength = n;
    }
  }
  return { contentLength };
}

/**
 * Checks a request's header fields (§8.3.1). `:protocol` (extended CONNECT, RFC 8441 §4) is
 * a pseudo-header only where `o.extendedConnect` says the server announced it, and then only
 * with CONNECT, which then needs `:scheme`, `:path` and `:authority` like any request.
 */
export function checkRequest(
  fields: readonly HeaderField[],
  o?: { extendedConnect?: boolean },
): RequestInfo | { error: string } {
  const pseudo = new Map<string, string>();
  let i = 0;
  for (; i < fields.length && fields[i][0].startsWith(":"); i++) {
    const [name, value] = fields[i];
    if (!REQUEST_PSEUDO.has(name) && !(name === ":protocol" && o?.extendedConnect)) {
      return { error: `pseudo-header ${name} in a request` };
    }
    if (pseudo.has(name)) return { error: `duplicate ${name}` };
    if (BAD_VALUE.test(value)) return { error: `invalid value of ${name}` };
    pseudo.set(name, value);
  }
  const method = pseudo.get(":method");
  if (!method || !NAME.test(method.toLowerCase())) return { error: "missing or invalid :method" };
  const path = pseudo.get(":path");
  const authority = pseudo.get(":authority");
  const protocol = pseudo.get(":protocol");
  if (protocol !== undefined) {
    if (method !== "CONNECT") return { error: ":protocol without CONNECT" };
    if (!NAME.test(protocol)) return { error: "invalid :protocol" };
    if (!pseudo.get(":scheme") || !path?.startsWith("/") || !authority) {
      return { error: "extended CONNECT without :scheme, :path or :authority" };
    }
  } else if (method === "CONNECT") {
    if (pseudo.has(":scheme") || path !== undefined) {
      return { error: "CONNECT with :scheme or :path" };
    }
    if (!authority) return { error: "CONNECT without :authority" };
  } else {
    if (!pseudo.get(":scheme")) return { error: "missing :scheme" };
    if (!path) return { error: "missing or empty :path" };
    if (path !== "*" && !path.startsWith("/") && /^https?$/.test(pseudo.get(":scheme")!)) {
      return { error: "invalid :path" };
    }
    if (path === "*" && method !== "OPTIONS") return { error: ":path * other than for OPTIONS" };
  }
  const rest = checkRegular(fields, i);
  if ("error" in rest) return rest;
  if (authority !== undefined) {
    const host = fields.find(([n]) => n === "host");
    if (host && host[1] !== authority) return { error: "host differs from :authority" };
  }
  return {
    method,
    path,
    authority,
    ...(protocol !== undefined ? { protocol } : {}),
    contentLength: rest.contentLength,
  };
}

/** Checks a response's header fields (§8.3.2), informational (1xx) ones included. */
export function checkResponse(fields: readonly HeaderField[]): ResponseInfo | { error: string } {
  if (fields.length === 0 || fields[0][0] !== ":status") return { error: "missing :status" };
  if (!/^[1-9][0-9]{2}$/.test(fields[0][1])) return { error: "invalid :status" };
  if (fields[1]?.[0].startsWith(":")) {
    return { error: `pseudo-header ${fields[1][0]} in a response` };
  }
  const rest = checkRegular(fields, 1);
  if ("error" in rest) return rest;
  return { status: Number(fields[0][1]), contentLength: rest.contentLength };
}

/** Checks trailers (§8.1): regular fields only; an error message or undefined. */
export function checkTrailers(fields: readonly HeaderField[]): string | undefined {
  const r = checkRegular(fields, 0);
  return "error" in r ? r.error : undefined;
}

/**
 * Fields as we send them: names lower-cased, connection-specific fields and `te` other than
 * `trailers` dropped (every `te` with `teTrailers` false: a server's, since §8.2.2 allows it
 * in requests only), pseudo-header fields first.
 */
export function outgoingFields(
  fields: readonly HeaderField[],
  teTrailers = true,
): HeaderField[] {
  const pseudo: HeaderField[] = [];
  const regular: HeaderField[] = [];
  for (const [n, v] of fields) {
    const name = n.toLowerCase();
    if (name.startsWith(":")) pseudo.push([name, v]);
    else if (
      CONNECTION_SPECIFIC.has(name) || (name === "te" && !(teTrailers && v === "trailers"))
    ) {
      continue;
    } else regular.push([name, v]);
  }
  return pseudo.length ? [...pseudo, ...regular] : regular;
}
