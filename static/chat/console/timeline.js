// The conversation of one chat in the console: messages by seq, events (page views) by time among
// them, my messages waiting for their ack at the end. Every author is named; my messages carry a
// receipt tick (receipts.js keeps it current).

import { messageEl, PendingMessages, nearBottom, scrollToEnd } from "../core/messages.js";
import { receiptEl } from "../core/receipt.js";

export class Timeline {
  constructor(view) {
    this.view = view;
    this.log = view.el.querySelector(".hd-log");
    this.shown = new Map(); // seq -> <li>
    this.pending = new PendingMessages(this.log, "agent"); // my messages until acknowledged
  }

  frame(frame) {
    if (frame.type === "message" || frame.type === "message.ack") this.add(frame.message);
  }

  /** The <li> of the message with this seq, if it is on screen. */
  item(seq) {
    return this.shown.get(seq) || null;
  }

  /** A message the cursor had not: placed by seq. */
  add(message) {
    if (!message || typeof message.seq !== "number" || this.shown.has(message.seq)) return;
    if (message.client_id) this.pending.remove(message.client_id);
    const stick = this.nearBottom() || message.author === "agent";
    const li = timelineMessageEl(message);
    this.shown.set(message.seq, li);
    this.insert(li);
    if (stick) this.scrollToEnd();
  }

  /** A notice that is not a message (a page view), with its time in data-at. */
  addEvent(li) {
    const stick = this.nearBottom();
    this.insert(li);
    if (stick) this.scrollToEnd();
  }

  /**
   * Put a timeline item in its place: messages by seq, events by time among them. Messages not
   * yet acknowledged stay last.
   */
  insert(li) {
    const seq = li.dataset.seq ? Number(li.dataset.seq) : null;
    const at = Number(li.dataset.at);
    const after = (el) => {
      if (el.dataset.pending) return true;
      if (seq !== null && el.dataset.seq) return Number(el.dataset.seq) > seq;
      return Number(el.dataset.at) > at;
    };
    let prev = this.log.lastElementChild;
    while (prev && after(prev)) prev = prev.previousElementSibling;
    this.log.insertBefore(li, prev ? prev.nextSibling : this.log.firstChild);
  }

  nearBottom() {
    return nearBottom(this.log);
  }

  scrollToEnd() {
    scrollToEnd(this.log);
  }
}

/**
 * A message in the timeline: the shared item, every author named, plus its time (data-at, to
 * place page views among messages) and, on my messages, the receipt tick.
 */
function timelineMessageEl(message) {
  const li = messageEl(message, { own: "agent", nameOwn: true });
  li.dataset.at = String(Date.parse(message.created_at || ""));
  if (message.author === "agent") li.querySelector(".hd-msg__meta").append(receiptEl(message));
  return li;
}
