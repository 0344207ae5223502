// The agent console: the queue and my chats on the left, open chats as tabs on the right.
//
// This module composes the page: the socket, the cursors, the sidebar (queue.js), the tab strip
// (tabs.js), the notices (notices.js) and one ChatView (chat.js) per chat we show, and routes the
// server's frames to them. It speaks only the agent protocol (docs/protocol.md); the frames it
// sends are made in core/frames.js.
//
// Every chat with a view (an open tab, or one of my active chats kept in the background) is watched
// with chat.watch, again after every reconnect, from its level: each view has a cursor
// (core/cursor.js) that knows which seqs it has (messages and receipts), asks at once for a hole,
// and resyncs on a timer (every 3 s while the server says live delivery is degraded) and when the
// page is shown again. Text from people is shown with textContent; only server-sanitised `html` is
// inserted as HTML.
//
// Each view also asks for its chat's details (chat.details: header, pane, my star) when it starts
// watching and after every reconnect. /console/#chat=<ID> opens that chat (the ticket pages link so).

import { LiveSocket, socketUrl, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN } from "../core/socket.js";
import { Cursors } from "../core/cursor.js";
import * as frames from "../core/frames.js";
import { ChatView } from "./chat.js";
import { Notices } from "./notices.js";
import { Queue } from "./queue.js";
import { Tabs } from "./tabs.js";
import { StarFilter } from "./star-filter.js";
import { followChatLinks } from "./links.js";
import { chatOfRef } from "./formatting.js";

const body = document.body;
const USER_ID = Number(body.dataset.userId);
const MAX_CHARS = Number(body.dataset.maxChars) || 5000;
const LOGIN_URL = body.dataset.loginUrl || "/accounts/login/";
const TICKETS_URL = body.dataset.ticketsUrl || "/console/tickets/";
// Live delivery is at-most-once: while connected, re-watch open chats this often (0: never).
const RESYNC_MS = Number(body.dataset.resyncMs ?? 20000);
const BASE_TITLE = "Console";
const OFFLINE = "You're offline. Try again when the connection is back.";

const $ = (id) => document.getElementById(id);
const ui = { panels: $("hd-panels"), empty: $("hd-empty"), template: $("hd-panel-template") };

const state = {
  me: { id: USER_ID, name: "", canBlock: false }, // welcome.agent; canBlock: it may send visitor.block
  chats: new Map(), // id -> agent chat object, for the sidebar and the views
  views: new Map(), // id -> ChatView, every chat we watch
  knownQueued: new Set(), // to announce a chat only the first time it waits
  previous: new Map(), // id -> the status a chat had before its last `chat` frame (to word chat.assigned)
  online: false, // the socket is up
  restoring: false, // reopening the saved tabs: save only once they are all back
  missing: new Set(), // chat IDs the server said do not exist (a wrong deep link)
};

const notices = new Notices({
  conn: $("hd-conn"),
  banner: $("hd-banner"),
  liveNotice: $("hd-live-notice"),
  alertbar: $("hd-alertbar"),
  alertText: $("hd-alert-text"),
  alertLink: $("hd-alert-link"),
  alertClose: $("hd-alert-close"),
  announce: $("hd-announce"),
});

const queue = new Queue(
  {
    queue: $("hd-queue"),
    queueEmpty: $("hd-queue-empty"),
    waitingCount: $("hd-waiting-count"),
    mine: $("hd-mine"),
    mineEmpty: $("hd-mine-empty"),
    mineCount: $("hd-mine-count"),
  },
  { open: (id) => openChat(id), accept: (id) => acceptChat(id) },
);

const starFilter = new StarFilter({
  options: $("hd-star-filter-options"),
  storageKey: `hd.console.starFilter.${USER_ID}`,
  onChange: (filter) => {
    queue.filter = filter;
    renderSidebar();
  },
});
queue.filter = starFilter.value;

const tabs = new Tabs({
  list: $("hd-tabs"),
  storageKey: `hd.console.tabs.${USER_ID}`,
  onSelect: (id, { focus }) => activate(id, { focus }),
  onClose: (id) => closeTab(id),
});

