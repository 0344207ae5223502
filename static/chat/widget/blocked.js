// The widget's view when the server says the visitor is blocked (docs/protocol.md: the `blocked`
// frame, then close 4451): the whole panel says so politely, in the server's own words, and offers
// nothing that would be refused (app.js hides the form, the conversation with its reply box and
// paperclip, and the End chat bar). The socket does not reconnect (core/socket.js); one quiet try is
// made a little after `until`, once per page. Nothing is stored.

import { quietRetryDelay } from "../core/blocks.js";

const FALLBACK = "You can't chat with us right now. Please try again later, or contact us another way.";

export class BlockedView {
  constructor() {
    const $ = (id) => document.getElementById(id);
    this.el = $("hd-view-blocked");
    this.title = $("hd-blocked-title");
    this.text = $("hd-blocked-text");
    this.retryTimer = null;
    this.tried = false; // the one quiet try of this page has been made
  }

  /** The server's `message` as it is (a close 4451 without the frame: the same words of ours). */
  show(message) {
    const text = message || FALLBACK;
    if (this.text.textContent !== text) this.text.textContent = text;
  }

  focus() {
    this.title.focus();
  }

  /** At most one try per page, a little after `until`; none when there is no sensible time. */
  retryAfter(until, retry) {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.tried) return;
    const delay = quietRetryDelay(until);
    if (delay === null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.tried = true;
      retry();
    }, delay);
  }
}
