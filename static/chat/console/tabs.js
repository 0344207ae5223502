// The strip of open chats above the panels (WAI-ARIA tabs: arrow keys, Home and End move between
// them, Delete closes one), and which tabs were open, in front and read up to where, kept in
// sessionStorage so that a reload comes back to the same place.
//
// The tablist holds tabs only: each tab's × is for the mouse and hidden from assistive technology
// (a button there would be a child a tablist may not have); the keyboard closes a tab with Delete,
// and every panel has a "Close tab" button of its own (header.js).

import { jsonStorage } from "../core/socket.js";
import { setIsolatedText } from "../core/messages.js";

const session = jsonStorage("session");

export class Tabs {
  /**
   * @param {object} options
   * @param {HTMLElement} options.list  the tablist
   * @param {string} options.storageKey  sessionStorage key: {open: [ids], active, seen: {id: seq}}
   * @param {function(string, object): void} options.onSelect  (id, {focus}) a tab is chosen
   * @param {function(string): void} options.onClose  (id) its close button
   */
  constructor({ list, storageKey, onSelect, onClose }) {
    this.list = list;
    this.key = storageKey;
    this.onSelect = onSelect;
    this.onClose = onClose;
    this.ids = []; // open tabs, in order
    this.active = null; // the tab in front
    this.els = new Map(); // id -> {wrap, main, label, unread, dot, close}
  }

  has(id) {
    return this.ids.includes(id);
  }

  open(id, panelId) {
    if (this.has(id)) return;
    this.ids.push(id);
    const wrap = document.createElement("div");
    wrap.className = "hd-tab";
    wrap.setAttribute("role", "presentation");
    wrap.dataset.testid = "chat-tab";
    wrap.dataset.chatId = id;
    const main = document.createElement("button");
    main.type = "button";
    main.className = "hd-tab__main";
    main.id = `hd-tab-${id}`;
    main.setAttribute("role", "tab");
    main.setAttribute("aria-controls", panelId);
    main.setAttribute("aria-keyshortcuts", "Delete");
    const dot = span("hd-tab__dot");
    dot.setAttribute("aria-hidden", "true");
    const label = span("hd-tab__label");
    const unread = span("hd-badge");
    unread.dataset.testid = "tab-unread";
    unread.hidden = true;
    main.append(dot, label, unread);
    const close = span("hd-tab__close");
    close.setAttribute("aria-hidden", "true");
    close.dataset.testid = "tab-close";
    close.textContent = "×";
    wrap.append(main, close);
    main.addEventListener("click", () => this.onSelect(id, { focus: true }));
    main.addEventListener("keydown", (event) => this.onKey(event, id));
    close.addEventListener("click", () => this.onClose(id));
    this.els.set(id, { wrap, main, label, unread, dot, close });
    this.list.append(wrap);
  }

  /** Removes the tab; returns the index it had (-1: none). */
  remove(id) {
    const index = this.ids.indexOf(id);
    if (index < 0) return -1;
    this.ids.splice(index, 1);
    this.els.get(id).wrap.remove();
    this.els.delete(id);
    return index;
  }

  /** Shows a chat's tab as it stands: {name, status, unread}. */
  render(id, { name, status, unread }) {
    const tab = this.els.get(id);
    if (!tab) return;
    setIsolatedText(tab.label, name);
    tab.close.title = `Close chat with ${name} (Delete)`;
    tab.dot.dataset.status = status || "";
    const active = this.active === id;
    tab.wrap.classList.toggle("hd-tab--active", active);
    tab.main.setAttribute("aria-selected", active ? "true" : "false");
    tab.main.tabIndex = active ? 0 : -1;
    tab.unread.hidden = unread === 0;
    tab.unread.textContent = unread > 99 ? "99+" : String(unread);
    tab.main.setAttribute("aria-label", unread ? `${name}, ${unread} unread` : name);
  }

  focus(id) {
    this.els.get(id)?.main.focus();
  }

  onKey(event, id) {
    if (event.key === "Delete") {
      event.preventDefault();
      this.onClose(id);
      return;
    }
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves) || !this.ids.length) return;
    event.preventDefault();
    const index = this.ids.indexOf(this.active);
    const step = moves[event.key];
    let next;
    if (step === -Infinity) next = 0;
    else if (step === Infinity) next = this.ids.length - 1;
    else next = (index + step + this.ids.length) % this.ids.length;
    this.onSelect(this.ids[next], { focus: false });
    this.focus(this.ids[next]);
  }

  // --- kept for this browser tab's session ---

  save(seen) {
    session.set(this.key, { open: this.ids, active: this.active, seen });
  }

  /** {open: [ids], active, seen: {id: seq}} as saved; the caller opens them. */
  saved() {
    const saved = session.get(this.key, {}) || {};
    const open = Array.isArray(saved.open) ? saved.open.filter((id) => typeof id === "string") : [];
    const active = open.includes(saved.active) ? saved.active : open[0] || null;
    const seen = saved.seen && typeof saved.seen === "object" ? saved.seen : {};
    return { open, active, seen };
  }
}

function span(className) {
  const el = document.createElement("span");
  el.className = className;
  return el;
}
