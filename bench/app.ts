/**
 * The benchmark's upstream app: a tiny HTTP server that answers every request
 * with the same 1 KiB plain-text body.
 *
 * Usage: `deno run -A bench/app.ts [--port=N]` (default 0: an ephemeral port).
 * Prints `listening on http://127.0.0.1:<port>` once it accepts connections.
 * @module
 */

/** Size of every response body, in bytes. */
export const BODY_BYTES = 1024;

function portFlag(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = a.startsWith("--port=") ? a.slice(7) : a === "--port" ? args[++i] : undefined;
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      console.error(`app: --port must be an integer 0..65535, got ${JSON.stringify(v)}`);
      Deno.exit(2);
    }
    return n;
  }
  return 0;
}

if (import.meta.main) {
  const body = new TextEncoder().encode("x".repeat(BODY_BYTES - 1) + "\n");
  const headers = { "content-type": "text/plain; charset=utf-8" };
  Deno.serve({
    hostname: "127.0.0.1",
    port: portFlag(Deno.args),
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`),
  }, () => new Response(body, { headers }));
}
