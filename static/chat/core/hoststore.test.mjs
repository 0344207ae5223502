// Unit tests of the host page storage mirror: `node --test static/chat/core/`.

import { test, describe } from "node:test";
import assert from "node:assert/strict";

import { cleanValues, mirrorStorage, openHostStorage, HOST_STORAGE_WAIT_MS } from "./hoststore.js";

const HOST = "https://shop.example";

/** Timers that run only when told to. */
class FakeClock {
  constructor() {
    this.t = 0;
    this.timers = new Map();
    this.nextId = 1;
  }
  now() {
    return this.t;
  }
  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  advance(ms) {
    this.t += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.t) {
        this.timers.delete(id);
        timer.fn();
      }
    }
  }
}

/** The iframe's window (receives messages) and the host page's (records what it was sent). */
function windows() {
  const listeners = new Set();
  const win = {
    addEventListener: (type, fn) => type === "message" && listeners.add(fn),
    removeEventListener: (type, fn) => listeners.delete(fn),
    listeners,
  };
  const parent = {
    sent: [],
    postMessage(message, targetOrigin) {
      this.sent.push({ message, targetOrigin });
    },
  };
  const deliver = (data, { origin = HOST, source = parent } = {}) => {
    for (const fn of [...listeners]) fn({ data, origin, source });
  };
  return { win, parent, deliver };
}

