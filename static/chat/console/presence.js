// The visitor's presence as the console shows it: a dot and words, never the colour alone
// (protocol `presence`: online, away with the page in a background tab, gone with no page open).

const WORDS = {
  online: { short: "Online", long: "Online" },
  away: { short: "Away", long: "Away: the page is in a background tab" },
  gone: { short: "Gone", long: "Gone: no page of the site is open" },
};

/** Fill `el` (a .hd-presence) with the state: a dot (decoration) and its words. */
export function showPresence(el, state, { short = false } = {}) {
  const words = WORDS[state] || { short: state, long: state };
  el.dataset.state = state;
  let dot = el.querySelector(".hd-presence__dot");
  let text = el.querySelector(".hd-presence__text");
  if (!dot) {
    dot = document.createElement("span");
    dot.className = "hd-presence__dot";
    dot.setAttribute("aria-hidden", "true");
    text = document.createElement("span");
    text.className = "hd-presence__text";
    el.replaceChildren(dot, text);
  }
  text.textContent = short ? words.short : words.long;
  el.title = words.long;
}
