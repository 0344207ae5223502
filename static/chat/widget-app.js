// The chat inside the widget iframe: pre-chat form, conversation, ended state.
//
// It speaks only the visitor protocol (docs/protocol.md) through LiveSocket, and talks to the host
// page only by postMessage with the host's origin (see widget.js for the message list).
// The visitor's token, chat, open state and outbox are kept in this iframe's localStorage; where the
// browser refuses it, in the host page's storage through the loader (core/hoststore.js), asked for
// before anything else so that the first hello already carries the token.
// Text from people is shown with textContent; only server-sanitised `html` is inserted as HTML.
//
// Presence: the visitor's draft goes to the agents as they type (coalesced; without its text when
// the admin turned the preview off), the agent's "is typing…" shows here, receipts tell which agent
// messages were rendered and which were seen, and the host page's URL and title (hd:page from the
// loader) are reported as page views.
//
// Nothing lost: the chat on screen has a cursor (core/cursor.js) that knows which seqs it has. A
// hole asks for a resume at once, resumes start from the level, and the chat resyncs on a timer,
// every 3 s while the server says live delivery is degraded, and when it is back on screen.

import { LiveSocket, Coalescer, jsonStorage, socketUrl, CLOSE_UNAUTHENTICATED } from "./core/socket.js";
import { Cursors } from "./core/cursor.js";
import { openHostStorage } from "./core/hoststore.js";
import { isolated, setIsolatedText, messageEl, PendingMessages, nearBottom, scrollToEnd, sendOnEnter, textProblem } from "./core/messages.js";

const KEY_TOKEN = "hd.visitor.token";
const KEY_CHAT = "hd.visitor.chat"; // {id, seenSeq} of the chat on screen
const KEY_OPEN = "hd.visitor.open";
const KEY_OUTBOX = "hd.visitor.outbox";
const KEY_DISMISSED = "hd.visitor.dismissed"; // an ended chat the visitor put away ("Start a new chat")

const MAX_NAME_CHARS = 100;
const MAX_URL_CHARS = 2000; // what the server keeps of a page view
const MAX_TITLE_CHARS = 200;
const PAGE_QUEUE_MAX = 20; // page views kept while offline; the oldest go first
const DRAFT_GAP_MS = 500; // at most two drafts a second (the server's cost, see DESIGN.md)
const TYPING_SIGNAL_EVERY_MS = 2000; // preview off: how often "still typing" is repeated
const DRAFT_SIGNAL = "…"; // preview off: sent instead of the text, which never leaves the browser
const RECEIPT_GAP_MS = 500;
const AGENT_TYPING_TTL_MS = 6000; // hide "is typing…" when no word came for this long
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const HOST = document.body.dataset.hostOrigin || "";
const EMBEDDED = HOST !== "" && window.parent !== window;
const store = await visitorStorage();
const MAX_CHARS = Number(document.body.dataset.maxChars) || 5000;
// Live delivery is at-most-once: while connected, ask for missed events this often (0: never).
const RESYNC_MS = Number(document.body.dataset.resyncMs ?? 20000);

const $ = (id) => document.getElementById(id);
const ui = {
  avatar: $("hd-avatar"),
  title: $("hd-title"),
  subtitle: $("hd-subtitle"),
  chatbar: $("hd-chatbar"),
  chatbarInfo: $("hd-chatbar-info"),
  end: $("hd-end"),
  minimise: $("hd-minimise"),
  confirmBar: $("hd-end-confirm"),
  endYes: $("hd-end-yes"),
  endNo: $("hd-end-no"),
  banner: $("hd-banner"),
  liveNotice: $("hd-live-notice"),
  alert: $("hd-alert"),
  views: { loading: $("hd-view-loading"), form: $("hd-view-form"), chat: $("hd-view-chat") },
  form: $("hd-view-form"),
  name: $("hd-name"),
  email: $("hd-email"),
  deptField: $("hd-department-field"),
  dept: $("hd-department"),
  first: $("hd-first"),
  formError: $("hd-form-error"),
  log: $("hd-log"),
  ended: $("hd-ended"),
  newChat: $("hd-new-chat"),
  composer: $("hd-composer"),
  reply: $("hd-reply"),
  send: $("hd-send"),
  replyError: $("hd-reply-error"),
  replyCount: $("hd-reply-count"),
  agentTyping: $("hd-agent-typing"),
  previewNotice: $("hd-preview-notice"),
};

