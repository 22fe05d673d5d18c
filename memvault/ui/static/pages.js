// The Users, Buckets and Activity pages.

import { api } from "./api.js";
import { field, fill, h, plural, when } from "./dom.js";
import { showOwner } from "./memories.js";
import { attempt, confirm, say } from "./ui.js";

export async function usersPage(root) {
  const body = h("tbody");
  fill(root, h("h1", { tabindex: "-1" }, "Users and other owners"),
    h("p", { class: "muted" }, "Every user, agent, app and run id that owns a memory, with how many it owns."),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Owners and their memory counts"),
      h("thead", {}, h("tr", {}, ["Type", "Name", "Memories", "Updated", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body)));

  async function load() {
    const found = await attempt(api.entities);
    if (!found) return;
    fill(body, found.results.length ? found.results.map((e) => h("tr", {},
      h("td", {}, e.type),
      h("td", { class: "text" }, e.name),
      h("td", { class: "number" }, String(e.total_memories)),
      h("td", { class: "date" }, when(e.updated_at)),
      h("td", {}, h("div", { class: "actions" },
        h("button", { type: "button", "aria-label": `Show memories of ${e.type} ${e.name}`, onclick: () => showOwner(e.type, e.name) }, "Show memories"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete memories of ${e.type} ${e.name}`, onclick: () => remove(e) }, "Delete")))))
    : h("tr", {}, h("td", { colspan: "5", class: "empty" }, "No owners yet.")));
  }

  async function remove(e) {
    const yes = await confirm({
      title: `Delete ${plural(e.total_memories, "memory", "memories")} of ${e.type} ${e.name}?`,
      text: `Every memory of ${e.type} “${e.name}” is deleted for good (${plural(e.total_memories, "memory", "memories")} now).`,
    });
    if (yes && await attempt(() => api.deleteEntity(e.type, e.name))) {
      say(`Deleted the memories of ${e.type} ${e.name}.`);
      await load();
    }
  }

  await load();
}

export async function bucketsPage(root) {
  const name = h("input", { type: "text", required: true, autocomplete: "off" });
  const description = h("input", { type: "text", autocomplete: "off" });
  const create = h("form", { class: "row" }, field("Bucket name", name), field("Description", description),
    h("button", { type: "submit", class: "primary" }, "Create bucket"));
  const body = h("tbody");
  fill(root, h("h1", { tabindex: "-1" }, "Buckets"),
    h("p", { class: "muted" }, "A bucket is a folder of memories (MemoryPlugin). General is always there."),
    create,
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Buckets"),
      h("thead", {}, h("tr", {}, ["Name", "Description", "Memories", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      body)));

  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await attempt(() => api.createBucket(name.value.trim(), description.value.trim() || null))) {
      say(`Created the bucket ${name.value.trim()}.`);
      name.value = "";
      description.value = "";
      await load();
    }
  });

  async function load() {
    const buckets = await attempt(api.buckets);
    if (!buckets) return;
    fill(body, buckets.map((b) => h("tr", {},
      h("td", { class: "text" }, b.name),
      h("td", { class: "text" }, b.description || "—"),
      h("td", { class: "number" }, String(b.memoryCount)),
      h("td", {}, h("div", { class: "actions" }, b.name === "General" ? h("span", { class: "muted" }, "always there") : [
        h("button", { type: "button", "aria-label": `Rename bucket ${b.name}`, onclick: () => rename(b) }, "Rename"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete bucket ${b.name}`, onclick: () => remove(b) }, "Delete"),
      ])))));
  }

  async function rename(b) {
    const input = h("input", { type: "text", value: b.name, required: true, autocomplete: "off" });
    const yes = await confirm({ title: `Rename the bucket ${b.name}`, text: "Its memories stay in it.", ok: "Rename",
      danger: false, extra: [field("New name", input)] });
    if (yes && await attempt(() => api.renameBucket(b.id, input.value.trim()))) {
      say(`Renamed the bucket to ${input.value.trim()}.`);
      await load();
    }
  }

  async function remove(b) {
    const moveThem = h("input", { type: "radio", name: "bucket-memories", value: "move", checked: true });
    const deleteThem = h("input", { type: "radio", name: "bucket-memories", value: "delete" });
    const choice = h("fieldset", {}, h("legend", {}, `Its ${plural(b.memoryCount, "memory", "memories")}`),
      h("label", { class: "check" }, moveThem, "Move them to General"),
      h("label", { class: "check" }, deleteThem, "Delete them for good"));
    const yes = await confirm({ title: `Delete the bucket ${b.name}?`, text: "The bucket goes; say what happens to its memories.",
      extra: [choice] });
    if (!yes) return;
    const how = deleteThem.checked ? "delete" : "move";
    const done = await attempt(() => api.deleteBucket(b.id, how));
    if (done) {
      say(how === "move" ? `Deleted the bucket ${b.name}; moved ${plural(done.moved, "memory", "memories")} to General.`
        : `Deleted the bucket ${b.name} and ${plural(done.deleted, "memory", "memories")}.`);
      await load();
    }
  }

  await load();
}

