// Stars: an agent's own marks on chats, in one of a few colours (docs/protocol.md, `chat.star`), and
// the sidebar's filter by them. No DOM here: unit-tested with `node --test static/chat/core/`.

/** The colours the protocol names for `chat.star`, in the order the console offers them. */
export const STAR_COLOURS = Object.freeze(["yellow", "red", "green", "blue", "purple"]);

/** What the sidebar's filter can show: every chat, the starred ones, or one colour. */
export const STAR_FILTERS = Object.freeze(["all", "starred", ...STAR_COLOURS]);

/** A colour from the server, or null for none (or for anything the protocol does not name). */
export function starColour(value) {
  return STAR_COLOURS.includes(value) ? value : null;
}

/** "Red" for red; "" for no star. */
export function starName(colour) {
  const known = starColour(colour);
  return known ? known[0].toUpperCase() + known.slice(1) : "";
}

/** A filter as stored or chosen, or "all" for anything unknown. */
export function starFilter(value) {
  return STAR_FILTERS.includes(value) ? value : "all";
}

/** Whether a chat with star `colour` (null: none) shows under `filter`. */
export function starMatches(filter, colour) {
  const known = starColour(colour);
  switch (starFilter(filter)) {
    case "all":
      return true;
    case "starred":
      return known !== null;
    default:
      return known === filter;
  }
}

/** What the filter shows, in words: "all chats", "starred chats", "chats with a red star". */
export function starFilterText(filter) {
  const f = starFilter(filter);
  if (f === "all") return "all chats";
  if (f === "starred") return "starred chats";
  return `chats with a ${f} star`;
}

/** {chatId: colour} from `welcome.stars` as a Map, keeping only colours the protocol names. */
export function starMap(stars) {
  const map = new Map();
  if (stars && typeof stars === "object") {
    for (const [id, colour] of Object.entries(stars)) if (starColour(colour)) map.set(id, colour);
  }
  return map;
}
