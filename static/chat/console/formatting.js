// The reply box's formatting toolbar and its preview, for one chat view's composer (composer.js).
//
// The buttons and the shortcuts (Ctrl/⌘ + B, I, K) change the reply's Markdown through
// core/markdown-edit.js, as the browser's own typing would: the box keeps focus and the selection,
// the edit can be undone, and an `input` event follows, so the typing notice runs as for a key.
// Preview shows, under the box, the HTML the server makes of the text (`message.preview`, answered
// by `preview` with our `ref`: the server's sanitised HTML, the one thing inserted as HTML). A
// `preview` frame names no chat: its ref does (`<chat>:<n>`, read back by chatOfRef in app.js),
// and only the answer to the latest ask is shown. Its refusals (`error` with frame
// "message.preview") name no chat either: app.js offers them to every view, and the one waiting
// for an answer shows them under the box.

import { ACTIONS } from "../core/markdown-edit.js";
import * as frames from "../core/frames.js";
import { textProblem } from "../core/messages.js";

const PREVIEW_DELAY_MS = 300; // while I type with the preview open, ask once I pause this long
const MAX_WAITING = 20; // asks remembered without an answer (the rest were lost with a socket)
const MAC = /Mac|iPhone|iPad/.test(globalThis.navigator?.userAgentData?.platform || globalThis.navigator?.platform || "");
const SHORTCUTS = { b: "bold", i: "italic", k: "link" };

/** How the shortcut with `letter` is written on this computer: "Ctrl+B", or "⌘B" on a Mac. */
export function shortcut(letter) {
  return MAC ? `⌘${letter}` : `Ctrl+${letter}`;
}

/** The chat ID a preview's ref was made for ("" when it is not one of ours). */
export function chatOfRef(ref) {
  const at = typeof ref === "string" ? ref.lastIndexOf(":") : -1;
  return at > 0 ? ref.slice(0, at) : "";
}

export class Formatting {
  constructor(composer) {
    this.composer = composer;
    this.view = composer.view;
    this.reply = composer.reply;
    const q = (sel) => this.view.el.querySelector(sel);
    this.toolbar = q("[data-role=format-toolbar]");
    this.buttons = [...this.toolbar.querySelectorAll("button")];
    this.toggle = q("[data-role=preview-toggle]");
    this.pane = q("[data-role=preview]");
    this.body = q("[data-role=preview-body]");
    this.empty = q("[data-role=preview-empty]");

    this.open = false; // the preview is shown
    this.asked = 0; // refs made so far
    this.latest = ""; // the ref whose answer is to be shown; "" when none is
    this.waiting = []; // refs sent and not answered yet, oldest first
    this.refused = false; // the error under the box is a preview's refusal
    this.timer = null;

    this.pane.id = `hd-preview-${this.view.id}`;
    this.toggle.setAttribute("aria-controls", this.pane.id);
    for (const button of this.buttons) {
      const key = button.dataset.shortcut;
      const name = button.getAttribute("aria-label");
      if (key) button.title = `${name} (${shortcut(key)})`;
    }
    this.rove(this.buttons[0]);
    this.bind();
  }

