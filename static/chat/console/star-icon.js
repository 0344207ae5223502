// A star drawn as an SVG (its colours from console.css, [data-colour]): filled in the star's colour,
// or an outline for none. Decoration only: whoever shows one says the colour in words too.

const NS = "http://www.w3.org/2000/svg";
const PATH = "M12 2.8l2.78 5.84 6.4.78-4.7 4.43 1.2 6.34L12 17.1l-5.68 3.09 1.2-6.34-4.7-4.43 6.4-.78z";

/** An <svg> star of `colour` (null: the outline of "no star"). */
export function starIcon(colour) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "hd-star-icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.dataset.colour = colour || "";
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATH);
  svg.append(path);
  return svg;
}

/** Show `colour` on a star made by starIcon. */
export function setStarIcon(svg, colour) {
  svg.dataset.colour = colour || "";
}
