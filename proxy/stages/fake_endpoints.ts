/**
 * A fake upstream for the stage tests: an {@linkcode EndpointClient} that answers from a
 * function, records every request it was sent, and fails or hangs as told, with no sockets.
 *
 * @example
 * ```ts
 * const up = new FakeEndpoints((req, t) => reply(200, `hello from ${t.endpoint.address}`));
 * await up.send({ method: "GET", path: "/", headers: [], body: null }, { endpoint });
 * up.sent.length; // 1
 * ```
 * @module
 */
import { UpstreamError } from "../h1_client.ts";
import type {
  EndpointClient,
  EndpointRequest,
  EndpointResponse,
  EndpointTarget,
} from "./endpoint.ts";

/** One request the fake was sent. */
export interface Sent {
  req: EndpointRequest;
  target: EndpointTarget;
  signal?: AbortSignal;
  /** The request body, read whole (null without one). */
  body: Uint8Array | null;
}

/** How the fake answers. */
export type Answerer = (
  req: EndpointRequest,
  target: EndpointTarget,
  signal?: AbortSignal,
) => EndpointResponse | Promise<EndpointResponse>;

/** The fake upstream. */
export class FakeEndpoints implements EndpointClient {
  readonly sent: Sent[] = [];
  answer: Answerer;
  constructor(answer: Answerer = () => reply(200, "ok")) {
    this.answer = answer;
  }

  async send(
    req: EndpointRequest,
    target: EndpointTarget,
    signal?: AbortSignal,
  ): Promise<EndpointResponse> {
    const body = req.body === null
      ? null
      : req.body instanceof Uint8Array
      ? req.body
      : new Uint8Array(await new Response(req.body).arrayBuffer());
    this.sent.push({ req, target, signal, body });
    return this.answer(req, target, signal);
  }

  /** The `host` header of the request number `i`. */
  header(i: number, name: string): string | undefined {
    return this.sent[i]?.req.headers.find(([k]) => k === name)?.[1];
  }
}

/** A whole response. */
export function reply(
  status: number,
  body = "",
  headers: [string, string][] = [],
): EndpointResponse {
  const bytes = new TextEncoder().encode(body);
  return {
    status,
    statusText: "",
    headers: [...headers, ["content-length", String(bytes.length)]],
    body: new Response(bytes).body!,
    full: bytes,
  };
}

/** A response whose body streams `chunks` and then stays open until cancelled. */
export function streaming(status: number, chunks: string[]): EndpointResponse {
  const enc = new TextEncoder();
  return {
    status,
    statusText: "",
    headers: [],
    body: new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(enc.encode(ch));
      },
    }),
  };
}

/** Never answers; rejects when `signal` aborts (as the HTTP/1.1 client does). */
export function hang(signal?: AbortSignal): Promise<EndpointResponse> {
  return new Promise((_, reject) => {
    signal?.addEventListener("abort", () => reject(new UpstreamError("aborted", false)));
  });
}

/** A connection that couldn't be made. */
export function refused(): never {
  throw new UpstreamError("connect ECONNREFUSED", false, false);
}

/** A connection that closed before the response head. */
export function reset(): never {
  throw new UpstreamError("socket closed before the response head", false, true);
}
