/**
 * HTTP/1.1 upgrades (WebSocket) through the proxy, as Envoy carries them with Istio's
 * `upgrade_configs: [websocket]` on every HTTP connection manager:
 *
 * - the upgrade request is an ordinary request until its answer: routed (VirtualService
 *   match, rewrite, header changes), authenticated and authorized (on the inbound side, and
 *   on a gateway) like any other; `Connection: upgrade` and `Upgrade` are the only hop-by-hop
 *   headers that go on, and only for the upgrade types the mesh allows ({@linkcode
 *   ALLOWED_UPGRADES});
 * - a `101 Switching Protocols` from upstream hands both connections over: the upstream one
 *   leaves its pool, the downstream one leaves the HTTP/1.1 server loop, and the bytes are
 *   spliced both ways with backpressure (`tcp.ts`), closed after the listener's idle timeout
 *   without a byte either way;
 * - any other answer is an ordinary response.
 *
 * The routed listeners speak `Request`/`Response`, and a `Response` can't have status 101: the
 * listener's bridge registers a {@linkcode UpgradeSlot} for the request ({@linkcode
 * offerUpgrade}), the forwarding code puts the upstream connection in it ({@linkcode
 * acceptUpgrade}) and returns a placeholder whose headers (after the route's response header
 * changes) become the 101's, and the bridge then writes the 101 and splices.
 *
 * @example
 * ```ts
 * upgradeOf([["connection", "Upgrade"], ["upgrade", "websocket"]]); // { type: "websocket" }
 * ```
 * @module
 */
import type net from "node:net";
import type { HeaderChanges } from "../api/proxy_config.ts";
import type { H1Response } from "./h1_client.ts";
import { spliceIdle } from "./tcp.ts";
import { text, withHeaders } from "./route_actions.ts";
import { hopFilter } from "./hop_headers.ts";

/** The upgrade types carried (Istio enables `websocket` on every HTTP route). */
export const ALLOWED_UPGRADES: ReadonlySet<string> = new Set(["websocket"]);

/**
 * What a request's `Connection`/`Upgrade` headers ask for: `type` an upgrade the mesh carries,
 * `refused` one it doesn't (Envoy answers 403 for an upgrade type it isn't configured for);
 * undefined for an ordinary request. `h2c` (the HTTP/2 cleartext upgrade) is ignored, as Envoy
 * strips it: the request is served as HTTP/1.1.
 */
export function upgradeOf(
  headers: Iterable<[string, string]>,
): { type: string } | { refused: string } | undefined {
  let connection = "";
  let upgrade: string | undefined;
  for (const [k, v] of headers) {
    if (k === "connection") connection += `,${v}`;
    else if (k === "upgrade") upgrade = upgrade === undefined ? v : `${upgrade},${v}`;
  }
  if (upgrade === undefined) return undefined;
  const asked = connection.split(",").some((t) => t.trim().toLowerCase() === "upgrade");
  if (!asked) return undefined;
  const type = upgrade.split(",")[0].trim().split("/")[0].toLowerCase();
  if (type === "h2c" || type === "") return undefined;
  return ALLOWED_UPGRADES.has(type) ? { type } : { refused: type };
}

/** {@linkcode upgradeOf} for a `Request`'s headers. */
export function requestUpgrade(req: Request): { type: string } | { refused: string } | undefined {
  if (!req.headers.has("upgrade")) return undefined;
  const pairs: [string, string][] = [];
  req.headers.forEach((v, k) => pairs.push([k, v]));
  return upgradeOf(pairs);
}

/** An upstream connection switched to another protocol, with the bytes that followed its 101. */
export interface Upgraded {
  socket: net.Socket;
  head: Uint8Array;
}

/**
 * Where the forwarding code leaves an accepted upgrade: the routed listeners' the upstream
 * side (`upstream`, spliced to the client by the listener), the inbound listener's what
 * takes the client's side over (`handOver`, the app's connection already inside).
 */
