// The receipt tick of a message: sent (a ring), delivered (a grey tick), read (a blue double tick).
// Its times come from the server and are set once each there; the label says them in full.

import { fullFormat } from "./time.js";

/** A tick for a message object (its delivered_at and read_at as they stand). */
export function receiptEl(message) {
  const tick = document.createElement("span");
  tick.className = "hd-receipt";
  tick.dataset.testid = "receipt";
  tick.setAttribute("role", "img");
  renderReceipt(tick, message);
  return tick;
}

export function renderReceipt(tick, { delivered_at: deliveredAt, read_at: readAt }) {
  let state = "sent";
  let label = "Sent, not delivered yet";
  if (readAt) {
    state = "read";
    label = `Read ${fullFormat.format(new Date(readAt))}`;
  } else if (deliveredAt) {
    state = "delivered";
    label = `Delivered ${fullFormat.format(new Date(deliveredAt))}, not read yet`;
  }
  tick.dataset.state = state;
  tick.textContent = { sent: "", delivered: "✓", read: "✓✓" }[state];
  tick.title = label;
  tick.setAttribute("aria-label", label);
}

/** Receipt times as last heard, by seq: each time is kept once known (a later frame may lack it). */
export class ReceiptTimes {
  constructor() {
    this.bySeq = new Map();
  }

  /** Returns the merged {delivered_at, read_at} of `seq`. */
  merge(seq, deliveredAt, readAt) {
    const known = this.bySeq.get(seq) || { delivered_at: null, read_at: null };
    const merged = { delivered_at: known.delivered_at || deliveredAt || null, read_at: known.read_at || readAt || null };
    this.bySeq.set(seq, merged);
    return merged;
  }
}
