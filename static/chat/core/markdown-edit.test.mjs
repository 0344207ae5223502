// Unit tests of the reply box's formatting: `node --test static/chat/core/`.
//
// A text is written with its selection marked: «selected» (or «» for the caret alone). Each case
// says what the text and selection are after the action, and most apply it again to see it toggle.

import { test, describe } from "node:test";
import assert from "node:assert/strict";

import * as edit from "./markdown-edit.js";

/** "say «hi»" -> {text: "say hi", start: 4, end: 6} */
function parse(marked) {
  const start = marked.indexOf("«");
  const end = marked.indexOf("»") - 1;
  assert.ok(start >= 0 && end >= start, `no selection marked in ${JSON.stringify(marked)}`);
  return { text: marked.replace("«", "").replace("»", ""), start, end };
}

function mark({ text, start, end }) {
  assert.ok(0 <= start && start <= end && end <= text.length, `selection ${start}-${end} out of ${text.length}`);
  return text.slice(0, start) + "«" + text.slice(start, end) + "»" + text.slice(end);
}

function run(action, marked) {
  return mark(action(parse(marked)));
}

/** `action` on `marked` gives `expected`; and again on that, `back` (the original by default). */
function toggles(action, marked, expected, back = marked) {
  const once = run(action, marked);
  assert.equal(once, expected);
  assert.equal(run(action, once), back, "applied again, it comes off");
}

describe("bold", () => {
  test("wraps the selection and keeps it selected", () => {
    toggles(edit.bold, "say «hello» there", "say **«hello»** there");
  });
  test("with nothing selected, the marks go round the caret", () => {
    toggles(edit.bold, "say «» there", "say **«»** there");
  });
  test("a selection with its marks in it comes off", () => {
    assert.equal(run(edit.bold, "say «**hello**» there"), "say «hello» there");
  });
  test("spaces at the selection's ends stay outside", () => {
    assert.equal(run(edit.bold, "say« hello »there"), "say **«hello»** there");
  });
  test("__bold__ counts as bold too", () => {
    assert.equal(run(edit.bold, "__«x»__"), "«x»");
  });
  test("inside italic, and off again through it", () => {
    toggles(edit.bold, "_«x»_", "_**«x»**_");
    assert.equal(run(edit.bold, "**_«x»_**"), "_«x»_");
    assert.equal(run(edit.bold, "***«x»***"), "*«x»*");
  });
  test("a selection over several lines is bold line by line, after list markers", () => {
    toggles(edit.bold, "«- one\n- two\n\nthree»", "«- **one**\n- **two**\n\n**three**»");
  });
  test("over lines of which some are bold already, all become bold", () => {
    assert.equal(run(edit.bold, "«**a**\nb»"), "«**a**\n**b**»");
  });
  test("two bold words with text between are not taken for one", () => {
    assert.equal(run(edit.bold, "«**a** and **b**»"), "**«**a** and **b**»**");
  });
});

describe("italic", () => {
  test("wraps with underscores at word edges", () => {
    toggles(edit.italic, "a «word» here", "a _«word»_ here");
  });
  test("inside a word, with asterisks (underscores do nothing there)", () => {
    toggles(edit.italic, "un«believ»able", "un*«believ»*able");
  });
  test("not mistaken for bold, nor bold for it", () => {
    toggles(edit.italic, "**«x»**", "**_«x»_**");
    assert.equal(run(edit.italic, "***«x»***"), "**«x»**");
    assert.equal(run(edit.italic, "«*x*»"), "«x»");
  });
  test("empty selection", () => {
    toggles(edit.italic, "«»", "_«»_");
  });
});

describe("inline code", () => {
  test("wraps in backticks", () => {
    toggles(edit.inlineCode, "run «ls -la» now", "run `«ls -la»` now");
  });
  test("a selection with backticks in it gets a longer fence", () => {
    toggles(edit.inlineCode, "«a `b` c»", "``«a `b` c»``");
    toggles(edit.inlineCode, "«x `` y»", "```«x `` y»```");
  });
  test("code that starts or ends with a backtick is padded with a space", () => {
    toggles(edit.inlineCode, "«`a»", "`` «`a» ``");
  });
  test("the whole span selected comes off, padding and all", () => {
    assert.equal(run(edit.inlineCode, "«`` `a ``»"), "«`a»");
    assert.equal(run(edit.inlineCode, "«`<script>`»"), "«<script>»");
  });
  test("two spans are not taken for one", () => {
    toggles(edit.inlineCode, "«`a` b `c`»", "`` «`a` b `c`» ``");
  });
  test("tags in code are kept as typed", () => {
    toggles(edit.inlineCode, "«<script>»", "`«<script>»`");
  });
  test("empty selection", () => {
    toggles(edit.inlineCode, "x «» y", "x `«»` y");
  });
  test("over several lines it is a code block", () => {
    assert.equal(run(edit.inlineCode, "«a\nb»"), "```\n«a\nb»\n```");
  });
});

