// The agent console: the queue and my chats on the left, open chats as tabs on the right.
//
// It speaks only the agent protocol (docs/protocol.md) through LiveSocket. Every chat with a view
// (an open tab, or one of my active chats kept in the background) is watched with chat.watch,
// again after every reconnect, from its level: each view has a cursor (core/cursor.js) that knows
// which seqs it has (messages and receipts), asks at once for a hole, and resyncs on a timer
// (every 3 s while the server says live delivery is degraded) and when the page is shown again.
// Text from people is shown with textContent; only server-sanitised `html` is inserted as HTML.
//
// Presence: the visitor's draft shows under the conversation while they type, each of my messages
// has a receipt tick (sent, delivered to the widget, read), and the pages the visitor views appear
// in the timeline and in the Pages tab of the side pane. While I type, the visitor is told so
// (`typing` with `active`, never the text).

import { LiveSocket, jsonStorage, socketUrl, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN } from "./core/socket.js";
import { Cursors } from "./core/cursor.js";
import { isolated, setIsolatedText, messageEl, PendingMessages, nearBottom, scrollToEnd, sendOnEnter, textProblem, timeFormat } from "./core/messages.js";

const body = document.body;
const USER_ID = Number(body.dataset.userId);
const MAX_CHARS = Number(body.dataset.maxChars) || 5000;
const LOGIN_URL = body.dataset.loginUrl || "/accounts/login/";
// Live delivery is at-most-once: while connected, re-watch open chats this often (0: never).
const RESYNC_MS = Number(body.dataset.resyncMs ?? 20000);
const KEY_TABS = `hd.console.tabs.${USER_ID}`; // sessionStorage: {open: [ids], active, seen: {id: seq}}
const KEY_OUTBOX = `hd.console.outbox.${USER_ID}`;
const BASE_TITLE = "Console";
const DRAFT_TTL_MS = 6000; // a draft with no news for this long is hidden
const TYPING_REPEAT_MS = 2000; // while I type, the visitor hears "typing" at most this often

const session = jsonStorage("session");
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

const $ = (id) => document.getElementById(id);
const ui = {
  conn: $("hd-conn"),
  banner: $("hd-banner"),
  liveNotice: $("hd-live-notice"),
  alertbar: $("hd-alertbar"),
  alertText: $("hd-alert-text"),
  alertLink: $("hd-alert-link"),
  alertClose: $("hd-alert-close"),
  announce: $("hd-announce"),
  queue: $("hd-queue"),
  queueEmpty: $("hd-queue-empty"),
  waitingCount: $("hd-waiting-count"),
  mine: $("hd-mine"),
  mineEmpty: $("hd-mine-empty"),
  mineCount: $("hd-mine-count"),
  tabs: $("hd-tabs"),
  panels: $("hd-panels"),
  empty: $("hd-empty"),
  template: $("hd-panel-template"),
};

const state = {
  me: { id: USER_ID, name: "" },
  chats: new Map(), // id -> agent chat object, for the sidebar and the views
  views: new Map(), // id -> ChatView, every chat we watch
  tabs: [], // ids of open tabs, in order
  active: null, // id of the tab in front
  knownQueued: new Set(), // to announce a chat only the first time it waits
  online: false, // the socket is up
};

// --- One chat: its panel, tab, messages ------------------------------------------------------------

