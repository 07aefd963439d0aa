/**
 * The proxy's side of the push protocol (docs/push-protocol.md): the parts it
 * serves, a push applied to them whole or not at all, and the answer: an ack
 * with the versions installed, or a nack naming the part(s) at fault (found by
 * trying each part's change alone) and the deltas whose base it lacks.
 *
 * @example
 * ```ts
 * const state = new PartsState();
 * const r = state.apply(msg, { install, check });
 * stream.send(JSON.stringify(r.reply) + "\n");
 * ```
 * @module
 */
import type { ProxyConfig } from "../api/proxy_config.ts";
import {
  applyWirePart,
  assembleConfig,
  BaseMismatch,
  type HeldPart,
  PART_NAMES,
  type PartName,
  type PartsAckMessage,
  type PartsNackMessage,
  type PartsPushMessage,
} from "../api/push_protocol.ts";

/** How a push is checked and put in service. */
export interface ApplyHooks {
  /** Compiles and serves `config`; returns an error message instead when it can't. */
  install: (config: ProxyConfig) => string | undefined;
  /** Compiles `config` without serving it (to find which part is at fault). */
  check?: (config: ProxyConfig) => string | undefined;
}

/** What {@linkcode PartsState.apply} did. */
export interface ApplyResult {
  reply: PartsAckMessage | PartsNackMessage;
  /** The config now served, when the push was applied. */
  config?: ProxyConfig;
}

/** The parts a proxy serves. */
export class PartsState {
  #held: Partial<Record<PartName, HeldPart>> = {};
  /** The snapshot revision of the last push applied. */
  version?: string;

  /** The part versions served (the hello's `have`). */
  have(): Partial<Record<PartName, string>> {
    const out: Partial<Record<PartName, string>> = {};
    for (const p of PART_NAMES) {
      const v = this.#held[p]?.version;
      if (v) out[p] = v;
    }
    return out;
  }

  /** Applies a push message whole, or not at all. */
  apply(msg: PartsPushMessage, hooks: ApplyHooks): ApplyResult {
    const next = { ...this.#held };
    const errors: Partial<Record<PartName, string>> = {};
    const resync: PartName[] = [];
    const named = PART_NAMES.filter((p) => msg.parts?.[p] !== undefined);
    for (const p of named) {
      try {
        next[p] = applyWirePart(this.#held[p], msg.parts[p]!);
      } catch (err) {
        if (err instanceof BaseMismatch) resync.push(p);
        else errors[p] = (err as Error).message;
      }
    }
    const nack = (): ApplyResult => ({
      reply: {
        type: "nack",
        nonce: msg.nonce,
        ...(Object.keys(errors).length ? { errors } : {}),
        ...(resync.length ? { resync } : {}),
      },
    });
    if (resync.length || Object.keys(errors).length) return nack();
    let config: ProxyConfig;
    try {
      config = assembleConfig(String(msg.version), next);
    } catch (err) {
      for (const p of named) errors[p] = (err as Error).message;
      return nack();
    }
    const err = hooks.install(config);
    if (err !== undefined) {
      this.#blame(named, next, msg, hooks.check ?? hooks.install, err, errors);
      return nack();
    }
    this.#held = next;
    this.version = String(msg.version);
    const parts: Partial<Record<PartName, string>> = {};
    for (const p of named) parts[p] = next[p]!.version;
    return { reply: { type: "ack", nonce: msg.nonce, parts }, config };
  }

  /** Names the parts whose change fails alone; each of them when none does. */
  #blame(
    named: PartName[],
    next: Partial<Record<PartName, HeldPart>>,
    msg: PartsPushMessage,
    check: (config: ProxyConfig) => string | undefined,
    whole: string,
    errors: Partial<Record<PartName, string>>,
  ): void {
    if (named.length > 1) {
      for (const p of named) {
        let e: string | undefined;
        try {
          e = check(assembleConfig(String(msg.version), { ...this.#held, [p]: next[p] }));
        } catch (err) {
          e = (err as Error).message;
        }
        if (e !== undefined) errors[p] = e;
      }
    }
    if (Object.keys(errors).length === 0) { for (const p of named) errors[p] = whole; }
  }
}
