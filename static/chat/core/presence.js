// Whether the page with the chat is in a background tab, told to the server (`presence` {hidden};
// docs/protocol.md). The agents then see the visitor as "away" or "online". No DOM: plain state and
// timers, tested with `node --test`.
//
// - A change is told once it has held for a moment: alt-tabbing away and back sends nothing.
// - The latest state wins: a change waiting for its turn is replaced by a newer one, and nothing
//   goes when the state is back to what the server has.
// - A few a minute at most, from a budget that refills slowly (the server allows 30 a minute per
//   socket, `presence.socket`; these are database writes).
// - Every new socket tells the state once, after its welcome, whatever it is: the server keeps the
//   last word it had, and that may be a tab closed while hidden.

import { systemClock } from "./cursor.js";

export const SETTLE_MS = 1_000; // a change must hold this long to be told
export const BUDGET = 3; // sends that may go at once...
export const REFILL_MS = 20_000; // ...and one more every 20 s: at most 6 in any minute
export const RETRY_AFTER_MS = 5_000; // refused without a retry_after: wait this long

export class PresenceReporter {
  /**
   * @param {object} options
   * @param {function(boolean): boolean} options.send  presence {hidden}; false when offline
   * @param {object} [options.clock]  now, setTimeout, clearTimeout (core/cursor.js systemClock)
   */
  constructor({ send, clock = systemClock }) {
    this.sendFn = send;
    this.clock = clock;
    this.hidden = false; // the page's state as it is now
    this.sent = null; // what this socket told the server; null: nothing yet (or not known)
    this.ready = false; // the socket had its welcome
    this.tokens = BUDGET;
    this.refilledAt = clock.now();
    this.notBefore = -Infinity; // refused: not again before then
    this.timer = null;
  }

  /** The page went to the background (true) or came back (false). */
  set(hidden) {
    this.hidden = Boolean(hidden);
    this.schedule(SETTLE_MS);
  }

  /** A socket had its welcome: tell it the state now. */
  welcomed(hidden) {
    this.hidden = Boolean(hidden);
    this.ready = true;
    this.sent = null;
    this.schedule(0);
  }

  /** The socket closed: the next one starts afresh. */
  closed() {
    this.ready = false;
    this.sent = null;
    this.cancel();
  }

  /**
   * The server refused a presence frame. Too many (`rate_limited`, `retry_after` seconds) or not
   * now (`unavailable`, `internal`): tell it again later. Any other refusal is final for this state.
   */
  refused(code, retryAfter) {
    if (!["rate_limited", "unavailable", "internal"].includes(code)) return;
    const wait = Number(retryAfter) > 0 ? Number(retryAfter) * 1000 : RETRY_AFTER_MS;
    this.notBefore = this.clock.now() + wait;
    this.sent = null;
    this.schedule(0);
  }

  schedule(delayMs) {
    this.cancel();
    if (!this.ready || this.hidden === this.sent) return;
    this.timer = this.clock.setTimeout(() => this.flush(), delayMs);
  }

  cancel() {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  flush() {
    this.timer = null;
    if (!this.ready || this.hidden === this.sent) return;
    const now = this.clock.now();
    this.tokens = Math.min(BUDGET, this.tokens + (now - this.refilledAt) / REFILL_MS);
    this.refilledAt = now;
    const wait = Math.max(this.notBefore - now, this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * REFILL_MS));
    if (wait > 0) {
      this.timer = this.clock.setTimeout(() => this.flush(), wait);
      return;
    }
    this.tokens -= 1;
    const hidden = this.hidden;
    // Offline: nothing went, and the next welcome tells the state anyway.
    this.sent = this.sendFn(hidden) ? hidden : null;
  }
}
