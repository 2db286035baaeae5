// Building the page from data: every string from the store becomes a text
// node or an attribute value, never markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Appends strings (as text), nodes and nested arrays; skips null, undefined and false. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: `h("a", { href: "#/", class: "x" }, "text", child)`. */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, as {@link h}. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A `<select>` with `[value, label]` options, `value` selected. */
export function select(id, options, value, onchange) {
  return h(
    "select",
    { id, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}

/** A table: `columns` are header labels; `rows` are `<tr>` elements. */
export function table(id, columns, rows, cls) {
  return h(
    "table",
    { id, class: cls },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map((c) => h("th", {}, c)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/** Replaces `el`'s content with `children` (as {@link append} takes them). */
export function put(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}
