// Building the page. Every piece of data reaches the DOM as a text node or an attribute value, never as HTML:
// nothing here (or anywhere in the dashboard) hands a string to an HTML parser (tests/ui checks the files).

/**
 * h("button", {type: "button", class: "danger", onclick: fn}, "Delete", child, ...)
 * Attributes are set with setAttribute (a value is never parsed as markup); `on*` keys add listeners; strings and
 * numbers among the children become text nodes; null, undefined and false are skipped; arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "style") throw new Error("style with CSS classes, not style attributes (the CSP forbids them)");
    else if (name === "value" || name === "checked") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace everything inside `el` with `children` (text stays text). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** "2026-11-30 16:27 UTC" from an ISO date; "—" when there is none. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

let ids = 0;
export const uid = (stem) => `${stem}-${++ids}`;

/** A labelled control: <div class="field"><label for=id>label</label><control id=id></div>. */
export function field(label, control) {
  const id = control.id || uid("f");
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}
