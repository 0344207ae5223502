// The Chat tab of the pane: the visitor (whether they are there, live from `presence`; name, email,
// first seen, address, browser, OS, device), this chat (agent, how long it has lasted, ticking every
// second while it goes on, how long it waited, the page the visitor is on), their earlier chats,
// each a link to its ticket's page, and the blocks of this visitor, the email address they gave and
// the network of the chat's address (`details.blocks`, newest first: what, why, by whom, when, and
// whether it counts now; drawn again when an active one ends). Every string from people is set as text.

import { setIsolatedText } from "../core/messages.js";
import { dayTimeFormat, timeEl } from "../core/time.js";
import { chatDurations, formatDuration, spokenDuration } from "../core/duration.js";
import { showPresence } from "./presence.js";
import { blockMade, blockStatus, blockTarget, newestFirst, nextChange } from "../core/blocks.js";
import { showParts } from "./block-dialog.js";

const TICK_MS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const STATUS = { queued: "waiting", active: "active", ended: "ended" };

export class ChatTab {
  constructor(view) {
    this.view = view;
    const root = view.el.querySelector("[data-side-panel=chat]");
    const q = (sel) => root.querySelector(sel);
    this.loading = q("[data-role=chat-loading]");
    this.body = q("[data-role=chat-body]");
    this.f = {};
    for (const el of root.querySelectorAll("[data-field]")) this.f[el.dataset.field] = el;
    this.presence = q("[data-role=presence]");
    this.currentPage = q("[data-role=current-page]");
    this.allPages = q("[data-role=all-pages]");
    this.earlier = q("[data-role=earlier]");
    this.earlierEmpty = q("[data-role=earlier-empty]");
    this.blocks = q("[data-role=blocks]");
    this.blocksEmpty = q("[data-role=blocks-empty]");
    this.data = null;
    this.chat = null;
    this.timer = null;
    this.blocksTimer = null; // draws the blocks again when the first active one ends
    this.allPages.addEventListener("click", () => view.pane.show("pages", { focus: true }));
  }

  update(chat) {
    this.chat = chat;
    this.renderSession();
  }

  frame(frame) {
    if (frame.type === "pages" || frame.type === "page.view") this.renderPage();
  }

  showDetails(details) {
    this.data = details;
    this.loading.hidden = true;
    this.body.hidden = false;
    const v = details.visitor || {};
    const f = this.f;
    showPresence(this.presence, v.presence || "gone");
    setIsolatedText(f["visitor-name"], v.name || "—");
    setIsolatedText(f["visitor-email"], v.email || "none given", v.email ? "ltr" : "auto");
    f["visitor-first-seen"].replaceChildren(timeEl(v.first_seen, dayTimeFormat));
    setIsolatedText(f["visitor-ip"], v.ip_address || "—", "ltr");
    for (const key of ["browser", "os", "device"]) setIsolatedText(f[`visitor-${key}`], v[key] || "Unknown");
    this.renderEarlier(details.earlier_chats || []);
    this.renderBlocks();
    this.renderSession();
    this.renderPage();
  }

  /** The session's times: from the chat object (freshest), else from the details. */
  get session() {
    const chat = this.chat;
    if (chat) return { ...chat, agent: chat.agent_name ? { name: chat.agent_name } : null };
    return this.data?.session || null;
  }

  renderSession() {
    const session = this.session;
    if (!session || !this.data) return;
    setIsolatedText(this.f["session-agent"], session.agent?.name || (session.status === "queued" ? "Nobody yet" : "—"));
    this.tick();
    const { running } = chatDurations(session, Date.now());
    if (running && !this.timer) this.timer = setInterval(() => this.tick(), TICK_MS);
    if (!running) this.stop();
  }

  tick() {
    const session = this.session;
    const { total, waited } = chatDurations(session, Date.now());
    showDuration(this.f["session-duration"], total, STATUS[session.status] === "ended" ? "" : "so far");
    showDuration(this.f["session-waited"], waited, session.accepted_at || session.status === "ended" ? "" : "waiting");
  }

