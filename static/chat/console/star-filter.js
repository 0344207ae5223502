// The sidebar's filter by my stars: all chats, the starred ones, or one colour. A group of radio
// buttons (arrow keys move between them), kept for this agent in localStorage.

import { jsonStorage } from "../core/socket.js";
import { STAR_FILTERS, starFilter, starName } from "../core/stars.js";
import { starIcon } from "./star-icon.js";

const local = jsonStorage("local");

export class StarFilter {
  /**
   * @param {object} options
   * @param {HTMLElement} options.options  where the radio buttons go (inside the fieldset)
   * @param {string} options.storageKey  localStorage key of the choice
   * @param {function(string): void} options.onChange  the filter chosen
   */
  constructor({ options, storageKey, onChange }) {
    this.key = storageKey;
    this.onChange = onChange;
    this.value = starFilter(local.get(storageKey, "all"));
    this.inputs = STAR_FILTERS.map((filter) => this.option(options, filter));
  }

  option(container, filter) {
    const label = document.createElement("label");
    label.className = "hd-starfilter__option";
    label.dataset.filter = filter;
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "hd-star-filter";
    input.value = filter;
    input.className = "hd-starfilter__input";
    input.dataset.testid = `star-filter-${filter}`;
    input.checked = filter === this.value;
    input.addEventListener("change", () => {
      if (!input.checked) return;
      this.value = filter;
      local.set(this.key, filter);
      this.onChange(filter);
    });
    const face = document.createElement("span");
    face.className = "hd-starfilter__face";
    face.dataset.filter = filter;
    if (filter === "all") {
      face.textContent = "All";
      label.title = "All chats";
    } else {
      face.append(starIcon(filter === "starred" ? "any" : filter), filter === "starred" ? "Any" : "");
      face.append(sr(filter === "starred" ? " star" : starName(filter)));
      label.title = filter === "starred" ? "Chats with any star" : `Chats with a ${filter} star`;
    }
    label.append(input, face);
    container.append(label);
    return input;
  }
}

function sr(text) {
  const el = document.createElement("span");
  el.className = "hd-sr";
  el.textContent = text;
  return el;
}
