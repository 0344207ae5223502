// The console's picture of one chat's details (the header and the properties pane), kept from the
// server's frames (docs/protocol.md: `details`, `star`, `presence`, `chat.rated`). No DOM here:
// unit-tested with `node --test static/chat/core/`.
//
// A `details` answer to `chat.details` carries this agent's `star` and the pane's `choices`; the
// broadcasts of a change come without both, and we keep the ones we had.

/** The details after a `details` frame; `prev` is what we had (null at first). */
export function mergeDetails(prev, frame) {
  const next = { ...frame };
  delete next.type;
  if (!("star" in frame)) next.star = prev ? prev.star ?? null : null;
  if (!("choices" in frame)) next.choices = prev?.choices || { departments: [], agents: [], labels: [] };
  return next;
}

/** After a `star` frame: the colour, or null. */
export function withStar(details, colour) {
  return details ? { ...details, star: colour ?? null } : details;
}

/** After a `presence` frame: the visitor's state and when they were last seen. */
export function withPresence(details, { state, last_seen: lastSeen }) {
  if (!details?.visitor) return details;
  const visitor = { ...details.visitor, presence: state };
  if (lastSeen) visitor.last_seen = lastSeen;
  return { ...details, visitor };
}

/** After a `chat.rated` frame: the ticket's rating (its time follows with the next `details`). */
export function withRating(details, { rating, comment }) {
  if (!details?.ticket) return details;
  const at = details.ticket.rating?.at ?? null;
  return { ...details, ticket: { ...details.ticket, rating: { value: rating, comment: comment || "", at } } };
}

/** The newest transcript email (they come newest first), or null. */
export function latestEmail(details) {
  const emails = details?.ticket?.transcript_emails;
  return Array.isArray(emails) && emails.length ? emails[0] : null;
}

/** The suggestions for a new label: the known ones the ticket has not (in any case). */
export function labelSuggestions(details) {
  const have = new Set((details?.ticket?.labels || []).map((l) => l.toLowerCase()));
  return (details?.choices?.labels || []).filter((l) => !have.has(l.toLowerCase()));
}

/**
 * Whether this agent may give the chat to someone (`chat.assign`), and if not, why, in words:
 * {can, transfer, reason}. A waiting chat: anyone may assign it; an active one: only its agent may
 * transfer it; an ended one: nobody.
 */
export function assignRights(chat, me) {
  if (!chat) return { can: false, transfer: false, reason: "Loading…" };
  if (chat.status === "ended") {
    return { can: false, transfer: false, reason: "The chat has ended: reopen its ticket to follow it up." };
  }
  if (chat.status === "active" && chat.agent_id !== me) {
    return { can: false, transfer: false, reason: `Only ${chat.agent_name || "the agent in this chat"} can transfer it.` };
  }
  return { can: true, transfer: chat.status === "active", reason: "" };
}
