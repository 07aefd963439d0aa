/**
 * Read flow control that really stops reading, for plain and TLS sockets.
 *
 * On Deno 2.9, `pause()` on a `node:tls` socket only stops its `data` events:
 * the native side keeps reading from the kernel and buffers everything, so a
 * slow consumer lets a fast peer fill the proxy's memory (200 MB through one
 * mTLS hop was measured). Pausing the TCP socket *under* the TLS socket does
 * stop the kernel reads, and the peer's writes then back up as TCP intends;
 * resuming needs the handle's reads restarted by hand. So every TLS socket
 * the proxy reads from sits on a `net.Socket` it can reach (`_parent`):
 * servers wrap accepted sockets (`new tls.TLSSocket(raw)` or
 * `tlsServer.emit("connection", raw)`), and clients connect with
 * {@linkcode connectTls}. Plain sockets are paused as usual.
 *
 * `flow_test.ts` holds the runtime to this, so an upgrade that changes it fails there.
 *
 * @example
 * ```ts
 * const s = connectTls({ host: "127.0.0.1", port: 15006, ca, key, cert });
 * pauseReading(s); // the peer's writes back up
 * resumeReading(s);
 * ```
 * @module
 */
import net from "node:net";
import tls from "node:tls";

/** The TCP socket under a TLS socket, when there is one. */
function rawOf(s: net.Socket): net.Socket | undefined {
  const parent = (s as unknown as { _parent?: unknown })._parent;
  return parent instanceof net.Socket && parent !== s ? parent : undefined;
}

/** Stops reading from `s` (and from the TCP socket under it). */
export function pauseReading(s: net.Socket): void {
  // The TCP socket first: paused after the TLS socket, it keeps reading (Deno 2.9).
  rawOf(s)?.pause();
  s.pause();
}

/** Starts reading from `s` again after {@linkcode pauseReading}. */
export function resumeReading(s: net.Socket): void {
  const raw = rawOf(s);
  if (raw && !raw.destroyed) {
    raw.resume();
    // Deno 2.9: a TCP socket under TLS stays stopped after resume() until its handle reads again.
    try {
      (raw as unknown as { _handle?: { readStart?: () => void } })._handle?.readStart?.();
    } catch { /* closing */ }
  }
  s.resume();
}

/** `tls.connect` options with the address to dial. */
export type TlsDialOptions = tls.ConnectionOptions & { host: string; port: number };

/** `tls.connect` over a TCP socket of its own, so that {@linkcode pauseReading} can stop it. */
export function connectTls(
  options: TlsDialOptions,
  onSecure?: () => void,
): tls.TLSSocket {
  const raw = net.connect({ host: options.host, port: options.port });
  const servername = options.servername ?? (net.isIP(options.host) ? undefined : options.host);
  return tls.connect({ ...options, socket: raw, servername }, onSecure);
}