  /** The newest page the visitor viewed (pages.js keeps them all), and a way to the whole list. */
  renderPage() {
    const latest = this.view.pages.latest();
    const count = this.view.pages.size;
    if (latest) {
      const title = latest.title || latest.url;
      setIsolatedText(this.currentPage, title);
      this.currentPage.title = latest.url;
    } else {
      this.currentPage.textContent = "—";
      this.currentPage.removeAttribute("title");
    }
    this.allPages.hidden = count === 0;
    this.allPages.textContent = count === 1 ? "1 page viewed" : `All ${count} pages viewed`;
  }

  renderEarlier(chats) {
    const items = chats.map((chat) => {
      const li = document.createElement("li");
      li.className = "hd-earlier__item";
      li.dataset.testid = "earlier-chat";
      const link = document.createElement("a");
      link.href = this.view.ctx.ticketUrl(chat.ticket_ref);
      link.className = "hd-props__mono";
      link.textContent = chat.ticket_ref;
      const meta = document.createElement("span");
      meta.className = "hd-earlier__meta";
      meta.append(timeEl(chat.started_at, dayTimeFormat), ` · ${chat.id} · ${STATUS[chat.status] || chat.status}`);
      li.append(link, meta);
      return li;
    });
    this.earlier.replaceChildren(...items);
    this.earlierEmpty.hidden = items.length > 0;
  }

  renderBlocks() {
    clearTimeout(this.blocksTimer);
    this.blocksTimer = null;
    const now = Date.now();
    const blocks = newestFirst(this.data?.blocks);
    const items = blocks.map((block) => {
      const status = blockStatus(block, now);
      const li = document.createElement("li");
      li.className = "hd-blocks__item";
      li.dataset.testid = "block-item";
      li.dataset.state = status.state;
      li.dataset.kind = block.kind;
      const head = document.createElement("p");
      head.className = "hd-blocks__head";
      const what = document.createElement("span");
      what.className = "hd-blocks__kind";
      what.dataset.testid = "block-kind";
      const target = blockTarget(block);
      what.append(target.label);
      if (target.value) what.append(" ", isolatedValue(target.value));
      const state = document.createElement("span");
      state.className = "hd-blocks__state";
      state.dataset.testid = "block-state";
      showParts(state, status.parts);
      head.append(what, state);
      const reason = document.createElement("p");
      reason.className = "hd-blocks__reason";
      reason.dataset.testid = "block-reason";
      const label = document.createElement("span");
      label.className = "hd-sr";
      label.textContent = "Reason: ";
      const text = document.createElement("bdi");
      text.textContent = block.reason || "";
      reason.append(label, text);
      const made = document.createElement("p");
      made.className = "hd-blocks__meta";
      showParts(made, blockMade(block));
      li.append(head, reason, made);
      return li;
    });
    this.blocks.replaceChildren(...items);
    this.blocks.hidden = items.length === 0;
    this.blocksEmpty.hidden = items.length > 0;
    const next = nextChange(blocks, now);
    if (next !== null && next - now < MAX_TIMER_MS) {
      this.blocksTimer = setTimeout(() => this.renderBlocks(), Math.max(0, next - now) + 1000);
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  destroy() {
    this.stop();
    clearTimeout(this.blocksTimer);
  }
}

/** An address or network: left to right, whatever the page's direction. */
function isolatedValue(value) {
  const el = document.createElement("bdi");
  el.dir = "ltr";
  el.className = "hd-props__mono";
  el.textContent = value;
  return el;
}

/** "2:05" in a <time> (ISO duration, and the words as its tooltip), with a note such as "so far". */
function showDuration(el, ms, note) {
  if (ms === null) {
    el.textContent = "—";
    el.removeAttribute("datetime");
    return;
  }
  const text = formatDuration(ms);
  const shown = note ? `${text} ${note}` : text;
  if (el.textContent !== shown) el.textContent = shown;
  el.dateTime = `PT${Math.floor(ms / 1000)}S`;
  el.title = spokenDuration(ms);
}
