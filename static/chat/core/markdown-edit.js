// The console's formatting buttons and shortcuts as text transformations: no DOM, no state.
//
// Each takes the reply and its selection, {text, start, end} (UTF-16 offsets, as a textarea has them),
// and returns the same shape: the new text and what to select in it. Applied again to what it
// returned, each one takes its formatting off again (a toggle). The Markdown written is what the
// server's renderer reads (Python-Markdown with nl2br, sane_lists, fenced_code; docs/protocol.md,
// "Formatting"): a list needs a blank line before it after a paragraph, and a line right after a
// list or quote would join its last item, so those get one.
//
//   bold, italic, inlineCode   wrap the selection (or insert the markers round the caret); a
//                              selection over several lines is wrapped line by line
//   codeBlock                  fence the selected lines (```), or take the fences off a block
//   link                       [text](https://), the address part selected to type over
//   bulletList, numberedList,  a prefix on every selected line ("- ", "1. ", "> "); when every one
//   quote                      has it already, it comes off

const BLOCK_PREFIX = /^[ \t]*(?:>[ \t]?)*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?/; // quote marks, a list marker
const WORD_CHAR = /[\p{L}\p{N}]/u;

// --- Emphasis: bold and italic ------------------------------------------------------------------

/** `**bold**`; off again when the selection is bold already. */
export function bold(sel) {
  return inline(sel, emphasis(2));
}

/** `_italic_` (`*italic*` inside a word, where `_` does nothing); off again when it is italic. */
export function italic(sel) {
  return inline(sel, emphasis(1));
}

/**
 * Emphasis of `level` (1 italic, 2 bold) as runs of `*` or `_` on both sides of a text: a bold text
 * has runs of 2 or more, an italic one runs of odd length (`***both***`).
 */
function emphasis(level) {
  const has = (left, right) => left >= level && right >= level && (level === 2 || (left % 2 === 1 && right % 2 === 1));
  return {
    /** The marks round `core`, found by looking out from it through other emphasis: {left, right} or null. */
    around(before, after) {
      let i = before.length;
      let j = 0;
      while (i > 0 && j < after.length) {
        const c = before[i - 1];
        if ((c !== "*" && c !== "_") || after[j] !== c) return null;
        const left = runBack(before, i, c);
        const right = runAhead(after, j, c);
        if (has(left, right)) return { left: [i - level, i], right: [j, j + level] };
        i -= left;
        j += right;
      }
      return null;
    },
    /** Whether `core` is one emphasised text from end to end: its marks, as in `around`. */
    inside(core) {
      for (const c of ["*", "_"]) {
        const left = runAhead(core, 0, c);
        const right = runBack(core, core.length, c);
        if (!left || left + right >= core.length || !has(left, right)) continue;
        const inner = core.slice(left, core.length - right);
        // `**a** and **b**` is two bold texts, not one; nor is `*a* b *c*` one italic.
        const again = level === 2 ? inner.includes(c + c) : oddRun(inner, c);
        if (!again) return { left: [left - level, left], right: [core.length - right, core.length - right + level] };
      }
      return null;
    },
    wrap(core, before, after) {
      if (level === 2) return "**";
      // `_` makes emphasis only at word edges: inside a word it takes `*`.
      const inWord = WORD_CHAR.test(before.slice(-1)) || WORD_CHAR.test(after.slice(0, 1));
      return inWord || core.startsWith("_") || core.endsWith("_") ? "*" : "_";
    },
  };
}

function runBack(text, end, c) {
  let n = 0;
  while (end - n > 0 && text[end - n - 1] === c) n += 1;
  return n;
}

function runAhead(text, start, c) {
  let n = 0;
  while (start + n < text.length && text[start + n] === c) n += 1;
  return n;
}

function oddRun(text, c) {
  for (const run of text.match(new RegExp(`\\${c}+`, "g")) || []) if (run.length % 2 === 1) return true;
  return false;
}

// --- Inline code ---------------------------------------------------------------------------------

/** `` `code` `` (a longer fence when the code has backticks); over several lines, a code block. */
export function inlineCode(sel) {
  if (sel.text.slice(sel.start, sel.end).trim().includes("\n")) return codeBlock(sel);
  return inline(sel, CODE, { perLine: false });
}