describe("code block", () => {
  test("fences the selected lines, whole, on lines of their own", () => {
    toggles(edit.codeBlock, "see:\nfo«o()\nbar»()\nok", "see:\n```\n«foo()\nbar()»\n```\nok", "see:\n«foo()\nbar()»\nok");
  });
  test("with the caret on an empty line, an empty block with the caret in it", () => {
    toggles(edit.codeBlock, "a\n«»\nb", "a\n```\n«»\n```\nb");
  });
  test("with the caret in a line, that line", () => {
    toggles(edit.codeBlock, "x = «»1", "```\nx = «»1\n```");
  });
  test("code with a fence in it gets a longer fence", () => {
    toggles(edit.codeBlock, "«say\n```»", "````\n«say\n```»\n````");
  });
  test("anywhere inside a block, the fences come off", () => {
    assert.equal(run(edit.codeBlock, "a\n```\none\nt«»wo\n```\nb"), "a\none\nt«»wo\nb");
    assert.equal(run(edit.codeBlock, "«```js\ncode\n```»"), "«code»");
  });
  test("a triple-clicked line (the line break selected) is that line only", () => {
    assert.equal(run(edit.codeBlock, "«one\n»two"), "```\n«one»\n```\ntwo");
  });
  test("lines after a block that closed are not inside it", () => {
    assert.equal(run(edit.codeBlock, "```\na\n```\n«b»"), "```\na\n```\n```\n«b»\n```");
  });
});

describe("link", () => {
  test("with nothing selected: [link text](https://), the address selected", () => {
    assert.equal(run(edit.link, "see «»"), "see [link text](«https://»)");
  });
  test("a selection becomes the link's text, the address selected to type over", () => {
    toggles(edit.link, "read «the guide» first", "read [the guide](«https://») first", "read «the guide» first");
  });
  test("a selected address becomes the address, the text selected", () => {
    assert.equal(run(edit.link, "«https://example.com/a»"), "[«link text»](https://example.com/a)");
    assert.equal(run(edit.link, "«www.example.com»"), "[«link text»](https://www.example.com)");
  });
  test("on a whole link, or its text, the link comes off and the text stays", () => {
    assert.equal(run(edit.link, "«[docs](https://x.example)» ok"), "«docs» ok");
    assert.equal(run(edit.link, "[«docs»](https://x.example) ok"), "«docs» ok");
  });
});

describe("bulleted list", () => {
  test("every selected line with text gets a marker", () => {
    toggles(edit.bulletList, "«one\ntwo»", "«- one\n- two»");
  });
  test("after a paragraph, a blank line first (Markdown needs one); a line after, a blank line after", () => {
    assert.equal(run(edit.bulletList, "Try:\n«a\nb»\nThanks"), "Try:\n\n«- a\n- b»\n\nThanks");
  });
  test("comes off when every line has one, and only then", () => {
    assert.equal(run(edit.bulletList, "«- a\nb»"), "«- a\n- b»");
    assert.equal(run(edit.bulletList, "«- a\n* b\n+ c»"), "«a\nb\nc»");
  });
  test("numbered items become bulleted ones", () => {
    assert.equal(run(edit.bulletList, "«1. a\n2. b»"), "«- a\n- b»");
  });
  test("blank lines in the selection stay blank; indentation stays before the marker", () => {
    toggles(edit.bulletList, "«a\n\n  b»", "«- a\n\n  - b»");
  });
  test("the caret alone: its line, the caret where it was in the text", () => {
    toggles(edit.bulletList, "ab«»c", "- ab«»c");
    toggles(edit.bulletList, "«»", "- «»");
    toggles(edit.numberedList, "a\n\n«»", "a\n\n1. «»");
  });
  test("a line already continuing a list needs no blank line", () => {
    assert.equal(run(edit.bulletList, "- a\n«b»"), "- a\n«- b»");
  });
});

describe("numbered list", () => {
  test("numbers the lines 1., 2., …", () => {
    toggles(edit.numberedList, "«first\nsecond\nthird»", "«1. first\n2. second\n3. third»");
  });
  test("blank lines are not counted", () => {
    assert.equal(run(edit.numberedList, "«a\n\nb»"), "«1. a\n\n2. b»");
  });
  test("bulleted items become numbered ones, and odd numbers are put right", () => {
    assert.equal(run(edit.numberedList, "«- a\n- b»"), "«1. a\n2. b»");
    assert.equal(run(edit.numberedList, "«3. a\nb»"), "«1. a\n2. b»");
  });
  test("comes off", () => {
    assert.equal(run(edit.numberedList, "«1. a\n2) b»"), "«a\nb»");
  });
});

describe("quote", () => {
  test("every line quoted, blank ones too (one quote, not two)", () => {
    toggles(edit.quote, "«a\n\nb»", "«> a\n>\n> b»");
  });
  test("a line after it gets a blank line, or it would join the quote", () => {
    assert.equal(run(edit.quote, "«said»\nreply"), "«> said»\n\nreply");
  });
  test("one level comes off", () => {
    assert.equal(run(edit.quote, "«> > a\n> b»"), "«> a\nb»");
  });
  test("empty selection", () => {
    toggles(edit.quote, "«»", "> «»", "«»");
  });
});

describe("every action", () => {
  const samples = ["", "x", "«»", "a\nb", "a `b` **c** [d](https://e)", "```\ncode\n```", "> q\n\n- l\n1. n"];
  for (const [name, action] of Object.entries(edit.ACTIONS)) {
    test(`${name}: any selection of any text gives a text and a selection inside it`, () => {
      for (const raw of samples) {
        const text = raw.replace(/[«»]/g, "");
        for (let start = 0; start <= text.length; start += 1) {
          for (let end = start; end <= text.length; end += 1) {
            const out = action({ text, start, end });
            assert.equal(typeof out.text, "string");
            assert.ok(0 <= out.start && out.start <= out.end && out.end <= out.text.length,
              `${name} on ${JSON.stringify(text)} ${start}-${end}: ${JSON.stringify(out)}`);
          }
        }
      }
    });
  }
  test("a backwards selection is taken as the same one forwards", () => {
    assert.deepEqual(edit.bold({ text: "ab", start: 2, end: 0 }), edit.bold({ text: "ab", start: 0, end: 2 }));
  });
});
