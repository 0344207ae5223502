// Unit tests of what the pages say about blocks: `node --test static/chat/core/`.

import { test, describe } from "node:test";
import assert from "node:assert/strict";

import {
  IP_WARNING,
  blockEffects,
  blockMade,
  blockStatus,
  blockTarget,
  blockedNotice,
  hoursText,
  ipChoice,
  isIPv6,
  newestFirst,
  nextChange,
  quietRetryDelay,
} from "./blocks.js";

const NOW = Date.parse("2026-11-27T20:00:00Z");
const HOUR = 3600 * 1000;
const iso = (ms) => new Date(ms).toISOString();

function block(fields = {}) {
  return {
    kind: "visitor",
    value: "12",
    reason: "Abusive language",
    by: { id: 3, name: "Alex Agent" },
    created_at: iso(NOW - HOUR),
    expires_at: iso(NOW + 23 * HOUR),
    ended_at: null,
    lifted_by: null,
    active: true,
    ...fields,
  };
}

describe("the dialog's words", () => {
  test("the length is the page's number of hours, in words", () => {
    assert.equal(hoursText(24), "24 hours");
    assert.equal(hoursText("48"), "48 hours");
    assert.equal(hoursText(1), "1 hour");
    assert.equal(hoursText(""), null);
    assert.equal(hoursText("x"), null);
    assert.equal(blockEffects({ hours: 36 }).lasts, "The block lasts 36 hours.");
    assert.equal(blockEffects({ hours: undefined }).lasts, "The block lasts as long as an admin has set.");
  });

  test("what a block does names the email address when the visitor gave one", () => {
    assert.equal(
      blockEffects({ hours: 24, email: "sam@example.com" }).does,
      "Their chat ends, and they can't start a new chat or send messages, also with the email address they gave (sam@example.com).",
    );
    assert.equal(blockEffects({ hours: 24, email: "" }).does, "Their chat ends, and they can't start a new chat or send messages.");
  });

  test("the IP box names the address; IPv6 says which network; no address, no box", () => {
    assert.deepEqual(ipChoice("203.0.113.7", 64), {
      available: true,
      label: "Also block their IP address (203.0.113.7)",
      note: "",
    });
    assert.deepEqual(ipChoice("2001:db8::1", "64"), {
      available: true,
      label: "Also block their IP address (2001:db8::1)",
      note: "For this IPv6 address the block covers its whole /64 network.",
    });
    assert.equal(ipChoice("2001:db8::1", 56).note, "For this IPv6 address the block covers its whole /56 network.");
    assert.equal(ipChoice("2001:db8::1", "").note, "For this IPv6 address the block covers its whole network.");
    for (const none of [null, undefined, "", "  "]) {
      const choice = ipChoice(none, 64);
      assert.equal(choice.available, false);
      assert.match(choice.note, /no IP address/);
    }
    assert.ok(isIPv6("::1") && !isIPv6("127.0.0.1") && !isIPv6(null));
  });

  test("the warning says who else is blocked and that addresses change, in plain words", () => {
    assert.match(IP_WARNING, /shared network — a business, a university, a wi-fi hotspot —/);
    assert.match(IP_WARNING, /home and mobile broadband addresses change/);
  });
});

describe("the Chat tab's list", () => {
  test("what each block is on", () => {
    assert.deepEqual(blockTarget(block()), { label: "Visitor", value: "" });
    assert.deepEqual(blockTarget(block({ kind: "email", value: "sam@example.com" })), { label: "Email", value: "sam@example.com" });
    assert.deepEqual(blockTarget(block({ kind: "ip", value: "203.0.113.7/32" })), { label: "IP", value: "203.0.113.7/32" });
  });

  test("an active block says until when", () => {
    const b = block();
    assert.deepEqual(blockStatus(b, NOW), { state: "active", parts: ["Active until ", { time: b.expires_at }] });
  });

  test("one the server sent active whose end has passed since is expired", () => {
    const b = block({ expires_at: iso(NOW - 1000) });
    assert.deepEqual(blockStatus(b, NOW), { state: "expired", parts: ["Expired ", { time: b.expires_at }] });
  });

  test("one found expired by the sweep ends at its expiry: expired, not lifted", () => {
    const end = iso(NOW - HOUR);
    const b = block({ expires_at: end, ended_at: end, active: false });
    assert.deepEqual(blockStatus(b, NOW), { state: "expired", parts: ["Expired ", { time: end }] });
  });

  test("a lifted block says by whom and when", () => {
    const lifted = iso(NOW - 1000);
    const b = block({ ended_at: lifted, lifted_by: { id: 1, name: "Ada Admin" }, active: false });
    assert.deepEqual(blockStatus(b, NOW), {
      state: "lifted",
      parts: ["Lifted by ", { name: "Ada Admin" }, " on ", { time: lifted }],
    });
    // Lifted early by someone no longer known: still lifted, not expired.
    const anon = block({ ended_at: lifted, active: false });
    assert.deepEqual(blockStatus(anon, NOW).parts, ["Lifted on ", { time: lifted }]);
  });

  test("who made it and when, also when the author is gone", () => {
    const b = block();
    assert.deepEqual(blockMade(b), ["Made by ", { name: "Alex Agent" }, " on ", { time: b.created_at }]);
    assert.deepEqual(blockMade(block({ by: null })), ["Made on ", { time: b.created_at }]);
  });

  test("newest first, without changing what it was given", () => {
    const older = block({ created_at: iso(NOW - 5 * HOUR), reason: "older" });
    const newer = block({ created_at: iso(NOW - HOUR), reason: "newer" });
    const given = [older, newer];
    assert.deepEqual(newestFirst(given).map((b) => b.reason), ["newer", "older"]);
    assert.deepEqual(given.map((b) => b.reason), ["older", "newer"]);
    assert.deepEqual(newestFirst(undefined), []);
  });

  test("the list changes next when the first active block ends", () => {
    const soon = block({ expires_at: iso(NOW + HOUR) });
    const later = block({ expires_at: iso(NOW + 5 * HOUR) });
    const gone = block({ expires_at: iso(NOW - HOUR), ended_at: iso(NOW - HOUR), active: false });
    assert.equal(nextChange([later, gone, soon], NOW), NOW + HOUR);
    assert.equal(nextChange([gone], NOW), null);
  });
});

test("the console's note after visitor.blocked says until when, and the network when there is one", () => {
  const until = iso(NOW + 24 * HOUR);
  assert.deepEqual(blockedNotice({ until, network: null }), ["Blocked until ", { time: until }, "."]);
  assert.deepEqual(blockedNotice({ until, network: "203.0.113.7/32" }), [
    "Blocked until ",
    { time: until },
    ", with the IP network 203.0.113.7/32.",
  ]);
});

describe("the widget's one quiet try", () => {
  test("a little after the block's end, never before it", () => {
    const until = iso(NOW + HOUR);
    assert.equal(quietRetryDelay(until, NOW, () => 0), HOUR + 5000);
    assert.equal(quietRetryDelay(until, NOW, () => 1), HOUR + 60000);
  });

  test("none for an end already past by this clock, a bad one, or one too far for a timer", () => {
    assert.equal(quietRetryDelay(iso(NOW - 1), NOW), null);
    assert.equal(quietRetryDelay(iso(NOW), NOW), null);
    assert.equal(quietRetryDelay("", NOW), null);
    assert.equal(quietRetryDelay(null, NOW), null);
    assert.equal(quietRetryDelay(iso(NOW + 30 * 24 * HOUR), NOW), null);
  });
});