// The cursors of the chats we show (one per ChatView) and when to ask for what is missing.
const cursors = new Cursors({
  intervalMs: RESYNC_MS,
  request: (id, afterSeq) => socket.send(frames.chatWatch(id, afterSeq)),
  // The timer resyncs every chat we show that can still change: open tabs, and my active chats in
  // the background, whose unread counts matter too.
  canResync: (id) => {
    const chat = state.views.get(id)?.chat;
    return Boolean(chat) && chat.status !== "ended";
  },
});

const socket = new LiveSocket({
  url: () => socketUrl("/ws/agent/"),
  outboxKey: `hd.console.outbox.${USER_ID}`,
  onOpen,
  onFrame,
  onRefused,
  onAuthClose,
  onStatus,
});

/** What every chat view is given (see chat.js). */
const ctx = {
  cursors,
  template: ui.template,
  maxChars: MAX_CHARS,
  me: () => state.me,
  send: (frame) => socket.send(frame),
  sendMessage: (frame) => socket.sendMessage(frame),
  alert: (text) => notices.alert(text),
  announce: (text) => notices.announce(text),
  accept: (id) => acceptChat(id),
  close: (id) => closeTab(id),
  isActive: (id) => tabs.active === id,
  ticketUrl: (ref) => `${TICKETS_URL}${encodeURIComponent(ref)}/`,
  inFront: (id) => tabs.active === id && document.visibilityState === "visible",
  /** A view's chat, unread count or seen seq changed: its tab, the sidebar and the saved tabs follow. */
  changed: (view) => {
    renderTab(view);
    saveTabs();
    renderSidebar();
  },
};

// --- Views and tabs ----------------------------------------------------------------------------------

function ensureView(id) {
  let view = state.views.get(id);
  if (!view) {
    view = new ChatView(id, ctx, { seenSeq: Number(tabs.saved().seen[id]) || 0 });
    state.views.set(id, view);
    ui.panels.append(view.el);
    const chat = state.chats.get(id);
    if (chat) view.update(chat);
    cursors.resync(id); // chat.watch from 0; offline: onOpen watches it
    view.details.request(); // offline: onOpen asks
  }
  return view;
}

function openTab(view) {
  tabs.open(view.id, view.el.id);
  renderTab(view);
}

function renderTab(view) {
  tabs.render(view.id, { name: view.name, status: view.chat?.status, unread: view.unread });
}

function openChat(id, { focus = true } = {}) {
  const view = ensureView(id);
  if (!tabs.has(id)) openTab(view);
  activate(id, { focus });
}

function activate(id, { focus = true } = {}) {
  tabs.active = id;
  for (const view of state.views.values()) {
    view.el.hidden = view.id !== id;
    renderTab(view);
  }
  const view = state.views.get(id);
  ui.empty.hidden = Boolean(view);
  if (view) {
    view.markSeen();
    view.timeline.scrollToEnd();
    if (focus && !view.composer.focus()) tabs.focus(id);
  }
  saveTabs();
  renderSidebar();
}

function closeTab(id) {
  const view = state.views.get(id);
  if (!view) return;
  const index = tabs.remove(id);
  // My active chats stay watched in the background, so their new messages still count as unread.
  if (!view.mine) forget(view);
  else view.el.hidden = true;
  if (tabs.active === id) {
    const next = tabs.ids[Math.min(index, tabs.ids.length - 1)] || null;
    if (next) activate(next);
    else {
      tabs.active = null;
      ui.empty.hidden = false;
      saveTabs();
      renderSidebar();
    }
  } else {
    saveTabs();
  }
}

/** Stop watching a chat and drop its view. */
function forget(view) {
  socket.send(frames.chatUnwatch(view.id));
  view.destroy();
  state.views.delete(view.id);
}

function saveTabs() {
  if (state.restoring) return;
  const seen = {};
  for (const view of state.views.values()) if (view.seenSeq) seen[view.id] = view.seenSeq;
  tabs.save(seen);
}

function restoreTabs() {
  const saved = tabs.saved();
  state.restoring = true;
  for (const id of saved.open) openTab(ensureView(id));
  state.restoring = false;
  if (saved.active) activate(saved.active, { focus: false });
}

function renderSidebar() {
  const waiting = queue.render(state.chats.values(), {
    me: state.me.id,
    active: tabs.active,
    unread: (id) => state.views.get(id)?.unread || 0,
  });
  document.title = waiting ? `(${waiting}) waiting — ${BASE_TITLE}` : BASE_TITLE;
}