  bind() {
    this.toolbar.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button || button.disabled) return;
      if (button === this.toggle) this.setOpen(!this.open);
      else if (button.dataset.format) this.apply(button.dataset.format);
    });
    // One tab stop for the toolbar; the arrow keys, Home and End move along it (a roving tabindex).
    this.toolbar.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
      if (!(event.key in moves)) return;
      const usable = this.buttons.filter((b) => !b.disabled);
      if (!usable.length) return;
      event.preventDefault();
      const here = usable.indexOf(document.activeElement);
      const step = moves[event.key];
      const next = Number.isFinite(step) ? (here + step + usable.length) % usable.length : step < 0 ? 0 : usable.length - 1;
      this.rove(usable[next]).focus();
    });
    this.toolbar.addEventListener("focusin", (event) => {
      if (this.buttons.includes(event.target)) this.rove(event.target);
    });
    this.reply.addEventListener("keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey || event.isComposing) return;
      // The letter as typed; on a layout without Latin letters, the key where it would be.
      const key = /^[a-z]$/i.test(event.key) ? event.key.toLowerCase() : event.code.replace(/^Key/, "").toLowerCase();
      const action = SHORTCUTS[key];
      if (!action) return;
      event.preventDefault(); // not the browser's own (its address bar, its bookmarks)
      this.apply(action);
    });
    this.reply.addEventListener("input", () => this.textChanged());
  }

  /** The one button of the toolbar in the tab order. */
  rove(button) {
    for (const b of this.buttons) b.tabIndex = b === button ? 0 : -1;
    return button;
  }

  /** The toolbar can be used exactly when the reply box can; the preview closes with it. */
  setEnabled(enabled) {
    for (const button of this.buttons) button.disabled = !enabled;
    if (!enabled && this.open) this.setOpen(false);
  }

  /** Applies a markdown-edit action to the reply and its selection, as typing would. */
  apply(name) {
    const reply = this.reply;
    if (reply.disabled || !ACTIONS[name]) return;
    const before = { text: reply.value, start: reply.selectionStart, end: reply.selectionEnd };
    const after = ACTIONS[name](before);
    reply.focus();
    const max = reply.maxLength;
    if (max > 0 && after.text.length > max && after.text.length > before.text.length) {
      this.composer.problem.textContent = textProblem(after.text, max); // the text stays as it was
      return;
    }
    if (after.text !== before.text) replaceText(reply, after.text);
    reply.setSelectionRange(after.start, after.end);
  }

  // --- Preview -----------------------------------------------------------------------------------

  setOpen(open) {
    this.open = open;
    this.toggle.setAttribute("aria-pressed", String(open));
    this.pane.hidden = !open;
    clearTimeout(this.timer);
    if (open) this.ask();
    else this.latest = ""; // an answer still on its way is not shown
  }

  /** The reply changed (typed, formatted, sent): an open preview follows, after a pause. */
  textChanged() {
    if (!this.open) return;
    clearTimeout(this.timer);
    if (!this.reply.value.trim()) this.ask(); // nothing to ask the server
    else this.timer = setTimeout(() => this.ask(), PREVIEW_DELAY_MS);
  }

  ask() {
    clearTimeout(this.timer);
    const text = this.reply.value;
    if (!text.trim()) {
      this.latest = "";
      this.show("");
      return;
    }
    this.asked += 1;
    const ref = `${this.view.id}:${this.asked}`;
    if (!this.view.ctx.send(frames.messagePreview(text, ref))) {
      this.latest = "";
      this.show(null, "The preview comes back with the connection.");
      return;
    }
    this.latest = ref;
    this.waiting.push(ref);
    if (this.waiting.length > MAX_WAITING) this.waiting.shift();
    this.pane.setAttribute("aria-busy", "true");
  }

  /** `html`: the server's for the text ("" for none); null with `note`: no preview to show. */
  show(html, note = "Nothing to preview") {
    this.pane.removeAttribute("aria-busy");
    this.body.innerHTML = html || ""; // sanitised by the server: the message.preview answer
    this.body.hidden = !html;
    this.empty.textContent = note;
    this.empty.hidden = Boolean(html);
  }

  /** Server frames: `preview` answers (app.js brings only those made for this view). */
  frame(frame) {
    if (frame.type !== "preview") return;
    const at = this.waiting.indexOf(frame.ref);
    if (at === -1) return;
    this.waiting.splice(0, at + 1); // answers come in order: the ones before it are not coming
    if (frame.ref !== this.latest || !this.open) return; // an answer for text since changed
    this.latest = "";
    this.show(typeof frame.html === "string" ? frame.html : "");
    if (this.refused) {
      this.composer.problem.textContent = "";
      this.refused = false;
    }
  }

  /** A refused `message.preview`, which names no chat: ours when we wait for an answer. */
  error(frame) {
    if (frame.frame !== "message.preview" || !this.waiting.length) return false;
    const ref = this.waiting.shift(); // answers come in order: it is the oldest one's
    if (!this.open) return true;
    this.composer.problem.textContent = frame.message || "This text cannot be previewed.";
    this.refused = true;
    if (ref === this.latest || !this.waiting.length) {
      this.latest = "";
      this.show(null, "No preview: see why below.");
    }
    if (frame.code === "rate_limited" && frame.retry_after) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open && this.ask(), Number(frame.retry_after) * 1000);
    }
    return true;
  }

  destroy() {
    clearTimeout(this.timer);
  }
}

/**
 * Puts `text` in the textarea as one edit the browser can undo, by replacing only the part that
 * changed; where the browser will not (execCommand is on its way out), by setting the value. Either
 * way the textarea hears `input`.
 */
function replaceText(textarea, text) {
  const old = textarea.value;
  let head = 0;
  while (head < old.length && head < text.length && old[head] === text[head]) head += 1;
  let tail = 0;
  while (tail < old.length - head && tail < text.length - head && old[old.length - 1 - tail] === text[text.length - 1 - tail]) {
    tail += 1;
  }
  const inserted = text.slice(head, text.length - tail);
  textarea.setSelectionRange(head, old.length - tail);
  let done = false;
  try {
    done = document.execCommand(inserted ? "insertText" : "delete", false, inserted);
  } catch {
    done = false;
  }
  if (!done || textarea.value !== text) {
    textarea.value = text;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }
}
