// The chat inside the widget iframe: pre-chat form, conversation, ended state.
//
// This module composes the page: the socket, the cursor, and the parts (header.js, prechat.js,
// conversation.js with the chat on screen and after it, notices.js, host.js), routes the server's frames to them
// and switches between the views (loading, form, chat). It speaks only the visitor protocol (docs/protocol.md); the frames it sends are
// made in core/frames.js. It talks to the host page only by postMessage with the host's origin
// (host.js; widget.js lists the messages).
// The visitor's token, chat, open state and outbox are kept in this iframe's localStorage; where the
// browser refuses it, in the host page's storage through the loader (core/hoststore.js), asked for
// before anything else so that the first hello already carries the token.
// Text from people is shown with textContent; only server-sanitised `html` is inserted as HTML.
//
// Nothing lost: the chat on screen has a cursor (core/cursor.js) that knows which seqs it has. A
// hole asks for a resume at once, resumes start from the level, and the chat resyncs on a timer,
// every 3 s while the server says live delivery is degraded, and when it is back on screen.
//
// Blocked (a `blocked` frame, then close 4451: at hello, at chat.start, at a message, or at once when
// an agent blocks): the blocked view (blocked.js) replaces everything, what was waiting to be sent is
// dropped (the server takes none of it), and the socket stays closed but for one quiet try after the
// block's end.

import { LiveSocket, jsonStorage, socketUrl, CLOSE_UNAUTHENTICATED } from "../core/socket.js";
import { Cursors } from "../core/cursor.js";
import { openHostStorage } from "../core/hoststore.js";
import { PresenceReporter } from "../core/presence.js";
import * as frames from "../core/frames.js";
import { Header } from "./header.js";
import { Prechat } from "./prechat.js";
import { Conversation } from "./conversation.js";
import { Notices } from "./notices.js";
import { Host, PageViews } from "./host.js";
import { WidgetFiles } from "./files.js";
import { Lightbox } from "./lightbox.js";
import { WidgetUploads } from "./uploads.js";
import { BlockedView } from "./blocked.js";

const KEY_TOKEN = "hd.visitor.token";
const KEY_OPEN = "hd.visitor.open";
const KEY_OUTBOX = "hd.visitor.outbox";
const KEY_DISMISSED = "hd.visitor.dismissed"; // an ended chat the visitor put away ("Start a new chat")

const HOST = document.body.dataset.hostOrigin || "";
const EMBEDDED = HOST !== "" && window.parent !== window;
const store = await visitorStorage();
const MAX_CHARS = Number(document.body.dataset.maxChars) || 5000;
const MAX_COMMENT_CHARS = Number(document.body.dataset.maxCommentChars) || 1000; // of a rating
// Live delivery is at-most-once: while connected, ask for missed events this often (0: never).
const RESYNC_MS = Number(document.body.dataset.resyncMs ?? 20000);

const $ = (id) => document.getElementById(id);
const views = {
  loading: $("hd-view-loading"),
  form: $("hd-view-form"),
  chat: $("hd-view-chat"),
  blocked: $("hd-view-blocked"),
};

const state = {
  view: "loading",
  token: store.get(KEY_TOKEN),
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
  blocked: null, // {until, message} of the server's `blocked`, until a welcome says otherwise
};

