// Pieces several views share.
import { taskHref } from "../api.js";
import { h } from "../dom.js";
import { fmtCount, STATES } from "../format.js";

/** A coloured state label. */
export function stateChip(state, text = state.replace("_", " ")) {
  return h("span", { class: `chip state-${state}`, title: state, dataset: { state } }, text);
}

/** Task counts by state as chips, in the order tasks go through states. */
export function chips(states) {
  const order = [...STATES.filter((s) => states[s]), ...Object.keys(states).filter((s) => !STATES.includes(s))];
  return h(
    "span",
    { class: "chips" },
    order.map((s) => stateChip(s, `${s.replace("_", " ")} ${fmtCount(states[s])}`)),
  );
}

/** A link to a task: `#12`. */
export function taskLink(runId, taskId, text = `#${taskId}`) {
  return h("a", { href: taskHref(runId, taskId), dataset: { taskId: String(taskId) } }, text);
}

/** A short note in muted text. */
export const note = (...text) => h("p", { class: "note" }, ...text);