const state = {
  view: "loading",
  token: store.get(KEY_TOKEN),
  departments: [],
  visitor: { name: "", email: "" },
  chat: null, // the visitor's chat object, as in the protocol's `chat` frame
  online: false, // the socket is up
  seenSeq: 0, // highest seq the visitor had in front of them (persisted: unread across page loads)
  starting: null, // client_id of our chat.start until it is acknowledged
  open: !EMBEDDED || store.get(KEY_OPEN) === true,
  hostOpen: !EMBEDDED, // the loader said the panel is on screen (hd:open); until then, not read
  unread: 0,
  welcomed: false, // this socket had its welcome: frames about chats may go
  typingPreview: false, // welcome.typing_preview: agents see the draft's text
};

const shown = new Map(); // seq -> <li>, for the chat on screen
const pending = new PendingMessages(ui.log, "visitor"); // the visitor's messages until acknowledged

// The seqs of the chat on screen (the only chat followed) and when to ask for what is missing.
const cursors = new Cursors({
  intervalMs: RESYNC_MS,
  request: (id, afterSeq) => socket.send(resumeFrame(id, afterSeq)),
  // The timer (and coming back on screen) resyncs only a chat that can still change.
  canResync: (id) => state.welcomed && Boolean(state.chat) && state.chat.id === id && chatOpen(),
});

const socket = new LiveSocket({
  url: () => socketUrl("/ws/visitor/"),
  outboxKey: KEY_OUTBOX,
  storage: store,
  onOpen,
  onFrame,
  onRefused,
  onAuthClose,
  onStatus,
});

/**
 * This iframe's localStorage; where it is refused (third-party storage blocked), the host page's,
 * through the loader; where no loader answers in time, memory for this page only.
 */
async function visitorStorage() {
  const own = jsonStorage("local");
  if (own.persistent || !EMBEDDED) return own;
  return (await openHostStorage({ win: window, parent: window.parent, origin: HOST })) || own;
}

// --- Socket callbacks ----------------------------------------------------------------------------

function onOpen() {
  state.welcomed = false;
  const hello = { type: "hello", language: (navigator.language || "").slice(0, 16) };
  if (state.token) hello.token = state.token;
  // A chat on screen: ask at once, from its level, for what was missed while the socket was down.
  const resumes = cursors.opened().map(({ id, afterSeq }) => resumeFrame(id, afterSeq));
  return [hello, ...resumes];
}

function helloLater(seconds) {
  const delay = (Number(seconds) > 0 ? Number(seconds) : 5) * 1000;
  setTimeout(() => {
    if (!state.welcomed) socket.send(onOpen()[0]);
  }, delay);
}

function resumeFrame(chatId, afterSeq) {
  return { type: "resume", chat: chatId, after_seq: afterSeq };
}

function chatOpen() {
  const status = state.chat ? state.chat.status : "";
  return status === "queued" || status === "active";
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
    case "hidden":
      // A seq of our chat that is not for the visitor (e.g. a read receipt): had, nothing to show.
      cursors.receive(frame.chat, frame.seq);
      return undefined;
    case "resumed":
      return onResumed(frame);
    case "live":
      return onLive(frame.state);
    case "settings":
      // The admin changed the typing preview: say so to the visitor before they type again.
      state.typingPreview = frame.typing_preview === true;
      return renderPreviewNotice();
    case "agent.typing":
      return onAgentTyping(frame);
    case "error":
      // Page views, receipts, drafts and resumes go in the background: their refusal is not the
      // visitor's business (a refused resume counts as lost after 10 s, and the cursor asks again).
      if (["page.view", "receipt", "typing", "resume"].includes(frame.frame)) return undefined;
      // Too many new visitors from this address just now: say hello again when the server says.
      if (frame.frame === "hello" && frame.code === "rate_limited") return helloLater(frame.retry_after);
      return showAlert(frame.message || "Something went wrong.");
    default:
      return undefined;
  }
}

