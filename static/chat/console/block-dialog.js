// The Block dialog of a chat (the header's Block button opens it): a modal <dialog> that says how long
// a block lasts (the admin's hours, the page's data-block-hours) and what it does, asks for a reason,
// and offers the chat's IP address too, with the warning beside it in plain words (an IPv6 address:
// its whole network of the admin's prefix, data-block-ipv6-prefix). Block sends `visitor.block`; its
// answer `visitor.blocked` closes the dialog and leaves a note in the chat ("Blocked until …"); a
// refusal (`error` for `visitor.block`: an empty reason, no right) is shown in the dialog in the
// server's words. The server checks everything: the dialog refuses nothing itself.
//
// Escape and Cancel close it; the focus goes back to the Block button. Every string from people is
// set as text.

import * as frames from "../core/frames.js";
import { isolated, setIsolatedText } from "../core/messages.js";
import { dayTimeFormat, timeEl } from "../core/time.js";
import { IP_WARNING, blockEffects, blockedNotice, ipChoice } from "../core/blocks.js";

const OFFLINE = "You're offline. Try again when the connection is back.";
const ANSWER_WAIT_MS = 15000; // no answer (the socket dropped on the way): Block may be pressed again

/** Fills `el` with parts of core/blocks.js: text, {time} as a <time>, {name} isolated. */
export function showParts(el, parts) {
  el.replaceChildren(
    ...parts.map((part) => {
      if (typeof part === "string") return part;
      if (part && "time" in part) return timeEl(part.time, dayTimeFormat);
      if (part && "name" in part) return isolated(part.name);
      return "";
    }),
  );
}

/** The same parts as plain words, for a screen reader's announcement. */
function partsText(parts) {
  return parts
    .map((part) => {
      if (typeof part === "string") return part;
      if (part && "time" in part) {
        const date = new Date(part.time || "");
        return Number.isNaN(date.getTime()) ? "" : dayTimeFormat.format(date);
      }
      return part?.name || "";
    })
    .join("");
}