class ChatView {
  constructor(id, seenSeq = 0) {
    this.id = id;
    this.chat = null;
    this.shown = new Map(); // seq -> <li>
    this.cursor = cursors.track(id); // the seqs of this chat we have; watches start at its level
    this.seenSeq = seenSeq; // highest seq the agent had in front of them
    this.unread = 0;
    this.tab = null;
    this.receipts = new Map(); // seq -> {delivered_at, read_at}, as last heard
    this.pageKeys = new Set(); // page views already in the timeline
    this.draftTimer = null;
    this.typingSentAt = 0; // when I last told the visitor I am typing; 0: I am not

    this.panel = ui.template.content.firstElementChild.cloneNode(true);
    this.panel.id = `hd-panel-${id}`;
    this.panel.dataset.chatId = id;
    this.panel.setAttribute("aria-labelledby", `hd-tab-${id}`);
    const q = (sel) => this.panel.querySelector(sel);
    this.fields = {};
    for (const el of this.panel.querySelectorAll("[data-field]")) this.fields[el.dataset.field] = el;
    this.log = q(".hd-log");
    this.pending = new PendingMessages(this.log, "agent"); // my messages until acknowledged
    this.form = q("form");
    this.reply = q("[data-role=reply]");
    this.send = q("[data-role=send]");
    this.hint = q("[data-role=hint]");
    this.error = q("[data-role=error]");
    this.confirm = q("[data-role=confirm]");
    this.acceptButton = q("[data-action=accept]");
    this.endButton = q("[data-action=end]");
    this.draft = q("[data-role=draft]");
    this.draftWho = q("[data-role=draft-who]");
    this.draftText = q("[data-role=draft-text]");
    this.pages = q("[data-role=pages]");
    this.pagesEmpty = q("[data-role=pages-empty]");
    this.reply.id = `hd-reply-${id}`;
    this.reply.maxLength = MAX_CHARS;
    this.hint.id = `hd-hint-${id}`;
    this.reply.setAttribute("aria-describedby", this.hint.id);
    q("[data-role=reply-label]").htmlFor = this.reply.id;
    this.fields.id.textContent = id;
    this.fields.name.textContent = "Loading…";
    this.bind();
    this.bindSide();
    this.update(null);
    ui.panels.append(this.panel);
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendReply();
    });
    sendOnEnter(this.reply, () => this.sendReply());
    this.reply.addEventListener("input", () => {
      this.error.textContent = "";
      this.noteTyping();
    });
    this.acceptButton.addEventListener("click", () => acceptChat(this.id));
    this.endButton.addEventListener("click", () => {
      this.confirm.hidden = false;
      this.confirm.querySelector("[data-action=end-yes]").focus();
    });
    this.confirm.querySelector("[data-action=end-no]").addEventListener("click", () => {
      this.confirm.hidden = true;
      this.endButton.focus();
    });
    this.confirm.querySelector("[data-action=end-yes]").addEventListener("click", () => {
      this.confirm.hidden = true;
      if (!socket.send({ type: "chat.end", chat: this.id })) showAlert("You're offline. Try again when the connection is back.");
    });
  }

  get mine() {
    return Boolean(this.chat) && this.chat.status === "active" && this.chat.agent_id === state.me.id;
  }

  update(chat) {
    if (chat) this.chat = chat;
    const c = this.chat;
    const f = this.fields;
    if (c) {
      setIsolatedText(f.name, c.visitor?.name || "Visitor");
      setIsolatedText(f.email, c.visitor?.email || "", "ltr");
      f.status.textContent = { queued: "Waiting", active: "Active", ended: "Ended" }[c.status] || c.status;
      f.status.dataset.status = c.status;
      setIsolatedText(f.department, c.department || "—");
      f.ticket.textContent = c.ticket_ref || "—";
      setIsolatedText(f.agent, c.agent_name || "—");
      f.started.textContent = c.started_at ? timeFormat.format(new Date(c.started_at)) : "—";
    }
    const status = c ? c.status : "";
    this.acceptButton.hidden = status !== "queued";
    this.endButton.hidden = !(status === "queued" || this.mine);
    if (status === "ended") {
      this.confirm.hidden = true;
      this.hideDraft();
    }

    const canReply = this.mine;
    this.reply.disabled = !canReply;
    this.send.disabled = !canReply;
    if (canReply && this.focusWhenMine) {
      // Accepted from here: the agent's next move is to type.
      this.focusWhenMine = false;
      if (state.active === this.id) this.reply.focus();
    }
    if (!c) this.hint.textContent = "Loading…";
    else if (canReply) this.hint.textContent = "Enter sends, Shift+Enter adds a line. Markdown works.";
    else if (status === "ended") this.hint.textContent = "This chat has ended.";
    else if (status === "active") this.hint.replaceChildren(isolated(c.agent_name || "Another agent"), " is answering this chat.");
    else this.hint.textContent = "Accept this chat to reply";
    this.renderTab();
  }

  // --- tab ---

  openTab() {
    if (this.tab) return;
    const wrap = document.createElement("div");
    wrap.className = "hd-tab";
    wrap.setAttribute("role", "presentation");
    wrap.dataset.testid = "chat-tab";
    wrap.dataset.chatId = this.id;
    const main = document.createElement("button");
    main.type = "button";
    main.className = "hd-tab__main";
    main.id = `hd-tab-${this.id}`;
    main.setAttribute("role", "tab");
    main.setAttribute("aria-controls", this.panel.id);
    const dot = document.createElement("span");
    dot.className = "hd-tab__dot";
    dot.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "hd-tab__label";
    const unread = document.createElement("span");
    unread.className = "hd-badge";
    unread.dataset.testid = "tab-unread";
    unread.hidden = true;
    main.append(dot, label, unread);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "hd-tab__close";
    close.dataset.testid = "tab-close";
    close.textContent = "×";
    wrap.append(main, close);
    main.addEventListener("click", () => activate(this.id));
    main.addEventListener("keydown", onTabKey);
    close.addEventListener("click", () => closeTab(this.id));
    this.tab = { wrap, main, label, unread, dot, close };
    ui.tabs.append(wrap);
    this.renderTab();
  }

  closeTab() {
    if (!this.tab) return;
    this.tab.wrap.remove();
    this.tab = null;
  }

  renderTab() {
    if (!this.tab) return;
    const name = this.chat?.visitor?.name || this.id;
    setIsolatedText(this.tab.label, name);
    this.tab.close.setAttribute("aria-label", `Close chat with ${name}`);
    this.tab.dot.dataset.status = this.chat ? this.chat.status : "";
    const active = state.active === this.id;
    this.tab.wrap.classList.toggle("hd-tab--active", active);
    this.tab.main.setAttribute("aria-selected", active ? "true" : "false");
    this.tab.main.tabIndex = active ? 0 : -1;
    this.tab.unread.hidden = this.unread === 0;
    this.tab.unread.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.tab.main.setAttribute(
      "aria-label",
      this.unread ? `${name}, ${this.unread} unread` : name,
    );
  }

  get inFront() {
    return state.active === this.id && document.visibilityState === "visible";
  }

  markSeen() {
    this.seenSeq = this.cursor.top;
    this.unread = 0;
    this.renderTab();
    saveTabs();
    renderSidebar();
  }

  // --- messages ---

  /** A message the cursor had not: placed by seq. */
  add(message) {
    if (!message || typeof message.seq !== "number" || this.shown.has(message.seq)) return;
    if (message.client_id) this.pending.remove(message.client_id);
    const stick = this.nearBottom() || message.author === "agent";
    const li = timelineMessageEl(message);
    this.shown.set(message.seq, li);
    this.insert(li);
    if (message.author === "agent") {
      this.noteReceipt(message);
    } else if (message.author === "visitor") {
      this.hideDraft(); // the draft has arrived as this message
    }

    if (this.inFront) {
      this.seenSeq = this.cursor.top;
      saveTabs();
    } else if (message.author === "agent") {
      // An agent replied after these: they count as read (e.g. on a new session's first load).
      this.seenSeq = Math.max(this.seenSeq, message.seq);
      if (this.unread) {
        this.unread = 0;
        this.renderTab();
        renderSidebar();
      }
    } else if (message.author === "visitor" && message.seq > this.seenSeq) {
      this.unread += 1;
      this.renderTab();
      renderSidebar();
      announce(`New message from ${message.author_name || "the visitor"}.`);
    }
    if (stick) this.scrollToEnd();
  }

  /**
   * Put a timeline item in its place: messages by seq, page views by time among them. Messages not
   * yet acknowledged stay last.
   */
  insert(li) {
    const seq = li.dataset.seq ? Number(li.dataset.seq) : null;
    const at = Number(li.dataset.at);
    const after = (el) => {
      if (el.dataset.pending) return true;
      if (seq !== null && el.dataset.seq) return Number(el.dataset.seq) > seq;
      return Number(el.dataset.at) > at;
    };
    let prev = this.log.lastElementChild;
    while (prev && after(prev)) prev = prev.previousElementSibling;
    this.log.insertBefore(li, prev ? prev.nextSibling : this.log.firstChild);
  }

  // --- receipts ---

  /** A message frame carries its receipt as it stands; a receipt frame may have told us more. */
  noteReceipt(message) {
    this.mergeReceipt(message.seq, message.delivered_at, message.read_at);
  }

  applyReceipt(frame) {
    for (const m of frame.messages || []) {
      if (typeof m.seq === "number") this.mergeReceipt(m.seq, m.delivered_at, m.read_at);
    }
  }

  mergeReceipt(seq, deliveredAt, readAt) {
    // Each time is set once on the server: keep whichever we heard.
    const known = this.receipts.get(seq) || { delivered_at: null, read_at: null };
    const merged = { delivered_at: known.delivered_at || deliveredAt || null, read_at: known.read_at || readAt || null };
    this.receipts.set(seq, merged);
    const tick = this.shown.get(seq)?.querySelector("[data-testid=receipt]");
    if (tick) renderReceipt(tick, merged);
  }

  // --- the visitor's draft ---

  /** `text`: the draft; "" when cleared; null when the preview is off (only: they are typing). */
  showDraft(text) {
    if (text === "" || (typeof text !== "string" && text !== null)) {
      this.hideDraft();
      return;
    }
    const stick = this.nearBottom();
    const who = this.chat?.visitor?.name || "The visitor";
    this.draftWho.replaceChildren(isolated(who), text === null ? " is typing…" : " is typing:");
    setIsolatedText(this.draftText, text || "");
    this.draftText.hidden = text === null;
    this.draft.hidden = false;
    this.draftText.scrollTop = this.draftText.scrollHeight; // a long draft: show where they type
    if (stick) this.scrollToEnd();
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => this.hideDraft(), DRAFT_TTL_MS);
  }

  hideDraft() {
    clearTimeout(this.draftTimer);
    this.draft.hidden = true;
    this.draftText.textContent = "";
  }

  // --- my typing, told to the visitor ---

  noteTyping() {
    if (!this.mine) return;
    if (!this.reply.value.trim()) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (this.typingSentAt && now - this.typingSentAt < TYPING_REPEAT_MS) return;
    if (socket.send({ type: "typing", chat: this.id, active: true })) this.typingSentAt = now;
  }

  stopTyping() {
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    socket.send({ type: "typing", chat: this.id, active: false });
  }

  // --- pages the visitor viewed ---

  /**
   * The `pages` frame of a watch: the whole list, replacing what we had. Every resync sends it
   * again, so rows already shown are kept (no flicker, the pane's scroll and focus stay).
   */
  setPages(views) {
    const existing = new Map([...this.pages.children].map((li) => [li.dataset.key, li]));
    let prev = null;
    for (const view of Array.isArray(views) ? views : []) {
      if (!view || typeof view.url !== "string") continue;
      let li = existing.get(pageKey(view));
      if (li) existing.delete(li.dataset.key);
      else li = this.addPage(view, { scroll: false });
      const want = prev ? prev.nextSibling : this.pages.firstChild;
      if (li !== want) this.pages.insertBefore(li, want);
      prev = li;
    }
    for (const li of existing.values()) li.remove();
    this.renderPagesCount();
  }

  /** Returns its row in the Pages tab; a view already there (live and by a watch) is not added again. */
  addPage(view, { scroll = true } = {}) {
    if (!view || typeof view.url !== "string") return null;
    const key = pageKey(view);
    let row = [...this.pages.children].find((li) => li.dataset.key === key);
    if (row) return row;
    row = pageItem(view, this.chat?.started_at);
    this.pages.append(row);
    this.renderPagesCount();
    if (scroll) {
      const box = this.pages.parentElement; // the tab's scrolling panel: show the newest page
      box.scrollTop = box.scrollHeight;
    }
    // In the timeline: the pages viewed since the chat began (the ones before are in the pane).
    const started = Date.parse(this.chat?.started_at || "");
    if (this.pageKeys.has(key) || Date.parse(view.at) < started) return row;
    this.pageKeys.add(key);
    const stick = this.nearBottom();
    this.insert(pageViewEl(view));
    if (stick) this.scrollToEnd();
    return row;
  }

  renderPagesCount() {
    const count = this.pages.children.length;
    this.fields["pages-count"].textContent = String(count);
    this.pagesEmpty.hidden = count > 0;
  }

  // --- side pane: tabs of details beside the conversation ---

  bindSide() {
    this.sideTabs = [...this.panel.querySelectorAll("[data-side-tab]")];
    for (const tab of this.sideTabs) {
      const name = tab.dataset.sideTab;
      const section = this.panel.querySelector(`[data-side-panel="${name}"]`);
      tab.id = `hd-side-${this.id}-${name}`;
      section.id = `${tab.id}-panel`;
      tab.setAttribute("aria-controls", section.id);
      section.setAttribute("aria-labelledby", tab.id);
      tab.addEventListener("click", () => this.showSide(name));
      tab.addEventListener("keydown", (event) => this.onSideKey(event));
    }
    if (this.sideTabs.length) this.showSide(this.sideTabs[0].dataset.sideTab);
    this.renderPagesCount();
  }

  showSide(name) {
    for (const tab of this.sideTabs) {
      const selected = tab.dataset.sideTab === name;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      this.panel.querySelector(`[data-side-panel="${tab.dataset.sideTab}"]`).hidden = !selected;
    }
  }

  onSideKey(event) {
    const moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const index = this.sideTabs.indexOf(event.currentTarget);
    const next = this.sideTabs[(index + moves[event.key] + this.sideTabs.length) % this.sideTabs.length];
    this.showSide(next.dataset.sideTab);
    next.focus();
  }

  sendReply() {
    const text = this.reply.value;
    const problem = textProblem(text, MAX_CHARS);
    if (problem) {
      this.error.textContent = problem;
      return;
    }
    if (!this.mine) return;
    const sent = socket.sendMessage({ type: "message.send", chat: this.id, text });
    this.stopTyping();
    this.pending.add(sent);
    this.reply.value = "";
    this.error.textContent = "";
  }

  nearBottom() {
    return nearBottom(this.log);
  }

  scrollToEnd() {
    scrollToEnd(this.log);
  }

  destroy() {
    cursors.forget(this.id);
    clearTimeout(this.draftTimer);
    this.closeTab();
    this.panel.remove();
  }
}

