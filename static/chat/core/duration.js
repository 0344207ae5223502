// How long a chat has lasted, for the console's Chat tab (it ticks every second while the chat goes
// on). No DOM here: unit-tested with `node --test static/chat/core/`.

/** Milliseconds as "0:05", "12:34" or "1:02:03" (hours only when there are some). */
export function formatDuration(ms) {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, "0");
  if (!hours) return `${minutes}:${ss}`;
  return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
}

/** A duration read out: "1 hour 2 minutes 3 seconds", "5 seconds". */
export function spokenDuration(ms) {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const parts = [
    [Math.floor(total / 3600), "hour"],
    [Math.floor((total % 3600) / 60), "minute"],
    [total % 60, "second"],
  ].filter(([n]) => n > 0);
  if (!parts.length) return "0 seconds";
  return parts.map(([n, unit]) => `${n} ${unit}${n === 1 ? "" : "s"}`).join(" ");
}

function time(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? null : t;
}

/**
 * The lengths of a chat from its times (the agent chat object or `details.session`): `total` from
 * its start to its end (or `now` while it goes on), `waited` from its start to an agent's accepting
 * it (or to `now`/its end while nobody had). Null where a time is missing. `running`: whether they
 * still grow (nothing has ended it).
 */
export function chatDurations({ started_at: startedAt, accepted_at: acceptedAt, ended_at: endedAt } = {}, now) {
  const start = time(startedAt);
  const accepted = time(acceptedAt);
  const end = time(endedAt);
  const until = end ?? now;
  return {
    total: start === null ? null : Math.max(0, until - start),
    waited: start === null ? null : Math.max(0, (accepted ?? until) - start),
    running: start !== null && end === null,
  };
}
