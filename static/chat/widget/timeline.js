// The conversation in the widget: messages by seq (the visitor's own without a name), the
// visitor's messages waiting for their ack at the end as "Sending…". Files in messages are read
// through `files` (widget/files.js), whose blob URLs go when the conversation is cleared.

import { messageEl, PendingMessages, nearBottom, scrollToEnd } from "../core/messages.js";

export class Timeline {
  constructor(log) {
    this.log = log;
    this.shown = new Map(); // seq -> <li>, for the chat on screen
    this.pending = new PendingMessages(log, "visitor"); // the visitor's messages until acknowledged
    this.files = null; // reads the files of messages with the visitor's token (set by app.js)
    // The log shrinks when what is under it grows (the rating after a chat, a longer reply): a
    // reader at the end stays at the end, and sees the note that the chat ended.
    this.atEnd = true;
    log.addEventListener("scroll", () => (this.atEnd = nearBottom(log)), { passive: true });
    new ResizeObserver(() => this.atEnd && this.scrollToEnd()).observe(log);
  }

  has(seq) {
    return this.shown.has(seq);
  }

  /** A message the cursor had not: placed by seq. Returns its <li>, or null when it was not added. */
  add(message) {
    if (!message || typeof message.seq !== "number" || this.shown.has(message.seq)) return null;
    if (message.client_id) this.pending.remove(message.client_id);
    const stick = nearBottom(this.log) || message.author === "visitor";
    const li = messageEl(message, { own: "visitor", nameOwn: false, files: this.files }); // own: no name
    this.shown.set(message.seq, li);
    // Keep seq order; messages not yet acknowledged stay last.
    let prev = this.log.lastElementChild;
    while (prev && (prev.dataset.pending || Number(prev.dataset.seq) > message.seq)) prev = prev.previousElementSibling;
    this.log.insertBefore(li, prev ? prev.nextSibling : this.log.firstChild);
    if (stick) this.scrollToEnd();
    return li;
  }

  scrollToEnd() {
    scrollToEnd(this.log);
  }

  clear() {
    this.shown.clear();
    this.pending.clear();
    this.log.replaceChildren();
    if (this.files) this.files.clear();
  }
}
