// Unit tests of the console's chat details: `node --test static/chat/core/`.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  assignRights,
  labelSuggestions,
  latestEmail,
  mergeDetails,
  withPresence,
  withRating,
  withStar,
} from "./details.js";

const answer = {
  type: "details",
  chat: "K7",
  ticket: { ref: "HD-000012", labels: ["billing"], rating: null, transcript_emails: [] },
  visitor: { name: "Sam", presence: "online", last_seen: "t0" },
  session: { status: "active" },
  star: "red",
  choices: { departments: [{ id: 1, name: "Sales" }], agents: [{ id: 3, name: "Alex" }], labels: ["billing", "VIP", "refund"] },
};

test("an answer is taken whole, without its type", () => {
  const d = mergeDetails(null, answer);
  assert.equal(d.type, undefined);
  assert.equal(d.star, "red");
  assert.equal(d.choices.labels.length, 3);
});

test("a broadcast keeps the star and the choices we had", () => {
  const d = mergeDetails(mergeDetails(null, answer), {
    type: "details", chat: "K7", ticket: { ...answer.ticket, labels: ["billing", "vip"] }, visitor: answer.visitor,
    session: answer.session,
  });
  assert.equal(d.star, "red");
  assert.deepEqual(d.choices, answer.choices);
  assert.deepEqual(d.ticket.labels, ["billing", "vip"]);
});

test("a broadcast first: no star, no choices yet", () => {
  const d = mergeDetails(null, { type: "details", chat: "K7", ticket: answer.ticket });
  assert.equal(d.star, null);
  assert.deepEqual(d.choices, { departments: [], agents: [], labels: [] });
});

test("a star taken off is null, and an answer's null star replaces ours", () => {
  const d = mergeDetails(null, answer);
  assert.equal(withStar(d, null).star, null);
  assert.equal(withStar(d, "blue").star, "blue");
  assert.equal(mergeDetails(d, { ...answer, star: null }).star, null);
  assert.equal(withStar(null, "blue"), null);
});

test("presence changes the visitor's state and last seen, nothing else", () => {
  const d = mergeDetails(null, answer);
  const away = withPresence(d, { state: "away", last_seen: "t1" });
  assert.equal(away.visitor.presence, "away");
  assert.equal(away.visitor.last_seen, "t1");
  assert.equal(away.visitor.name, "Sam");
  assert.equal(d.visitor.presence, "online", "the state before is not changed in place");
  assert.equal(withPresence(d, { state: "gone", last_seen: null }).visitor.last_seen, "t0");
});

test("a rating shows at once; its time comes with the next details", () => {
  const d = withRating(mergeDetails(null, answer), { rating: "bad", comment: "Slow" });
  assert.deepEqual(d.ticket.rating, { value: "bad", comment: "Slow", at: null });
});

test("suggestions leave out the labels the ticket has, whatever their case", () => {
  const d = mergeDetails(null, { ...answer, ticket: { ...answer.ticket, labels: ["billing", "vip"] } });
  assert.deepEqual(labelSuggestions(d), ["refund"]);
  assert.deepEqual(labelSuggestions(null), []);
});

test("the newest email", () => {
  const emails = [{ state: "pending" }, { state: "sent" }];
  const d = { ticket: { transcript_emails: emails } };
  assert.equal(latestEmail(d), emails[0]);
  assert.equal(latestEmail({ ticket: { transcript_emails: [] } }), null);
});

test("who may assign: anyone a waiting chat, its agent an active one, nobody an ended one", () => {
  assert.deepEqual(assignRights({ status: "queued", agent_id: null }, 3), { can: true, transfer: false, reason: "" });
  assert.deepEqual(assignRights({ status: "active", agent_id: 3 }, 3), { can: true, transfer: true, reason: "" });
  const other = assignRights({ status: "active", agent_id: 4, agent_name: "Kim" }, 3);
  assert.equal(other.can, false);
  assert.match(other.reason, /Only Kim can transfer it/);
  assert.equal(assignRights({ status: "ended" }, 3).can, false);
  assert.equal(assignRights(null, 3).can, false);
});
