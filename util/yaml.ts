/**
 * The one place mesh touches the npm `yaml` package: multi-document parsing with source
 * positions, bounded against alias bombs and oversized documents, plus a stringifier.
 *
 * JSON is YAML, so JSON text parses too.
 *
 * @example
 * ```ts
 * import { parseYamlDocuments } from "./yaml.ts";
 *
 * const [doc] = parseYamlDocuments("kind: Gateway\nspec:\n  servers: []\n");
 * doc.value; // { kind: "Gateway", spec: { servers: [] } }
 * doc.positionOf(["spec", "servers"]); // { line: 3, column: 3 }
 * ```
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  stringify,
} from "yaml";

/** A 1-based position in the source text. */
export interface YamlPosition {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** A problem that stopped a document from being decoded. */
export interface YamlError extends YamlPosition {
  /** What went wrong, without position information. */
  message: string;
}

/** A segment of a path into a document: a mapping key or a sequence index. */
export type YamlPathSegment = string | number;

/** One decoded document of a YAML stream. */
export interface YamlDoc {
  /** The decoded value; `undefined` when {@linkcode YamlDoc.error} is set. */
  value: unknown;
  /** 1-based line where the document's content starts. */
  line: number;
  /** Set when the document could not be decoded. */
  error?: YamlError;
  /**
   * The position of the node at `path` (a mapping key's position for a key, an item's for an
   * index). Falls back to the closest existing ancestor, then to the document start.
   */
  positionOf(path: readonly YamlPathSegment[]): YamlPosition;
}

/** Limits applied by {@linkcode parseYamlDocuments}. */
export interface ParseYamlOptions {
  /** Largest document, in characters of source text (default 1 MiB). */
  maxDocumentSize?: number;
  /** Cap on alias expansion passed to `yaml` (default 100; see its `maxAliasCount`). */
  maxAliasCount?: number;
}

/** Default cap on one document's source size: 1 MiB. */
export const DEFAULT_MAX_DOCUMENT_SIZE = 1024 * 1024;
/** Default cap on alias expansion per document. */
export const DEFAULT_MAX_ALIAS_COUNT = 100;

/**
 * Parses a YAML (or JSON) stream into its documents. Empty documents (for example after a
 * trailing `---`, or a document of only comments) are skipped. Never throws: syntax errors,
 * alias bombs and oversized documents are reported in {@linkcode YamlDoc.error}.
 */
export function parseYamlDocuments(text: string, options: ParseYamlOptions = {}): YamlDoc[] {
  const maxSize = options.maxDocumentSize ?? DEFAULT_MAX_DOCUMENT_SIZE;
  const maxAliasCount = options.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT;
  const lineCounter = new LineCounter();
  const at = (offset: number): YamlPosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const tooDeep = flowNestingExceeds(text, MAX_FLOW_DEPTH);
  if (tooDeep !== undefined) {
    const before = text.slice(0, tooDeep);
    const line = before.split("\n").length;
    const column = tooDeep - before.lastIndexOf("\n");
    return [failed(`nesting deeper than ${MAX_FLOW_DEPTH} levels; flatten the document`, {
      line,
      column,
    })];
  }

  let parsed: Document.Parsed[];
  try {
    const all = parseAllDocuments(text, { lineCounter, prettyErrors: false, merge: true });
    parsed = Array.isArray(all) ? all : [];
  } catch (e) {
    // The parser itself gave up (for example on pathological nesting).
    return [failed(`cannot parse YAML: ${describeError(e)}`, { line: 1, column: 1 })];
  }

  const docs: YamlDoc[] = [];
  for (const doc of parsed) {
    const contents = doc.contents;
    const startOffset = contents?.range?.[0] ?? doc.range[0];
    const start = at(startOffset);
    const positionOf = (path: readonly YamlPathSegment[]) => locate(doc, path, at) ?? start;

    const firstError = doc.errors[0];
    if (firstError) {
      const pos = at(firstError.pos[0]);
      const message = describeError(firstError);
      docs.push({ value: undefined, line: start.line, error: { ...pos, message }, positionOf });
      continue;
    }
    const size = doc.range[2] - doc.range[0];
    if (size > maxSize) {
      docs.push({
        value: undefined,
        line: start.line,
        error: {
          ...start,
          message: `document is ${size} characters long; the limit is ${maxSize}; ` +
            "split it into smaller documents",
        },
        positionOf,
      });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (e) {
      const message = e instanceof ReferenceError && /alias/i.test(e.message)
        ? `aliases expand to too many nodes (limit ${maxAliasCount}); ` +
          "write the content out instead of nesting aliases"
        : `cannot decode YAML: ${describeError(e)}`;
      docs.push({ value: undefined, line: start.line, error: { ...start, message }, positionOf });
      continue;
    }
    if (value === null || value === undefined) continue; // empty document
    docs.push({ value, line: start.line, positionOf });
  }
  return docs;
}

/**
 * Parses text that holds exactly one document (an empty text yields `null`).
 *
 * @throws {Error} `line:column: message` on a syntax error, or when there is more than one
 * document.
 */
export function parseYaml(text: string, options: ParseYamlOptions = {}): unknown {
  const docs = parseYamlDocuments(text, options);
  for (const doc of docs) {
    if (doc.error) {
      throw new Error(`${doc.error.line}:${doc.error.column}: ${doc.error.message}`);
    }
  }
  if (docs.length > 1) {
    throw new Error(
      `${docs[1].line}:1: expected a single YAML document, found ${docs.length}`,
    );
  }
  return docs.length === 0 ? null : docs[0].value;
}

/** Renders a value as YAML: no line folding, no anchors for repeated objects. */
export function stringifyYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false }) ?? "";
}

function failed(message: string, pos: YamlPosition): YamlDoc {
  return { value: undefined, line: pos.line, error: { ...pos, message }, positionOf: () => pos };
}

function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return /call stack/i.test(message) ? "nesting is too deep; flatten the document" : message;
}

/** Flow collections (`[`, `{`) nested deeper than this are refused before parsing. */
const MAX_FLOW_DEPTH = 256;

/**
 * A cheap guard against parser stack exhaustion: the offset where bracket nesting first exceeds
 * `max`, if it does. Brackets inside strings are counted too, which only matters for text no
 * configuration contains (hundreds of unbalanced brackets).
 */
function flowNestingExceeds(text: string, max: number): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) { // [ {
      if (++depth > max) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) { // ] }
      depth--;
    }
  }
  return undefined;
}

/** Walks `path` through the node tree; returns the deepest position reached. */
function locate(
  doc: Document.Parsed,
  path: readonly YamlPathSegment[],
  at: (offset: number) => YamlPosition,
): YamlPosition | undefined {
  let node: unknown = doc.contents;
  let best = nodeStart(node, at);
  // Each step moves one level down, so a path can't loop even through aliases.
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) =>
        isScalar(p.key) && String(p.key.value) === String(segment)
      );
      if (!pair) break;
      best = nodeStart(pair.key, at) ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      best = nodeStart(item, at) ?? best;
      node = item;
    } else {
      break;
    }
  }
  return best;
}

function nodeStart(
  node: unknown,
  at: (offset: number) => YamlPosition,
): YamlPosition | undefined {
  if (node === null || typeof node !== "object" || !("range" in node)) return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range ? at(range[0]) : undefined;
}
