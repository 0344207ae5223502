// My own star on the chat, beside the visitor's name: a menu button and a menu of colours and
// "No star" (WAI-ARIA menu button: Enter, Space or ↓ opens it on the current choice, arrows, Home
// and End move, Escape closes, Tab leaves). A choice sends `chat.star`; the star shown is always the
// server's (`star` frames, the `star` of `details`), which only this agent's consoles hear.

import * as frames from "../core/frames.js";
import { STAR_COLOURS, starColour, starName } from "../core/stars.js";
import { setStarIcon, starIcon } from "./star-icon.js";

const OFFLINE = "You're offline. Try again when the connection is back.";

export class Stars {
  constructor(view) {
    this.view = view;
    const q = (sel) => view.el.querySelector(sel);
    this.wrap = q("[data-role=star]");
    this.button = q("[data-role=star-button]");
    this.icon = starIcon(null);
    this.button.replaceChildren(this.icon);
    this.menu = q("[data-role=star-menu]");
    this.colour = null;

    this.button.id = `hd-star-${view.id}`;
    this.menu.id = `${this.button.id}-menu`;
    this.menu.setAttribute("aria-labelledby", this.button.id);
    this.button.setAttribute("aria-controls", this.menu.id);
    this.items = [...STAR_COLOURS, null].map((colour) => this.item(colour));
    this.menu.append(...this.items);
    this.render();
    this.bind();
  }

  item(colour) {
    const item = document.createElement("button");
    item.type = "button";
    item.className = "hd-starmenu__item";
    item.setAttribute("role", "menuitemradio");
    item.tabIndex = -1;
    item.dataset.colour = colour || "";
    item.dataset.testid = "star-option";
    item.append(starIcon(colour), colour ? starName(colour) : "No star");
    item.addEventListener("click", () => this.choose(colour));
    return item;
  }

  bind() {
    this.button.addEventListener("click", () => (this.menu.hidden ? this.open() : this.close()));
    this.button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.open(event.key === "ArrowUp" ? this.items.length - 1 : null);
      }
    });
    this.menu.addEventListener("keydown", (event) => this.onKey(event));
    this.wrap.addEventListener("focusout", (event) => {
      if (!this.menu.hidden && !this.wrap.contains(event.relatedTarget)) this.close({ focus: false });
    });
    this.onDocumentDown = (event) => {
      if (!this.menu.hidden && !this.wrap.contains(event.target)) this.close({ focus: false });
    };
    document.addEventListener("pointerdown", this.onDocumentDown);
  }

  /** Open the menu with the focus on item `index`, or on the current choice. */
  open(index = null) {
    this.menu.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    const current = this.items.findIndex((item) => (item.dataset.colour || null) === this.colour);
    this.items[index ?? Math.max(0, current)].focus();
  }

  close({ focus = true } = {}) {
    this.menu.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (focus) this.button.focus();
  }

  onKey(event) {
    const index = this.items.indexOf(document.activeElement);
    const last = this.items.length - 1;
    const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: last };
    if (event.key in moves) {
      event.preventDefault();
      const next = moves[event.key];
      this.items[next > last ? 0 : next < 0 ? last : next].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    } else if (event.key === "Tab") {
      this.close({ focus: false });
    }
  }

  choose(colour) {
    this.close();
    if (colour === this.colour) return;
    if (!this.view.ctx.send(frames.chatStar(this.view.id, colour))) this.view.ctx.alert(OFFLINE);
  }

  showDetails(details) {
    this.set(details.star);
  }

  set(colour) {
    this.colour = starColour(colour);
    this.render();
  }

  render() {
    const { colour } = this;
    this.wrap.dataset.star = colour || "";
    setStarIcon(this.icon, colour);
    this.button.setAttribute("aria-label", colour ? `Star: ${starName(colour)}` : "Star: none");
    this.button.title = colour ? `${starName(colour)} star (yours): change` : "Star this chat (only you see it)";
    for (const item of this.items) {
      item.setAttribute("aria-checked", (item.dataset.colour || null) === colour ? "true" : "false");
    }
  }

  error(frame) {
    if (frame.frame !== "chat.star") return false;
    this.view.ctx.alert(frame.message || "The star could not be saved.");
    return true;
  }

  destroy() {
    document.removeEventListener("pointerdown", this.onDocumentDown);
  }
}