export class BlockDialog {
  /**
   * @param {object} view  the chat view (chat.js)
   * @param {HTMLElement} opener  the Block button: the focus goes back to it
   */
  constructor(view, opener) {
    this.view = view;
    this.opener = opener;
    const q = (sel) => view.el.querySelector(sel);
    this.dialog = q("[data-role=block-dialog]");
    this.form = q("[data-role=block-form]");
    this.title = q("[data-role=block-title]");
    this.lasts = q("[data-role=block-lasts]");
    this.does = q("[data-role=block-does]");
    this.reason = q("[data-role=block-reason]");
    this.ipBox = q("[data-role=block-ip]");
    this.ipLabel = q("[data-role=block-ip-label]");
    this.ipWarning = q("[data-role=block-ip-warning]");
    this.ipNote = q("[data-role=block-ip-note]");
    this.errorEl = q("[data-role=block-error]");
    this.confirm = q("[data-role=block-confirm]");
    this.notice = q("[data-role=block-notice]");
    this.details = null;
    this.waiting = null; // the timer while a visitor.block is on its way

    const id = `hd-block-${view.id}`;
    const name = (role) => {
      const el = q(`[data-role=${role}]`);
      el.id = `${id}-${role}`;
      return el.id;
    };
    this.dialog.setAttribute("aria-labelledby", name("block-title"));
    this.dialog.setAttribute("aria-describedby", `${name("block-lasts")} ${name("block-does")}`);
    q("[data-role=block-reason-label]").htmlFor = name("block-reason");
    this.reason.setAttribute("aria-describedby", `${name("block-error")} ${name("block-reason-hint")}`);
    this.ipLabel.htmlFor = name("block-ip");
    name("block-ip-warning");
    name("block-ip-note");
    this.ipWarning.textContent = IP_WARNING;

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    q("[data-role=block-cancel]").addEventListener("click", () => this.close());
    this.reason.addEventListener("input", () => this.showError(""));
    // Escape closes a modal <dialog> by itself (its `cancel`); either way the focus goes back.
    this.dialog.addEventListener("close", () => this.closed());
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** The chat's details: its visitor's email and IP address (details.visitor). */
  showDetails(details) {
    this.details = details;
    if (this.isOpen && !this.waiting) this.render();
  }

  open() {
    if (this.isOpen) return;
    this.reason.value = "";
    this.ipBox.checked = false;
    this.showError("");
    this.setWaiting(false);
    this.render();
    this.dialog.showModal();
    this.reason.focus();
  }

  close() {
    if (this.isOpen) this.dialog.close();
  }

  /** Who and what the dialog is about, as the chat and its details stand. */
  render() {
    const chat = this.view.chat;
    const visitor = this.details?.visitor || chat?.visitor || {};
    this.title.replaceChildren("Block ", isolated(visitor.name || chat?.visitor?.name || "this visitor"));
    const body = document.body.dataset;
    const effects = blockEffects({ hours: body.blockHours, email: visitor.email || "" });
    this.lasts.textContent = effects.lasts;
    this.does.textContent = effects.does;
    const ip = this.details?.visitor?.ip_address ?? chat?.ip_address ?? null;
    const choice = ipChoice(ip, body.blockIpv6Prefix);
    setIsolatedText(this.ipLabel, choice.label);
    this.ipBox.disabled = !choice.available;
    if (!choice.available) this.ipBox.checked = false;
    this.ipNote.textContent = choice.note;
    this.ipNote.hidden = !choice.note;
    this.ipWarning.hidden = !choice.available;
    // The box is described by what is on screen beside it: the warning, the IPv6 or "no address" note.
    const described = [this.ipWarning, this.ipNote].filter((el) => !el.hidden).map((el) => el.id);
    this.ipBox.setAttribute("aria-describedby", described.join(" "));
  }

  send() {
    if (this.waiting) return;
    const frame = frames.visitorBlock(this.view.id, this.reason.value, this.ipBox.checked && !this.ipBox.disabled);
    if (!this.view.ctx.send(frame)) {
      this.showError(OFFLINE);
      return;
    }
    this.showError("");
    this.setWaiting(true);
  }

  setWaiting(on) {
    clearTimeout(this.waiting);
    this.waiting = on
      ? setTimeout(() => {
          this.setWaiting(false);
          this.showError("No answer yet. If the chat's Blocks do not list this block, press Block again.");
        }, ANSWER_WAIT_MS)
      : null;
    this.confirm.disabled = on;
    this.confirm.textContent = on ? "Blocking…" : "Block";
  }

  /** `visitor.blocked`: done. The dialog closes, and the chat says until when. */
  blocked(frame) {
    this.setWaiting(false);
    const parts = blockedNotice(frame);
    showParts(this.notice, parts);
    this.notice.hidden = false;
    this.close();
    const who = this.view.chat?.visitor?.name || "The visitor";
    this.view.ctx.announce(`${who}: ${partsText(parts)}`);
  }

  /** An `error` about this chat: ours when it refused `visitor.block`, shown in the dialog. */
  error(frame) {
    if (frame.frame !== "visitor.block") return false;
    this.setWaiting(false);
    if (!this.isOpen) return false; // closed meanwhile: the page's alert bar says it
    this.showError(frame.message || "The visitor could not be blocked.");
    this.reason.focus();
    return true;
  }

  showError(text) {
    this.errorEl.textContent = text;
    this.errorEl.hidden = !text;
    if (text) this.reason.setAttribute("aria-invalid", "true");
    else this.reason.removeAttribute("aria-invalid");
  }

  closed() {
    this.setWaiting(false);
    if (this.opener.isConnected && !this.opener.hidden) this.opener.focus();
  }

  destroy() {
    clearTimeout(this.waiting);
    this.close();
  }
}