export interface UpgradeSlot {
  type: string;
  upstream?: Upgraded;
  /** Called once when the tunnel ends (releases the circuit-breaker slot). */
  done?: () => void;
  /** Takes the client's side (its connection, or an HTTP/2 stream as one) and carries it. */
  handOver?: (client: net.Socket, rest: Uint8Array) => void;
}

const slots = new WeakMap<Request, UpgradeSlot>();

/** Marks `req` as an upgrade request the listener can carry; returns its slot. */
export function offerUpgrade(req: Request, type: string): UpgradeSlot {
  const slot: UpgradeSlot = { type };
  slots.set(req, slot);
  return slot;
}

/** The slot offered for `req`, or undefined. */
export function upgradeSlotOf(req: Request): UpgradeSlot | undefined {
  return slots.get(req);
}

/** The upgrade type offered for `req` (sent upstream in `Upgrade`), or undefined. */
export function offeredUpgrade(req: Request): string | undefined {
  return slots.get(req)?.type;
}

/** The headers that ask an upstream for the upgrade `type`. */
export function upgradeHeaders(type: string): [string, string][] {
  return [["connection", "upgrade"], ["upgrade", type]];
}

/**
 * Takes an upstream's 101 for `req`: the connection goes into the request's slot, and the
 * returned placeholder (status 200, the 101's end-to-end headers with `changes` applied)
 * tells the listener to answer 101 and splice. Cancelling `res.body` when the tunnel ends
 * runs what the forwarding code hung on it (the circuit-breaker slot's release).
 */
export function acceptUpgrade(
  req: Request,
  res: H1Response & { upgrade: Upgraded },
  changes: (HeaderChanges | undefined)[] = [],
): Response {
  const slot = slots.get(req);
  if (!slot || slot.upstream) {
    res.upgrade.socket.destroy();
    res.body.cancel().catch(() => {});
    return text(502, "upstream switched protocols without an upgrade request");
  }
  slot.upstream = res.upgrade;
  slot.done = () => void res.body.cancel().catch(() => {});
  const headers = new Headers();
  const drop = hopFilter(res.headers.filter(([k]) => k === "connection").map(([, v]) => v), false);
  for (const [k, v] of res.headers) if (!drop(k) && k !== "content-length") headers.append(k, v);
  let out = new Response(null, { status: 200, headers });
  for (const c of changes) out = withHeaders(out, c);
  return out;
}

/** The pairs of a 101 answer: `headers` (hop-by-hop dropped) and the upgrade's own. */
export function switchingHeaders(headers: [string, string][], type: string): [string, string][] {
  const drop = hopFilter(headers.filter(([k]) => k === "connection").map(([, v]) => v), false);
  return [...headers.filter(([k]) => !drop(k) && k !== "content-length"), ...upgradeHeaders(type)];
}

/** What {@linkcode carry} needs. */
export interface CarryOptions {
  /** Close both sides after this long without a byte either way (0: never). */
  idleTimeoutMs: number;
  /** Called once when both sides are closed, with the bytes each way. */
  done?: (downToUp: number, upToDown: number) => void;
}

/**
 * Carries an upgraded exchange: `rest` (bytes the client sent after its request head) goes
 * upstream first, `up.head` (bytes after the 101) to the client, then both sockets are
 * spliced with backpressure until either side closes (which closes the other).
 */
export function carry(
  client: net.Socket,
  rest: Uint8Array,
  up: Upgraded,
  opts: CarryOptions,
): void {
  if (client.destroyed || up.socket.destroyed) {
    client.destroy();
    up.socket.destroy();
    opts.done?.(0, 0);
    return;
  }
  if (rest.length) up.socket.write(rest);
  if (up.head.length) client.write(up.head);
  spliceIdle(client, up.socket, opts.idleTimeoutMs, (a, b) => {
    opts.done?.(a + rest.length, b + up.head.length);
  });
}
