// Times as both chat pages show them, in the browser's locale.

/** The time under a message, in the timeline. */
export const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
/** A time on another day than today. */
export const dayTimeFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
/** The whole date and time: tooltips and what a screen reader hears for a receipt. */
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

/** A <time> of an ISO string in `format`, the full date as its tooltip; empty for a bad date. */
export function timeEl(iso, format = timeFormat) {
  const time = document.createElement("time");
  const date = new Date(iso || "");
  if (!Number.isNaN(date.getTime())) {
    time.dateTime = iso;
    time.textContent = format.format(date);
    time.title = fullFormat.format(date);
  }
  return time;
}

/** Today's times alone, other days' with their day. */
export function dayOrTimeFormat(iso) {
  return new Date(iso || "").toDateString() === new Date().toDateString() ? timeFormat : dayTimeFormat;
}
