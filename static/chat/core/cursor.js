// The client cursor, shared by the widget and the console (docs/protocol.md, "Sequence numbers
// and resume" and "Idempotent sends"). No DOM: plain state and timers, tested with `node --test`.
//
// Live delivery is at-most-once; the database is the record. What makes "nothing lost" true on the
// client is here:
// - ChatCursor: the seqs of one chat this client has. Its *level* is the highest seq with every seq
//   up to it had. A client resumes from its level, never from the highest seq it has seen, and asks
//   as soon as it sees a hole.
// - Cursors: every chat the page follows, and when to ask again: at once for a hole, again after a
//   `resumed` that says more follows or leaves a hole, when a resume goes unanswered, on a timer
//   (quicker while the server says live delivery is degraded), and when a chat is back on screen.
// - Outbox: the message frames not yet answered, persisted, sent one at a time in order, retried
//   after retryable errors and resent after every reconnect (the server stores a client_id once).

export const RESUME_LOST_MS = 10_000; // a resume unanswered this long is lost: ask again
export const DEGRADED_RESYNC_MS = 3_000; // while live delivery is degraded, resync this often
export const STALLED_RETRY_MS = 3_000; // a hole two answers in a row did not fill: ask this often
export const SHOWN_MIN_AGE_MS = 2_000; // back on screen: resync, unless one went out this recently
export const ANSWER_WAIT_MS = 15_000; // a message frame unanswered this long is sent again
export const RETRY_MIN_MS = 1_000; // first wait after a retryable error, doubled each time...
export const RETRY_MAX_MS = 15_000; // ...up to this
export const RETRYABLE = new Set(["internal", "unavailable", "rate_limited"]);

/** Time and timers; tests pass a fake one. */
export const systemClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/** The seqs of one chat this client has, and the resume it has out for them. */
export class ChatCursor {
  constructor() {
    this.level = 0; // every seq <= level is had
    this.above = new Set(); // seqs had above level + 1 (there is a hole below each)
    this.known = 0; // the highest seq the server said the chat has (chat.last_seq)
    this.resume = null; // {afterSeq, sentAt} of the resume in flight
    this.askedAt = -Infinity; // when the last resume went out
    this.stalls = 0; // answers in a row that left a hole and moved nothing
  }

  has(seq) {
    return seq <= this.level || this.above.has(seq);
  }

  /** A seq arrived (message, receipt, hidden). True if it is new; false: a duplicate, drop it. */
  add(seq) {
    if (!Number.isInteger(seq) || seq < 1 || this.has(seq)) return false;
    this.above.add(seq);
    this.known = Math.max(this.known, seq);
    this.rise(this.level);
    return true;
  }

  /** The highest seq had (level or above): what the reader may have in front of them. */
  get top() {
    let top = this.level;
    for (const seq of this.above) top = Math.max(top, seq);
    return top;
  }

  /** A `chat` frame's last_seq: the chat has at least this many events. */
  sawLastSeq(lastSeq) {
    if (Number.isInteger(lastSeq)) this.known = Math.max(this.known, lastSeq);
  }

  /** A seq is held above a hole, or the server has events past our level. */
  get hasGap() {
    return this.above.size > 0 || this.known > this.level;
  }

  inFlight(now) {
    return this.resume !== null && now - this.resume.sentAt < RESUME_LOST_MS;
  }

  /** A resume goes out now; returns its after_seq (always the level). */
  begin(now) {
    this.resume = { afterSeq: this.level, sentAt: now };
    this.askedAt = now;
    return this.level;
  }

  /** The socket that carried the resume is gone: no answer will come. */
  drop() {
    this.resume = null;
  }

  /**
   * `resumed`: every event with seq <= last_seq is had (what was not sent is not for us).
   * Returns true when the client should ask again at once: more follows, or a hole remains. A round
   * that moved the level nothing counts as a stall; after two in a row the timer asks instead
   * (STALLED_RETRY_MS), so that a server that cannot fill the hole is not asked in a loop.
   */
  answer({ last_seq: lastSeq, more }) {
    const from = this.resume ? this.resume.afterSeq : this.level;
    this.resume = null;
    if (Number.isInteger(lastSeq)) this.rise(lastSeq);
    if (more !== true && !this.hasGap) {
      this.stalls = 0;
      return false;
    }
    this.stalls = this.level > from ? 0 : this.stalls + 1;
    return this.stalls < 2;
  }

  rise(to) {
    let level = Math.max(this.level, to);
    for (const seq of this.above) if (seq <= level) this.above.delete(seq);
    while (this.above.delete(level + 1)) level += 1;
    this.level = level;
    this.known = Math.max(this.known, level);
  }
}

