// Unit tests of the shared client cursor: `node --test static/chat/core/`.

import { test, describe } from "node:test";
import assert from "node:assert/strict";

import {
  ChatCursor,
  Cursors,
  Outbox,
  ANSWER_WAIT_MS,
  DEGRADED_RESYNC_MS,
  RESUME_LOST_MS,
  RETRY_MIN_MS,
  STALLED_RETRY_MS,
} from "./cursor.js";
import { FakeClock } from "./fake-clock.mjs";

function memoryStorage() {
  const data = new Map();
  return {
    data,
    get: (key, fallback = null) => (data.has(key) ? JSON.parse(data.get(key)) : fallback),
    set: (key, value) => data.set(key, JSON.stringify(value)),
    remove: (key) => data.delete(key),
  };
}

/** Cursors whose resume requests are recorded as [id, afterSeq]. */
function setup({ intervalMs = 20_000, canResync = () => true, sendable = () => true } = {}) {
  const clock = new FakeClock();
  const requests = [];
  const cursors = new Cursors({
    clock,
    intervalMs,
    canResync,
    request: (id, afterSeq) => {
      if (!sendable()) return false;
      requests.push([id, afterSeq]);
      return true;
    },
  });
  return { clock, requests, cursors };
}

/** Connected, and following the chats of `levels` ({id: level}), each level with the server. */
function levelAt(cursors, levels) {
  for (const id of Object.keys(levels)) cursors.track(id);
  cursors.opened();
  for (const [id, level] of Object.entries(levels)) cursors.resumed(id, { last_seq: level, more: false });
}

describe("ChatCursor", () => {
  test("seqs in order raise the level; a seq had already is a duplicate", () => {
    const c = new ChatCursor();
    assert.equal(c.add(1), true);
    assert.equal(c.add(2), true);
    assert.equal(c.add(2), false);
    assert.equal(c.add(1), false);
    assert.equal(c.level, 2);
    assert.equal(c.hasGap, false);
  });

  test("a seq above level + 1 is a hole; filling it raises the level past what was held", () => {
    const c = new ChatCursor();
    c.add(1);
    c.add(2);
    c.add(4);
    c.add(5);
    assert.equal(c.level, 2);
    assert.equal(c.top, 5);
    assert.equal(c.hasGap, true);
    assert.equal(c.add(5), false, "held above the hole: still a duplicate");
    c.add(3);
    assert.equal(c.level, 5);
    assert.equal(c.hasGap, false);
    assert.deepEqual([...c.above], []);
  });

  test("not a seq: ignored", () => {
    const c = new ChatCursor();
    for (const bad of [0, -1, 1.5, "3", null, undefined, NaN]) assert.equal(c.add(bad), false);
    assert.equal(c.level, 0);
    assert.equal(c.hasGap, false);
  });

  test("a chat frame's last_seq above the level is a gap; at the level it is not", () => {
    const c = new ChatCursor();
    c.add(1);
    c.sawLastSeq(1);
    assert.equal(c.hasGap, false);
    c.sawLastSeq(3);
    assert.equal(c.hasGap, true);
    c.add(2);
    c.add(3);
    assert.equal(c.hasGap, false);
  });

  test("resumed: the level becomes last_seq (seqs not sent are not for us), and absorbs what was held above", () => {
    const c = new ChatCursor();
    c.add(1);
    c.add(6);
    c.begin(0);
    assert.equal(c.answer({ last_seq: 5, more: false }), false);
    assert.equal(c.level, 6);
    assert.equal(c.hasGap, false);
  });

  test("resumed never lowers the level", () => {
    const c = new ChatCursor();
    for (const seq of [1, 2, 3, 4]) c.add(seq);
    c.begin(0);
    c.answer({ last_seq: 2, more: false });
    assert.equal(c.level, 4);
  });

  test("a resume always starts at the level, never at the highest seq seen", () => {
    const c = new ChatCursor();
    c.add(1);
    c.add(2);
    c.add(7);
    assert.equal(c.begin(0), 2);
  });

  test("in flight until answered or RESUME_LOST_MS old", () => {
    const c = new ChatCursor();
    c.begin(1000);
    assert.equal(c.inFlight(1000 + RESUME_LOST_MS - 1), true);
    assert.equal(c.inFlight(1000 + RESUME_LOST_MS), false);
    c.answer({ last_seq: 0, more: false });
    assert.equal(c.inFlight(1001), false);
  });
});

