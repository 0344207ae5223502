// The visitor's draft, live, under the conversation while they type (`typing` frames). Not a live
// region: it changes with every keystroke. It goes when their message arrives, after a while
// without news, and when the chat ends.

import { isolated, setIsolatedText } from "../core/messages.js";

const DRAFT_TTL_MS = 6000; // a draft with no news for this long is hidden

export class Draft {
  constructor(view) {
    this.view = view;
    const q = (sel) => view.el.querySelector(sel);
    this.el = q("[data-role=draft]");
    this.who = q("[data-role=draft-who]");
    this.text = q("[data-role=draft-text]");
    this.timer = null;
  }

  update(chat) {
    if (chat?.status === "ended") this.hide();
  }

  frame(frame) {
    if (frame.type === "typing") this.show(frame.text);
    else if ((frame.type === "message" || frame.type === "message.ack") && frame.message?.author === "visitor") {
      this.hide(); // the draft has arrived as this message
    }
  }

  /** `text`: the draft; "" when cleared; null when the preview is off (only: they are typing). */
  show(text) {
    if (text === "" || (typeof text !== "string" && text !== null)) {
      this.hide();
      return;
    }
    const timeline = this.view.timeline;
    const stick = timeline.nearBottom();
    const who = this.view.chat?.visitor?.name || "The visitor";
    this.who.replaceChildren(isolated(who), text === null ? " is typing…" : " is typing:");
    setIsolatedText(this.text, text || "");
    this.text.hidden = text === null;
    this.el.hidden = false;
    this.text.scrollTop = this.text.scrollHeight; // a long draft: show where they type
    if (stick) timeline.scrollToEnd();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), DRAFT_TTL_MS);
  }

  hide() {
    clearTimeout(this.timer);
    this.el.hidden = true;
    this.text.textContent = "";
  }

  destroy() {
    clearTimeout(this.timer);
  }
}
