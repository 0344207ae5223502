// The widget's storage kept by the host page, for when the iframe's own storage is refused
// (third-party storage blocked: Safari, Firefox strict mode, Chromium with third-party cookies
// blocked and no partitioning). Without it every page load of the host site would be a new visitor.
//
// The loader on the host page (widget.js) keeps the values in that page's storage. Here they are
// mirrored in memory: asked for once, before the widget says hello (hd:storage-load, answered by
// hd:storage with every value), and every change is sent to the loader (hd:storage-set,
// hd:storage-remove). Changes made by the widget in another tab of the host site come back as
// hd:storage too, so the mirror reads what localStorage would. Messages go to `parent` with the
// host's origin as target, and only messages from `parent` with that origin are read. No DOM.

import { systemClock } from "./cursor.js";

export const HOST_STORAGE_WAIT_MS = 1500; // no answer by then: no bridge on this page, go on without
export const KEY_RE = /^hd\.[A-Za-z0-9._-]{1,64}$/; // the keys the loader keeps (widget.js: STORE_KEY)

/**
 * The values of an hd:storage message that are ours: a Map of key -> raw JSON string, or null for a
 * key removed. Anything else (other keys, other types) is dropped.
 */
export function cleanValues(values) {
  const clean = new Map();
  if (!values || typeof values !== "object") return clean;
  for (const [key, value] of Object.entries(values)) {
    if (KEY_RE.test(key) && (typeof value === "string" || value === null)) clean.set(key, value);
  }
  return clean;
}

/**
 * A store shaped like socket.js's jsonStorage() over `values` (Map key -> raw JSON) that hands every
 * change to `post`. merge() takes the changes of another tab; `replace` for a whole new set.
 */
export function mirrorStorage(values, post) {
  const raw = new Map();
  const merge = (changes, replace = false) => {
    if (replace) raw.clear();
    for (const [key, value] of changes) {
      if (value === null) raw.delete(key);
      else raw.set(key, value);
    }
  };
  merge(values);
  return {
    persistent: true,
    get(key, fallback = null) {
      const value = raw.get(key);
      if (value == null) return fallback;
      try {
        return JSON.parse(value);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      const text = JSON.stringify(value);
      if (text === undefined) return;
      raw.set(key, text);
      post({ type: "hd:storage-set", key, value: text });
    },
    remove(key) {
      raw.delete(key);
      post({ type: "hd:storage-remove", key });
    },
    merge,
  };
}

/**
 * Asks the host page for the values it keeps. Resolves with a mirrorStorage() once the loader
 * answered, or with null when it did not within `timeoutMs` (a page without the loader, or an older
 * one): the caller goes on without. `win` receives the messages, `parent` is the host page's window.
 */
export function openHostStorage({ win, parent, origin, timeoutMs = HOST_STORAGE_WAIT_MS, clock = systemClock }) {
  return new Promise((resolve) => {
    let store = null;
    const post = (message) => {
      try {
        parent.postMessage(message, origin);
      } catch {
        /* the host page is gone */
      }
    };
    const timer = clock.setTimeout(() => {
      win.removeEventListener("message", onMessage);
      resolve(null);
    }, timeoutMs);

    function onMessage(event) {
      if (event.origin !== origin || event.source !== parent) return;
      const data = event.data;
      if (!data || typeof data !== "object" || data.type !== "hd:storage") return;
      const complete = data.complete === true;
      const values = cleanValues(data.values);
      if (store) {
        store.merge(values, complete);
        return;
      }
      if (!complete) return; // a change from another tab before our answer: the answer has it
      clock.clearTimeout(timer);
      store = mirrorStorage(values, post);
      resolve(store);
    }

    win.addEventListener("message", onMessage);
    post({ type: "hd:storage-load" });
  });
}
