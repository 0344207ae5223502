// The ticket's labels in the chat's header: a chip for each with a button that takes it off, and a
// box to add one, suggesting the labels other tickets have (a <datalist> of `details.choices.labels`).
// Enter (or Add) sends `chat.label`; the labels on screen are always the server's, from `details`.
// What a label may be is the server's rule: a refusal (`error` for `chat.label`) is shown next to the
// box, and what was typed comes back into it to be corrected.

import * as frames from "../core/frames.js";
import { isolated } from "../core/messages.js";
import { labelSuggestions } from "../core/details.js";

const OFFLINE = "You're offline. Try again when the connection is back.";

export class Labels {
  constructor(view) {
    this.view = view;
    const q = (sel) => view.el.querySelector(sel);
    this.list = q("[data-role=label-list]");
    this.form = q("[data-role=label-form]");
    this.input = q("[data-role=label-input]");
    this.suggestions = q("[data-role=label-suggestions]");
    this.errorEl = q("[data-role=label-error]");
    this.labels = [];
    this.sent = ""; // the label last sent to be added, to give it back if refused

    const id = `hd-labels-${view.id}`;
    const title = q("[data-role=labels-title]");
    title.id = `${id}-title`;
    this.list.setAttribute("aria-labelledby", title.id);
    this.input.id = `${id}-input`;
    q("[data-role=label-input-label]").htmlFor = this.input.id;
    this.suggestions.id = `${id}-suggestions`;
    this.input.setAttribute("list", this.suggestions.id);
    this.errorEl.id = `${id}-error`;
    this.input.setAttribute("aria-describedby", this.errorEl.id);
    this.render();

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add(this.input.value);
    });
    this.input.addEventListener("input", () => this.showError(""));
  }

  add(value) {
    const label = value.trim();
    if (!label) {
      this.input.focus();
      return;
    }
    if (this.labels.some((l) => l.toLowerCase() === label.toLowerCase())) {
      this.showError(`The ticket has the label “${label}” already.`);
      return;
    }
    if (!this.view.ctx.send(frames.labelAdd(this.view.id, label))) {
      this.showError(OFFLINE);
      return;
    }
    this.sent = label;
    this.input.value = "";
    this.showError("");
  }

  remove(label, button) {
    if (!this.view.ctx.send(frames.labelRemove(this.view.id, label))) {
      this.showError(OFFLINE);
      return;
    }
    button.disabled = true; // until the server's answer takes the chip away
    this.input.focus(); // the chip's button is going: keep the keyboard in the labels
  }

  showDetails(details) {
    const labels = Array.isArray(details.ticket?.labels) ? details.ticket.labels : [];
    this.labels = labels;
    this.render();
    const options = labelSuggestions(details).map((label) => {
      const option = document.createElement("option");
      option.value = label;
      return option;
    });
    this.suggestions.replaceChildren(...options);
  }

  /** One chip per label, reusing those there (a focused remove button keeps its focus). */
  render() {
    const existing = new Map([...this.list.children].map((li) => [li.dataset.label, li]));
    const chips = this.labels.map((label) => {
      const li = existing.get(label) || this.chip(label);
      existing.delete(label);
      return li;
    });
    for (const li of existing.values()) li.remove();
    chips.forEach((li, i) => {
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null);
    });
    this.list.hidden = chips.length === 0;
  }

  chip(label) {
    const li = document.createElement("li");
    li.className = "hd-label";
    li.dataset.testid = "label-chip";
    li.dataset.label = label;
    const name = isolated(label, { className: "hd-label__name" });
    name.dataset.testid = "label-name";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "hd-label__remove";
    remove.dataset.testid = "label-remove";
    remove.setAttribute("aria-label", `Remove label ${label}`);
    remove.title = `Remove label “${label}”`;
    remove.textContent = "×";
    remove.addEventListener("click", () => this.remove(label, remove));
    li.append(name, remove);
    return li;
  }

  /** The live region stays in place (empty when there is nothing to say), so that it is read out. */
  showError(text) {
    this.errorEl.textContent = text;
    if (text) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  error(frame) {
    if (frame.frame !== "chat.label") return false;
    this.showError(frame.message || "That label could not be saved.");
    if (this.sent && !this.input.value) this.input.value = this.sent;
    this.sent = "";
    for (const button of this.list.querySelectorAll("button:disabled")) button.disabled = false;
    this.input.focus();
    return true;
  }
}