/**
 * The cursors of every chat a page follows, and the resync policy. `request(id, afterSeq)` sends
 * the page's resume frame (`resume` or `chat.watch`) and returns false when it could not go out;
 * `canResync(id)` says whether the timer should resync that chat (e.g. not an ended one).
 */
export class Cursors {
  constructor({ request, canResync = () => true, intervalMs = 0, clock = systemClock }) {
    this.request = request;
    this.canResync = canResync;
    this.intervalMs = intervalMs > 0 ? intervalMs : 0; // 0: no timer (while live is ok)
    this.clock = clock;
    this.chats = new Map(); // id -> ChatCursor
    this.live = "ok"; // "ok" | "degraded", as the server last said
    this.online = false;
    this.timer = null;
  }

  get degraded() {
    return this.live === "degraded";
  }

  /** Follow a chat (no-op if followed); returns its cursor. */
  track(id) {
    let cursor = this.chats.get(id);
    if (!cursor) {
      cursor = new ChatCursor();
      this.chats.set(id, cursor);
    }
    return cursor;
  }

  get(id) {
    return this.chats.get(id) || null;
  }

  forget(id) {
    this.chats.delete(id);
    this.schedule();
  }

  forgetAll() {
    this.chats.clear();
    this.schedule();
  }

  /** A seq of chat `id` arrived. True if new (apply it); false if a duplicate or not followed. */
  receive(id, seq) {
    const cursor = this.chats.get(id);
    if (!cursor) return false;
    const fresh = cursor.add(seq);
    if (cursor.hasGap) this.resync(id);
    return fresh;
  }

  /** A `chat` frame: its last_seq above the level means something is missing. */
  sawChat(id, lastSeq) {
    const cursor = this.chats.get(id);
    if (!cursor) return;
    cursor.sawLastSeq(lastSeq);
    if (cursor.hasGap) this.resync(id);
  }

  /** A `resumed` frame: asks again at once when more follows or a hole remains. */
  resumed(id, frame) {
    const cursor = this.chats.get(id);
    if (!cursor) return;
    if (cursor.answer(frame)) this.resync(id);
    this.schedule();
  }

  /** Resume chat `id` from its level now, unless a resume is in flight. True if one went out. */
  resync(id) {
    const cursor = this.chats.get(id);
    const now = this.clock.now();
    if (!cursor || cursor.inFlight(now)) return false;
    if (!this.request(id, cursor.level)) return false;
    cursor.begin(now);
    this.schedule();
    return true;
  }

  /** The chats are on screen again (panel opened, tab shown): resync each that can still change. */
  shown(ids = [...this.chats.keys()]) {
    const now = this.clock.now();
    for (const id of ids) {
      const cursor = this.chats.get(id);
      if (cursor && this.canResync(id) && now - cursor.askedAt >= SHOWN_MIN_AGE_MS) this.resync(id);
    }
  }

  /** `welcome.live` or a `live` frame. Back to ok: every chat resyncs at once. */
  setLive(state) {
    if (state !== "ok" && state !== "degraded") return false;
    const was = this.live;
    this.live = state;
    if (was === "degraded" && state === "ok") for (const id of [...this.chats.keys()]) this.resync(id);
    this.schedule();
    return was !== state;
  }

  /**
   * The socket is open. Returns [{id, afterSeq}]: one resume per followed chat, from its level,
   * for the page to send after its first frame (hello); each counts as in flight from now.
   */
  opened() {
    this.online = true;
    const now = this.clock.now();
    const frames = [];
    for (const [id, cursor] of this.chats) frames.push({ id, afterSeq: cursor.begin(now) });
    this.schedule();
    return frames;
  }

  /** The socket is gone: resumes in flight have no answer coming, and no timer runs. */
  closed() {
    this.online = false;
    for (const cursor of this.chats.values()) cursor.drop();
    this.schedule();
  }

  /** How often the timer resyncs a chat now (0: never). */
  get period() {
    return this.degraded ? DEGRADED_RESYNC_MS : this.intervalMs;
  }

  /** When chat `id` is next due for a resume from the timer (Infinity: not). */
  dueAt(id, cursor) {
    if (cursor.resume) return cursor.resume.sentAt + RESUME_LOST_MS;
    let due = Infinity;
    if (cursor.hasGap) due = cursor.askedAt + STALLED_RETRY_MS;
    if (this.period > 0 && this.canResync(id)) due = Math.min(due, cursor.askedAt + this.period);
    return due;
  }

  /** One timer for the earliest due chat. */
  schedule() {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (!this.online) return;
    let next = Infinity;
    for (const [id, cursor] of this.chats) next = Math.min(next, this.dueAt(id, cursor));
    if (next === Infinity) return;
    this.timer = this.clock.setTimeout(() => this.tick(), Math.max(0, next - this.clock.now()));
  }

