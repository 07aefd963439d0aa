/**
 * The message-type registry: what a kind of finding is (code, name, level, text) and the
 * helpers that render Go's formatting verbs the way istioctl's templates use them.
 * `messages.ts` and `istio_messages.ts` define the types; import them from `messages.ts`.
 * @module
 */

/** Severity of a message, named as istioctl names them. */
export type Level = "Error" | "Warning" | "Info";

/** Levels from worst to mildest (istioctl's sort order). */
export const LEVELS: readonly Level[] = ["Error", "Warning", "Info"];

/** One kind of finding: a stable code, a name, a level, and how its text is built. */
export interface MessageType<A extends unknown[] = never[]> {
  /** `IST0101`, `MSH0001`, ... */
  readonly code: string;
  /** `ReferencedResourceNotFound`, ... */
  readonly name: string;
  readonly level: Level;
  /** One sentence: what the message means. */
  readonly description: string;
  /** Builds the message text from its arguments. */
  readonly format: (...args: A) => string;
}

const ALL: MessageType<never[]>[] = [];

/** Defines (and registers) a message type. */
export function define<A extends unknown[]>(
  code: string,
  name: string,
  level: Level,
  description: string,
  format: (...args: A) => string,
): MessageType<A> {
  const t: MessageType<A> = { code, name, level, description, format };
  ALL.push(t as unknown as MessageType<never[]>);
  return t;
}

/** Go's `%q` for a string, close enough for host names and labels. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Go's `%v` for a slice: `[a b c]`. */
export function goList(items: readonly (string | number)[]): string {
  return `[${items.join(" ")}]`;
}

/** Every message type, in code order. */
export function messageTypes(): readonly MessageType<never[]>[] {
  return [...ALL].sort((a, b) => a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
}
