/**
 * HTTP/2 settings (RFC 9113 §6.5.2): the identifiers, the protocol's initial values,
 * validation of what a peer sends (errors as §6.5.2 requires), and the wire form of ours.
 *
 * @example
 * ```ts
 * import { applySettings, DEFAULT_SETTINGS, SETTING } from "./settings.ts";
 * const peer = applySettings(DEFAULT_SETTINGS, [[SETTING.MAX_FRAME_SIZE, 32768]]);
 * peer.maxFrameSize; // 32768
 * ```
 * @module
 */
import { H2_ERROR, H2ConnectionError } from "./errors.ts";

/** Setting identifiers. */
export const SETTING = Object.freeze({
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  /** RFC 8441 §3: the peer accepts extended CONNECT (`:protocol`, WebSocket over HTTP/2). */
  ENABLE_CONNECT_PROTOCOL: 0x8,
});

/** One side's settings. Unlimited values are `Infinity`. */
export interface H2Settings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
  /** Extended CONNECT (RFC 8441) accepted. */
  enableConnectProtocol: boolean;
}

/** Largest flow-control window (2^31-1). */
export const MAX_WINDOW = 0x7fffffff;
/** Smallest and largest SETTINGS_MAX_FRAME_SIZE. */
export const MIN_MAX_FRAME_SIZE = 16384;
/** Largest SETTINGS_MAX_FRAME_SIZE (2^24-1). */
export const MAX_MAX_FRAME_SIZE = 0xffffff;

/** The values every endpoint starts from, before any SETTINGS frame (RFC 9113 §6.5.2). */
export const DEFAULT_SETTINGS: Readonly<H2Settings> = Object.freeze({
  headerTableSize: 4096,
  enablePush: true,
  maxConcurrentStreams: Infinity,
  initialWindowSize: 65535,
  maxFrameSize: MIN_MAX_FRAME_SIZE,
  maxHeaderListSize: Infinity,
  enableConnectProtocol: false,
});

/** A setting as it travels: identifier and 32-bit value. */
export type SettingEntry = readonly [id: number, value: number];

/**
 * `current` updated by the entries of one SETTINGS frame, in order. Unknown identifiers are
 * ignored (§6.5.2). Invalid values throw {@linkcode H2ConnectionError}: ENABLE_PUSH or
 * ENABLE_CONNECT_PROTOCOL other than 0/1, ENABLE_CONNECT_PROTOCOL withdrawn once given (RFC
 * 8441 §3) and MAX_FRAME_SIZE out of range are PROTOCOL_ERROR, INITIAL_WINDOW_SIZE above
 * 2^31-1 is FLOW_CONTROL_ERROR.
 */
export function applySettings(
  current: Readonly<H2Settings>,
  entries: readonly SettingEntry[],
): H2Settings {
  const s: H2Settings = { ...current };
  for (const [id, value] of entries) {
    switch (id) {
      case SETTING.HEADER_TABLE_SIZE:
        s.headerTableSize = value;
        break;
      case SETTING.ENABLE_PUSH:
        if (value !== 0 && value !== 1) {
          throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
        }
        s.enablePush = value === 1;
        break;
      case SETTING.MAX_CONCURRENT_STREAMS:
        s.maxConcurrentStreams = value;
        break;
      case SETTING.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW) {
          throw new H2ConnectionError(
            H2_ERROR.FLOW_CONTROL_ERROR,
            `SETTINGS_INITIAL_WINDOW_SIZE ${value} over 2^31-1`,
          );
        }
        s.initialWindowSize = value;
        break;
      case SETTING.MAX_FRAME_SIZE:
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
          throw new H2ConnectionError(H2_ERROR.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        }
        s.maxFrameSize = value;
        break;
      case SETTING.MAX_HEADER_LIST_SIZE:
        s.maxHeaderListSize = value;
        break;
      case SETTING.ENABLE_CONNECT_PROTOCOL:
        if (value !== 0 && value !== 1) {
          throw new H2ConnectionError(
            H2_ERROR.PROTOCOL_ERROR,
            `SETTINGS_ENABLE_CONNECT_PROTOCOL ${value}`,
          );
        }
        if (value === 0 && s.enableConnectProtocol) {
          throw new H2ConnectionError(
            H2_ERROR.PROTOCOL_ERROR,
            "SETTINGS_ENABLE_CONNECT_PROTOCOL withdrawn",
          );
        }
        s.enableConnectProtocol = value === 1;
        break;
    }
  }
  return s;
}

/**
 * The entries announcing `local`: only those that differ from the protocol defaults
 * (`Infinity` can't be sent and is left out). Throws RangeError for values that can't be
 * announced (our own configuration, checked up front).
 */
export function settingsEntries(local: Readonly<H2Settings>): SettingEntry[] {
  const out: SettingEntry[] = [];
  const u32 = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new RangeError(`${name} ${v} is not a 32-bit value`);
    }
    return v;
  };
  const d = DEFAULT_SETTINGS;
  if (local.headerTableSize !== d.headerTableSize) {
    out.push([SETTING.HEADER_TABLE_SIZE, u32("headerTableSize", local.headerTableSize)]);
  }
  if (local.enablePush !== d.enablePush) out.push([SETTING.ENABLE_PUSH, local.enablePush ? 1 : 0]);
  if (Number.isFinite(local.maxConcurrentStreams)) {
    out.push([
      SETTING.MAX_CONCURRENT_STREAMS,
      u32("maxConcurrentStreams", local.maxConcurrentStreams),
    ]);
  }
  if (local.initialWindowSize !== d.initialWindowSize) {
    if (local.initialWindowSize > MAX_WINDOW) throw new RangeError("initialWindowSize over 2^31-1");
    out.push([SETTING.INITIAL_WINDOW_SIZE, u32("initialWindowSize", local.initialWindowSize)]);
  }
  if (local.maxFrameSize !== d.maxFrameSize) {
    if (local.maxFrameSize < MIN_MAX_FRAME_SIZE || local.maxFrameSize > MAX_MAX_FRAME_SIZE) {
      throw new RangeError(`maxFrameSize ${local.maxFrameSize} out of [2^14, 2^24-1]`);
    }
    out.push([SETTING.MAX_FRAME_SIZE, local.maxFrameSize]);
  }
  if (Number.isFinite(local.maxHeaderListSize)) {
    out.push([SETTING.MAX_HEADER_LIST_SIZE, u32("maxHeaderListSize", local.maxHeaderListSize)]);
  }
  if (local.enableConnectProtocol) out.push([SETTING.ENABLE_CONNECT_PROTOCOL, 1]);
  return out;
}
