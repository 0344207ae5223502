// Every frame the widget and the console send, one small function per type (docs/protocol.md,
// "Frames a visitor sends" and "Frames an agent sends"). No other module writes `{type: …}` for
// the socket: a field renamed in the protocol is renamed here once.
//
// Message frames (chat.start, message.send) go through LiveSocket.sendMessage, whose outbox gives
// them a client_id when they have none; pass `clientId` only to send one made elsewhere again.
// The others go through LiveSocket.send, which drops them while offline.

/** Keeps the socket alive; answered with `pong`. */
export function ping() {
  return { type: "ping" };
}

// --- Visitor --------------------------------------------------------------------------------------

/** The widget's first frame on every connection: the visitor's token once it has one. */
export function hello(token, language) {
  const frame = { type: "hello", language: String(language || "").slice(0, 16) };
  if (token) frame.token = token;
  return frame;
}

/** A new chat with its first message. `department` (an id) only when the welcome offered several. */
export function chatStart({ name, email, text, department = null }, clientId) {
  const frame = { type: "chat.start", name, email, text };
  if (department !== null && department !== undefined) frame.department = department;
  return withClientId(frame, clientId);
}

/** What the visitor missed in their chat since `afterSeq` (their level). */
export function resume(chat, afterSeq) {
  return { type: "resume", chat, after_seq: afterSeq };
}

/** The visitor's draft as it stands ("" when cleared; "…" when the preview is off). */
export function draft(chat, text) {
  return { type: "typing", chat, text };
}

/** Up to which seq the visitor's widget rendered agent messages, and up to which they saw them. */
export function receipt(chat, deliveredUpTo, readUpTo) {
  return { type: "receipt", chat, delivered_up_to: deliveredUpTo, read_up_to: readUpTo };
}

/** A page of the host site the visitor is on. */
export function pageView(url, title) {
  return { type: "page.view", url, title };
}

// Widget: presence and after the chat

/** The page with the chat went to a background tab (true) or is shown again (false). */
export function presence(hidden) {
  return { type: "presence", hidden: Boolean(hidden) };
}

/** The visitor's rating of their chat, "good" or "bad"; the comment only when there is one. */
export function chatRate(chat, rating, comment = "") {
  const frame = { type: "chat.rate", chat, rating };
  if (comment) frame.comment = comment;
  return frame;
}

/** Email me the transcript of this (ended) chat. */
export function transcriptRequest(chat) {
  return { type: "transcript.request", chat };
}

// --- Agent ------------------------------------------------------------------------------------------

/** Follow a chat's live events, after what it missed since `afterSeq` (its level). */
export function chatWatch(chat, afterSeq = 0) {
  return { type: "chat.watch", chat, after_seq: afterSeq };
}

export function chatUnwatch(chat) {
  return { type: "chat.unwatch", chat };
}

export function chatAccept(chat) {
  return { type: "chat.accept", chat };
}

/** The agent is typing (true) or stopped (false); never the text. */
export function agentTyping(chat, active) {
  return { type: "typing", chat, active: Boolean(active) };
}

// Console: header and pane

/** The chat's header and properties pane, with my star and the choices (answered with `details`). */
export function chatDetails(chat) {
  return { type: "chat.details", chat };
}

/** Puts a label on the chat's ticket. */
export function labelAdd(chat, label) {
  return { type: "chat.label", chat, add: label };
}

/** Takes a label off the chat's ticket. */
export function labelRemove(chat, label) {
  return { type: "chat.label", chat, remove: label };
}

/** My own star on the chat in `colour`, or null to take it off. */
export function chatStar(chat, colour) {
  return { type: "chat.star", chat, colour: colour || null };
}

/** Moves the chat and its ticket to a department (its id), or to none (null). */
export function chatDepartment(chat, department) {
  return { type: "chat.department", chat, department: department ?? null };
}

/** Gives the chat to an agent (a user id): assigns a waiting chat, transfers my active one. */
export function chatAssign(chat, agent) {
  return { type: "chat.assign", chat, agent };
}

/** Emails the transcript of an ended chat to the visitor again. */
export function transcriptSend(chat) {
  return { type: "transcript.send", chat };
}

/**
 * Blocks the chat's visitor and the email address they gave, for the admin's time; with `ip` the IP
 * network of the chat's address too. Answered with `visitor.blocked`, or `error` (an empty reason:
 * `invalid`, in words to show).
 */
export function visitorBlock(chat, reason, ip = false) {
  return { type: "visitor.block", chat, reason, ip: Boolean(ip) };
}

/** The reply box's preview: answered with `preview` carrying the same `ref`. */
export function messagePreview(text, ref = "") {
  return ref ? { type: "message.preview", text, ref } : { type: "message.preview", text };
}

// --- Both ---------------------------------------------------------------------------------------------

/** A message in a chat: Markdown from an agent, plain text from a visitor. */
export function messageSend(chat, text, clientId) {
  return withClientId({ type: "message.send", chat, text }, clientId);
}

export function chatEnd(chat) {
  return { type: "chat.end", chat };
}

function withClientId(frame, clientId) {
  if (clientId) frame.client_id = clientId;
  return frame;
}