function onWelcome(frame) {
  if (frame.token) {
    state.token = frame.token;
    store.set(KEY_TOKEN, frame.token);
  }
  state.departments = Array.isArray(frame.departments) ? frame.departments : [];
  if (frame.visitor) state.visitor = { name: frame.visitor.name || "", email: frame.visitor.email || "" };
  state.typingPreview = frame.typing_preview === true;
  state.welcomed = true;
  onLive(frame.live === "degraded" ? "degraded" : "ok");
  renderDepartments();
  renderPreviewNotice();
  flushPages();

  const chat = frame.chat;
  if (chat && state.chat && chat.id === state.chat.id) {
    // Reconnected to the chat on screen; the resume went out with hello.
    updateChat(chat);
    return;
  }
  if (startingPending() && (!chat || chat.status === "ended")) {
    // Our chat.start (from the outbox) is on its way: its answer brings the chat.
    showStarting();
    return;
  }
  if (chat && (chat.status !== "ended" || store.get(KEY_DISMISSED) !== chat.id)) {
    adoptChat(chat);
    return;
  }
  showForm();
}

function onChat(chat) {
  if (!chat) return;
  if (state.chat && chat.id === state.chat.id) {
    updateChat(chat);
  } else if (chat.status !== "ended") {
    // A new open chat: the answer to our chat.start, or one started in another tab.
    adoptChat(chat);
  }
  // Its last_seq above our level: something is missing, and the cursor asks for it.
  cursors.sawChat(chat.id, chat.last_seq);
}

/** A message of the chat on screen, live, by resume, or the ack of our own. */
function onMessage(frame) {
  const message = frame.message;
  if (!state.chat || frame.chat !== state.chat.id || !message) return;
  if (cursors.receive(frame.chat, message.seq)) addMessage(message);
  else if (message.client_id) pending.remove(message.client_id); // on screen already
}

function onResumed(frame) {
  if (!state.chat || frame.chat !== state.chat.id) return;
  // The cursor is level up to last_seq now; more, or a hole left, and it asks again at once.
  cursors.resumed(frame.chat, frame);
  saveChat();
  receiptSender.push(); // what was rendered before the socket was back
}

/** The server's word on live delivery: while degraded the cursor resyncs often, and we say so. */
function onLive(liveState) {
  cursors.setLive(liveState);
  renderLiveNotice();
}

function renderLiveNotice() {
  ui.liveNotice.hidden = !(state.online && cursors.degraded);
}

function onRefused(frame, error) {
  const message = error.message || "This message could not be sent.";
  if (frame.type === "chat.start") {
    if (state.starting === frame.client_id) state.starting = null;
    pending.remove(frame.client_id);
    if (!state.chat) {
      showForm();
      ui.name.value = frame.name || ui.name.value;
      ui.email.value = frame.email || ui.email.value;
      if (frame.department) ui.dept.value = String(frame.department);
      ui.first.value = frame.text || "";
      showFormError(message);
    } else {
      showAlert(message);
    }
    return;
  }
  pending.fail(frame.client_id, message);
}

function onAuthClose(code) {
  if (code !== CLOSE_UNAUTHENTICATED) return false;
  // The server does not know our token (e.g. its data was reset): start over as a new visitor.
  store.remove(KEY_TOKEN);
  store.remove(KEY_CHAT);
  state.token = null;
  state.chat = null;
  clearLog();
  return true;
}

