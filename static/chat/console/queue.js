// The sidebar: chats waiting (oldest first, with how long and an Accept button) and my active
// chats, with their unread counts and my stars, filtered by star (star-filter.js). Items are
// reused from one render to the next: rebuilding them would take the keyboard focus away from an
// agent who is tabbing through the list.
//
// My stars are kept here: `welcome.stars` (setStars), then each `star` frame and `details` answer
// (setStar). They are mine alone; no other agent sees them.

import { isolated, setIsolatedText } from "../core/messages.js";
import { starColour, starFilterText, starMap, starMatches, starName } from "../core/stars.js";
import { starIcon } from "./star-icon.js";

export class Queue {
  /**
   * @param {object} ui  the sidebar's elements: queue, queueEmpty, waitingCount, mine, mineEmpty, mineCount
   * @param {object} actions  open(id), accept(id)
   */
  constructor(ui, { open, accept }) {
    this.ui = ui;
    this.open = open;
    this.accept = accept;
    this.stars = new Map(); // chat id -> my star's colour
    this.filter = "all";
  }

  /** `welcome.stars`: the truth for the chats it lists; `keep(id)`: others whose star we still trust. */
  setStars(stars, keep = () => false) {
    const fresh = starMap(stars);
    for (const [id, colour] of this.stars) if (!fresh.has(id) && keep(id)) fresh.set(id, colour);
    this.stars = fresh;
  }

  setStar(id, colour) {
    if (starColour(colour)) this.stars.set(id, colour);
    else this.stars.delete(id);
  }

  /**
   * @param {object[]} chats  every agent chat object we know
   * @param {object} now  {me: my user id, active: the chat in front, unread(id): its unread count}
   * @returns {number} how many chats wait
   */
  render(chats, { me, active, unread }) {
    const sorted = [...chats].sort((a, b) => (a.started_at || "").localeCompare(b.started_at || ""));
    const queued = sorted.filter((c) => c.status === "queued");
    const mine = sorted.filter((c) => c.status === "active" && c.agent_id === me);
    const shown = (c) => starMatches(this.filter, this.stars.get(c.id));
    const { ui } = this;
    const now = { active, unread, star: (id) => this.stars.get(id) || null };
    this.reconcile(ui.queue, queued.filter(shown), "queue", now);
    this.reconcile(ui.mine, mine.filter(shown), "mine", now);
    this.empty(ui.queueEmpty, queued, shown, "No one is waiting.", "waiting");
    this.empty(ui.mineEmpty, mine, shown, "Chats you accept appear here.", "of yours");
    ui.waitingCount.textContent = String(queued.length);
    ui.waitingCount.classList.toggle("hd-count--hot", queued.length > 0);
    ui.mineCount.textContent = String(mine.length);
    return queued.length;
  }

  /** The line under an empty list: nothing there, or all of it hidden by the star filter. */
  empty(el, chats, shown, none, which) {
    const hidden = chats.filter((c) => !shown(c)).length;
    el.hidden = chats.length > hidden;
    if (!chats.length) el.textContent = none;
    else el.textContent = `No ${starFilterText(this.filter)} ${which} (${hidden} hidden by the filter).`;
  }

  /** Make `list` show one item per chat, in order, reusing the items already there. */
  reconcile(list, chats, kind, now) {
    const existing = new Map([...list.children].map((li) => [li.dataset.chatId, li]));
    let prev = null;
    for (const chat of chats) {
      let li = existing.get(chat.id);
      if (li) existing.delete(chat.id);
      else li = this.item(chat, kind);
      updateItem(li, chat, kind, now);
      const want = prev ? prev.nextSibling : list.firstChild;
      if (li !== want) list.insertBefore(li, want);
      prev = li;
    }
    for (const li of existing.values()) li.remove();
  }

  item(chat, kind) {
    const li = document.createElement("li");
    li.className = "hd-item";
    li.dataset.testid = kind === "queue" ? "queue-item" : "my-chat-item";
    li.dataset.chatId = chat.id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "hd-item__open";
    open.dataset.testid = kind === "queue" ? "queue-open" : "my-chat-open";
    const name = document.createElement("span");
    name.className = "hd-item__name";
    const star = document.createElement("span");
    star.className = "hd-item__star";
    star.dataset.testid = "item-star";
    star.hidden = true;
    const meta = document.createElement("span");
    meta.className = "hd-item__meta";
    const badge = document.createElement("span");
    badge.className = "hd-badge";
    badge.hidden = true;
    open.append(star, name, meta, badge);
    open.addEventListener("click", () => this.open(chat.id));
    li.append(open);
    if (kind === "queue") {
      const accept = document.createElement("button");
      accept.type = "button";
      accept.className = "hd-button hd-button--primary hd-button--small";
      accept.dataset.testid = "accept-button";
      accept.textContent = "Accept";
      accept.addEventListener("click", () => this.accept(chat.id));
      li.append(accept);
    }
    return li;
  }
}

function updateItem(li, chat, kind, { active, unread, star }) {
  const visitor = chat.visitor?.name || "Visitor";
  li.classList.toggle("hd-item--current", active === chat.id);
  const colour = star(chat.id);
  const starEl = li.querySelector(".hd-item__star");
  li.dataset.star = colour || "";
  starEl.hidden = !colour;
  if (starEl.dataset.colour !== (colour || "")) {
    starEl.dataset.colour = colour || "";
    starEl.replaceChildren(...(colour ? [starIcon(colour), srText(`${starName(colour)} star, `)] : []));
  }
  setIsolatedText(li.querySelector(".hd-item__name"), visitor);
  const meta = kind === "queue" ? since(chat.started_at) : chat.id;
  const parts = [chat.department, meta].filter(Boolean).map((part) => isolated(part));
  li.querySelector(".hd-item__meta").replaceChildren(...parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
  const count = unread(chat.id);
  const badge = li.querySelector(".hd-badge");
  badge.hidden = count === 0;
  badge.textContent = String(count);
  badge.setAttribute("aria-label", `${count} unread`);
  const accept = li.querySelector("[data-testid=accept-button]");
  if (accept) accept.setAttribute("aria-label", `Accept chat with ${visitor}`);
}

function srText(text) {
  const el = document.createElement("span");
  el.className = "hd-sr";
  el.textContent = text;
  return el;
}

/** How long a chat has waited, roughly. */
export function since(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `waiting ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `waiting ${hours} h ${minutes % 60} min`;
}
