/**
 * Parts as the control plane holds them (docs/push-protocol.md): immutable,
 * each item serialized once, versioned by content, interned by version so
 * proxies (and classes of proxies) with the same part share one object, and
 * with the wire text of each delta made once and shared by every proxy that
 * moves between the same two versions.
 *
 * @example
 * ```ts
 * const cache = new PartCache();
 * const a = cache.make("routes", [["r1", { name: "r1" }]]);
 * const b = cache.make("routes", [["r1", { name: "r1", routes: [] }]]);
 * b.wire(a); // '{"version":"…","base":"…","set":{"r1":{…}}}'
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import type { PartItems, PartName } from "../api/push_protocol.ts";

/** How many delta texts a part keeps (one per base version proxies move from). */
const DELTAS_KEPT = 8;

/** One generated part: items serialized once, a content version, deltas made on demand. */
export class Part {
  readonly name: PartName;
  readonly version: string;
  readonly keys: readonly string[];
  /** Each item's JSON text, by key. */
  readonly json: ReadonlyMap<string, string>;
  /** Wire texts by base version ("" for the whole part). */
  #wires = new Map<string, string>();

  constructor(name: PartName, keys: string[], json: Map<string, string>, version: string) {
    this.name = name;
    this.keys = keys;
    this.json = json;
    this.version = version;
  }

  /** The wire text taking a proxy from `base` (undefined: nothing or unknown) to this part. */
  wire(base: Part | undefined): string {
    const key = base && base.name === this.name ? base.version : "";
    let text = this.#wires.get(key);
    if (text !== undefined) return text;
    text = key ? deltaText(base!, this) : wholeText(this);
    if (this.#wires.size >= DELTAS_KEPT) {
      // Keep the whole-part text; drop the oldest delta.
      for (const k of this.#wires.keys()) {
        if (k !== "") {
          this.#wires.delete(k);
          break;
        }
      }
    }
    this.#wires.set(key, text);
    return text;
  }
}

function wholeText(p: Part): string {
  const set: string[] = [];
  for (const k of p.keys) set.push(`${JSON.stringify(k)}:${p.json.get(k)}`);
  return `{"version":"${p.version}","set":{${set.join(",")}},"order":${JSON.stringify(p.keys)}}`;
}

function deltaText(base: Part, p: Part): string {
  const set: string[] = [];
  for (const k of p.keys) {
    const v = p.json.get(k)!;
    if (base.json.get(k) !== v) set.push(`${JSON.stringify(k)}:${v}`);
  }
  const sameKeys = base.keys.length === p.keys.length && base.keys.every((k, i) => p.keys[i] === k);
  const order = sameKeys ? "" : `,"order":${JSON.stringify(p.keys)}`;
  return `{"version":"${p.version}","base":"${base.version}","set":{${set.join(",")}}${order}}`;
}

/** The content version of a part: 16 hex digits of the SHA-256 of its keys and items, in order. */
export function partVersion(
  name: PartName,
  keys: readonly string[],
  json: ReadonlyMap<string, string>,
): string {
  const h = createHash("sha256");
  h.update(name);
  for (const k of keys) {
    h.update("\0");
    h.update(k);
    h.update("\0");
    h.update(json.get(k)!);
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Parts by version, held weakly: a part stays findable (for a reconnecting proxy's
 * `have`, and to share equal parts) while some proxy or class still holds it, and
 * a few recent ones beyond that.
 */
export class PartCache {
  #byVersion = new Map<string, WeakRef<Part>>();
  #gone = new FinalizationRegistry<string>((v) => {
    const ref = this.#byVersion.get(v);
    if (ref && ref.deref() === undefined) this.#byVersion.delete(v);
  });
  /** Strong references to the latest parts made, so a just-replaced one survives a reconnect. */
  #recent: Part[] = [];
  #recentMax: number;

  constructor(recent = 256) {
    this.#recentMax = recent;
  }

  /** Makes (or finds, when equal content exists) the part of `items`. */
  make(name: PartName, items: PartItems): Part {
    const keys: string[] = [];
    const json = new Map<string, string>();
    for (const [k, v] of items) {
      if (json.has(k)) continue; // first wins, as the proxy's route table does
      keys.push(k);
      json.set(k, JSON.stringify(v));
    }
    const version = partVersion(name, keys, json);
    const found = this.get(version);
    if (found && found.name === name) return found;
    const part = new Part(name, keys, json, version);
    this.#byVersion.set(version, new WeakRef(part));
    this.#gone.register(part, version);
    this.#recent.push(part);
    if (this.#recent.length > this.#recentMax) this.#recent.shift();
    return part;
  }

  /** The part of a version, while it is held. */
  get(version: string): Part | undefined {
    return this.#byVersion.get(version)?.deref();
  }
}
