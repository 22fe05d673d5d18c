// The shared pieces of every page: the status line and the confirmation dialog.

import { $, fill } from "./dom.js";

let fading = 0;

/** Say something in the status line (read out by screen readers); good news fades after a few seconds. */
export function say(text, kind = "ok") {
  const status = $("#status");
  status.className = `status ${kind}`;
  status.textContent = text;
  clearTimeout(fading);
  if (kind === "ok") fading = setTimeout(() => { status.textContent = ""; }, 8000);
}

export function fail(error) {
  say(error?.message ?? String(error), "error");
}

/**
 * Ask to confirm in the modal dialog: resolves true when its action button (`ok`, "Delete" by default) is pressed,
 * false on Cancel or Escape. `extra` are controls shown in the dialog (read them after it resolves).
 */
export function confirm({ title, text, ok = "Delete", danger = true, extra = [] }) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  fill($("#confirm-extra"), extra);
  const button = $("#confirm-ok");
  button.textContent = ok;
  button.className = danger ? "danger" : "primary";
  dialog.returnValue = "";
  $("#confirm-cancel").onclick = () => dialog.close("cancel"); // not a submit button: Enter in a field means OK
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

/** Run `work`, saying its error (if any) in the status line; answers what `work` answered, or undefined. */
export async function attempt(work) {
  try {
    return await work();
  } catch (error) {
    fail(error);
    return undefined;
  }
}