const CODE = {
  around(before, after) {
    const left = runBack(before, before.length, "`");
    const right = runAhead(after, 0, "`");
    if (left && left === right) return { left: [before.length - left, before.length], right: [0, right] };
    // A span whose code starts or ends with a backtick is padded: `` `a ``.
    if (before.endsWith(" ") && after.startsWith(" ")) {
      const l = runBack(before, before.length - 1, "`");
      const r = runAhead(after, 1, "`");
      if (l && l === r) return { left: [before.length - 1 - l, before.length], right: [0, r + 1] };
    }
    return null;
  },
  inside(core) {
    const left = runAhead(core, 0, "`");
    const right = runBack(core, core.length, "`");
    if (!left || left !== right || 2 * left >= core.length) return null;
    let inner = core.slice(left, core.length - right);
    if (longestRun(inner, "`", left)) return null; // `a` b `c`: two spans
    const padded = inner.length > 2 && inner.startsWith(" ") && inner.endsWith(" ") && inner.trim() !== "";
    if (padded) inner = inner.slice(1, -1);
    const pad = padded ? 1 : 0;
    return { left: [0, left + pad], right: [core.length - right - pad, core.length] };
  },
  wrap(core) {
    const fence = "`".repeat(longestRun(core, "`") + 1);
    const pad = core.startsWith("`") || core.endsWith("`") ? " " : "";
    return [fence + pad, pad + fence];
  },
};

/** The longest run of `c` in `text`; with `exactly`, whether there is a run of just that length. */
function longestRun(text, c, exactly = 0) {
  let longest = 0;
  for (const run of text.match(new RegExp(`\\${c}+`, "g")) || []) {
    if (exactly && run.length === exactly) return true;
    longest = Math.max(longest, run.length);
  }
  return exactly ? false : longest;
}

// --- Wrapping a selection ------------------------------------------------------------------------

/**
 * Puts `kind`'s marks round the selection, or takes them off when they are there (round it or at its
 * ends). Spaces at the selection's ends stay outside the marks (`** a **` is no emphasis). With
 * `perLine`, a selection over several lines is done line by line, after each line's list or quote
 * marker: emphasis does not reach over a paragraph's end.
 */
function inline(sel, kind, { perLine = true } = {}) {
  const { text } = sel;
  const [start, end] = ordered(sel);
  if (perLine && text.slice(start, end).includes("\n")) return inlineLines(text, start, end, kind);
  const [from, to] = trimmed(text, start, end);
  const core = text.slice(from, to);
  const before = text.slice(0, from);
  const after = text.slice(to);

  const inside = core ? kind.inside(core) : null;
  if (inside) {
    const inner = cut(core, inside);
    return { text: before + inner + after, start: from, end: from + inner.length };
  }
  const around = kind.around(before, after);
  if (around) {
    const newBefore = before.slice(0, around.left[0]) + before.slice(around.left[1]);
    const newAfter = after.slice(0, around.right[0]) + after.slice(around.right[1]);
    const at = newBefore.length;
    return { text: newBefore + core + newAfter, start: at, end: at + core.length };
  }
  const marks = kind.wrap(core, before, after);
  const [open, close] = Array.isArray(marks) ? marks : [marks, marks];
  const at = from + open.length;
  return { text: before + open + core + close + after, start: at, end: at + core.length };
}

/** Removes the `{left, right}` ranges of marks from `core`. */
function cut(core, { left, right }) {
  return core.slice(0, left[0]) + core.slice(left[1], right[0]) + core.slice(right[1]);
}

/** Emphasis over several lines: each line's text wrapped, or unwrapped when every one has it. */
function inlineLines(text, start, end, kind) {
  const parts = [];
  let at = start;
  for (const piece of text.slice(start, end).split("\n")) {
    const lineStart = at === start ? lineStartOf(text, start) : at;
    const skip = at === lineStart ? BLOCK_PREFIX.exec(piece)[0].length : 0;
    const [from, to] = trimmed(text, at + skip, at + piece.length);
    parts.push({ from, to, core: text.slice(from, to) });
    at += piece.length + 1;
  }
  const cores = parts.filter((p) => p.core);
  if (!cores.length) return { text, start, end };
  const off = cores.every((p) => kind.inside(p.core));
  let out = "";
  let last = 0;
  let delta = 0;
  for (const p of cores) {
    let next = p.core;
    if (off) next = cut(p.core, kind.inside(p.core));
    else if (!kind.inside(p.core)) {
      const marks = kind.wrap(p.core, text.slice(0, p.from), text.slice(p.to));
      const [open, close] = Array.isArray(marks) ? marks : [marks, marks];
      next = open + p.core + close;
    }
    out += text.slice(last, p.from) + next;
    last = p.to;
    delta += next.length - p.core.length;
  }
  out += text.slice(last);
  return { text: out, start, end: end + delta };
}

/** The selection without the spaces and line breaks at its ends. */
function trimmed(text, start, end) {
  while (start < end && /\s/.test(text[start])) start += 1;
  while (end > start && /\s/.test(text[end - 1])) end -= 1;
  return [start, end];
}