// The seqs of the chat on screen (the only chat followed) and when to ask for what is missing.
const cursors = new Cursors({
  intervalMs: RESYNC_MS,
  request: (id, afterSeq) => socket.send(frames.resume(id, afterSeq)),
  // The timer (and coming back on screen) resyncs only a chat that can still change.
  canResync: (id) => state.welcomed && Boolean(state.chat) && state.chat.id === id && conversation.isOpen(),
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

const send = (frame) => socket.send(frame);
const notices = new Notices();
const host = new Host({ origin: HOST, embedded: EMBEDDED, onOpen: setOpen, onPage: (data) => pageViews.seen(data) });
const pageViews = new PageViews({ origin: HOST, send, ready: () => state.welcomed });
const header = new Header({ embedded: EMBEDDED, onEnd: endChat, onMinimise: () => host.close() });
const prechat = new Prechat({ maxChars: MAX_CHARS, onStart: startChat });
const conversation = new Conversation({
  state, socket, cursors, store, host, maxChars: MAX_CHARS, maxCommentChars: MAX_COMMENT_CHARS,
});
const { timeline, composer, agentTyping, afterChat } = conversation;
// Files: read with the visitor's token (never in a URL), sent over HTTP; a stored upload's message
// comes in as a received `message` does, so the cursor drops its broadcast.
const lightbox = new Lightbox($("hd-shell"));
timeline.files = new WidgetFiles({ token: () => state.token, lightbox });
const uploads = new WidgetUploads({
  chatId: () => (state.chat && conversation.isOpen() ? state.chat.id : null),
  token: () => state.token,
  onMessage: (chat, message) => onMessage({ type: "message", chat, message }),
  showError: (text) => (composer.hidden ? notices.alert(text) : (composer.error.textContent = text)),
});
// Whether the host page is in a background tab: the iframe's visibility follows the tab's.
const pageHidden = () => document.visibilityState === "hidden";
const presence = new PresenceReporter({ send: (hidden) => socket.send(frames.presence(hidden)) });
const blockedView = new BlockedView();

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
  // A chat on screen: ask at once, from its level, for what was missed while the socket was down.
  const resumes = cursors.opened().map(({ id, afterSeq }) => frames.resume(id, afterSeq));
  return [frames.hello(state.token, navigator.language), ...resumes];
}

function helloLater(seconds) {
  const delay = (Number(seconds) > 0 ? Number(seconds) : 5) * 1000;
  setTimeout(() => {
    if (!state.welcomed) socket.send(frames.hello(state.token, navigator.language));
  }, delay);
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
    case "blocked":
      return onBlocked(frame);
    case "live":
      return onLive(frame.state);
    case "settings":
      // The admin changed the typing preview: say so to the visitor before they type again.
      state.typingPreview = frame.typing_preview === true;
      return composer.showPreviewNotice(state.typingPreview);
    case "chat.rated":
    case "transcript.requested":
      if (state.chat && frame.chat === state.chat.id) afterChat.onFrame(frame);
      return undefined;
    case "agent.typing":
      if (!state.chat || frame.chat !== state.chat.id) return undefined;
      if (frame.active === true) return agentTyping.show(frame.agent_name || state.chat.agent_name || "Agent");
      return agentTyping.hide();
    case "error":
      // Page views, receipts, drafts and resumes go in the background: their refusal is not the
      // visitor's business (a refused resume counts as lost after 10 s, and the cursor asks again).
      if (["page.view", "receipt", "typing", "resume"].includes(frame.frame)) return undefined;
      if (frame.frame === "presence") return presence.refused(frame.code, frame.retry_after);
      // After the chat: the reason is shown where the visitor rated or asked for the transcript.
      if (frame.frame === "chat.rate" || frame.frame === "transcript.request") return afterChat.refused(frame);
      // Too many new visitors from this address just now: say hello again when the server says.
      if (frame.frame === "hello" && frame.code === "rate_limited") return helloLater(frame.retry_after);
      return notices.alert(frame.message || "Something went wrong.");
    default:
      return undefined;
  }
}

function onWelcome(frame) {
  state.blocked = null; // the quiet try after a block's end was let in: the views below take over
  if (frame.token) {
    state.token = frame.token;
    store.set(KEY_TOKEN, frame.token);
  }
  if (frame.visitor) state.visitor = { name: frame.visitor.name || "", email: frame.visitor.email || "" };
  state.typingPreview = frame.typing_preview === true;
  state.welcomed = true;
  presence.welcomed(pageHidden());
  onLive(frame.live === "degraded" ? "degraded" : "ok");
  prechat.setDepartments(Array.isArray(frame.departments) ? frame.departments : []);
  composer.showPreviewNotice(state.typingPreview);
  pageViews.flush();

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
  if (cursors.receive(frame.chat, message.seq)) conversation.add(message);
  else if (message.client_id) timeline.pending.remove(message.client_id); // on screen already
}

function onResumed(frame) {
  if (!state.chat || frame.chat !== state.chat.id) return;
  // The cursor is level up to last_seq now; more, or a hole left, and it asks again at once.
  cursors.resumed(frame.chat, frame);
  conversation.save();
  conversation.receipts.push(); // what was rendered before the socket was back
}

/** The server's word on live delivery: while degraded the cursor resyncs often, and we say so. */
function onLive(liveState) {
  cursors.setLive(liveState);
  notices.live(state.online && cursors.degraded);
}

/**
 * Blocked: say so in place of everything, and offer nothing that would be refused. What waits in
 * the outbox is dropped: the block ended the chat, and a chat.start sent by itself after the block
 * would start a chat the visitor wrote long before.
 */
