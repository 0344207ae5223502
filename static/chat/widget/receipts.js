// Receipts of the agent's messages, sent to the server at most every RECEIPT_GAP_MS:
// delivered_up_to, the highest seq of an agent message rendered here (even with the panel closed);
// read_up_to, the highest seq of an agent message the visitor could see: the panel open (hd:open),
// the tab visible, and the message on screen in the list.

import { Coalescer } from "../core/socket.js";
import * as frames from "../core/frames.js";

const RECEIPT_GAP_MS = 500;
const READ_THRESHOLDS = Array.from({ length: 11 }, (_, i) => i / 10);

export class Receipts {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root  the scrolling list of messages
   * @param {function(object): boolean} options.send  a frame, if online
   * @param {function(): string|null} options.chatId  the chat on screen, once welcomed; else null
   * @param {function(): boolean} options.canRead  the visitor could see the list now
   */
  constructor({ root, send, chatId, canRead }) {
    this.options = { send, chatId, canRead };
    this.delivered = 0;
    this.read = 0;
    this.sentDelivered = 0;
    this.sentRead = 0;
    this.onScreen = new Set();
    this.sender = new Coalescer(() => this.sendNow(), RECEIPT_GAP_MS);
    this.observer =
      "IntersectionObserver" in window
        ? new IntersectionObserver((entries) => this.onIntersect(entries), { root, threshold: READ_THRESHOLDS })
        : null;
  }

  /** An agent message was rendered. */
  shown(li, seq) {
    this.delivered = Math.max(this.delivered, seq);
    if (this.observer) this.observer.observe(li);
    else this.onScreen.add(seq); // no way to tell: count it seen when the panel is
    this.push();
    this.update();
  }

  onIntersect(entries) {
    for (const entry of entries) {
      const seq = Number(entry.target.dataset.seq);
      if (onScreen(entry)) this.onScreen.add(seq);
      else this.onScreen.delete(seq);
    }
    this.update();
  }

  /** The visitor may have seen more: the panel opened, the tab came back, the list scrolled. */
  update() {
    if (!this.options.canRead() || this.onScreen.size === 0) return;
    const top = Math.max(...this.onScreen);
    if (top <= this.read) return;
    this.read = top;
    this.push();
  }

  /** Send what rose since the last receipt, soon. */
  push() {
    this.sender.push();
  }

  sendNow() {
    const chat = this.options.chatId();
    if (!chat) return;
    const { delivered, read } = this;
    if (delivered <= this.sentDelivered && read <= this.sentRead) return;
    if (!this.options.send(frames.receipt(chat, delivered, read))) return; // offline: again after the resume
    this.sentDelivered = delivered;
    this.sentRead = read;
  }

  reset() {
    this.sender.cancel();
    if (this.observer) this.observer.disconnect();
    this.delivered = this.read = this.sentDelivered = this.sentRead = 0;
    this.onScreen.clear();
  }
}

/** Half of the message in view, or half of the list filled by a message taller than that. */
function onScreen(entry) {
  if (!entry.isIntersecting) return false;
  const root = entry.rootBounds;
  return entry.intersectionRatio >= 0.5 || (root !== null && entry.intersectionRect.height >= root.height / 2);
}
