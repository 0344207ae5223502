// The widget after a chat has ended (by the visitor, the agent, or by itself when the visitor had
// gone): "This chat has ended", a rating (good or bad, then an optional comment), "Email me the
// transcript", and "Start a new chat". The state is core/feedback.js; this draws it and sends what
// the visitor does. What the server answered is kept in storage, so that a visit later shows it.

import { Feedback, commentCount, commentProblem } from "../core/feedback.js";
import { isolated } from "../core/messages.js";

const KEY_FEEDBACK = "hd.visitor.feedback"; // {chat, rating, comment, to} of the last ended chat
const OFFLINE = "You're offline. Try again when the connection is back.";
const LOST = "The connection was lost before the server answered. Please try again.";

export class AfterChat {
  /**
   * @param {object} options
   * @param {function(object): boolean} options.send  a frame, if online
   * @param {object} options.store  the visitor's storage (jsonStorage or the host's)
   * @param {number} options.maxChars  the longest comment the server keeps
   */
  constructor({ send, store, maxChars }) {
    const $ = (id) => document.getElementById(id);
    Object.assign(this, { send, store, maxChars });
    this.root = $("hd-ended");
    this.title = $("hd-ended-title");
    this.thumbs = [...this.root.querySelectorAll("[data-rating]")];
    this.form = $("hd-rate-form");
    this.comment = $("hd-rate-comment");
    this.count = $("hd-rate-count");
    this.status = $("hd-rate-status");
    this.rateError = $("hd-rate-error");
    this.transcriptText = $("hd-transcript-text");
    this.transcriptButton = $("hd-transcript");
    this.transcriptError = $("hd-transcript-error");
    this.intro = this.transcriptText.textContent;
    this.model = null;
    this.comment.maxLength = maxChars;

    for (const thumb of this.thumbs) thumb.addEventListener("click", () => this.rate(thumb.dataset.rating));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.model) this.rate(this.model.choice || this.model.rating);
    });
    this.comment.addEventListener("input", () => this.countComment());
    this.transcriptButton.addEventListener("click", () => this.askTranscript());
  }

  get hidden() {
    return this.root.hidden;
  }

  /** The chat on screen has ended (or is shown ended): its rating and transcript, as kept. */
  show(chatId, known = null) {
    if (!this.model || this.model.chat !== chatId) {
      this.model = new Feedback({ chat: chatId, maxChars: this.maxChars, saved: this.store.get(KEY_FEEDBACK),
                                  known });
      this.comment.value = this.model.comment;
      this.countComment();
    }
    this.root.hidden = false;
    this.render();
  }

  hide() {
    this.root.hidden = true;
  }

  /** The focus was where the chat was (its reply box): put it on what is here now. */
  focus() {
    this.title.focus();
  }

  countComment() {
    this.count.textContent = commentCount(this.comment.value, this.maxChars);
    this.count.classList.toggle("hd-rate__count--over", Boolean(commentProblem(this.comment.value, this.maxChars)));
  }

  rate(rating) {
    if (!this.model || !rating) return;
    const frame = this.model.rate(rating, this.comment.value);
    if (frame && !this.send(frame)) this.model.unsent(OFFLINE);
    this.render();
  }

  askTranscript() {
    if (!this.model || this.model.asking) return;
    if (!this.send(this.model.askTranscript())) this.model.unsent(OFFLINE);
    this.render();
  }

  /** chat.rated and transcript.requested of the chat on screen. */
  onFrame(frame) {
    if (!this.model) return;
    const changed = frame.type === "chat.rated" ? this.model.rated(frame) : this.model.transcriptSent(frame);
    if (!changed) return;
    this.store.set(KEY_FEEDBACK, this.model.saved());
    this.render();
  }

  /** error naming chat.rate or transcript.request: the server's readable reason. */
  refused(frame) {
    if (!this.model || (frame.chat && frame.chat !== this.model.chat)) return;
    if (frame.frame === "chat.rate") this.model.rateRefused(frame.message);
    else this.model.transcriptRefused(frame.message);
    this.render();
  }

  /** The socket closed: an answer on its way will not come. */
  offline() {
    if (!this.model) return;
    this.model.unsent(LOST);
    this.render();
  }

  render() {
    const m = this.model;
    for (const thumb of this.thumbs) thumb.setAttribute("aria-pressed", String(thumb.dataset.rating === m.choice));
    // The comment box opens once the visitor chose (or had sent one before).
    this.form.hidden = !(m.choice || m.rating || m.comment);
    this.status.textContent = m.status;
    setError(this.rateError, m.rateError);

    if (m.to) {
      const address = isolated(m.to, { dir: "ltr" });
      this.transcriptText.replaceChildren("The transcript is on its way to ", address, ".");
    } else {
      this.transcriptText.textContent = this.intro;
    }
    // Not `disabled` while it asks: the focus stays on it, and the next label is read from there.
    this.transcriptButton.setAttribute("aria-disabled", String(m.asking));
    this.transcriptButton.textContent = m.asking ? "Sending…" : m.to ? "Email it again" : "Email me the transcript";
    setError(this.transcriptError, m.transcriptError);
  }
}

function setError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}
