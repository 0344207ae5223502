// The one live socket used by the widget and the agent console (docs/protocol.md).
//
// It reconnects with backoff, lets the app say what to send first on every (re)connect (hello,
// resume, chat.watch), and carries the app's message frames through the shared Outbox
// (cursor.js): persisted, one in flight at a time, resent from the first after every reconnect.
// The server stores a client_id once, so sending a frame again is always safe. Every other frame
// from the server (`live` included) goes to the app.

import { Outbox } from "./cursor.js";
import { ping } from "./frames.js";

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_FELL_BEHIND = 4408; // the server queued too much for us: come back at once
export const CLOSE_TOO_MANY = 4429; // too many sockets from this address: come back, not soon
export const CLOSE_BLOCKED = 4451; // blocked: every try before the block ends is refused the same way

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const PING_EVERY_MS = 25000; // keeps idle proxies from cutting the socket
const PONG_WAIT_MS = 10000; // no frame at all within this after a ping: the socket is dead
const FELL_BEHIND_AGAIN_MS = 10000; // a second 4408 within this backs off as any other close

/**
 * JSON over localStorage or sessionStorage that never throws: storage can be disabled (private
 * modes, third-party iframes with blocked storage). Then values live in memory for this page, and
 * `persistent` is false (the widget then asks the host page to keep them: core/hoststore.js).
 */
