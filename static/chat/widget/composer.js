// The visitor's reply box: Enter sends, Shift+Enter adds a line; it grows with the text, counts
// characters near the limit, and says when agents may see the text as it is typed.

import { sendOnEnter, textProblem } from "../core/messages.js";

const MAX_HEIGHT_PX = 140;

export class Composer {
  /**
   * @param {object} options
   * @param {number} options.maxChars
   * @param {function(string): void} options.onInput  the text, at every change
   * @param {function(string): (boolean|string)} options.onSend  true: sent; false: not now; a string: why not
   */
  constructor({ maxChars, onInput, onSend }) {
    const $ = (id) => document.getElementById(id);
    this.form = $("hd-composer");
    this.reply = $("hd-reply");
    this.error = $("hd-reply-error");
    this.count = $("hd-reply-count");
    this.previewNotice = $("hd-preview-notice");
    this.maxChars = maxChars;
    this.onSend = onSend;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    sendOnEnter(this.reply, () => this.send());
    this.reply.addEventListener("input", () => {
      this.error.textContent = "";
      onInput(this.reply.value);
      this.autosize();
      const length = this.reply.value.length;
      this.count.textContent = length > maxChars * 0.9 ? `${length.toLocaleString("en")} / ${maxChars.toLocaleString("en")}` : "";
    });
  }

  get hidden() {
    return this.form.hidden;
  }

  set hidden(hidden) {
    this.form.hidden = hidden;
  }

  focus() {
    this.reply.focus();
  }

  /** Agents see the draft's text (the admin's setting): the visitor is told under the box. */
  showPreviewNotice(on) {
    this.previewNotice.hidden = !on;
  }

  send() {
    const text = this.reply.value;
    const problem = textProblem(text, this.maxChars);
    if (problem) {
      this.error.textContent = problem;
      return;
    }
    const sent = this.onSend(text);
    if (typeof sent === "string") this.error.textContent = sent;
    if (sent !== true) return;
    this.reply.value = "";
    this.count.textContent = "";
    this.autosize();
  }

  autosize() {
    this.reply.style.height = "auto";
    this.reply.style.height = `${Math.min(this.reply.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
