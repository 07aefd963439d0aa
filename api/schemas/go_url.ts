/**
 * URL parsing as Go's `net/url` does it, for the few fields Istio checks with it (WasmPlugin
 * `url`, ext_authz `pathPrefix`): only whether Go accepts the text, and its scheme.
 * @module
 */

/** Characters Go allows unescaped in a host name (besides letters and digits). */
const HOST_CHARS = "-_.~!$&'()*+,;=:[]<>\"";
/** Characters Go allows in userinfo (besides letters and digits). */
const USERINFO_CHARS = "-._:~!$&'()*+,;=%@";

/** The outcome of {@linkcode parseGoUrl}. */
export type GoUrl = { scheme: string } | { error: string };

function badEscapes(s: string): boolean {
  return /%(?![0-9a-fA-F]{2})/.test(s);
}

function hostProblem(host: string): string | undefined {
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return "missing ']' in host";
    const port = host.slice(close + 1);
    if (port !== "" && !/^:\d*$/.test(port)) return `invalid port ${JSON.stringify(port)}`;
    return undefined;
  }
  const colon = host.lastIndexOf(":");
  if (colon >= 0 && !/^\d*$/.test(host.slice(colon + 1))) {
    return `invalid port ${JSON.stringify(host.slice(colon))} after host`;
  }
  if (badEscapes(host)) return "invalid URL escape in host";
  for (const c of host) {
    if (c.charCodeAt(0) < 0x80 && !/[A-Za-z0-9%]/.test(c) && !HOST_CHARS.includes(c)) {
      return `invalid character ${JSON.stringify(c)} in host name`;
    }
  }
  return undefined;
}

/**
 * Parses `raw` as Go's `url.ParseRequestURI` (`request`: an absolute URI or an absolute path,
 * no fragment) or `url.Parse` does; returns the lower-cased scheme, or why Go refuses it.
 */
export function parseGoUrl(raw: string, request: boolean): GoUrl {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return { error: "invalid control character in URL" };
  let rest = raw;
  if (!request) {
    const hash = rest.indexOf("#");
    if (hash >= 0) {
      if (badEscapes(rest.slice(hash + 1))) return { error: "invalid URL escape in fragment" };
      rest = rest.slice(0, hash);
    }
  }
  if (rest === "*" && request) return { scheme: "" };
  let scheme = "";
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (m) {
    scheme = m[1].toLowerCase();
    rest = rest.slice(m[0].length);
  } else if (rest.startsWith(":")) return { error: "missing protocol scheme" };
  const q = rest.indexOf("?");
  if (q >= 0) rest = rest.slice(0, q);
  if (!rest.startsWith("/")) {
    if (scheme !== "") return { scheme }; // opaque, like mailto:x
    if (request) return { error: "invalid URI for request" };
    const colon = rest.indexOf(":");
    if (colon >= 0 && (rest.indexOf("/") < 0 || colon < rest.indexOf("/"))) {
      return { error: "first path segment in URL cannot contain colon" };
    }
  }
  if ((scheme !== "" || (!request && !rest.startsWith("///"))) && rest.startsWith("//")) {
    const end = rest.indexOf("/", 2);
    const authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
    rest = end < 0 ? "" : rest.slice(end);
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      for (const c of userinfo) {
        if (!/[A-Za-z0-9]/.test(c) && !USERINFO_CHARS.includes(c)) {
          return { error: "invalid userinfo" };
        }
      }
      if (badEscapes(userinfo)) return { error: "invalid URL escape in userinfo" };
    }
    const problem = hostProblem(authority.slice(at + 1));
    if (problem) return { error: problem };
  }
  if (badEscapes(rest)) return { error: "invalid URL escape in path" };
  return { scheme };
}