function onStatus(status, info) {
  state.online = status === "online";
  if (!state.online) cursors.closed();
  renderLiveNotice();
  if (status === "online") {
    ui.banner.hidden = true;
    return;
  }
  if (status === "stopped") {
    ui.banner.textContent = "Chat is unavailable. Please reload the page.";
    ui.banner.hidden = false;
    return;
  }
  if (info.everOnline) {
    ui.banner.textContent = "Reconnecting…";
    ui.banner.hidden = false;
  } else if (info.attempt >= 3) {
    ui.views.loading.querySelector("p").textContent = "We can't reach the chat right now. Still trying…";
  }
}

// --- Chat state ----------------------------------------------------------------------------------

function adoptChat(chat) {
  clearLog();
  state.chat = chat;
  const saved = store.get(KEY_CHAT);
  state.seenSeq = saved && saved.id === chat.id ? Number(saved.seenSeq) || 0 : 0;
  state.unread = 0;
  postUnread();
  renderPendingFromOutbox();
  cursors.track(chat.id);
  cursors.resync(chat.id); // offline: onOpen resumes it
  showView("chat");
  updateChat(chat);
}

function updateChat(chat) {
  state.chat = chat;
  saveChat();
  renderHeader();
  const ended = chat.status === "ended";
  ui.ended.hidden = !ended;
  ui.composer.hidden = ended;
  if (ended) {
    hideConfirm();
    resetDrafts();
    hideAgentTyping();
  }
  if (state.view !== "chat") showView("chat");
}

function showStarting() {
  state.chat = null;
  clearLog();
  renderPendingFromOutbox();
  ui.ended.hidden = true;
  ui.composer.hidden = false;
  showView("chat");
  renderHeader();
}

function startingPending() {
  return socket.pending().some((f) => f.type === "chat.start");
}

function saveChat() {
  if (!state.chat) return;
  store.set(KEY_CHAT, { id: state.chat.id, seenSeq: state.seenSeq });
}

/** The highest seq of the chat on screen we have (messages, and the seqs not shown to us). */
function topSeq() {
  const cursor = state.chat ? cursors.get(state.chat.id) : null;
  return cursor ? cursor.top : 0;
}

// --- Messages ------------------------------------------------------------------------------------

/** A message the cursor had not: placed by seq. */
function addMessage(message) {
  if (!message || typeof message.seq !== "number" || shown.has(message.seq)) return;
  if (message.client_id) {
    pending.remove(message.client_id);
    if (message.client_id === state.starting) state.starting = null;
  }
  const stick = nearBottom(ui.log) || message.author === "visitor";
  const li = messageEl(message, { own: "visitor", nameOwn: false }); // the visitor's own: no name
  shown.set(message.seq, li);
  // Keep seq order; messages not yet acknowledged stay last.
  let prev = ui.log.lastElementChild;
  while (prev && (prev.dataset.pending || Number(prev.dataset.seq) > message.seq)) prev = prev.previousElementSibling;
  ui.log.insertBefore(li, prev ? prev.nextSibling : ui.log.firstChild);

  if (state.open) {
    state.seenSeq = topSeq();
  } else if (message.author === "visitor") {
    // The visitor wrote after these (e.g. in another tab): they count as read.
    state.seenSeq = Math.max(state.seenSeq, message.seq);
    if (state.unread) {
      state.unread = 0;
      postUnread();
    }
  } else if (message.author === "agent" && message.seq > state.seenSeq) {
    state.unread += 1;
    postUnread();
  }
  saveChat();
  if (message.author === "agent") agentMessageShown(li, message.seq);
  if (stick) scrollToEnd(ui.log);
}