/**
 * A message in the timeline: the shared item, every author named, plus its time (data-at, to
 * place page views among messages) and, on my messages, the receipt tick.
 */
function timelineMessageEl(message) {
  const li = messageEl(message, { own: "agent", nameOwn: true });
  li.dataset.at = String(Date.parse(message.created_at || ""));
  if (message.author === "agent") li.querySelector(".hd-msg__meta").append(receiptEl(message));
  return li;
}

function receiptEl(message) {
  const tick = document.createElement("span");
  tick.className = "hd-receipt";
  tick.dataset.testid = "receipt";
  tick.setAttribute("role", "img");
  renderReceipt(tick, message);
  return tick;
}

/** The tick of one of my messages: sent (a ring), delivered (grey tick), read (blue double tick). */
function renderReceipt(tick, { delivered_at: deliveredAt, read_at: readAt }) {
  let state = "sent";
  let label = "Sent, not delivered yet";
  if (readAt) {
    state = "read";
    label = `Read ${fullFormat.format(new Date(readAt))}`;
  } else if (deliveredAt) {
    state = "delivered";
    label = `Delivered ${fullFormat.format(new Date(deliveredAt))}, not read yet`;
  }
  tick.dataset.state = state;
  tick.textContent = { sent: "", delivered: "✓", read: "✓✓" }[state];
  tick.title = label;
  tick.setAttribute("aria-label", label);
}

