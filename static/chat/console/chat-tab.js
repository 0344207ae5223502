// The Chat tab of the pane: the visitor (whether they are there, live from `presence`; name, email,
// first seen, address, browser, OS, device), this chat (agent, how long it has lasted, ticking every
// second while it goes on, how long it waited, the page the visitor is on) and their earlier chats,
// each a link to its ticket's page. Every string from people is set as text.

import { setIsolatedText } from "../core/messages.js";
import { dayTimeFormat, timeEl } from "../core/time.js";
import { chatDurations, formatDuration, spokenDuration } from "../core/duration.js";
import { showPresence } from "./presence.js";

const TICK_MS = 1000;
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
    this.data = null;
    this.chat = null;
    this.timer = null;
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

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  destroy() {
    this.stop();
  }
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