describe("Cursors: gaps and resumes", () => {
  test("a hole asks for a resume from the level at once, and only once while it is in flight", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 3 });
    requests.length = 0;
    assert.equal(cursors.receive("A", 5), true);
    assert.deepEqual(requests, [["A", 3]]);
    assert.equal(cursors.receive("A", 6), true);
    assert.deepEqual(requests, [["A", 3]], "no second resume over the one in flight");
  });

  test("duplicates are dropped and ask for nothing", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 3 });
    requests.length = 0;
    assert.equal(cursors.receive("A", 4), true);
    assert.equal(cursors.receive("A", 4), false);
    assert.equal(cursors.receive("A", 2), false);
    assert.deepEqual(requests, []);
  });

  test("a chat frame whose last_seq is above the level asks at once", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 3 });
    requests.length = 0;
    cursors.sawChat("A", 3);
    assert.deepEqual(requests, []);
    cursors.sawChat("A", 4);
    assert.deepEqual(requests, [["A", 3]]);
  });

  test("hidden seqs count: a seq this client is not shown closes the hole", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 3 });
    requests.length = 0;
    cursors.receive("A", 4); // hidden: e.g. a read receipt, for a visitor
    assert.equal(cursors.receive("A", 5), true);
    assert.equal(cursors.get("A").level, 5);
    assert.deepEqual(requests, []);
  });

  test("a live event that overtakes the resume answer is kept, and the level ends past it", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 5 });
    requests.length = 0;
    cursors.resync("A"); // e.g. the timer
    assert.deepEqual(requests, [["A", 5]]);
    assert.equal(cursors.receive("A", 9), true); // live, before the history
    for (const seq of [6, 7, 8]) assert.equal(cursors.receive("A", seq), true);
    assert.equal(cursors.receive("A", 9), false, "the same event by resume is a duplicate");
    cursors.resumed("A", { last_seq: 8, more: false });
    assert.equal(cursors.get("A").level, 9);
    assert.deepEqual(requests, [["A", 5]], "level: nothing more to ask");
  });

  test("more: true asks again at once from the new level, until more: false", () => {
    const { cursors, requests } = setup();
    cursors.track("A");
    assert.deepEqual(cursors.opened(), [{ id: "A", afterSeq: 0 }]);
    for (let seq = 1; seq <= 1000; seq++) cursors.receive("A", seq);
    cursors.resumed("A", { last_seq: 1000, more: true });
    assert.deepEqual(requests, [["A", 1000]]);
    for (let seq = 1001; seq <= 1500; seq++) cursors.receive("A", seq);
    cursors.resumed("A", { last_seq: 1500, more: false });
    assert.deepEqual(requests, [["A", 1000]]);
    assert.equal(cursors.get("A").level, 1500);
  });

  test("more: true with the last events not for us: the next resume starts at last_seq", () => {
    const { cursors, requests } = setup();
    cursors.track("A");
    cursors.opened();
    cursors.receive("A", 1);
    cursors.resumed("A", { last_seq: 1000, more: true }); // 2..1000 were receipts, not for a visitor
    assert.deepEqual(requests, [["A", 1000]]);
  });

  test("a hole left after resumed asks again at once", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 8 });
    requests.length = 0;
    cursors.resync("A");
    cursors.receive("A", 10); // 9 was read before it existed, and its live event was lost
    cursors.resumed("A", { last_seq: 8, more: false });
    assert.deepEqual(requests, [["A", 8], ["A", 8]]);
    cursors.receive("A", 9);
    cursors.resumed("A", { last_seq: 10, more: false });
    assert.equal(cursors.get("A").level, 10);
    assert.equal(requests.length, 2);
  });

  test("a hole the server never fills: two answers in a row, then the timer's pace, not a loop", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 0 });
    levelAt(cursors, { A: 3 });
    requests.length = 0;
    cursors.receive("A", 5);
    cursors.resumed("A", { last_seq: 3, more: false });
    cursors.resumed("A", { last_seq: 3, more: false });
    assert.equal(requests.length, 2);
    clock.advance(STALLED_RETRY_MS - 1);
    assert.equal(requests.length, 2);
    clock.advance(1);
    assert.equal(requests.length, 3);
    assert.deepEqual(requests.at(-1), ["A", 3]);
  });

  test("a resume unanswered for RESUME_LOST_MS is lost: asked again", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 0 });
    cursors.track("A");
    cursors.opened();
    clock.advance(RESUME_LOST_MS - 1);
    assert.equal(requests.length, 0);
    cursors.receive("A", 2); // a hole, but a resume is still in flight
    assert.equal(requests.length, 0);
    clock.advance(1);
    assert.deepEqual(requests, [["A", 0]]);
  });

  test("a followed chat only: frames of other chats are not applied", () => {
    const { cursors, requests } = setup();
    assert.equal(cursors.receive("B", 1), false);
    cursors.sawChat("B", 4);
    cursors.resumed("B", { last_seq: 4, more: true });
    assert.deepEqual(requests, []);
  });

  test("opened: every followed chat resumes from its level; closed: no timer, nothing in flight", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 5000 });
    levelAt(cursors, { A: 4, B: 0 });
    cursors.receive("A", 6); // asks for 5
    cursors.closed();
    clock.advance(60_000);
    assert.deepEqual(requests, [["A", 4]], "no resync while the socket is down");
    assert.deepEqual(cursors.opened(), [
      { id: "A", afterSeq: 4 },
      { id: "B", afterSeq: 0 },
    ]);
    cursors.receive("A", 7);
    assert.deepEqual(requests, [["A", 4]], "the resumes of the open count as in flight");
  });

  test("a request that cannot go out is not in flight", () => {
    let up = false;
    const { cursors, requests } = setup({ sendable: () => up });
    cursors.track("A");
    assert.equal(cursors.resync("A"), false);
    up = true;
    assert.equal(cursors.resync("A"), true);
    assert.deepEqual(requests, [["A", 0]]);
  });
});

