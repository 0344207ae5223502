// What the pages say about blocks (docs/protocol.md: `visitor.block` and its `visitor.blocked`,
// `details`' `blocks`, the visitor's `blocked`). No DOM here: unit-tested with `node --test
// static/chat/core/`.
//
// Sentences that hold a time or a name come as parts, drawn by the page: a string is text,
// `{time: iso}` a <time> (core/time.js), `{name: text}` a name from people, isolated in its own
// direction. The block's length and the IPv6 prefix are the admin's (the page's data-block-hours and
// data-block-ipv6-prefix), never copied here.

/** Beside the "Also block their IP address" box, in plain words. */
export const IP_WARNING =
  "Everyone on a shared network — a business, a university, a wi-fi hotspot — would be blocked too, " +
  "and home and mobile broadband addresses change, so this may block the wrong people or miss this one.";

/** "24 hours", "1 hour"; null for a number the page did not give. */
export function hoursText(hours) {
  const n = Number(hours);
  if (!Number.isFinite(n) || n <= 0) return null;
  return n === 1 ? "1 hour" : `${n} hours`;
}

/** The dialog's two sentences: how long, and what it does. `email`: the address the visitor gave. */
export function blockEffects({ hours, email = "" }) {
  const length = hoursText(hours);
  const lasts = length ? `The block lasts ${length}.` : "The block lasts as long as an admin has set.";
  const does = email
    ? `Their chat ends, and they can't start a new chat or send messages, also with the email address they gave (${email}).`
    : "Their chat ends, and they can't start a new chat or send messages.";
  return { lasts, does };
}

export function isIPv6(ip) {
  return typeof ip === "string" && ip.includes(":");
}

/**
 * The "Also block their IP address" box for the chat's address (details.visitor.ip_address):
 * {available, label, note}. An IPv6 address is blocked with its whole network of the admin's prefix.
 */
export function ipChoice(ip, prefix) {
  if (typeof ip !== "string" || !ip.trim()) {
    return {
      available: false,
      label: "Also block their IP address",
      note: "This chat has no IP address, so there is none to block.",
    };
  }
  const label = `Also block their IP address (${ip})`;
  if (!isIPv6(ip)) return { available: true, label, note: "" };
  const bits = Number(prefix);
  const network = Number.isInteger(bits) && bits > 0 ? `whole /${bits} network` : "whole network";
  return { available: true, label, note: `For this IPv6 address the block covers its ${network}.` };
}

/** What a block is on: {label, value} — "Visitor", "Email" and the address, "IP" and the network. */
export function blockTarget(block) {
  switch (block?.kind) {
    case "visitor":
      return { label: "Visitor", value: "" };
    case "email":
      return { label: "Email", value: block.value || "" };
    case "ip":
      return { label: "IP", value: block.value || "" };
    default:
      return { label: String(block?.kind || "Block"), value: block?.value || "" };
  }
}

function at(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? null : t;
}

/**
 * Whether a block counts now, in parts: {state: "active" | "lifted" | "expired", parts}. The server's
 * `active` was true when it sent the details; a block whose end has passed since is expired.
 */
export function blockStatus(block, now = Date.now()) {
  const expires = at(block.expires_at);
  const ended = at(block.ended_at);
  if (block.active && ended === null && expires !== null && expires > now) {
    return { state: "active", parts: ["Active until ", { time: block.expires_at }] };
  }
  const lifted = ended !== null && (block.lifted_by || (expires !== null && ended < expires));
  if (lifted) {
    const who = block.lifted_by?.name;
    const parts = who ? ["Lifted by ", { name: who }, " on ", { time: block.ended_at }] : ["Lifted on ", { time: block.ended_at }];
    return { state: "lifted", parts };
  }
  return { state: "expired", parts: ["Expired ", { time: block.expires_at || block.ended_at }] };
}

/** Who made the block and when, in parts. */
export function blockMade(block) {
  const who = block.by?.name;
  return who ? ["Made by ", { name: who }, " on ", { time: block.created_at }] : ["Made on ", { time: block.created_at }];
}

/** The blocks, newest first (a copy; the server sends them so already). */
export function newestFirst(blocks) {
  const list = Array.isArray(blocks) ? blocks.slice() : [];
  return list.sort((a, b) => (at(b.created_at) ?? 0) - (at(a.created_at) ?? 0));
}

/** When the first block shown active ends (ms since the epoch), to draw the list again then; or null. */
export function nextChange(blocks, now = Date.now()) {
  let next = null;
  for (const block of blocks || []) {
    if (blockStatus(block, now).state !== "active") continue;
    const expires = at(block.expires_at);
    if (next === null || expires < next) next = expires;
  }
  return next;
}

/** The console's note in the chat after `visitor.blocked`, in parts. */
export function blockedNotice({ until, network }) {
  const parts = ["Blocked until ", { time: until }];
  parts.push(network ? `, with the IP network ${network}.` : ".");
  return parts;
}

// The longest wait a browser's setTimeout keeps (about 24.8 days); a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The widget's one quiet try after a `blocked` frame: how many ms from `now` to say hello again, a
 * little after `until` (and a random while more, so that the visitors of a blocked network do not
 * all come back in the same second); null for none (no valid `until`, one already past by this
 * clock, or one further off than a timer can wait).
 */
export function quietRetryDelay(until, now = Date.now(), random = Math.random) {
  const end = at(until);
  if (end === null || end <= now) return null;
  const delay = end - now + 5000 + Math.round(random() * 55000);
  return delay > MAX_TIMER_MS ? null : delay;
}