export function jsonStorage(kind = "local") {
  let backend = null;
  try {
    backend = kind === "session" ? window.sessionStorage : window.localStorage;
    const probe = "hd.probe";
    backend.setItem(probe, "1");
    backend.removeItem(probe);
  } catch {
    backend = null;
  }
  const memory = new Map();
  return {
    persistent: backend !== null,
    get(key, fallback = null) {
      try {
        const raw = backend ? backend.getItem(key) : memory.get(key);
        return raw == null ? fallback : JSON.parse(raw);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      const raw = JSON.stringify(value);
      try {
        if (backend) backend.setItem(key, raw);
        else memory.set(key, raw);
      } catch {
        memory.set(key, raw);
      }
    },
    remove(key) {
      try {
        if (backend) backend.removeItem(key);
      } catch {
        /* nothing to do */
      }
      memory.delete(key);
    },
  };
}

/** Same host as the page, ws: or wss: as the page's scheme. */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class LiveSocket {
  /**
   * @param {object} options
   * @param {string|function(): string} options.url
   * @param {string} options.outboxKey  storage key of the outbox of unacknowledged message frames
   * @param {object} [options.storage]  a jsonStorage(); localStorage by default
   * @param {function(): object[]} [options.onOpen]  frames to send first on every (re)connect
   * @param {function(object): void} [options.onFrame]  every frame from the server (message.ack
   *        and `live` included) except pongs and errors that name a client_id of the outbox
   * @param {function(object, object): void} [options.onRefused]  (outbox frame, error frame): the
   *        server refused that message for good; it has left the outbox. Retryable errors
   *        (internal, unavailable, rate_limited) are retried by the outbox and not reported
   * @param {function(number): boolean} [options.onAuthClose]  close 4401/4403. Return true to
   *        reconnect at once (e.g. the widget after forgetting its token). 4403 never reconnects.
   * @param {function(string, object): void} [options.onStatus]  "connecting" | "online" |
   *        "offline" | "stopped" | "blocked" (closed 4451, after a `blocked` frame: it does not
   *        reconnect; start() again to try), with {attempt, retryInMs, everOnline}
   */
  constructor(options) {
    this.options = options;
    this.outbox = new Outbox({
      storage: options.storage || jsonStorage("local"),
      key: options.outboxKey,
      onRefused: (frame, error) => options.onRefused && options.onRefused(frame, error),
    });
    this.ws = null;
    this.status = "offline";
    this.everOnline = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.fellBehindAt = -Infinity;
    this.onBrowserOnline = () => this.reconnectNow();
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.status === "online";
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onBrowserOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onBrowserOnline);
    clearTimeout(this.retryTimer);
    this.abandon(1000);
    this.setStatus("stopped");
  }

  /** Skip the rest of the backoff wait (the browser says it is online again, the user asks). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** A frame that needs no acknowledgement. Returns false when offline (nothing is queued). */
  send(frame) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * A message frame (chat.start, message.send): gets a client_id if it has none and waits in the
   * outbox for its turn and its message.ack. Returns the queued frame.
   */
  sendMessage(frame) {
    return this.outbox.push(frame);
  }

  /** The frames still waiting for message.ack, oldest first. */
  pending() {
    return this.outbox.pending();
  }

  // --- internals -------------------------------------------------------------------------------

  connect() {
    this.setStatus("connecting");
    let ws;
    try {
      const url = typeof this.options.url === "function" ? this.options.url() : this.options.url;
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    // Handlers check that they belong to the current socket: an abandoned socket may still fire.
    ws.addEventListener("open", () => ws === this.ws && this.handleOpen());
    ws.addEventListener("message", (event) => ws === this.ws && this.handleMessage(event));
    ws.addEventListener("close", (event) => ws === this.ws && this.handleClose(event.code));
  }

  handleOpen() {
    this.setStatus("online");
    this.everOnline = true;
    const first = this.options.onOpen ? this.options.onOpen() || [] : [];
    for (const frame of first) this.ws.send(JSON.stringify(frame));
    this.outbox.online((frame) => this.send(frame));
    this.startHeartbeat();
  }

  handleMessage(event) {
    clearTimeout(this.pongTimer);
    // Back off again from the start only once the server has answered: a server that accepts and
    // then closes at once should not be hammered every half second.
    this.attempt = 0;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;

    if (frame.type === "message.ack" && frame.message && frame.message.client_id) {
      this.outbox.ack(frame.message.client_id);
    } else if (frame.type === "error" && frame.client_id) {
      // Ours: retried or reported by onRefused. Not ours: an answer to a frame settled already.
      this.outbox.error(frame);
      return;
    }
    if (frame.type === "pong") return;
    if (this.options.onFrame) this.options.onFrame(frame);
  }

  handleClose(code) {
    this.ws = null;
    this.stopHeartbeat();
    this.outbox.offline();
    if (this.stopped) return;
    if (code === CLOSE_BLOCKED) {
      // No backoff loop: the server would refuse every try until the block's end (and count them).
      // The app has the `blocked` frame, sent just before, and decides whether to start() again.
      this.stopped = true;
      window.removeEventListener("online", this.onBrowserOnline);
      this.setStatus("blocked");
      return;
    }
    if (code === CLOSE_TOO_MANY) this.attempt = Math.max(this.attempt, 4); // 4 s or more, growing
    if (code === CLOSE_FELL_BEHIND) {
      // We read too slowly (a busy tab, a slow link); the server closed rather than queue more.
      // Come back at once and resume from the level; the outbox goes again. Twice in a row: back off.
      const again = Date.now() - this.fellBehindAt < FELL_BEHIND_AGAIN_MS;
      this.fellBehindAt = Date.now();
      if (!again) {
        this.attempt = 0;
        this.connect();
        return;
      }
    }
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_FORBIDDEN) {
      const again = this.options.onAuthClose ? this.options.onAuthClose(code) : false;
      if (again && code !== CLOSE_FORBIDDEN) {
        this.attempt = 0;
        this.connect();
      } else {
        this.stopped = true;
        window.removeEventListener("online", this.onBrowserOnline);
        this.setStatus("stopped");
      }
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.ws = null;
    // Exponential backoff with jitter (half to all of the step), so that many clients dropped by
    // one server restart do not all come back in the same instant.
    const step = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(step / 2 + (Math.random() * step) / 2);
    this.attempt += 1;
    this.setStatus("offline", { retryInMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Forget the current socket at once (a dead socket may take minutes to report its close). */
  abandon(code) {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    this.outbox.offline();
    if (ws) {
      try {
        ws.close(code);
      } catch {
        /* already closing */
      }
    }
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send(ping())) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        this.abandon(4000);
        if (!this.stopped) this.scheduleReconnect();
      }, PONG_WAIT_MS);
    }, PING_EVERY_MS);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  setStatus(status, extra = {}) {
    this.status = status;
    if (this.options.onStatus) {
      this.options.onStatus(status, { attempt: this.attempt, everOnline: this.everOnline, ...extra });
    }
  }
}

/**
 * Coalesces a stream of values into calls of `send` at most once every `gapMs`: the first value goes
 * at once, later ones wait for the gap to pass and only the latest of them is sent (a trailing send,
 * so the last value always goes out). Used for ephemeral frames: drafts, receipts.
 */
export class Coalescer {
  constructor(send, gapMs) {
    this.sendFn = send;
    this.gapMs = gapMs;
    this.lastAt = -Infinity;
    this.timer = null;
    this.hasPending = false;
    this.pending = undefined;
  }

  push(value) {
    this.pending = value;
    this.hasPending = true;
    if (this.timer !== null) return;
    const wait = this.lastAt + this.gapMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Forget a value not sent yet. */
  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
    this.hasPending = false;
    this.pending = undefined;
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.hasPending) return;
    const value = this.pending;
    this.hasPending = false;
    this.pending = undefined;
    this.lastAt = Date.now();
    this.sendFn(value);
  }
}