function renderPendingFromOutbox() {
  for (const frame of socket.pending()) {
    const mine =
      frame.type === "chat.start"
        ? !state.chat || frame.client_id === state.starting
        : Boolean(state.chat) && frame.chat === state.chat.id;
    if (mine && (frame.type === "chat.start" || frame.type === "message.send")) pending.add(frame);
    if (frame.type === "chat.start" && !state.chat) state.starting = frame.client_id;
  }
}

function clearLog() {
  shown.clear();
  pending.clear();
  ui.log.replaceChildren();
  cursors.forgetAll(); // the next chat on screen starts from seq 0
  resetReceipts();
  resetDrafts();
  hideAgentTyping();
}

// --- Drafts (typing preview) ----------------------------------------------------------------------

const drafts = new Coalescer(sendDraft, DRAFT_GAP_MS);
let draftSent = ""; // what the agents were last told; "" when nothing
let draftQueued = ""; // the latest value handed to `drafts`
let signalAt = 0;

function draftsAllowed() {
  const status = state.chat ? state.chat.status : "";
  return state.view === "chat" && (status === "queued" || status === "active");
}

/** The reply box changed: tell the agents, at most twice a second, the latest text winning. */
function draftChanged() {
  if (!draftsAllowed()) return;
  const text = ui.reply.value.trim() ? ui.reply.value.slice(0, MAX_CHARS) : "";
  let value = text;
  if (text && !state.typingPreview) {
    // Preview off: only the fact that the visitor types, repeated now and then so it stays shown.
    if (draftQueued === DRAFT_SIGNAL && Date.now() - signalAt < TYPING_SIGNAL_EVERY_MS) return;
    signalAt = Date.now();
    value = DRAFT_SIGNAL;
  } else if (value === draftQueued) {
    return;
  }
  draftQueued = value;
  drafts.push(value);
}

function sendDraft(text) {
  if (!draftsAllowed() || !state.welcomed) return;
  if (socket.send({ type: "typing", chat: state.chat.id, text })) draftSent = text;
}

/** The draft became a message: drop what is pending, and clear what the agents were shown. */
function draftDone() {
  drafts.cancel();
  draftQueued = "";
  if (draftSent) drafts.push("");
}

/** Another chat, or an ended one: nothing pending, nothing shown. */
function resetDrafts() {
  drafts.cancel();
  draftQueued = draftSent = "";
}

// --- Agent typing ----------------------------------------------------------------------------------

let agentTypingTimer = null;

function onAgentTyping(frame) {
  if (!state.chat || frame.chat !== state.chat.id) return;
  if (frame.active === true) showAgentTyping(frame.agent_name || state.chat.agent_name || "Agent");
  else hideAgentTyping();
}

function showAgentTyping(name) {
  const text = `${name} is typing…`;
  // The line is a live region: set the same text again and it would be read again.
  if (ui.agentTyping.textContent !== text) ui.agentTyping.replaceChildren(isolated(name), " is typing…");
  clearTimeout(agentTypingTimer);
  agentTypingTimer = setTimeout(hideAgentTyping, AGENT_TYPING_TTL_MS);
}

function hideAgentTyping() {
  clearTimeout(agentTypingTimer);
  if (ui.agentTyping.textContent) ui.agentTyping.textContent = "";
}

function renderPreviewNotice() {
  ui.previewNotice.hidden = !state.typingPreview;
}

// --- Receipts ----------------------------------------------------------------------------------------
//
// delivered_up_to: the highest seq of an agent message rendered here (even with the panel closed).
// read_up_to: the highest seq of an agent message the visitor could see: the panel open (hd:open),
// the tab visible, and the message on screen in the list.

const receipts = { delivered: 0, read: 0, sentDelivered: 0, sentRead: 0, onScreen: new Set() };
const receiptSender = new Coalescer(sendReceipt, RECEIPT_GAP_MS);
const READ_THRESHOLDS = Array.from({ length: 11 }, (_, i) => i / 10);
const readObserver =
  "IntersectionObserver" in window
    ? new IntersectionObserver(onIntersect, { root: ui.log, threshold: READ_THRESHOLDS })
    : null;