/** "Viewing: Pricing — https://…/pricing" in the timeline. URL and title are text, never HTML. */
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

/** What tells page views apart: the same view sent twice (live and by a watch) is one. */
function pageKey(view) {
  return `${view.at}\n${view.url}\n${view.title}`;
}

/** One row of the Pages tab: time, title, address; "before chat" for the ones before it began. */
function pageItem(view, startedAt) {
  const li = document.createElement("li");
  li.className = "hd-pages__item";
  li.dataset.testid = "pages-item";
  li.dataset.key = pageKey(view);
  const at = Date.parse(view.at || "");
  const sameDay = new Date(at).toDateString() === new Date().toDateString();
  const time = timeEl(view.at, sameDay ? timeFormat : dayTimeFormat);
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

function timeEl(iso, format) {
  const time = document.createElement("time");
  const date = new Date(iso || "");
  if (!Number.isNaN(date.getTime())) {
    time.dateTime = iso;
    time.textContent = format.format(date);
    time.title = fullFormat.format(date);
  }
  return time;
}

// --- Tabs --------------------------------------------------------------------------------------------

function ensureView(id) {
  let view = state.views.get(id);
  if (!view) {
    const saved = session.get(KEY_TABS, {});
    view = new ChatView(id, Number(saved?.seen?.[id]) || 0);
    state.views.set(id, view);
    const chat = state.chats.get(id);
    if (chat) view.update(chat);
    cursors.resync(id); // chat.watch from 0; offline: onOpen watches it
  }
  return view;
}

function openChat(id, { focus = true } = {}) {
  const view = ensureView(id);
  if (!state.tabs.includes(id)) {
    state.tabs.push(id);
    view.openTab();
  }
  activate(id, { focus });
}

function activate(id, { focus = true } = {}) {
  state.active = id;
  for (const view of state.views.values()) {
    view.panel.hidden = view.id !== id;
    view.renderTab();
  }
  const view = state.views.get(id);
  ui.empty.hidden = Boolean(view);
  if (view) {
    view.markSeen();
    view.scrollToEnd();
    if (focus) (view.reply.disabled ? view.tab?.main : view.reply)?.focus();
  }
  saveTabs();
  renderSidebar();
}

function closeTab(id) {
  const view = state.views.get(id);
  if (!view) return;
  const index = state.tabs.indexOf(id);
  state.tabs = state.tabs.filter((t) => t !== id);
  view.closeTab();
  // My active chats stay watched in the background, so their new messages still count as unread.
  if (!view.mine) {
    socket.send({ type: "chat.unwatch", chat: id });
    view.destroy();
    state.views.delete(id);
  } else {
    view.panel.hidden = true;
  }
  if (state.active === id) {
    const next = state.tabs[Math.min(index, state.tabs.length - 1)] || null;
    if (next) activate(next);
    else {
      state.active = null;
      ui.empty.hidden = false;
      saveTabs();
      renderSidebar();
    }
  } else {
    saveTabs();
  }
}

function onTabKey(event) {
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab leaves the tab list.
  const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
  if (!(event.key in moves) || !state.tabs.length) return;
  event.preventDefault();
  const index = state.tabs.indexOf(state.active);
  const step = moves[event.key];
  let next;
  if (step === -Infinity) next = 0;
  else if (step === Infinity) next = state.tabs.length - 1;
  else next = (index + step + state.tabs.length) % state.tabs.length;
  activate(state.tabs[next], { focus: false });
  state.views.get(state.tabs[next])?.tab?.main.focus();
}

function saveTabs() {
  const seen = {};
  for (const view of state.views.values()) if (view.seenSeq) seen[view.id] = view.seenSeq;
  session.set(KEY_TABS, { open: state.tabs, active: state.active, seen });
}

function restoreTabs() {
  const saved = session.get(KEY_TABS, {});
  const open = Array.isArray(saved?.open) ? saved.open.filter((id) => typeof id === "string") : [];
  for (const id of open) {
    ensureView(id);
    state.tabs.push(id);
    state.views.get(id).openTab();
  }
  const active = open.includes(saved.active) ? saved.active : open[0];
  if (active) activate(active, { focus: false });
}

// --- Sidebar -----------------------------------------------------------------------------------------

function renderSidebar() {
  const chats = [...state.chats.values()].sort((a, b) => (a.started_at || "").localeCompare(b.started_at || ""));
  const queued = chats.filter((c) => c.status === "queued");
  const mine = chats.filter((c) => c.status === "active" && c.agent_id === state.me.id);

  reconcile(ui.queue, queued, "queue");
  reconcile(ui.mine, mine, "mine");
  ui.queueEmpty.hidden = queued.length > 0;
  ui.mineEmpty.hidden = mine.length > 0;
  ui.waitingCount.textContent = String(queued.length);
  ui.waitingCount.classList.toggle("hd-count--hot", queued.length > 0);
  ui.mineCount.textContent = String(mine.length);
  document.title = queued.length ? `(${queued.length}) waiting — ${BASE_TITLE}` : BASE_TITLE;
}

/**
 * Make `list` show one item per chat, in order, reusing the items already there: rebuilding them
 * would take the keyboard focus away from an agent who is tabbing through the list.
 */
function reconcile(list, chats, kind) {
  const existing = new Map([...list.children].map((li) => [li.dataset.chatId, li]));
  let prev = null;
  for (const chat of chats) {
    let li = existing.get(chat.id);
    if (li) existing.delete(chat.id);
    else li = sidebarItem(chat, kind);
    updateItem(li, chat, kind);
    const want = prev ? prev.nextSibling : list.firstChild;
    if (li !== want) list.insertBefore(li, want);
    prev = li;
  }
  for (const li of existing.values()) li.remove();
}

function sidebarItem(chat, kind) {
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
  const meta = document.createElement("span");
  meta.className = "hd-item__meta";
  const badge = document.createElement("span");
  badge.className = "hd-badge";
  badge.hidden = true;
  open.append(name, meta, badge);
  open.addEventListener("click", () => openChat(chat.id));
  li.append(open);
  if (kind === "queue") {
    const accept = document.createElement("button");
    accept.type = "button";
    accept.className = "hd-button hd-button--primary hd-button--small";
    accept.dataset.testid = "accept-button";
    accept.textContent = "Accept";
    accept.addEventListener("click", () => acceptChat(chat.id));
    li.append(accept);
  }
  return li;
}

function updateItem(li, chat, kind) {
  const visitor = chat.visitor?.name || "Visitor";
  li.classList.toggle("hd-item--current", state.active === chat.id);
  setIsolatedText(li.querySelector(".hd-item__name"), visitor);
  const meta = kind === "queue" ? since(chat.started_at) : chat.id;
  const parts = [chat.department, meta].filter(Boolean).map((part) => isolated(part));
  li.querySelector(".hd-item__meta").replaceChildren(...parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
  const unread = state.views.get(chat.id)?.unread || 0;
  const badge = li.querySelector(".hd-badge");
  badge.hidden = unread === 0;
  badge.textContent = String(unread);
  badge.setAttribute("aria-label", `${unread} unread`);
  const accept = li.querySelector("[data-testid=accept-button]");
  if (accept) accept.setAttribute("aria-label", `Accept chat with ${visitor}`);
}

function since(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `waiting ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `waiting ${hours} h ${minutes % 60} min`;
}

// --- Actions -----------------------------------------------------------------------------------------

function acceptChat(id) {
  if (!socket.send({ type: "chat.accept", chat: id })) {
    showAlert("You're offline. Try again when the connection is back.");
    return;
  }
  // Watching right after accepting also brings the "joined" note and anything said meanwhile.
  openChat(id);
  state.views.get(id).focusWhenMine = true;
}

// --- Socket ------------------------------------------------------------------------------------------

function onOpen() {
  // Re-watch every chat we show, each from its level: only what we do not have yet.
  return cursors.opened().map(({ id, afterSeq }) => watchFrame(id, afterSeq));
}

function watchFrame(chatId, afterSeq) {
  return { type: "chat.watch", chat: chatId, after_seq: afterSeq };
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      return onWelcome(frame);
    case "chat":
      return onChat(frame.chat);
    case "message":
    case "message.ack":
      return onMessage(frame);
    case "resumed":
      // Level up to last_seq now; more, or a hole left, and the cursor asks again at once.
      return cursors.resumed(frame.chat, frame);
    case "live":
      return onLive(frame.state);
    case "typing":
      return state.views.get(frame.chat)?.showDraft(frame.text);
    case "receipt":
      return onReceipt(frame);
    case "pages":
      return state.views.get(frame.chat)?.setPages(frame.views);
    case "page.view":
      return state.views.get(frame.chat)?.addPage(frame.view);
    case "error":
      // "Is typing" is a courtesy: its refusal (the chat just ended or moved on) is not news.
      if (frame.frame === "typing") return undefined;
      // Too much history asked for at once (a rate limit): the cursor asks again by itself.
      if (frame.frame === "chat.watch" && frame.code === "rate_limited") return undefined;
      return showAlert(frame.message || "Something went wrong.");
    default:
      return undefined;
  }
}

/** A message of a chat we show, live, by a watch, or the ack of my own. */
function onMessage(frame) {
  const view = state.views.get(frame.chat);
  const message = frame.message;
  if (!view || !message) return;
  if (cursors.receive(frame.chat, message.seq)) view.add(message);
  else if (message.client_id) view.pending.remove(message.client_id); // on screen already
}

/** A receipt takes a seq of its own; its times merge idempotently, so a repeat is applied too. */
function onReceipt(frame) {
  const view = state.views.get(frame.chat);
  if (!view) return;
  cursors.receive(frame.chat, frame.seq);
  view.applyReceipt(frame);
}

/** The server's word on live delivery: while degraded the cursors resync often, and we say so. */
function onLive(liveState) {
  cursors.setLive(liveState);
  renderLiveNotice();
}

function renderLiveNotice() {
  ui.liveNotice.hidden = !(state.online && cursors.degraded);
}

function onWelcome(frame) {
  hideAlert();
  onLive(frame.live === "degraded" ? "degraded" : "ok");
  if (frame.agent) state.me = { id: frame.agent.id, name: frame.agent.name };
  // The welcome is the full truth about the queue: forget what we knew of other chats.
  const fresh = new Map();
  for (const chat of frame.chats || []) fresh.set(chat.id, chat);
  for (const [id, chat] of state.chats) if (state.views.has(id) && !fresh.has(id)) fresh.set(id, chat);
  state.chats = fresh;
  for (const chat of frame.chats || []) {
    if (chat.status === "queued") state.knownQueued.add(chat.id);
    if (chat.status === "active" && chat.agent_id === state.me.id) ensureView(chat.id);
    state.views.get(chat.id)?.update(chat);
  }
  renderSidebar();
}

function onChat(chat) {
  if (!chat) return;
  const onSidebar = chat.status === "queued" || (chat.status === "active" && chat.agent_id === state.me.id);
  const view = state.views.get(chat.id);
  if (onSidebar || view) state.chats.set(chat.id, chat);
  else state.chats.delete(chat.id);

  if (chat.status === "queued" && !state.knownQueued.has(chat.id)) {
    state.knownQueued.add(chat.id);
    announce(`New chat waiting: ${chat.visitor?.name || "a visitor"}.`);
  }
  if (chat.status !== "queued") state.knownQueued.delete(chat.id);

  if (view) {
    view.update(chat);
    // A background view of a chat that is no longer mine (ended, taken) has done its job.
    if (!view.tab && !view.mine) {
      socket.send({ type: "chat.unwatch", chat: chat.id });
      view.destroy();
      state.views.delete(chat.id);
      state.chats.delete(chat.id);
    }
  } else if (chat.status === "active" && chat.agent_id === state.me.id) {
    ensureView(chat.id).update(chat);
  }
  // A chat we show whose last_seq is above our level: something is missing, the cursor asks.
  cursors.sawChat(chat.id, chat.last_seq);
  renderSidebar();
}

function onRefused(frame, error) {
  const view = state.views.get(frame.chat);
  if (view) view.pending.fail(frame.client_id, error.message || "This message could not be sent.");
  else showAlert(error.message || "A message could not be sent.");
}

function onAuthClose(code) {
  if (code === CLOSE_FORBIDDEN) {
    showAlert("This account is not an agent. Ask an admin to add you to the Agents group.", { sticky: true });
  } else if (code === CLOSE_UNAUTHENTICATED) {
    showAlert("Your session has ended.", { sticky: true, link: { href: LOGIN_URL, text: "Log in again" } });
  }
  return false;
}

function onStatus(status, info) {
  state.online = status === "online";
  if (!state.online) cursors.closed();
  renderLiveNotice();
  const text = {
    online: "Online",
    connecting: info.everOnline ? "Reconnecting…" : "Connecting…",
    offline: "Reconnecting…",
    stopped: "Disconnected",
  }[status];
  ui.conn.textContent = text;
  ui.conn.dataset.state = status;
  // The pill in the top bar is easy to miss: once we have been online, say it loud.
  ui.banner.hidden = !(info.everOnline && (status === "connecting" || status === "offline"));
  ui.banner.textContent = "Reconnecting… Messages you send now go out when the connection is back.";
}

// The cursors of the chats we show (one per ChatView) and when to ask for what is missing.
const cursors = new Cursors({
  intervalMs: RESYNC_MS,
  request: (id, afterSeq) => socket.send(watchFrame(id, afterSeq)),
  // The timer resyncs every chat we show that can still change: open tabs, and my active chats in
  // the background, whose unread counts matter too.
  canResync: (id) => {
    const chat = state.views.get(id)?.chat;
    return Boolean(chat) && chat.status !== "ended";
  },
});

const socket = new LiveSocket({
  url: () => socketUrl("/ws/agent/"),
  outboxKey: KEY_OUTBOX,
  onOpen,
  onFrame,
  onRefused,
  onAuthClose,
  onStatus,
});

// --- Alerts ------------------------------------------------------------------------------------------

let alertTimer = null;

function showAlert(message, { sticky = false, link = null } = {}) {
  ui.alertText.textContent = message;
  ui.alertLink.hidden = !link;
  if (link) {
    ui.alertLink.href = link.href;
    ui.alertLink.textContent = link.text;
  }
  ui.alertbar.hidden = false;
  clearTimeout(alertTimer);
  if (!sticky) alertTimer = setTimeout(hideAlert, 10000);
}

function hideAlert() {
  ui.alertbar.hidden = true;
}

function announce(text) {
  // Re-setting the same text would not be read again: clear first.
  ui.announce.textContent = "";
  requestAnimationFrame(() => {
    ui.announce.textContent = text;
  });
}

ui.alertClose.addEventListener("click", hideAlert);

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  if (state.active) state.views.get(state.active)?.markSeen();
  cursors.shown();
});

// Waiting times in the queue.
setInterval(() => {
  if ([...state.chats.values()].some((c) => c.status === "queued")) renderSidebar();
}, 15000);

// --- Start ---------------------------------------------------------------------------------------------

restoreTabs();
if (!state.tabs.length) ui.empty.hidden = false;
socket.start();

// Messages still in the outbox from before a reload: show them as pending in their chats.
for (const frame of socket.pending()) {
  if (frame.type === "message.send" && frame.chat) ensureView(frame.chat).pending.add(frame);
}