function acceptChat(id) {
  if (!socket.send(frames.chatAccept(id))) {
    notices.alert(OFFLINE);
    return;
  }
  // Watching right after accepting also brings the "joined" note and anything said meanwhile.
  openChat(id);
  state.views.get(id).composer.focusWhenMine = true;
}

// --- Frames from the server ------------------------------------------------------------------------

function onOpen() {
  // Re-watch every chat we show, each from its level: only what we do not have yet. Their details
  // may have changed meanwhile too (a broadcast is not resent).
  const watches = cursors.opened().map(({ id, afterSeq }) => frames.chatWatch(id, afterSeq));
  return [...watches, ...[...state.views.keys()].map((id) => frames.chatDetails(id))];
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
    case "receipt":
      // A receipt takes a seq of its own; its times merge idempotently, so a repeat is applied too.
      if (state.views.has(frame.chat)) cursors.receive(frame.chat, frame.seq);
      return state.views.get(frame.chat)?.frame(frame);
    case "typing":
    case "pages":
    case "page.view":
    case "presence":
    case "chat.rated":
    case "visitor.blocked": // the answer to my visitor.block: the chat's Block dialog (header.js)
      return state.views.get(frame.chat)?.frame(frame);
    case "details":
      if ("star" in frame) queue.setStar(frame.chat, frame.star);
      state.views.get(frame.chat)?.frame(frame);
      return renderSidebar();
    case "star":
      queue.setStar(frame.chat, frame.colour);
      state.views.get(frame.chat)?.frame(frame);
      return renderSidebar();
    case "chat.assigned":
      return onAssigned(frame);
    case "preview":
      // A reply box's preview names no chat: the ref it was asked with does (console/formatting.js).
      return state.views.get(chatOfRef(frame.ref))?.frame(frame);
    case "error":
      return onError(frame);
    default:
      return undefined;
  }
}

function onError(frame) {
  // "Is typing" is a courtesy: its refusal (the chat just ended or moved on) is not news.
  if (frame.frame === "typing") return undefined;
  // Too much history asked for at once (a rate limit): the cursor asks again by itself.
  if (frame.frame === "chat.watch" && frame.code === "rate_limited") return undefined;
  // A refused preview names no chat either: the reply box waiting for one shows it.
  if (frame.frame === "message.preview" && [...state.views.values()].some((v) => v.error(frame))) return undefined;
  const view = frame.chat ? state.views.get(frame.chat) : null;
  // A chat that is not there (a deep link with a wrong ID): say so once, and close what we opened.
  if (frame.code === "not_found" && (frame.frame === "chat.watch" || frame.frame === "chat.details")) {
    if (view && !view.chat) {
      notices.alert(`There is no chat ${frame.chat}.`);
      if (tabs.has(view.id)) closeTab(view.id);
      else forget(view);
      state.missing.add(frame.chat);
      return undefined;
    }
    if (!view && state.missing.has(frame.chat)) return undefined; // the other frame's answer
  }
  // Refusals of the header's and pane's frames are shown where they were asked, when a part can.
  if (view && view.error(frame)) return undefined;
  return notices.alert(frame.message || "Something went wrong.");
}

/** A chat was assigned or transferred to me: it is one of my chats now; say so, with a way to it. */
function onAssigned(frame) {
  const chat = frame.chat;
  if (!chat?.id) return;
  // The chat's own `chat` frame has usually come just before: what it changed from tells which it was.
  const before = state.chats.get(chat.id);
  const mineAlready = before?.status === "active" && before.agent_id === state.me.id;
  const wasWaiting = before?.status === "queued" || (mineAlready && state.previous.get(chat.id) === "queued");
  onChat(chat);
  const who = frame.by || "Another agent";
  const visitor = chat.visitor?.name || "a visitor";
  const text = wasWaiting
    ? `${who} assigned the chat with ${visitor} to you.`
    : `${who} transferred a chat with ${visitor} to you.`;
  notices.alert(text, { link: { href: `#chat=${encodeURIComponent(chat.id)}`, text: "Open it" } });
}