function agentMessageShown(li, seq) {
  hideAgentTyping();
  receipts.delivered = Math.max(receipts.delivered, seq);
  if (readObserver) readObserver.observe(li);
  else receipts.onScreen.add(seq); // no way to tell: count it seen when the panel is
  receiptSender.push();
  updateRead();
}

function onIntersect(entries) {
  for (const entry of entries) {
    const seq = Number(entry.target.dataset.seq);
    if (onScreen(entry)) receipts.onScreen.add(seq);
    else receipts.onScreen.delete(seq);
  }
  updateRead();
}

/** Half of the message in view, or half of the list filled by a message taller than that. */
function onScreen(entry) {
  if (!entry.isIntersecting) return false;
  const root = entry.rootBounds;
  return entry.intersectionRatio >= 0.5 || (root !== null && entry.intersectionRect.height >= root.height / 2);
}

function canRead() {
  return state.hostOpen && document.visibilityState === "visible" && state.view === "chat";
}

function updateRead() {
  if (!canRead() || receipts.onScreen.size === 0) return;
  const top = Math.max(...receipts.onScreen);
  if (top <= receipts.read) return;
  receipts.read = top;
  receiptSender.push();
}

/** Sends what rose since the last receipt; called by the coalescer, at most every 500 ms. */
function sendReceipt() {
  if (!state.chat || !state.welcomed) return;
  const { delivered, read } = receipts;
  if (delivered <= receipts.sentDelivered && read <= receipts.sentRead) return;
  const frame = { type: "receipt", chat: state.chat.id, delivered_up_to: delivered, read_up_to: read };
  if (!socket.send(frame)) return; // offline: sent again after the resume
  receipts.sentDelivered = delivered;
  receipts.sentRead = read;
}

function resetReceipts() {
  receiptSender.cancel();
  if (readObserver) readObserver.disconnect();
  receipts.delivered = receipts.read = receipts.sentDelivered = receipts.sentRead = 0;
  receipts.onScreen.clear();
}

document.addEventListener("visibilitychange", () => {
  updateRead();
  if (document.visibilityState === "visible") cursors.shown();
});

// --- Page views --------------------------------------------------------------------------------------
//
// The loader reports the host page (hd:page) when it loads and on every single-page navigation. They
// wait here until the socket has its welcome; the same page twice in a row is reported once.

const pageQueue = [];
let lastPage = "";

function onHostPage(data) {
  if (typeof data.url !== "string" || typeof data.title !== "string") return;
  let url;
  try {
    url = new URL(data.url);
  } catch {
    return;
  }
  // Only pages of the site that embeds us, and only addresses the server records.
  if (url.origin !== HOST || (url.protocol !== "http:" && url.protocol !== "https:")) return;
  const view = {
    url: url.href.slice(0, MAX_URL_CHARS),
    title: data.title.replace(/\s+/g, " ").trim().slice(0, MAX_TITLE_CHARS),
  };
  const key = `${view.url}\n${view.title}`;
  if (key === lastPage) return;
  lastPage = key;
  pageQueue.push(view);
  if (pageQueue.length > PAGE_QUEUE_MAX) pageQueue.shift();
  flushPages();
}

function flushPages() {
  while (state.welcomed && pageQueue.length) {
    if (!socket.send({ type: "page.view", ...pageQueue[0] })) return;
    pageQueue.shift();
  }
}

// --- Views ---------------------------------------------------------------------------------------

function showView(name) {
  const hadFocus = document.hasFocus() && (document.activeElement === document.body || !document.activeElement);
  state.view = name;
  for (const [key, el] of Object.entries(ui.views)) el.hidden = key !== name;
  renderHeader();
  updateRead();
  // The visitor opened the chat while it was still connecting: the focus is in the iframe, on
  // nothing. Put it where they will type.
  if (hadFocus && state.open) focusPrimary();
}

