// Unit tests of stars and the sidebar's star filter: `node --test static/chat/core/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { STAR_COLOURS, starColour, starFilter, starFilterText, starMap, starMatches, starName } from "./stars.js";

const PROTOCOL = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

test("the colours are the ones the protocol names for chat.star", () => {
  const row = PROTOCOL.split("\n").find((line) => line.startsWith("| `chat.star` |"));
  const fields = row.split("|")[2]; // "`chat`, `colour` (`yellow`, `red`, …, or `null` to take the star off)"
  const named = [...fields.matchAll(/`([a-z]+)`/g)].map((m) => m[1]).filter((w) => !["chat", "colour", "null"].includes(w));
  assert.deepEqual([...STAR_COLOURS], named);
});

test("a colour the protocol does not name is no star", () => {
  assert.equal(starColour("red"), "red");
  assert.equal(starColour("pink"), null);
  assert.equal(starColour(null), null);
  assert.equal(starColour(undefined), null);
  assert.equal(starName("purple"), "Purple");
  assert.equal(starName(null), "");
});

test("all shows every chat, starred the ones with any star, a colour only its own", () => {
  const chats = { a: null, b: "red", c: "blue", d: "red" };
  const shown = (filter) => Object.keys(chats).filter((id) => starMatches(filter, chats[id]));
  assert.deepEqual(shown("all"), ["a", "b", "c", "d"]);
  assert.deepEqual(shown("starred"), ["b", "c", "d"]);
  assert.deepEqual(shown("red"), ["b", "d"]);
  assert.deepEqual(shown("green"), []);
});

test("an unknown filter (an old saved one) shows everything", () => {
  assert.equal(starFilter("pink"), "all");
  assert.equal(starFilter(null), "all");
  assert.equal(starMatches("pink", null), true);
  assert.equal(starFilterText("red"), "chats with a red star");
  assert.equal(starFilterText("starred"), "starred chats");
  assert.equal(starFilterText("nonsense"), "all chats");
});

test("welcome.stars becomes a map of known colours", () => {
  const map = starMap({ K7: "red", Q2: "pink", Z9: null });
  assert.deepEqual([...map], [["K7", "red"]]);
  assert.equal(starMap(null).size, 0);
});
