// The one live socket used by the widget and the agent console (docs/protocol.md).
//
// It reconnects with backoff, lets the app say what to send first on every (re)connect (hello,
// resume, chat.watch), and keeps an outbox of message frames until the server acknowledges them.
// The outbox is persisted, so a page reload or a dropped socket never loses a message: the
// server stores a client_id once, so sending a frame again is always safe.

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const PING_EVERY_MS = 25000; // keeps idle proxies from cutting the socket
const PONG_WAIT_MS = 10000; // no frame at all within this after a ping: the socket is dead
const INTERNAL_RETRY_MS = 3000;

/** A random client_id (protocol: 1 to 64 of A-Z a-z 0-9 - _ . :). */
export function newClientId() {
  const c = globalThis.crypto;
  // randomUUID exists only in secure contexts (https, localhost).
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * JSON over localStorage or sessionStorage that never throws: storage can be disabled (private
 * modes, third-party iframes with blocked storage). Then values live in memory for this page.
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
   * @param {function(object): void} [options.onFrame]  every frame from the server, except errors
   *        that name a client_id (those go to onRefused)
   * @param {function(object, object): void} [options.onRefused]  (outbox frame, error frame): the
   *        server refused that message for good; it has left the outbox
   * @param {function(number): boolean} [options.onAuthClose]  close 4401/4403. Return true to
   *        reconnect at once (e.g. the widget after forgetting its token). 4403 never reconnects.
   * @param {function(string, object): void} [options.onStatus]  "connecting" | "online" |
   *        "offline" | "stopped", with {attempt, retryInMs, everOnline}
   */
  constructor(options) {
    this.options = options;
    this.storage = options.storage || jsonStorage("local");
    this.outbox = this.storage.get(options.outboxKey, []);
    if (!Array.isArray(this.outbox)) this.outbox = [];
    this.ws = null;
    this.status = "offline";
    this.everOnline = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.internalRetries = new Map(); // client_id -> retry timer
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
   * A message frame (chat.start, message.send): gets a client_id if it has none, waits in the
   * outbox until message.ack, and is sent again after every reconnect. Returns the frame.
   */
  sendMessage(frame) {
    const queued = frame.client_id ? { ...frame } : { ...frame, client_id: newClientId() };
    this.outbox.push(queued);
    this.saveOutbox();
    this.send(queued);
    return queued;
  }

  /** The frames still waiting for message.ack, oldest first. */
  pending() {
    return this.outbox.slice();
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
    for (const frame of this.outbox) this.ws.send(JSON.stringify(frame));
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
      this.dropFromOutbox(frame.message.client_id);
    } else if (frame.type === "error" && frame.client_id) {
      const queued = this.outbox.find((f) => f.client_id === frame.client_id);
      if (frame.code === "internal" && queued) {
        this.retryLater(queued);
        return;
      }
      this.dropFromOutbox(frame.client_id);
      if (this.options.onRefused) this.options.onRefused(queued || { client_id: frame.client_id }, frame);
      return;
    }
    if (frame.type === "pong") return;
    if (this.options.onFrame) this.options.onFrame(frame);
  }

  handleClose(code) {
    this.ws = null;
    this.stopHeartbeat();
    if (this.stopped) return;
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
      if (!this.send({ type: "ping" })) return;
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

  retryLater(frame) {
    clearTimeout(this.internalRetries.get(frame.client_id));
    const timer = setTimeout(() => {
      this.internalRetries.delete(frame.client_id);
      if (this.outbox.some((f) => f.client_id === frame.client_id)) this.send(frame);
    }, INTERNAL_RETRY_MS);
    this.internalRetries.set(frame.client_id, timer);
  }

  dropFromOutbox(clientId) {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((f) => f.client_id !== clientId);
    clearTimeout(this.internalRetries.get(clientId));
    this.internalRetries.delete(clientId);
    if (this.outbox.length !== before) this.saveOutbox();
  }

  saveOutbox() {
    if (this.outbox.length) this.storage.set(this.options.outboxKey, this.outbox);
    else this.storage.remove(this.options.outboxKey);
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