function onBlocked(frame) {
  const message = typeof frame?.message === "string" ? frame.message : "";
  state.blocked = { until: frame?.until || null, message };
  state.welcomed = false;
  state.starting = null;
  socket.outbox.offline(); // the socket closes next: nothing more goes out on it
  for (const pending of socket.pending()) socket.outbox.error({ client_id: pending.client_id, code: "blocked", message });
  uploads.cancelAll();
  if (lightbox.isOpen) lightbox.hide();
  header.hideConfirm();
  conversation.drafts.reset();
  agentTyping.hide();
  blockedView.show(message);
  const inWidget = document.hasFocus() && state.open;
  showView("blocked");
  if (inWidget) blockedView.focus();
  host.unread(0);
  blockedView.retryAfter(state.blocked.until, () => socket.start());
}

function onRefused(frame, error) {
  if (state.blocked) return; // dropped with the block: the blocked view says why
  const message = error.message || "This message could not be sent.";
  if (frame.type === "chat.start") {
    if (state.starting === frame.client_id) state.starting = null;
    timeline.pending.remove(frame.client_id);
    if (!state.chat) {
      showForm();
      prechat.restore(frame, message);
    } else {
      notices.alert(message);
    }
    return;
  }
  timeline.pending.fail(frame.client_id, message);
}

function onAuthClose(code) {
  if (code !== CLOSE_UNAUTHENTICATED) return false;
  // The server does not know our token (e.g. its data was reset): start over as a new visitor.
  store.remove(KEY_TOKEN);
  conversation.forget();
  state.token = null;
  state.chat = null;
  conversation.clear();
  return true;
}

function onStatus(status, info) {
  // Closed 4451 without its `blocked` frame (it is sent first, so only if it was lost): the same view.
  if (status === "blocked" && !state.blocked) onBlocked(null);
  state.online = status === "online";
  if (!state.online) {
    cursors.closed();
    presence.closed();
    afterChat.offline();
  }
  notices.live(state.online && cursors.degraded);
  notices.status(status, info);
}

// --- The chat on screen --------------------------------------------------------------------------

function adoptChat(chat) {
  conversation.adopt(chat);
  showView("chat");
  updateChat(chat);
}

function updateChat(chat) {
  conversation.update(chat);
  renderHeader();
  if (chat.status === "ended") header.hideConfirm();
  if (state.view !== "chat") showView("chat");
}

function showStarting() {
  conversation.showStarting();
  showView("chat");
  renderHeader();
}

function startingPending() {
  return socket.pending().some((f) => f.type === "chat.start");
}

// --- What the visitor does ---------------------------------------------------------------------

function startChat(fields) {
  state.visitor = { name: fields.name, email: fields.email };
  conversation.start(fields);
  showView("chat");
  composer.focus();
}

function endChat() {
  if (!state.chat) return;
  if (!socket.send(frames.chatEnd(state.chat.id))) notices.alert("You're offline. Try again when the connection is back.");
}

conversation.newChat.addEventListener("click", () => {
  if (state.chat) store.set(KEY_DISMISSED, state.chat.id);
  conversation.forget();
  prechat.clearMessage();
  showForm();
  prechat.focusForNewChat();
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || lightbox.isOpen) return;
  if (header.confirming) header.hideConfirm();
  else host.close();
});

document.addEventListener("visibilitychange", () => {
  presence.set(pageHidden());
  conversation.receipts.update();
  if (document.visibilityState === "visible") cursors.shown();
});

// --- Views ---------------------------------------------------------------------------------------

function showView(name) {
  const hadFocus = document.hasFocus() && (document.activeElement === document.body || !document.activeElement);
  state.view = name;
  for (const [key, el] of Object.entries(views)) el.hidden = key !== name;
  renderHeader();
  conversation.receipts.update();
  // The visitor opened the chat while it was still connecting: the focus is in the iframe, on
  // nothing. Put it where they will type.
  if (hadFocus && state.open) focusPrimary();
}

function showForm() {
  state.chat = null;
  uploads.cancelAll();
  conversation.clear();
  header.hideConfirm();
  prechat.fill(state.visitor);
  showView("form");
}

function renderHeader() {
  header.render(state.view, state.chat);
}

/** hd:open / hd:closed from the loader. */
function setOpen(open, focus) {
  state.open = open;
  state.hostOpen = open;
  store.set(KEY_OPEN, open);
  if (!open) return;
  conversation.seen();
  cursors.shown();
  // Only when the visitor opened the chat: a restored open state must not steal the page's focus.
  if (focus) focusPrimary();
}

function focusPrimary() {
  if (state.view === "form") prechat.focus();
  else if (state.view === "chat") conversation.focus();
  else if (state.view === "blocked") blockedView.focus();
}

// --- Start ---------------------------------------------------------------------------------------

renderHeader();
host.ready(state.open);
socket.start();