/** A message of a chat we show, live, by a watch, or the ack of my own. */
function onMessage(frame) {
  const view = state.views.get(frame.chat);
  const message = frame.message;
  if (!view || !message) return;
  if (cursors.receive(frame.chat, message.seq)) view.frame(frame);
  else if (message.client_id) view.timeline.pending.remove(message.client_id); // on screen already
}

/** The server's word on live delivery: while degraded the cursors resync often, and we say so. */
function onLive(liveState) {
  cursors.setLive(liveState);
  notices.live(state.online && cursors.degraded);
}

function onWelcome(frame) {
  notices.hideAlert();
  onLive(frame.live === "degraded" ? "degraded" : "ok");
  if (frame.agent) state.me = { id: frame.agent.id, name: frame.agent.name, canBlock: frame.agent.can_block === true };
  // The welcome is the full truth about the queue: forget what we knew of other chats.
  const fresh = new Map();
  for (const chat of frame.chats || []) fresh.set(chat.id, chat);
  for (const [id, chat] of state.chats) if (state.views.has(id) && !fresh.has(id)) fresh.set(id, chat);
  state.chats = fresh;
  queue.setStars(frame.stars, (id) => state.views.has(id));
  for (const chat of frame.chats || []) {
    if (chat.status === "queued") state.knownQueued.add(chat.id);
    if (chat.status === "active" && chat.agent_id === state.me.id) ensureView(chat.id);
    state.views.get(chat.id)?.update(chat);
  }
  // Whether I may block is the welcome's word: every chat's header shows its Block button, or not.
  for (const view of state.views.values()) view.header.update(view.chat);
  renderSidebar();
}

function onChat(chat) {
  if (!chat) return;
  state.previous.set(chat.id, state.chats.get(chat.id)?.status ?? null);
  const mine = chat.status === "active" && chat.agent_id === state.me.id;
  const view = state.views.get(chat.id);
  if (chat.status === "queued" || mine || view) state.chats.set(chat.id, chat);
  else {
    state.chats.delete(chat.id);
    state.previous.delete(chat.id);
  }

  if (chat.status === "queued" && !state.knownQueued.has(chat.id)) {
    state.knownQueued.add(chat.id);
    notices.announce(`New chat waiting: ${chat.visitor?.name || "a visitor"}.`);
  }
  if (chat.status !== "queued") state.knownQueued.delete(chat.id);

  if (view) {
    view.update(chat);
    // A background view of a chat that is no longer mine (ended, taken) has done its job.
    if (!tabs.has(chat.id) && !view.mine) {
      forget(view);
      state.chats.delete(chat.id);
      state.previous.delete(chat.id);
    }
  } else if (mine) {
    ensureView(chat.id).update(chat);
  }
  // A chat we show whose last_seq is above our level: something is missing, the cursor asks.
  cursors.sawChat(chat.id, chat.last_seq);
  renderSidebar();
}

function onRefused(frame, error) {
  const view = state.views.get(frame.chat);
  if (view) view.timeline.pending.fail(frame.client_id, error.message || "This message could not be sent.");
  else notices.alert(error.message || "A message could not be sent.");
}

function onAuthClose(code) {
  if (code === CLOSE_FORBIDDEN) {
    notices.alert("This account is not an agent. Ask an admin to add you to the Agents group.", { sticky: true });
  } else if (code === CLOSE_UNAUTHENTICATED) {
    notices.alert("Your session has ended.", { sticky: true, link: { href: LOGIN_URL, text: "Log in again" } });
  }
  return false;
}

function onStatus(status, info) {
  state.online = status === "online";
  if (!state.online) cursors.closed();
  notices.live(state.online && cursors.degraded);
  notices.status(status, info);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  if (tabs.active) state.views.get(tabs.active)?.markSeen();
  cursors.shown();
});

// Waiting times in the queue.
setInterval(() => {
  if ([...state.chats.values()].some((c) => c.status === "queued")) renderSidebar();
}, 15000);

// --- Start ---------------------------------------------------------------------------------------------

restoreTabs();
followChatLinks((id) => openChat(id));
if (!tabs.ids.length) ui.empty.hidden = false;
socket.start();

// Messages still in the outbox from before a reload: show them as pending in their chats.
for (const frame of socket.pending()) {
  if (frame.type === "message.send" && frame.chat) ensureView(frame.chat).timeline.pending.add(frame);
}