describe("Cursors: resync timer", () => {
  test("every intervalMs from the last resume, never over one in flight", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 20_000 });
    levelAt(cursors, { A: 2 });
    clock.advance(19_999);
    assert.equal(requests.length, 0);
    clock.advance(1);
    assert.deepEqual(requests, [["A", 2]]);
    clock.advance(RESUME_LOST_MS - 1); // unanswered, not lost yet: nothing over it
    assert.equal(requests.length, 1);
    cursors.resumed("A", { last_seq: 2, more: false });
    clock.advance(20_000 - RESUME_LOST_MS);
    assert.equal(requests.length, 1, "the period counts from when the last one went out");
    clock.advance(RESUME_LOST_MS);
    assert.equal(requests.length, 2);
  });

  test("no timer for a chat that cannot change, nor with interval 0", () => {
    const ended = setup({ intervalMs: 1000, canResync: () => false });
    levelAt(ended.cursors, { A: 2 });
    ended.clock.advance(60_000);
    assert.deepEqual(ended.requests, []);
    const never = setup({ intervalMs: 0 });
    levelAt(never.cursors, { A: 2 });
    never.clock.advance(600_000);
    assert.deepEqual(never.requests, []);
  });

  test("degraded: every 3 s; ok: every chat at once, then the normal interval again", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 20_000 });
    levelAt(cursors, { A: 2, B: 7 });
    assert.equal(cursors.setLive("degraded"), true);
    assert.equal(cursors.degraded, true);
    clock.advance(DEGRADED_RESYNC_MS);
    assert.deepEqual(requests, [["A", 2], ["B", 7]]);
    cursors.resumed("A", { last_seq: 2, more: false });
    cursors.resumed("B", { last_seq: 7, more: false });
    clock.advance(DEGRADED_RESYNC_MS);
    assert.equal(requests.length, 4);
    cursors.resumed("A", { last_seq: 3, more: false });
    cursors.resumed("B", { last_seq: 7, more: false });
    clock.advance(1000);
    assert.equal(cursors.setLive("ok"), true);
    assert.deepEqual(requests.slice(4), [["A", 3], ["B", 7]]);
    cursors.resumed("A", { last_seq: 3, more: false });
    cursors.resumed("B", { last_seq: 7, more: false });
    clock.advance(19_999);
    assert.equal(requests.length, 6);
    clock.advance(1);
    assert.equal(requests.length, 8);
  });

  test("ok at once never goes over a resume in flight", () => {
    const { cursors, requests } = setup();
    levelAt(cursors, { A: 2 });
    cursors.setLive("degraded");
    cursors.resync("A");
    cursors.setLive("ok");
    assert.deepEqual(requests, [["A", 2]]);
  });

  test("degraded resyncs even when the page's interval is 0; an unknown state changes nothing", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 0 });
    levelAt(cursors, { A: 1 });
    assert.equal(cursors.setLive("broken"), false);
    clock.advance(60_000);
    assert.equal(requests.length, 0);
    cursors.setLive("degraded");
    assert.equal(cursors.setLive("degraded"), false, "no change");
    clock.advance(DEGRADED_RESYNC_MS);
    assert.deepEqual(requests, [["A", 1]]);
  });

  test("back on screen: at once, unless one is in flight or went out just now", () => {
    const { cursors, requests, clock } = setup({ intervalMs: 0 });
    levelAt(cursors, { A: 2 }); // its open resume went out now
    cursors.shown(["A"]);
    assert.equal(requests.length, 0, "one went out just now");
    clock.advance(5000);
    cursors.shown();
    assert.deepEqual(requests, [["A", 2]]);
    clock.advance(5000);
    cursors.shown(["A"]);
    assert.equal(requests.length, 1, "in flight");
  });

  test("back on screen: not a chat that cannot change", () => {
    const { cursors, requests, clock } = setup({ canResync: (id) => id !== "ENDED" });
    levelAt(cursors, { ENDED: 2 });
    clock.advance(5000);
    cursors.shown();
    assert.deepEqual(requests, []);
  });
});

