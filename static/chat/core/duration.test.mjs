// Unit tests of chat durations: `node --test static/chat/core/`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { chatDurations, formatDuration, spokenDuration } from "./duration.js";

test("minutes and seconds, hours only when there are some", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(5_999), "0:05");
  assert.equal(formatDuration(754_000), "12:34");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.equal(formatDuration(36_000_000), "10:00:00");
});

test("nothing sensible is 0:00, never negative", () => {
  assert.equal(formatDuration(-4000), "0:00");
  assert.equal(formatDuration(NaN), "0:00");
  assert.equal(formatDuration(undefined), "0:00");
});

test("read out in words", () => {
  assert.equal(spokenDuration(3_723_000), "1 hour 2 minutes 3 seconds");
  assert.equal(spokenDuration(60_000), "1 minute");
  assert.equal(spokenDuration(500), "0 seconds");
});

const START = "2026-11-27T20:00:00+00:00";
const at = (s) => Date.parse(START) + s * 1000;

test("a chat going on lasts until now; its wait until it was accepted", () => {
  const d = chatDurations({ started_at: START, accepted_at: "2026-11-27T20:00:30+00:00", ended_at: null }, at(95));
  assert.deepEqual(d, { total: 95_000, waited: 30_000, running: true });
});

test("a waiting chat's wait grows with it", () => {
  assert.deepEqual(chatDurations({ started_at: START, accepted_at: null, ended_at: null }, at(12)),
    { total: 12_000, waited: 12_000, running: true });
});

test("an ended chat stops at its end, whenever now is", () => {
  const ended = { started_at: START, accepted_at: null, ended_at: "2026-11-27T20:02:00+00:00" };
  assert.deepEqual(chatDurations(ended, at(9999)), { total: 120_000, waited: 120_000, running: false });
});

test("without a start there is nothing to say", () => {
  assert.deepEqual(chatDurations({}, at(1)), { total: null, waited: null, running: false });
  assert.deepEqual(chatDurations(undefined, at(1)), { total: null, waited: null, running: false });
});

test("a clock behind the server's says 0:00, not a negative time", () => {
  assert.equal(chatDurations({ started_at: START }, at(-3)).total, 0);
});