function ordered({ start, end }) {
  return start <= end ? [start, end] : [end, start];
}

// --- Links ---------------------------------------------------------------------------------------

const PLACEHOLDER_TEXT = "link text";
const PLACEHOLDER_URL = "https://";
const LOOKS_LIKE_URL = /^(?:https?:\/\/|mailto:|www\.)\S+$/i;

/**
 * `[text](https://)` with the address selected; with nothing selected, `[link text](https://)`; a
 * selected address becomes the address of `[link text](…)`, the text selected. On a link (all of
 * it, its text or its address), the link comes off and its text stays.
 */
export function link(sel) {
  const { text } = sel;
  const [start, end] = trimmed(text, ...ordered(sel));
  const core = text.slice(start, end);
  const before = text.slice(0, start);
  const after = text.slice(end);

  const whole = /^\[([^[\]\n]*)\]\([^()\s]*\)$/.exec(core);
  if (whole) return { text: before + whole[1] + after, start, end: start + whole[1].length };
  const tail = /^\]\([^()\s]*\)/.exec(after);
  if (before.endsWith("[") && tail && !/[[\]]/.test(core)) {
    const at = start - 1;
    return { text: before.slice(0, -1) + core + after.slice(tail[0].length), start: at, end: at + core.length };
  }
  const head = /\[([^[\]\n]*)\]\($/.exec(before);
  if (head && after.startsWith(")") && !/[()\s]/.test(core)) {
    const at = head.index;
    return { text: before.slice(0, at) + head[1] + after.slice(1), start: at, end: at + head[1].length };
  }

  if (!core) {
    const at = start + `[${PLACEHOLDER_TEXT}](`.length;
    return { text: `${before}[${PLACEHOLDER_TEXT}](${PLACEHOLDER_URL})${after}`, start: at, end: at + PLACEHOLDER_URL.length };
  }
  if (LOOKS_LIKE_URL.test(core)) {
    const url = /^www\./i.test(core) ? `https://${core}` : core;
    return { text: `${before}[${PLACEHOLDER_TEXT}](${url})${after}`, start: start + 1, end: start + 1 + PLACEHOLDER_TEXT.length };
  }
  const at = start + core.length + 3; // past "[", the text and "]("
  return { text: `${before}[${core}](${PLACEHOLDER_URL})${after}`, start: at, end: at + PLACEHOLDER_URL.length };
}

// --- Lines: lists, quotes, code blocks -----------------------------------------------------------

/** The whole lines the selection touches: [from, to) in `text`, and its lines. */
function selectedLines(text, start, end) {
  // A selection that ends at the start of a line (a triple click) does not take that line.
  const last = end > start && text[end - 1] === "\n" ? end - 1 : end;
  const from = lineStartOf(text, start);
  const next = text.indexOf("\n", last);
  const to = next === -1 ? text.length : next;
  return { from, to, lines: text.slice(from, to).split("\n") };
}

const BULLET = /^([ \t]*)[-*+][ \t]+/;
const NUMBER = /^([ \t]*)\d{1,9}[.)][ \t]+/;
const QUOTE = /^[ \t]*>[ \t]?/;

/** `- ` before every selected line; off again when every one is a bulleted item. */
export function bulletList(sel) {
  return listLines(sel, BULLET, NUMBER, () => "- ");
}

/** `1. `, `2. `, … before the selected lines; off again when every one is a numbered item. */
export function numberedList(sel) {
  return listLines(sel, NUMBER, BULLET, (n) => `${n}. `);
}

function listLines(sel, mine, other, marker) {
  return prefixLines(sel, {
    has: (line) => mine.test(line),
    remove: (line) => line.replace(mine, "$1"),
    add: (line, n) => {
      const plain = line.replace(mine, "$1").replace(other, "$1");
      const indent = /^[ \t]*/.exec(plain)[0];
      return indent + marker(n) + plain.slice(indent.length);
    },
    separate: { before: true },
  });
}

/** `> ` before every selected line; one level off again when every one is quoted. */
export function quote(sel) {
  return prefixLines(sel, {
    has: (line) => QUOTE.test(line),
    remove: (line) => line.replace(QUOTE, ""),
    add: (line, n, blank) => (line.trim() || blank ? `> ${line}` : ">"),
    blankLinesToo: true, // a blank line ends a quote: quoted, it is a quote's paragraph break
    separate: { before: false },
  });
}

/**
 * Adds a prefix to each selected line that has text, or removes it from all when all have it. A
 * block put after a paragraph line gets a blank line before it where Markdown needs one
 * (`separate.before`), and one after it when a line of text follows (it would join the block).
 * The caret stays where it was in its line; a selection takes the lines made.
 */