describe("Outbox", () => {
  function outbox({ storage = memoryStorage(), clock = new FakeClock(), refused = [] } = {}) {
    let n = 0;
    const box = new Outbox({
      storage,
      key: "box",
      clock,
      newId: () => `id-${++n}`,
      onRefused: (frame, error) => refused.push([frame.client_id, error.code]),
    });
    const sent = [];
    const wire = { up: true };
    const send = (frame) => wire.up && sent.push(frame.client_id) > 0;
    return { box, sent, send, storage, clock, refused, wire };
  }

  test("one frame in flight at a time, in order: the next goes after the ack of the previous", () => {
    const { box, sent, send } = outbox();
    box.online(send);
    const a = box.push({ type: "message.send", chat: "A", text: "one" });
    const b = box.push({ type: "message.send", chat: "A", text: "two" });
    box.push({ type: "message.send", chat: "A", text: "three" });
    assert.equal(a.client_id, "id-1");
    assert.deepEqual(sent, ["id-1"]);
    assert.equal(box.ack("id-1"), true);
    assert.deepEqual(sent, ["id-1", "id-2"]);
    box.ack(b.client_id);
    box.ack("id-3");
    assert.deepEqual(sent, ["id-1", "id-2", "id-3"]);
    assert.deepEqual(box.pending(), []);
  });

  test("persisted through the storage: a new page picks up the same frames in the same order", () => {
    const storage = memoryStorage();
    const first = outbox({ storage });
    first.box.push({ type: "chat.start", text: "hi" });
    first.box.push({ type: "message.send", chat: "A", text: "there" });
    const second = outbox({ storage });
    assert.deepEqual(second.box.pending().map((f) => f.text), ["hi", "there"]);
    second.box.online(second.send);
    assert.deepEqual(second.sent, ["id-1"]);
    second.box.ack("id-1");
    second.box.ack("id-2");
    assert.equal(storage.data.has("box"), false, "an empty outbox leaves nothing behind");
  });

  test("a client_id already queued is not queued twice", () => {
    const { box } = outbox();
    box.push({ type: "message.send", client_id: "x", text: "a" });
    box.push({ type: "message.send", client_id: "x", text: "a" });
    assert.equal(box.pending().length, 1);
  });

  test("retryable errors: the same frame again after a growing delay, later frames wait", () => {
    const { box, sent, send, clock } = outbox();
    box.online(send);
    box.push({ type: "message.send", text: "one" });
    box.push({ type: "message.send", text: "two" });
    assert.equal(box.error({ type: "error", code: "internal", client_id: "id-1" }), "retry");
    clock.advance(RETRY_MIN_MS - 1);
    assert.deepEqual(sent, ["id-1"], "nothing while it waits, not even the next frame");
    clock.advance(1);
    assert.deepEqual(sent, ["id-1", "id-1"]);
    box.error({ type: "error", code: "unavailable", client_id: "id-1" });
    clock.advance(2 * RETRY_MIN_MS - 1);
    assert.deepEqual(sent, ["id-1", "id-1"]);
    clock.advance(1);
    assert.deepEqual(sent, ["id-1", "id-1", "id-1"]);
    box.ack("id-1");
    assert.deepEqual(sent, ["id-1", "id-1", "id-1", "id-2"]);
    assert.deepEqual(box.pending().map((f) => f.text), ["two"]);
  });

  test("rate_limited waits retry_after seconds", () => {
    const { box, sent, send, clock } = outbox();
    box.online(send);
    box.push({ type: "message.send", text: "one" });
    box.error({ type: "error", code: "rate_limited", client_id: "id-1", retry_after: 7 });
    clock.advance(6999);
    assert.equal(sent.length, 1);
    clock.advance(1);
    assert.equal(sent.length, 2);
  });

  test("any other error refuses the frame for good: dropped, reported, the next one sent", () => {
    const { box, sent, send, refused } = outbox();
    box.online(send);
    box.push({ type: "message.send", text: "x".repeat(6000) });
    box.push({ type: "message.send", text: "fine" });
    assert.equal(box.error({ type: "error", code: "invalid", client_id: "id-1", message: "Too long." }), "refused");
    assert.deepEqual(refused, [["id-1", "invalid"]]);
    assert.deepEqual(sent, ["id-1", "id-2"]);
    assert.deepEqual(box.pending().map((f) => f.text), ["fine"]);
  });

  test("answers for frames that are settled already are not ours", () => {
    const { box, send } = outbox();
    box.online(send);
    assert.equal(box.ack("nope"), false);
    assert.equal(box.error({ code: "invalid", client_id: "nope" }), "unknown");
  });

  test("after a reconnect the outbox goes again from its first frame", () => {
    const { box, sent, send } = outbox();
    box.online(send);
    box.push({ type: "message.send", text: "one" });
    box.push({ type: "message.send", text: "two" });
    box.offline();
    box.online(send);
    assert.deepEqual(sent, ["id-1", "id-1"]);
    box.ack("id-1");
    assert.deepEqual(sent, ["id-1", "id-1", "id-2"]);
  });

  test("a reconnect during a retry wait sends at once", () => {
    const { box, sent, send } = outbox();
    box.online(send);
    box.push({ type: "message.send", text: "one" });
    box.error({ code: "internal", client_id: "id-1" });
    box.offline();
    box.online(send);
    assert.deepEqual(sent, ["id-1", "id-1"]);
  });

  test("offline: queued, nothing sent; a socket that refuses the write leaves nothing in flight", () => {
    const { box, sent, send, wire } = outbox();
    box.push({ type: "message.send", text: "one" });
    assert.deepEqual(sent, []);
    wire.up = false;
    box.online(send);
    assert.deepEqual(sent, []);
    wire.up = true;
    box.online(send);
    assert.deepEqual(sent, ["id-1"]);
  });

  test("a frame unanswered for 15 s on a live socket is sent again; not once offline", () => {
    const { box, sent, send, clock } = outbox();
    box.online(send);
    box.push({ type: "message.send", text: "one" });
    clock.advance(ANSWER_WAIT_MS - 1);
    assert.equal(sent.length, 1);
    clock.advance(1);
    assert.deepEqual(sent, ["id-1", "id-1"]);
    box.offline();
    clock.advance(10 * ANSWER_WAIT_MS);
    assert.equal(sent.length, 2);
  });
});