  tick() {
    this.timer = null;
    const now = this.clock.now();
    for (const [id, cursor] of [...this.chats]) {
      if (this.dueAt(id, cursor) > now) continue;
      cursor.drop(); // a resume in flight this long is lost
      // Not sent (the socket is going): wait a period rather than spin.
      if (!this.resync(id)) cursor.askedAt = now;
    }
    this.schedule();
  }
}

/**
 * The message frames (chat.start, message.send) not answered yet, oldest first, persisted in
 * `storage` (get/set/remove) under `key`. One is in flight at a time: the next goes after the
 * previous one's message.ack or error, so a retried frame keeps its place. Wire it to a socket with
 * online(send) / offline(), and feed it every message.ack and every error that names a client_id.
 */
export class Outbox {
  constructor({ storage, key, onRefused = () => {}, newId = randomId, clock = systemClock }) {
    this.storage = storage;
    this.key = key;
    this.onRefused = onRefused; // (frame, error): refused for good, it has left the outbox
    this.newId = newId;
    this.clock = clock;
    const saved = storage.get(key, []);
    this.frames = Array.isArray(saved) ? saved.filter((f) => f && typeof f.client_id === "string") : [];
    this.transmit = null; // the socket's send while it is open
    this.inFlight = null; // client_id of the frame sent and not answered
    this.answerTimer = null;
    this.retryTimer = null;
    this.failures = 0; // retryable errors in a row for the first frame
  }

  /** Queue a message frame (a client_id is added if it has none); returns the queued frame. */
  push(frame) {
    const queued = frame.client_id ? { ...frame } : { ...frame, client_id: this.newId() };
    const known = this.frames.find((f) => f.client_id === queued.client_id);
    if (known) return known;
    this.frames.push(queued);
    this.save();
    this.pump();
    return queued;
  }

  /** The frames waiting for their answer, oldest first. */
  pending() {
    return this.frames.slice();
  }

  /** The socket is open: the outbox goes again from its first frame. */
  online(send) {
    this.reset();
    this.failures = 0;
    this.transmit = send;
    this.pump();
  }

  offline() {
    this.reset();
    this.transmit = null;
  }

  /** A message.ack. False if no frame of ours has that client_id (already answered). */
  ack(clientId) {
    const index = this.frames.findIndex((f) => f.client_id === clientId);
    if (index < 0) return false;
    this.frames.splice(index, 1);
    this.save();
    if (index === 0) {
      this.reset();
      this.failures = 0;
    }
    this.pump();
    return true;
  }

  /**
   * An error that names a client_id: "retry" (the same frame goes again after a delay, later ones
   * wait), "refused" (dropped, onRefused told, the next one goes) or "unknown" (not ours, or settled).
   */
  error(error) {
    const index = this.frames.findIndex((f) => f.client_id === error.client_id);
    if (index < 0) return "unknown";
    if (RETRYABLE.has(error.code)) {
      if (index === 0) this.retryLater(error);
      return "retry";
    }
    const [frame] = this.frames.splice(index, 1);
    this.save();
    if (index === 0) {
      this.reset();
      this.failures = 0;
    }
    this.onRefused(frame, error);
    this.pump();
    return "refused";
  }

  // --- internals ---

  retryLater(error) {
    this.reset();
    this.failures += 1;
    const seconds = Number(error.retry_after);
    const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
    const delay = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : backoff;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, delay);
  }

  /** Send the first frame unless one is in flight or waiting to be retried. */
  pump() {
    if (!this.transmit || this.inFlight !== null || this.retryTimer !== null || !this.frames.length) return;
    const frame = this.frames[0];
    if (!this.transmit(frame)) return;
    this.inFlight = frame.client_id;
    this.answerTimer = this.clock.setTimeout(() => {
      // No answer on a socket that looks alive: send it again (stored once by client_id).
      this.answerTimer = null;
      this.inFlight = null;
      this.pump();
    }, ANSWER_WAIT_MS);
  }

  reset() {
    if (this.answerTimer !== null) this.clock.clearTimeout(this.answerTimer);
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.answerTimer = this.retryTimer = null;
    this.inFlight = null;
  }

  save() {
    if (this.frames.length) this.storage.set(this.key, this.frames);
    else this.storage.remove(this.key);
  }
}

/** A random client_id (protocol: 1 to 64 of A-Z a-z 0-9 - _ . :). */
export function randomId() {
  const c = globalThis.crypto;
  // randomUUID exists only in secure contexts (https, localhost).
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
