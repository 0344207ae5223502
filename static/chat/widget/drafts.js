// The visitor's draft, told to the agents as they type (a typing preview): at most twice a second,
// the latest text winning. With the preview off (the admin's setting), only the fact that they type
// ("…", repeated now and then so it stays shown); the text never leaves the browser.

import { Coalescer } from "../core/socket.js";
import * as frames from "../core/frames.js";

const DRAFT_GAP_MS = 500; // at most two drafts a second (the server's cost, see DESIGN.md)
const TYPING_SIGNAL_EVERY_MS = 2000; // preview off: how often "still typing" is repeated
const DRAFT_SIGNAL = "…"; // preview off: sent instead of the text

export class Drafts {
  /**
   * @param {object} options
   * @param {function(object): boolean} options.send  a frame, if online
   * @param {function(): string|null} options.chatId  the chat drafts may go to now, else null
   * @param {function(): boolean} options.welcomed  this socket had its welcome: drafts may go out
   * @param {function(): boolean} options.preview  agents may see the text (welcome.typing_preview)
   * @param {number} options.maxChars
   */
  constructor({ send, chatId, welcomed, preview, maxChars }) {
    this.options = { send, chatId, welcomed, preview, maxChars };
    this.coalescer = new Coalescer((text) => this.sendNow(text), DRAFT_GAP_MS);
    this.sent = ""; // what the agents were last told; "" when nothing
    this.queued = ""; // the latest value handed to the coalescer
    this.signalAt = 0;
  }

  /** The reply box changed. */
  changed(value) {
    if (!this.options.chatId()) return;
    const text = value.trim() ? value.slice(0, this.options.maxChars) : "";
    let draft = text;
    if (text && !this.options.preview()) {
      if (this.queued === DRAFT_SIGNAL && Date.now() - this.signalAt < TYPING_SIGNAL_EVERY_MS) return;
      this.signalAt = Date.now();
      draft = DRAFT_SIGNAL;
    } else if (draft === this.queued) {
      return;
    }
    this.queued = draft;
    this.coalescer.push(draft);
  }

  sendNow(text) {
    const chat = this.options.chatId();
    if (chat && this.options.welcomed() && this.options.send(frames.draft(chat, text))) this.sent = text;
  }

  /** The draft became a message: drop what is pending, and clear what the agents were shown. */
  done() {
    this.coalescer.cancel();
    this.queued = "";
    if (this.sent) this.coalescer.push("");
  }

  /** Another chat, or an ended one: nothing pending, nothing shown. */
  reset() {
    this.coalescer.cancel();
    this.queued = this.sent = "";
  }
}