export async function activityPage(root) {
  const kind = h("select", {}, ["", "memory_add", "memory_update", "memory_supersede", "memory_delete", "memory_purge"]
    .map((t) => h("option", { value: t }, t || "All changes")));
  const body = h("tbody");
  const hooks = h("tbody");
  const pager = h("p", { class: "muted" });
  const prev = h("button", { type: "button", disabled: true }, "Newer");
  const next = h("button", { type: "button", disabled: true }, "Older");
  let page = 1;
  fill(root, h("h1", { tabindex: "-1" }, "Activity"),
    h("p", { class: "muted" }, "The change log: every add, update, supersede, delete and purge, newest first, with who "
      + "made it. A deleted memory's text is gone from here too."),
    h("div", { class: "row" }, field("Change", kind)),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Changes"),
      h("thead", {}, h("tr", {}, ["When", "Change", "Memory", "Text", "By"].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    h("div", { class: "row" }, prev, pager, next),
    h("h2", {}, "Webhooks"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Webhooks"),
      h("thead", {}, h("tr", {}, ["Name", "URL", "Changes", "Active"].map((t) => h("th", { scope: "col" }, t)))),
      hooks)));

  async function load() {
    const found = await attempt(() => api.events(page, 25, kind.value));
    if (!found) return;
    fill(body, found.results.length ? found.results.map((e) => h("tr", {},
      h("td", { class: "date" }, when(e.created_at)),
      h("td", {}, e.event_type),
      h("td", { class: "text" }, e.memory_id),
      h("td", { class: "text" }, e.results[0]?.data?.memory ?? ""),
      h("td", {}, e.actor ?? "")))
      : h("tr", {}, h("td", { colspan: "5", class: "empty" }, "No changes yet.")));
    const pages = Math.max(1, Math.ceil(found.count / 25));
    pager.textContent = `Page ${page} of ${pages}`;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  }

  async function loadHooks() {
    const me = await attempt(() => api.ping());
    if (!me) return;
    const found = await attempt(() => api.webhooks(me.project_id));
    if (!found) return;
    fill(hooks, found.length ? found.map((w) => h("tr", {},
      h("td", { class: "text" }, w.name),
      h("td", { class: "text" }, w.url),
      h("td", {}, w.event_types.join(", ")),
      h("td", {}, w.is_active ? "yes" : `no (${w.last_error ?? "failing"})`)))
      : h("tr", {}, h("td", { colspan: "4", class: "empty" }, "No webhooks. Create one with the SDK's create_webhook "
        + "or memvault webhooks add.")));
  }

  kind.addEventListener("change", () => { page = 1; load(); });
  prev.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  await Promise.all([load(), loadHooks()]);
}