/** Lets the promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function open(clock = new FakeClock()) {
  const w = windows();
  let result = "pending";
  const promise = openHostStorage({ win: w.win, parent: w.parent, origin: HOST, clock }).then((store) => {
    result = store;
    return store;
  });
  return { ...w, clock, promise, result: () => result };
}

describe("cleanValues", () => {
  test("keeps our keys with string values or null, drops the rest", () => {
    const clean = cleanValues({
      "hd.visitor.token": '"abc"',
      "hd.visitor.chat": null,
      "hd.visitor.open": true,
      other: '"x"',
      "hd.": '"x"',
      "hd.has space": '"x"',
      ["hd." + "a".repeat(65)]: '"x"',
    });
    assert.deepEqual([...clean], [
      ["hd.visitor.token", '"abc"'],
      ["hd.visitor.chat", null],
    ]);
  });

  test("anything but an object gives nothing", () => {
    for (const values of [undefined, null, "hd.visitor.token", 3]) assert.equal(cleanValues(values).size, 0);
  });
});

describe("mirrorStorage", () => {
  test("reads the values it was given as JSON, the fallback otherwise", () => {
    const store = mirrorStorage(new Map([["hd.a", '{"id":7}'], ["hd.bad", "{nope"]]), () => {});
    assert.equal(store.persistent, true);
    assert.deepEqual(store.get("hd.a"), { id: 7 });
    assert.equal(store.get("hd.bad", "fallback"), "fallback");
    assert.deepEqual(store.get("hd.none", []), []);
    assert.equal(store.get("hd.none"), null);
  });

  test("every change is kept here and told to the host as raw JSON", () => {
    const posted = [];
    const store = mirrorStorage(new Map(), (message) => posted.push(message));
    store.set("hd.visitor.token", "t-1");
    store.set("hd.visitor.outbox", [{ client_id: "c1" }]);
    store.remove("hd.visitor.token");
    assert.equal(store.get("hd.visitor.token"), null);
    assert.deepEqual(store.get("hd.visitor.outbox"), [{ client_id: "c1" }]);
    assert.deepEqual(posted, [
      { type: "hd:storage-set", key: "hd.visitor.token", value: '"t-1"' },
      { type: "hd:storage-set", key: "hd.visitor.outbox", value: '[{"client_id":"c1"}]' },
      { type: "hd:storage-remove", key: "hd.visitor.token" },
    ]);
  });

  test("changes from another tab are merged without being told back", () => {
    const posted = [];
    const store = mirrorStorage(new Map([["hd.a", "1"], ["hd.b", "2"]]), (m) => posted.push(m));
    store.merge(new Map([["hd.a", null], ["hd.c", "3"]]));
    assert.deepEqual([store.get("hd.a"), store.get("hd.b"), store.get("hd.c")], [null, 2, 3]);
    store.merge(new Map([["hd.d", "4"]]), true);
    assert.deepEqual([store.get("hd.b"), store.get("hd.c"), store.get("hd.d")], [null, null, 4]);
    assert.deepEqual(posted, []);
  });
});

describe("openHostStorage", () => {
  test("asks the host page, with its origin as target, and resolves with its values", async () => {
    const o = open();
    assert.deepEqual(o.parent.sent, [{ message: { type: "hd:storage-load" }, targetOrigin: HOST }]);
    o.deliver({ type: "hd:storage", values: { "hd.visitor.token": '"tok"', junk: '"x"' }, complete: true });
    const store = await o.promise;
    assert.equal(store.get("hd.visitor.token"), "tok");
    assert.equal(store.get("junk"), null);
    assert.equal(o.clock.timers.size, 0, "the timeout is cleared");

    store.set("hd.visitor.open", true);
    assert.deepEqual(o.parent.sent.at(-1), {
      message: { type: "hd:storage-set", key: "hd.visitor.open", value: "true" },
      targetOrigin: HOST,
    });
  });

  test("no answer within the wait: null, and it stops listening", async () => {
    const o = open();
    o.clock.advance(HOST_STORAGE_WAIT_MS - 1);
    await settle();
    assert.equal(o.result(), "pending");
    o.clock.advance(1);
    assert.equal(await o.promise, null);
    assert.equal(o.win.listeners.size, 0);
  });

  test("only the parent window with the host's origin is heard", async () => {
    const o = open();
    const answer = { type: "hd:storage", values: { "hd.visitor.token": '"evil"' }, complete: true };
    o.deliver(answer, { origin: "https://evil.example" });
    o.deliver(answer, { source: { postMessage() {} } });
    o.deliver(answer, { origin: "null" });
    await settle();
    assert.equal(o.result(), "pending");
    o.deliver({ type: "hd:storage", values: { "hd.visitor.token": '"good"' }, complete: true });
    assert.equal((await o.promise).get("hd.visitor.token"), "good");
  });

  test("other messages and a change before the answer do not count as the answer", async () => {
    const o = open();
    o.deliver({ type: "hd:open", focus: false });
    o.deliver("hd:storage");
    o.deliver(null);
    o.deliver({ type: "hd:storage", values: { "hd.a": "1" }, complete: false });
    await settle();
    assert.equal(o.result(), "pending");
    o.deliver({ type: "hd:storage", values: {}, complete: true });
    const store = await o.promise;
    assert.equal(store.get("hd.a"), null);
  });

  test("after the answer, hd:storage from the host are other tabs' changes", async () => {
    const o = open();
    o.deliver({ type: "hd:storage", values: { "hd.visitor.chat": '{"id":1}' }, complete: true });
    const store = await o.promise;
    o.deliver({ type: "hd:storage", values: { "hd.visitor.chat": '{"id":2}', "hd.visitor.open": "true" } });
    assert.deepEqual(store.get("hd.visitor.chat"), { id: 2 });
    assert.equal(store.get("hd.visitor.open"), true);
    o.deliver({ type: "hd:storage", values: { "hd.visitor.chat": null } });
    assert.equal(store.get("hd.visitor.chat"), null);
    // Not from the host: ignored.
    o.deliver({ type: "hd:storage", values: { "hd.visitor.open": "false" } }, { origin: "https://evil.example" });
    assert.equal(store.get("hd.visitor.open"), true);
    // The host's storage was cleared: a complete set replaces everything.
    o.deliver({ type: "hd:storage", values: {}, complete: true });
    assert.equal(store.get("hd.visitor.open"), null);
    assert.equal(o.parent.sent.length, 1, "nothing told back");
  });

  test("a host page that cannot be posted to does not throw", async () => {
    const w = windows();
    w.parent.postMessage = () => {
      throw new Error("gone");
    };
    const clock = new FakeClock();
    const promise = openHostStorage({ win: w.win, parent: w.parent, origin: HOST, clock });
    clock.advance(HOST_STORAGE_WAIT_MS);
    assert.equal(await promise, null);
  });
});