function showForm() {
  state.chat = null;
  clearLog();
  hideConfirm();
  if (!ui.name.value) ui.name.value = state.visitor.name;
  if (!ui.email.value) ui.email.value = state.visitor.email;
  showView("form");
}

function renderHeader() {
  const chat = state.chat;
  ui.minimise.hidden = !EMBEDDED;
  let title = "Chat with us";
  let subtitle = "We're here to help.";
  let avatar = "";
  if (state.view === "chat") {
    if (!chat || chat.status === "queued") {
      title = "Waiting for an agent…";
      subtitle = "Someone will be with you shortly.";
      avatar = "…";
    } else if (chat.status === "active") {
      title = chat.agent_name || "Agent";
      subtitle = "Online now";
      avatar = initials(title);
    } else {
      title = "Chat ended";
      subtitle = "Thanks for chatting with us.";
    }
  }
  setIsolatedText(ui.title, title); // an agent's name, in its own direction
  ui.subtitle.textContent = subtitle;
  ui.avatar.textContent = avatar;
  ui.avatar.classList.toggle("hd-avatar--icon", avatar === "");

  // The bar under the header: what this chat is, and the way to end it.
  ui.chatbar.hidden = state.view !== "chat";
  ui.end.hidden = !(chat && chat.status !== "ended");
  const info = [];
  if (chat && chat.department) info.push(isolated(chat.department));
  if (chat) info.push(`Chat ${chat.id}`);
  else info.push("Starting your chat…");
  ui.chatbarInfo.replaceChildren(...info.flatMap((part, i) => (i ? [" · ", part] : [part])));
}

function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => p[0].toUpperCase()).join("") || "?";
}

function renderDepartments() {
  const offer = state.departments;
  const keep = ui.dept.value;
  ui.dept.replaceChildren(new Option("Choose…", ""));
  for (const department of offer) ui.dept.append(new Option(department.name, String(department.id)));
  ui.dept.value = keep;
  // With one department (or none) it is implied; the server picks it.
  ui.deptField.hidden = offer.length <= 1;
}

function showAlert(message) {
  ui.alert.textContent = message;
  ui.alert.hidden = false;
  clearTimeout(showAlert.timer);
  showAlert.timer = setTimeout(() => {
    ui.alert.hidden = true;
  }, 8000);
}

function showFormError(message) {
  ui.formError.textContent = message;
  ui.formError.hidden = !message;
}

function setFieldError(input, message) {
  const error = $(`${input.id}-error`);
  error.textContent = message || "";
  error.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !message;
}

// --- Validation (mirrors the server's messages) --------------------------------------------------

function nameProblem(name) {
  if (!name.trim()) return "Please tell us your name.";
  if (name.trim().length > MAX_NAME_CHARS) return `A name can be at most ${MAX_NAME_CHARS} characters long.`;
  return "";
}

// --- User actions --------------------------------------------------------------------------------

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  showFormError("");
  const name = ui.name.value;
  const email = ui.email.value.trim();
  const text = ui.first.value;
  const needsDepartment = state.departments.length > 1;
  const checks = [
    setFieldError(ui.name, nameProblem(name)),
    setFieldError(ui.email, EMAIL_RE.test(email) ? "" : "Please give a valid email address, so that we can reply."),
    setFieldError(ui.dept, needsDepartment && !ui.dept.value ? "Please choose a department." : ""),
    setFieldError(ui.first, textProblem(text, MAX_CHARS)),
  ];
  if (checks.includes(false)) {
    ui.form.querySelector("[aria-invalid='true']").focus();
    return;
  }
  const frame = { type: "chat.start", name: name.trim(), email, text };
  if (needsDepartment) frame.department = Number(ui.dept.value);
  state.visitor = { name: frame.name, email };
  state.chat = null;
  clearLog();
  const sent = socket.sendMessage(frame);
  state.starting = sent.client_id;
  pending.add(sent);
  ui.first.value = "";
  ui.ended.hidden = true;
  ui.composer.hidden = false;
  showView("chat");
  ui.reply.focus();
});

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendReply();
});

