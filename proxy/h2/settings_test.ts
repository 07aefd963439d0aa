/** Settings: defaults, validation of a peer's values, and the entries we announce. */
import assert from "node:assert/strict";
import { H2_ERROR, H2ConnectionError } from "./errors.ts";
import { applySettings, DEFAULT_SETTINGS, SETTING, settingsEntries } from "./settings.ts";

Deno.test("settings: applied in order, unknown identifiers ignored", () => {
  const s = applySettings(DEFAULT_SETTINGS, [
    [SETTING.INITIAL_WINDOW_SIZE, 100],
    [SETTING.INITIAL_WINDOW_SIZE, 0x7fffffff],
    [SETTING.ENABLE_PUSH, 0],
    [SETTING.MAX_CONCURRENT_STREAMS, 0],
    [SETTING.MAX_FRAME_SIZE, 0xffffff],
    [SETTING.HEADER_TABLE_SIZE, 0],
    [SETTING.MAX_HEADER_LIST_SIZE, 8192],
    [0x99, 12345],
  ]);
  assert.deepEqual(s, {
    headerTableSize: 0,
    enablePush: false,
    maxConcurrentStreams: 0,
    initialWindowSize: 0x7fffffff,
    maxFrameSize: 0xffffff,
    maxHeaderListSize: 8192,
    enableConnectProtocol: false,
  });
  assert.equal(DEFAULT_SETTINGS.initialWindowSize, 65535);
});

Deno.test("settings: invalid values are the connection errors of §6.5.2", () => {
  const bad = (id: number, v: number, code: number) =>
    assert.throws(
      () => applySettings(DEFAULT_SETTINGS, [[id, v]]),
      (e) => e instanceof H2ConnectionError && e.code === code,
    );
  bad(SETTING.ENABLE_PUSH, 2, H2_ERROR.PROTOCOL_ERROR);
  bad(SETTING.INITIAL_WINDOW_SIZE, 0x80000000, H2_ERROR.FLOW_CONTROL_ERROR);
  bad(SETTING.MAX_FRAME_SIZE, 16383, H2_ERROR.PROTOCOL_ERROR);
  bad(SETTING.MAX_FRAME_SIZE, 0x1000000, H2_ERROR.PROTOCOL_ERROR);
});

Deno.test("settings: we announce what differs from the defaults", () => {
  assert.deepEqual(settingsEntries(DEFAULT_SETTINGS), []);
  assert.deepEqual(
    settingsEntries({
      ...DEFAULT_SETTINGS,
      enablePush: false,
      maxConcurrentStreams: 100,
      initialWindowSize: 1 << 20,
      maxHeaderListSize: 65536,
    }),
    [[SETTING.ENABLE_PUSH, 0], [SETTING.MAX_CONCURRENT_STREAMS, 100], [
      SETTING.INITIAL_WINDOW_SIZE,
      1 << 20,
    ], [SETTING.MAX_HEADER_LIST_SIZE, 65536]],
  );
  assert.throws(() => settingsEntries({ ...DEFAULT_SETTINGS, maxFrameSize: 100 }), RangeError);
  assert.throws(
    () => settingsEntries({ ...DEFAULT_SETTINGS, initialWindowSize: 2 ** 31 }),
    RangeError,
  );
});

Deno.test("settings: SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) is 0 or 1 and can't be withdrawn", () => {
  const on = applySettings(DEFAULT_SETTINGS, [[SETTING.ENABLE_CONNECT_PROTOCOL, 1]]);
  assert.equal(DEFAULT_SETTINGS.enableConnectProtocol, false);
  assert.equal(on.enableConnectProtocol, true);
  assert.equal(
    applySettings(on, [[SETTING.ENABLE_CONNECT_PROTOCOL, 1]]).enableConnectProtocol,
    true,
  );
  for (const [from, v] of [[DEFAULT_SETTINGS, 2], [on, 0]] as const) {
    assert.throws(
      () => applySettings(from, [[SETTING.ENABLE_CONNECT_PROTOCOL, v]]),
      (e) => e instanceof H2ConnectionError && e.code === H2_ERROR.PROTOCOL_ERROR,
    );
  }
  assert.deepEqual(settingsEntries({ ...DEFAULT_SETTINGS, enableConnectProtocol: true }), [
    [SETTING.ENABLE_CONNECT_PROTOCOL, 1],
  ]);
});
