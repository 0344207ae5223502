// The receipt ticks of my messages in one chat: a message frame carries its receipt as it stands,
// a `receipt` frame may have told us more since; whichever time we heard is kept.

import { renderReceipt, ReceiptTimes } from "../core/receipt.js";

export class Receipts {
  constructor(view) {
    this.view = view;
    this.times = new ReceiptTimes();
  }

  frame(frame) {
    if ((frame.type === "message" || frame.type === "message.ack") && frame.message?.author === "agent") {
      const m = frame.message;
      this.merge(m.seq, m.delivered_at, m.read_at);
    } else if (frame.type === "receipt") {
      for (const m of frame.messages || []) {
        if (typeof m.seq === "number") this.merge(m.seq, m.delivered_at, m.read_at);
      }
    }
  }

  merge(seq, deliveredAt, readAt) {
    const merged = this.times.merge(seq, deliveredAt, readAt);
    const tick = this.view.timeline.item(seq)?.querySelector("[data-testid=receipt]");
    if (tick) renderReceipt(tick, merged);
  }
}