function prefixLines(sel, rule) {
  const { text } = sel;
  const [start, end] = ordered(sel);
  const { from, to, lines } = selectedLines(text, start, end);
  const filled = lines.filter((line) => line.trim());
  const off = filled.length > 0 && filled.every(rule.has);
  const blank = filled.length === 0; // on an empty line: start the list (or quote) there
  let n = 0;
  const changed = lines.map((line) => {
    if (off) return rule.has(line) ? rule.remove(line) : line;
    if (!line.trim() && !rule.blankLinesToo && !blank) return line;
    n += line.trim() || blank ? 1 : 0;
    return rule.add(line, n, blank);
  });
  let block = changed.join("\n");
  let head = "";
  let tail = "";
  if (!off) {
    const previous = from > 0 ? lineBefore(text, from) : "";
    const following = to < text.length ? lineAfter(text, to) : "";
    if (rule.separate.before && previous.trim() && !rule.has(previous)) head = "\n";
    if (following.trim() && !rule.has(following)) tail = "\n";
  }
  const result = text.slice(0, from) + head + block + tail + text.slice(to);
  const blockStart = from + head.length;
  if (start === end) {
    // The caret: in the same place of its line's text, after the new prefix.
    const oldLine = lines[0];
    const newLine = changed[0];
    const oldPrefix = prefixLength(oldLine);
    const newPrefix = prefixLength(newLine);
    const offset = Math.max(0, start - from - oldPrefix);
    const at = blockStart + Math.min(newLine.length, newPrefix + offset);
    return { text: result, start: at, end: at };
  }
  return { text: result, start: blockStart, end: blockStart + block.length };
}

function prefixLength(line) {
  return BLOCK_PREFIX.exec(line)[0].length;
}

/** Where the line with `at` in it starts. */
function lineStartOf(text, at) {
  return at === 0 ? 0 : text.lastIndexOf("\n", at - 1) + 1;
}

function lineBefore(text, from) {
  const end = from - 1; // the "\n" before `from`
  return text.slice(lineStartOf(text, end), end);
}

function lineAfter(text, to) {
  const next = text.indexOf("\n", to + 1);
  return text.slice(to + 1, next === -1 ? text.length : next);
}

const FENCE = /^(`{3,}|~{3,})[^`\n]*$/;

/**
 * The selected lines between ``` fences of their own (longer when the code has a line of three
 * backticks); inside a fenced block already, its fences come off.
 */
export function codeBlock(sel) {
  const { text } = sel;
  const [start, end] = ordered(sel);
  const { from, to, lines } = selectedLines(text, start, end);
  const fenced = fencedBlockAround(text, from, to);
  if (fenced) {
    const { open, close } = fenced; // [start, end) of the opening and the closing fence's lines
    const inner = text.slice(open[1] + 1, close[0] - 1);
    const result = text.slice(0, open[0]) + inner + text.slice(close[1]);
    const shift = (at) => Math.min(Math.max(at - (open[1] + 1 - open[0]), open[0]), open[0] + inner.length);
    return { text: result, start: shift(start), end: shift(end) };
  }
  const code = lines.join("\n");
  const fence = "`".repeat(Math.max(3, longestFenceRun(lines) + 1));
  const result = `${text.slice(0, from)}${fence}\n${code}\n${fence}${text.slice(to)}`;
  const at = from + fence.length + 1;
  if (start === end) return { text: result, start: start + fence.length + 1, end: start + fence.length + 1 };
  return { text: result, start: at, end: at + code.length };
}

function longestFenceRun(lines) {
  let longest = 0;
  for (const line of lines) longest = Math.max(longest, /^`*/.exec(line)[0].length);
  return longest;
}

/**
 * The fenced block the lines [from, to) are in, fences included, as the ranges of its two fence
 * lines; null when they are not all inside one. The text is read from its start: a fence line
 * opens a block or closes the one open (with the same fence).
 */
function fencedBlockAround(text, from, to) {
  let at = 0;
  let open = null; // {range, fence}
  for (const line of text.split("\n")) {
    const range = [at, at + line.length];
    at += line.length + 1;
    const fence = FENCE.exec(line);
    if (!open) {
      if (fence) open = { range, fence: fence[1] };
      continue;
    }
    if (line.trimEnd() !== open.fence) continue;
    // A block from open.range to range: do the selected lines lie in it (its fences count too)?
    if (open.range[0] <= from && to <= range[1]) return { open: open.range, close: range };
    if (range[0] > to) return null;
    open = null;
  }
  return null;
}

/** Every action the toolbar offers, by the name its buttons carry (data-format). */
export const ACTIONS = { bold, italic, link, bulletList, numberedList, quote, inlineCode, codeBlock };