sendOnEnter(ui.reply, sendReply);

ui.reply.addEventListener("input", () => {
  ui.replyError.textContent = "";
  draftChanged();
  autosize();
  const length = ui.reply.value.length;
  ui.replyCount.textContent = length > MAX_CHARS * 0.9 ? `${length.toLocaleString("en")} / ${MAX_CHARS.toLocaleString("en")}` : "";
});

function autosize() {
  ui.reply.style.height = "auto";
  ui.reply.style.height = `${Math.min(ui.reply.scrollHeight, 140)}px`;
}

function sendReply() {
  const text = ui.reply.value;
  const problem = textProblem(text, MAX_CHARS);
  if (problem) {
    ui.replyError.textContent = problem;
    return;
  }
  if (state.starting && !state.chat) {
    ui.replyError.textContent = "One moment: your chat is starting.";
    return;
  }
  if (!state.chat || state.chat.status === "ended") return;
  const sent = socket.sendMessage({ type: "message.send", chat: state.chat.id, text });
  draftDone();
  pending.add(sent);
  ui.reply.value = "";
  ui.replyCount.textContent = "";
  autosize();
}

ui.end.addEventListener("click", () => {
  ui.confirmBar.hidden = false;
  ui.endYes.focus();
});
ui.endNo.addEventListener("click", () => {
  hideConfirm();
  ui.end.focus();
});
ui.endYes.addEventListener("click", () => {
  hideConfirm();
  if (!state.chat) return;
  if (!socket.send({ type: "chat.end", chat: state.chat.id })) {
    showAlert("You're offline. Try again when the connection is back.");
  }
});

function hideConfirm() {
  ui.confirmBar.hidden = true;
}

ui.newChat.addEventListener("click", () => {
  if (state.chat) store.set(KEY_DISMISSED, state.chat.id);
  store.remove(KEY_CHAT);
  ui.first.value = "";
  showForm();
  ui.name.value = ui.name.value || state.visitor.name;
  ui.email.value = ui.email.value || state.visitor.email;
  (ui.name.value && ui.email.value ? ui.first : ui.name).focus();
});

ui.minimise.addEventListener("click", () => postHost({ type: "hd:close" }));

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (!ui.confirmBar.hidden) hideConfirm();
  else postHost({ type: "hd:close" });
});

// --- Host page ----------------------------------------------------------------------------------

function postHost(message) {
  if (EMBEDDED) window.parent.postMessage(message, HOST);
}

function postUnread() {
  postHost({ type: "hd:unread", count: state.unread });
}

window.addEventListener("message", (event) => {
  if (!EMBEDDED || event.origin !== HOST || event.source !== window.parent) return;
  const data = event.data || {};
  if (data.type === "hd:open") setOpen(true, data.focus === true);
  else if (data.type === "hd:closed") setOpen(false, false);
  else if (data.type === "hd:page") onHostPage(data);
});

function setOpen(open, focus) {
  state.open = open;
  state.hostOpen = open;
  store.set(KEY_OPEN, open);
  if (!open) return;
  updateRead();
  state.seenSeq = topSeq();
  state.unread = 0;
  saveChat();
  postUnread();
  cursors.shown();
  // Only when the visitor opened the chat: a restored open state must not steal the page's focus.
  if (focus) focusPrimary();
}

function focusPrimary() {
  if (state.view === "form") (ui.name.value ? ui.first : ui.name).focus();
  else if (state.view === "chat" && !ui.composer.hidden) ui.reply.focus();
  else if (state.view === "chat" && !ui.ended.hidden) ui.newChat.focus();
}

// --- Start ---------------------------------------------------------------------------------------

renderHeader();
postHost({ type: "hd:ready", open: state.open });
socket.start();
