/**
 * One authority per request, decided once and used for routing, authorization and the `Host`
 * sent upstream (the app sees the same one). An absolute-form target's authority wins over a
 * `Host` header (RFC 9112 §3.2.2); otherwise the `Host` header. The result is canonical: host
 * lower-cased, one trailing dot dropped (`svc.` is `svc`), the port kept. An authority that
 * isn't one (userinfo, a path or spaces in `Host`, a bad port) is refused (400); none at all
 * is "" (no route: 404 NR).
 *
 * @example
 * ```ts
 * requestAuthority("http://svc/admin", "other"); // { authority: "svc" }
 * requestAuthority("http://localhost:15001/", null); // { authority: "" } (no Host at all)
 * ```
 * @module
 */

/** A request's canonical authority ("" when it has none), or why it is refused (400). */
export type Authority = { authority: string; reject?: undefined } | { reject: string };

const REG_NAME = /^[a-z0-9\-._~!$&'()*+,;=%]*$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;

/**
 * Canonicalizes an authority (`host[:port]`): lower case, no trailing dot; undefined when it
 * isn't a valid one.
 */
export function canonicalAuthority(raw: string): string | undefined {
  const a = raw.trim().toLowerCase();
  if (a === "") return "";
  let host = a;
  let port = "";
  const colon = a.lastIndexOf(":");
  if (colon >= 0 && !a.slice(colon).includes("]")) {
    host = a.slice(0, colon);
    port = a.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  }
  if (host.startsWith("[")) {
    if (!IPV6.test(host)) return undefined;
  } else {
    if (host === "" || !REG_NAME.test(host)) return undefined;
    if (host.endsWith(".") && host.length > 1) host = host.slice(0, -1);
    if (host.endsWith(".")) return undefined;
  }
  return port ? `${host}:${port}` : host;
}

/**
 * The authority of a request as `Deno.serve` hands it over: `url` is `Request.url` (the
 * absolute-form target as sent, or `scheme://` + `Host` + target), `host` the `Host` header.
 * Without a `Host` header and with `Deno.serve`'s own stand-in (`localhost:<listener port>`),
 * the request has no authority.
 */
export function requestAuthority(url: string, host: string | null): Authority {
  const start = url.indexOf("://") + 3;
  let end = start;
  while (end < url.length && !"/?#".includes(url[end])) end++;
  const fromUrl = url.slice(start, end);
  if (fromUrl.includes("@")) return { reject: "the request's authority has userinfo" };
  if (host !== null) {
    const h = canonicalAuthority(host);
    if (h === undefined || host.includes("@")) {
      return { reject: `invalid Host header ${JSON.stringify(host)}` };
    }
    // Origin-form: the URL was made from the Host header; absolute-form: the target's wins.
    if (fromUrl === host) return { authority: h };
  }
  if ((host === null || host.trim() === "") && /^localhost:\d+$/.test(fromUrl)) {
    return { authority: "" };
  }
  const a = canonicalAuthority(fromUrl);
  if (a === undefined) return { reject: `invalid authority ${JSON.stringify(fromUrl)}` };
  return { authority: a };
}

/**
 * The authority of a request read by mesh's HTTP/1.1 server (the inbound side): an
 * absolute-form target's authority, else the `Host` header; canonical, "" when there's none.
 */
export function targetAuthority(target: string, host: string | undefined): Authority {
  const m = target.match(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/);
  const raw = m ? m[1] : host ?? "";
  if (raw.includes("@")) return { reject: "the request's authority has userinfo" };
  const a = canonicalAuthority(raw);
  if (a === undefined) return { reject: `invalid authority ${JSON.stringify(raw)}` };
  return { authority: a };
}
