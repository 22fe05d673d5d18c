// The dashboard's entry: sign in and out, and the pages by the URL's #fragment (#/memories, #/users, ...).

import { api, session, whenRefused } from "./api.js";
import { $ } from "./dom.js";
import { memoriesPage } from "./memories.js";
import { activityPage, bucketsPage, usersPage } from "./pages.js";
import { fail, say } from "./ui.js";

const PAGES = {
  memories: ["Memories", memoriesPage],
  users: ["Users", usersPage],
  buckets: ["Buckets", bucketsPage],
  activity: ["Activity", activityPage],
};

let firstPage = true;

function showSignIn(message = "") {
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("#page").hidden = true;
  $("#page").replaceChildren();
  $("#nav").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  $("#sign-in").hidden = false;
  $("#sign-in-error").textContent = message;
  document.title = "Sign in · memvault";
  $("#api-key").focus();
}

async function showPage() {
  if (!session.key()) {
    showSignIn();
    return;
  }
  const name = location.hash.replace(/^#\/?/, "");
  const [title, render] = PAGES[name] ?? PAGES.memories;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${name || "memories"}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("#sign-in").hidden = true;
  $("#nav").hidden = false;
  $("#sign-out").hidden = false;
  const page = $("#page");
  page.hidden = false;
  document.title = `${title} · memvault`;
  page.setAttribute("aria-busy", "true");
  try {
    await render(page);
  } catch (error) {
    fail(error);
  } finally {
    page.setAttribute("aria-busy", "false");
  }
  if (!firstPage) page.querySelector("h1")?.focus(); // a page change moves the focus to its heading
  firstPage = false;
}

async function signIn(event) {
  event.preventDefault();
  const input = $("#api-key");
  const key = input.value.trim();
  $("#sign-in-error").textContent = "";
  if (!key) {
    $("#sign-in-error").textContent = "Enter an API key.";
    return;
  }
  try {
    const me = await api.ping(key);
    session.keep(key);
    input.value = "";
    $("#who").textContent = `Project ${me.project_id}`;
    say("Signed in.");
    if (!location.hash.startsWith("#/")) location.hash = "#/memories"; // the hashchange shows the page
    else await showPage();
  } catch (error) {
    $("#sign-in-error").textContent = error.status === 401 ? `Sign-in failed: ${error.message}` : error.message;
  }
}

function signOut(message = "") {
  session.forget();
  say(message ? "" : "Signed out.");
  showSignIn(message);
}

async function start() {
  $("#sign-in-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", () => signOut());
  whenRefused((error) => signOut(`Your key was refused: ${error.message}`));
  window.addEventListener("hashchange", showPage);
  if (session.key()) {
    try {
      const me = await api.ping(session.key());
      $("#who").textContent = `Project ${me.project_id}`;
    } catch (error) {
      signOut(error.status === 401 ? `Your key was refused: ${error.message}` : error.message);
      return;
    }
  }
  await showPage();
}

start();
