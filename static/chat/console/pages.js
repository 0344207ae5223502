// The pages the visitor viewed: the Pages tab of the pane (from hours before the chat to its end;
// "before chat" on the ones before it began) and, for those since the chat began, a notice in the
// timeline. URLs and titles are text, never HTML; only http and https addresses become links.

import { setIsolatedText } from "../core/messages.js";
import { timeEl, timeFormat, dayOrTimeFormat } from "../core/time.js";

export class Pages {
  constructor(view) {
    this.view = view;
    const q = (sel) => view.el.querySelector(sel);
    this.list = q("[data-role=pages]");
    this.empty = q("[data-role=pages-empty]");
    this.count = q("[data-field=pages-count]");
    this.inTimeline = new Set(); // keys of the page views already in the timeline
    this.views = new Map(); // key -> the page view of each row, for latest()
    this.renderCount();
  }

  frame(frame) {
    if (frame.type === "pages") this.set(frame.views);
    else if (frame.type === "page.view") this.add(frame.view);
  }

  /**
   * The `pages` frame of a watch: the whole list, replacing what we had. Every resync sends it
   * again, so rows already shown are kept (no flicker, the pane's scroll and focus stay).
   */
  set(views) {
    const existing = new Map([...this.list.children].map((li) => [li.dataset.key, li]));
    let prev = null;
    for (const view of Array.isArray(views) ? views : []) {
      if (!view || typeof view.url !== "string") continue;
      let li = existing.get(pageKey(view));
      if (li) existing.delete(li.dataset.key);
      else li = this.add(view, { scroll: false });
      const want = prev ? prev.nextSibling : this.list.firstChild;
      if (li !== want) this.list.insertBefore(li, want);
      prev = li;
    }
    for (const li of existing.values()) {
      this.views.delete(li.dataset.key);
      li.remove();
    }
    this.renderCount();
  }

  /** The page the visitor viewed last (the Chat tab shows it), or null. */
  latest() {
    let last = null;
    for (const view of this.views.values()) if (!last || Date.parse(view.at) >= Date.parse(last.at)) last = view;
    return last;
  }

  /** How many pages the list shows. */
  get size() {
    return this.list.children.length;
  }

  /** Returns its row in the Pages tab; a view already there (live and by a watch) is not added again. */
  add(view, { scroll = true } = {}) {
    if (!view || typeof view.url !== "string") return null;
    const key = pageKey(view);
    let row = [...this.list.children].find((li) => li.dataset.key === key);
    if (row) return row;
    const chat = this.view.chat;
    row = pageItem(view, chat?.started_at);
    this.views.set(key, view);
    this.list.append(row);
    this.renderCount();
    if (scroll) {
      const box = this.list.parentElement; // the tab's scrolling panel: show the newest page
      box.scrollTop = box.scrollHeight;
    }
    // In the timeline: the pages viewed since the chat began (the ones before are in the pane).
    const started = Date.parse(chat?.started_at || "");
    if (this.inTimeline.has(key) || Date.parse(view.at) < started) return row;
    this.inTimeline.add(key);
    this.view.timeline.addEvent(pageViewEl(view));
    return row;
  }

  renderCount() {
    const count = this.list.children.length;
    this.count.textContent = String(count);
    this.empty.hidden = count > 0;
  }
}

/** What tells page views apart: the same view sent twice (live and by a watch) is one. */
function pageKey(view) {
  return `${view.at}\n${view.url}\n${view.title}`;
}

/** "Viewing: Pricing — https://…/pricing" in the timeline. */
function pageViewEl(view) {
  const li = document.createElement("li");
  li.className = "hd-event hd-event--page";
  li.dataset.testid = "page-view";
  li.dataset.at = String(Date.parse(view.at || ""));
  const text = document.createElement("span");
  text.className = "hd-event__text";
  const title = document.createElement("strong");
  setIsolatedText(title, view.title || "Untitled page");
  text.append("Viewing: ", title, " — ", pageLink(view.url, "hd-event__url"));
  const time = timeEl(view.at, timeFormat);
  time.className = "hd-event__time";
  li.append(text, time);
  return li;
}

/** One row of the Pages tab: time, title, address; "before chat" for the ones before it began. */
function pageItem(view, startedAt) {
  const li = document.createElement("li");
  li.className = "hd-pages__item";
  li.dataset.testid = "pages-item";
  li.dataset.key = pageKey(view);
  const at = Date.parse(view.at || "");
  const time = timeEl(view.at, dayOrTimeFormat(view.at));
  time.className = "hd-pages__time";
  time.dataset.testid = "pages-item-time";
  const what = document.createElement("div");
  what.className = "hd-pages__what";
  const title = document.createElement("span");
  title.className = "hd-pages__title";
  setIsolatedText(title, view.title || "Untitled page");
  what.append(title, pageLink(view.url, "hd-pages__url"));
  li.append(time, what);
  if (startedAt && at < Date.parse(startedAt)) {
    li.classList.add("hd-pages__item--before");
    const tag = document.createElement("span");
    tag.className = "hd-pages__tag";
    tag.textContent = "before chat";
    what.append(tag);
  }
  return li;
}

/** A page address as text; a link (new tab, no referrer, no opener) only for http and https. */
function pageLink(url, className) {
  let safe = false;
  try {
    safe = ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    safe = false;
  }
  const el = document.createElement(safe ? "a" : "span");
  el.className = className;
  setIsolatedText(el, url, "ltr"); // an address reads left to right, whatever is around it
  el.title = url; // cut short on screen when long
  if (safe) {
    el.href = url;
    el.target = "_blank";
    el.rel = "noopener noreferrer";
  }
  return el;
}
