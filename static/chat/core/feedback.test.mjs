// Unit tests of the widget's after-chat state (rating, transcript): `node --test static/chat/core/`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Feedback, commentCount, commentProblem } from "./feedback.js";

const MAX = 1000;
const feedback = (saved) => new Feedback({ chat: "K7", maxChars: MAX, saved });

test("a comment is counted as the server counts it: trimmed, by characters", () => {
  assert.equal(commentProblem("x".repeat(MAX), MAX), "");
  assert.equal(commentProblem(`  ${"x".repeat(MAX)}\n`, MAX), "");
  assert.equal(commentProblem("😀".repeat(MAX), MAX), "", "an emoji is one character, as in Python");
  assert.equal(commentProblem("x".repeat(MAX + 1), MAX), "A comment can be at most 1,000 characters long.");
  assert.equal(commentCount("", MAX), "0 / 1,000");
  assert.equal(commentCount("x".repeat(1000), MAX), "1,000 / 1,000");
});

test("a thumb sends the rating with the comment in the box; the answer thanks", () => {
  const f = feedback();
  assert.equal(f.status, "");
  assert.deepEqual(f.rate("bad", "  Too slow \n"), { type: "chat.rate", chat: "K7", rating: "bad", comment: "Too slow" });
  assert.equal(f.choice, "bad");
  assert.equal(f.rating, null);
  assert.equal(f.status, "Sending…");
  assert.ok(f.rated({ type: "chat.rated", chat: "K7", rating: "bad", comment: "Too slow" }));
  assert.equal(f.rating, "bad");
  assert.equal(f.comment, "Too slow");
  assert.equal(f.status, "Thanks for your feedback.");
  assert.deepEqual(f.rate("good", ""), { type: "chat.rate", chat: "K7", rating: "good" });
});

test("a rating is changed: a later choice on its way keeps showing while the earlier answer comes", () => {
  const f = feedback();
  f.rate("bad", "");
  f.rate("good", "");
  f.rated({ chat: "K7", rating: "bad", comment: "" });
  assert.equal(f.choice, "good");
  assert.equal(f.status, "Sending…");
  f.rated({ chat: "K7", rating: "good", comment: "" });
  assert.equal(f.choice, "good");
  assert.equal(f.rating, "good");
});

test("a refusal shows the server's words and puts back what the server has", () => {
  const f = feedback({ chat: "K7", rating: "good", comment: "", to: "" });
  f.rate("bad", "");
  f.rateRefused("Too many ratings: try again in 40 seconds.");
  assert.equal(f.choice, "good");
  assert.equal(f.rateError, "Too many ratings: try again in 40 seconds.");
  f.rate("bad", "");
  assert.equal(f.rateError, "", "a new try clears the old error");
});

test("a comment too long sends nothing and says why", () => {
  const f = feedback();
  assert.equal(f.rate("good", "x".repeat(MAX + 1)), null);
  assert.equal(f.choice, null);
  assert.equal(f.sending, false);
  assert.match(f.rateError, /at most 1,000 characters/);
  assert.equal(f.rate("meh", ""), null, "only good or bad");
});

test("offline or a lost socket: nothing waits forever", () => {
  const f = feedback();
  f.rate("good", "");
  f.askTranscript();
  f.unsent("You're offline.");
  assert.equal(f.sending, false);
  assert.equal(f.choice, null);
  assert.equal(f.rateError, "You're offline.");
  assert.equal(f.asking, false);
  assert.equal(f.transcriptError, "You're offline.");
  const g = feedback();
  g.unsent("You're offline.");
  assert.equal(g.rateError, "", "nothing was on its way: nothing to say");
});

test("the transcript: the address the server gives, or its reason", () => {
  const f = feedback();
  assert.deepEqual(f.askTranscript(), { type: "transcript.request", chat: "K7" });
  assert.equal(f.asking, true);
  assert.equal(f.transcriptSent({ chat: "OTHER", to: "x@example.com" }), false);
  assert.ok(f.transcriptSent({ chat: "K7", to: "sam@example.com" }));
  assert.equal(f.to, "sam@example.com");
  f.askTranscript();
  f.transcriptRefused("We have no email address to send it to.");
  assert.equal(f.transcriptError, "We have no email address to send it to.");
  assert.equal(f.to, "sam@example.com", "what went before stays said");
});

test("what is kept is what the server answered, and only for its own chat", () => {
  const f = feedback();
  f.rate("bad", "Slow");
  assert.deepEqual(f.saved(), { chat: "K7", rating: null, comment: "", to: "" });
  f.rated({ chat: "K7", rating: "bad", comment: "Slow" });
  f.transcriptSent({ chat: "K7", to: "sam@example.com" });
  const again = feedback(f.saved());
  assert.equal(again.choice, "bad");
  assert.equal(again.comment, "Slow");
  assert.equal(again.to, "sam@example.com");
  assert.equal(again.status, "Thanks for your feedback.");
  const other = new Feedback({ chat: "Q2", maxChars: MAX, saved: f.saved() });
  assert.equal(other.rating, null);
  assert.equal(other.to, "");
  assert.equal(feedback({ chat: "K7", rating: "meh", comment: 3 }).rating, null, "nothing odd from storage");
});

test("a rating the server knows is shown where nothing was kept here", () => {
  const f = new Feedback({ chat: "K7", maxChars: MAX, known: { value: "bad", comment: "slow" } });
  assert.equal(f.rating, "bad");
  assert.equal(f.choice, "bad");
  assert.equal(f.comment, "slow");
  const kept = new Feedback({ chat: "K7", maxChars: MAX, saved: { chat: "K7", rating: "good", comment: "" },
                              known: { value: "bad", comment: "slow" } });
  assert.equal(kept.rating, "good", "what this widget was answered last wins");
  assert.equal(new Feedback({ chat: "K7", maxChars: MAX, known: null }).rating, null);
});
