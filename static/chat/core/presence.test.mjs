// Unit tests of what the widget tells the server about its page's visibility: `node --test static/chat/core/`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { PresenceReporter, BUDGET, REFILL_MS, SETTLE_MS, RETRY_AFTER_MS } from "./presence.js";
import { FakeClock } from "./fake-clock.mjs";

function setup({ online = () => true } = {}) {
  const clock = new FakeClock();
  const sent = []; // [hidden, at]
  const reporter = new PresenceReporter({
    clock,
    send: (hidden) => {
      if (!online()) return false;
      sent.push([hidden, clock.now() - 1_000_000]);
      return true;
    },
  });
  return { clock, sent, reporter, values: () => sent.map(([hidden]) => hidden) };
}

test("nothing goes before the welcome; after it, the state goes at once, visible or hidden", () => {
  const { clock, reporter, values } = setup();
  reporter.set(true);
  clock.advance(60_000);
  assert.deepEqual(values(), []);
  reporter.welcomed(false);
  clock.advance(0);
  assert.deepEqual(values(), [false], "a visible page says so too: the server may hold an old 'hidden'");

  const other = setup();
  other.reporter.welcomed(true);
  other.clock.advance(0);
  assert.deepEqual(other.values(), [true]);
});

test("a change goes once it has held a moment; a flip back before then sends nothing", () => {
  const { clock, reporter, sent, values } = setup();
  reporter.welcomed(false);
  clock.advance(0);
  reporter.set(true);
  clock.advance(SETTLE_MS - 1);
  assert.deepEqual(values(), [false]);
  clock.advance(1);
  assert.deepEqual(sent.at(-1), [true, SETTLE_MS]);

  reporter.set(false);
  clock.advance(300);
  reporter.set(true); // back before it settled: the server has "hidden" already
  clock.advance(10 * SETTLE_MS);
  assert.deepEqual(values(), [false, true]);
});

test("rapid flips: the latest state wins, and never more than the budget allows", () => {
  const { clock, reporter, sent, values } = setup();
  reporter.welcomed(false);
  clock.advance(0);
  let hidden = false;
  for (let i = 0; i < 600; i++) {
    hidden = !hidden;
    reporter.set(hidden);
    clock.advance(SETTLE_MS + 100); // each flip holds just long enough to be told
  }
  const last = hidden;
  clock.advance(10 * REFILL_MS);
  assert.equal(values().at(-1), last, "the state the page ended in is what the server has");
  // In any 60 s window: the budget plus what refills in it, far under the server's 30.
  const times = sent.map(([, at]) => at);
  for (const start of times) {
    const inWindow = times.filter((t) => t >= start && t < start + 60_000).length;
    assert.ok(inWindow <= BUDGET + 60_000 / REFILL_MS, `${inWindow} sends in a minute`);
  }
});

test("a change waiting for budget is replaced by a newer one, and dropped when it is back", () => {
  const { clock, reporter, values } = setup();
  reporter.welcomed(false); // 1 of the budget
  clock.advance(0);
  for (const hidden of [true, false]) {
    reporter.set(hidden);
    clock.advance(SETTLE_MS);
  }
  assert.deepEqual(values(), [false, true, false]); // budget spent
  reporter.set(true);
  clock.advance(SETTLE_MS);
  reporter.set(false); // back to what the server has, before a token came
  clock.advance(REFILL_MS * 2);
  assert.deepEqual(values(), [false, true, false]);
  reporter.set(true);
  clock.advance(SETTLE_MS);
  assert.deepEqual(values(), [false, true, false, true]);
});

test("offline nothing is sent; the next welcome tells the state of then", () => {
  let up = true;
  const { clock, reporter, values } = setup({ online: () => up });
  reporter.welcomed(false);
  clock.advance(0);
  up = false;
  reporter.closed();
  reporter.set(true);
  clock.advance(5 * SETTLE_MS);
  assert.deepEqual(values(), [false]);
  up = true;
  reporter.welcomed(true);
  clock.advance(0);
  assert.deepEqual(values(), [false, true]);
});

test("refused as too many: told again after retry_after; a final refusal is not retried", () => {
  const { clock, reporter, sent } = setup();
  reporter.welcomed(true);
  clock.advance(0);
  reporter.refused("rate_limited", 7);
  clock.advance(6_999);
  assert.equal(sent.length, 1);
  clock.advance(1);
  assert.deepEqual(sent.at(-1), [true, 7_000]);

  reporter.refused("unavailable");
  clock.advance(RETRY_AFTER_MS);
  assert.equal(sent.length, 3);

  reporter.refused("invalid");
  clock.advance(10 * REFILL_MS);
  assert.equal(sent.length, 3);
});
