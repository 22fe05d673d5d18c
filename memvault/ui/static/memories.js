// The Memories page: the table (newest first, paginated, filtered), search, select-many-and-delete, delete by
// filter, and one memory's own view (text, metadata, history, edit, move).

import { api } from "./api.js";
import { $, field, fill, h, plural, when } from "./dom.js";
import { attempt, confirm, fail, say } from "./ui.js";

const OWNERS = [["user_id", "User"], ["agent_id", "Agent"], ["app_id", "App"], ["run_id", "Run"]];
const PAGE_SIZE = 25;
const SEARCH_TOP = 50;

/** What the page shows; kept while the tab lives, so the Users page can open an owner's memories. */
export const view = {
  filters: { user_id: "", agent_id: "", app_id: "", run_id: "", bucket: "", category: "" },
  query: "",
  page: 1,
};

export function showOwner(type, name) {
  view.filters = { user_id: "", agent_id: "", app_id: "", run_id: "", bucket: "", category: "", [`${type}_id`]: name };
  view.query = "";
  view.page = 1;
  location.hash = "#/memories";
}

/** The Mem0 filter of the chosen filters, or null when none is set. */
function mem0Filters() {
  const out = {};
  for (const [name] of OWNERS) if (view.filters[name]) out[name] = view.filters[name];
  if (view.filters.bucket) out.bucket = view.filters.bucket;
  if (view.filters.category) out.categories = view.filters.category; // one of the memory's categories
  return Object.keys(out).length ? out : null;
}

export async function memoriesPage(root) {
  const [entities, buckets] = await Promise.all([attempt(api.entities), attempt(api.buckets)]);
  const known = (type) => (entities?.results ?? []).filter((e) => e.type === type).map((e) => e.name);

  // search ------------------------------------------------------------------------------------------
  const query = h("input", { type: "search", value: view.query, autocomplete: "off" });
  const searchForm = h("form", { class: "row", role: "search" },
    field("Search memories", query),
    h("button", { type: "submit", class: "primary" }, "Search"),
    h("button", { type: "button", onclick: () => { query.value = ""; view.query = ""; load(); } }, "Clear search"));
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    view.query = query.value.trim();
    view.page = 1;
    load();
  });

  // filters -----------------------------------------------------------------------------------------
  const inputs = {};
  const controls = OWNERS.map(([name, label]) => {
    const listId = `known-${name}`;
    inputs[name] = h("input", { type: "text", value: view.filters[name], list: listId, autocomplete: "off" });
    return h("div", {}, field(label, inputs[name]), h("datalist", { id: listId }, known(name.slice(0, -3)).map((v) => h("option", { value: v }))));
  });
  inputs.bucket = h("select", {},
    h("option", { value: "" }, "Any bucket"),
    (buckets ?? []).map((b) => h("option", { value: b.name }, b.name)));
  inputs.bucket.value = view.filters.bucket;
  inputs.category = h("input", { type: "text", value: view.filters.category, autocomplete: "off" });
  const filterForm = h("form", { class: "filters" },
    h("fieldset", {}, h("legend", {}, "Filters"),
      h("div", { class: "grid" }, controls, field("Bucket", inputs.bucket), field("Category", inputs.category),
        h("div", { class: "buttons" },
          h("button", { type: "submit", class: "primary" }, "Apply filters"),
          h("button", { type: "button", onclick: () => { for (const k of Object.keys(inputs)) inputs[k].value = ""; filterForm.requestSubmit(); } },
            "Clear filters")))));
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    for (const k of Object.keys(inputs)) view.filters[k] = inputs[k].value.trim();
    view.page = 1;
    load();
  });

  // selection and deletion --------------------------------------------------------------------------
  const selected = new Set();
  const selectAll = h("input", { type: "checkbox", id: "select-all" });
  const deleteSelected = h("button", { type: "button", class: "danger", disabled: true }, "Delete selected");
  const selectedCount = h("span", { class: "muted" });
  const deleteMatching = h("button", { type: "button", disabled: true }, "Delete all matching");
  const outcome = h("div", { class: "outcome", role: "status" });
  const toolbar = h("div", { class: "row toolbar" },
    h("label", { class: "check" }, selectAll, "Select all on this page"),
    deleteSelected, selectedCount, deleteMatching);

  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const scoreHead = h("th", { scope: "col" }, "Score");
  const body = h("tbody");
  const table = h("table", {},
    h("caption", { class: "sr-only" }, "Memories, newest first"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Select")),
      h("th", { scope: "col" }, "Memory"), h("th", { scope: "col" }, "Owners"), h("th", { scope: "col" }, "Bucket"),
      h("th", { scope: "col" }, "Categories"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, "Updated"),
      h("th", { scope: "col" }, "Expires"), scoreHead)),
    body);
  const previous = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  const where = h("span", { class: "muted" });
  const pager = h("nav", { class: "row pager", "aria-label": "Pages of memories" }, previous, where, next);
  previous.addEventListener("click", () => { view.page -= 1; load(); });
  next.addEventListener("click", () => { view.page += 1; load(); });

  fill(root, h("h1", { tabindex: "-1" }, "Memories"), searchForm, filterForm, toolbar, outcome, summary,
    h("div", { class: "table-wrap" }, table), pager);

  let rows = [];
  let total = 0;
  let loading = 0;

  function refreshSelection() {
    const boxes = [...body.querySelectorAll("input[type=checkbox]")];
    const ticked = boxes.filter((b) => b.checked).length;
    selectAll.checked = boxes.length > 0 && ticked === boxes.length;
    selectAll.indeterminate = ticked > 0 && ticked < boxes.length;
    deleteSelected.disabled = selected.size === 0;
    selectedCount.textContent = selected.size ? `${selected.size} selected` : "";
  }

  selectAll.addEventListener("change", () => {
    for (const box of body.querySelectorAll("input[type=checkbox]")) {
      box.checked = selectAll.checked;
      if (box.checked) selected.add(box.dataset.id); else selected.delete(box.dataset.id);
    }
    refreshSelection();
  });

  deleteSelected.addEventListener("click", async () => {
    const ids = [...selected];
    const yes = await confirm({
      title: `Delete ${plural(ids.length, "memory", "memories")}?`,
      text: `${plural(ids.length, "selected memory", "selected memories")} will be deleted for good: text, vector, keyword entry and history.`,
    });
    if (!yes) return;
    const done = await attempt(() => api.bulkDelete(ids));
    if (!done) return;
    const failures = done.results.filter((r) => r.status !== "deleted");
    fill(outcome, h("p", {}, `Deleted ${done.deleted}, failed ${done.failed}.`),
      failures.length ? h("ul", {}, failures.map((r) => h("li", {}, `${r.id}: ${r.reason}`))) : null,
      receiptLine(done));
    say(`Deleted ${done.deleted}, failed ${done.failed}.`);
    await load();
  });

  deleteMatching.addEventListener("click", async () => {
    const filters = mem0Filters();
    if (!filters) return;
    // The count is the delete's own dry run: the same rules, expired and superseded memories included.
    const counted = await attempt(() => api.deleteWhere(filters, true));
    if (!counted) return;
    const yes = await confirm({
      title: `Delete ${plural(counted.would_delete, "memory", "memories")} matching the filters?`,
      text: `The filters match ${plural(counted.would_delete, "memory", "memories")} now. `
        + "Every memory they match when you confirm is deleted for good.",
    });
    if (!yes) return;
    const done = await attempt(() => api.deleteWhere(filters));
    if (!done) return;
    fill(outcome, h("p", {}, `Deleted ${plural(done.deleted, "memory", "memories")} matching the filters.`),
      receiptLine(done));
    say(`Deleted ${plural(done.deleted, "memory", "memories")}.`);
    await load();
  });

  // A delete that removed something answers its receipt: proof of what went, without any of it.
  function receiptLine(done) {
    return done.receipt_id
      ? h("p", { class: "receipt" }, `Receipt ${done.receipt_id}`)
      : h("p", { class: "muted" }, "Nothing was deleted, so there is no receipt.");
  }

  function row(m) {
    const box = h("input", { type: "checkbox", "aria-label": m.memory, "data-id": m.id, checked: selected.has(m.id) });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(m.id); else selected.delete(m.id);
      refreshSelection();
    });
    const owners = OWNERS.filter(([name]) => m[name]).map(([name, label]) => h("span", { class: "tag" }, `${label.toLowerCase()}: ${m[name]}`));
    const breakdown = Object.entries(m.score_breakdown ?? {}).map(([part, v]) => h("li", {}, `${part} ${Number(v).toFixed(2)}`));
    return h("tr", {},
      h("td", {}, box),
      h("td", { class: "text" }, h("button", { type: "button", class: "link", onclick: () => openMemory(m.id, load) }, m.memory)),
      h("td", {}, owners.length ? owners : "—"),
      h("td", {}, m.bucket ?? "—"),
      h("td", {}, (m.categories ?? []).length ? m.categories.map((c) => h("span", { class: "tag" }, c)) : "—"),
      h("td", { class: "date" }, when(m.created_at)),
      h("td", { class: "date" }, when(m.updated_at)),
      h("td", { class: "date" }, when(m.expiration_date)),
      view.query ? h("td", { class: "score" }, h("strong", {}, Number(m.score).toFixed(3)),
        h("ul", { class: "breakdown", "aria-label": "Score breakdown" }, breakdown)) : null);
  }

  async function load() {
    const mine = ++loading;
    const filters = mem0Filters();
    let answer;
    try {
      answer = view.query
        ? { results: await api.search(view.query, filters, SEARCH_TOP) }
        : await api.list(filters, view.page, PAGE_SIZE);
    } catch (error) {
      if (mine === loading) fail(error);
      return;
    }
    if (mine !== loading) return;
    rows = answer.results;
    total = view.query ? rows.length : answer.count;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (!view.query && view.page > pages) { view.page = pages; return load(); }
    selected.clear();
    scoreHead.hidden = !view.query;
    fill(body, rows.length ? rows.map(row) : h("tr", {}, h("td", { colspan: "9", class: "empty" }, view.query ? "No memory matches this search." : "No memories here.")));
    summary.textContent = view.query
      ? `${plural(total, "hit")} for “${view.query}”, best first, with each score and its parts.`
      : `${plural(total, "memory", "memories")}${filters ? " matching the filters" : ""}, newest first.`;
    pager.hidden = Boolean(view.query) || pages === 1;
    where.textContent = `Page ${view.page} of ${pages}`;
    previous.disabled = view.page <= 1;
    next.disabled = view.page >= pages;
    deleteMatching.disabled = !filters || Boolean(view.query);
    refreshSelection();
  }

  await load();
}

// one memory ------------------------------------------------------------------------------------------
async function openMemory(id, reload) {
  const dialog = $("#detail");
  const [memory, events, buckets] = await Promise.all([api.get(id), api.history(id), api.buckets()]).catch((e) => {
    fail(e);
    return [];
  });
  if (!memory) return;
  const owners = OWNERS.filter(([name]) => memory[name]).map(([name, label]) => `${label.toLowerCase()}: ${memory[name]}`).join(", ");
  const text = h("textarea", { rows: "4", value: memory.memory });
  const bucket = h("select", {}, buckets.map((b) => h("option", { value: b.id }, b.name)));
  const current = buckets.find((b) => b.name === memory.bucket);
  if (current) bucket.value = current.id;

  const edit = h("form", { class: "stack" }, field("Memory text", text), h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Save text")));
  edit.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await attempt(() => api.setText(id, text.value))) {
      say("Saved the memory's text.");
      await openMemory(id, reload);
      await reload();
    }
  });
  const move = h("form", { class: "row" }, field("Move to bucket", bucket), h("button", { type: "submit" }, "Move"));
  move.addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = buckets.find((b) => b.id === bucket.value);
    if (await attempt(() => api.move([id], bucket.value))) {
      say(`Moved the memory to ${target?.name ?? "the bucket"}.`);
      await openMemory(id, reload);
      await reload();
    }
  });

  fill($("#detail-body"),
    h("p", { class: "memory-text" }, memory.memory),
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, memory.id)),
      h("dt", {}, "Owners"), h("dd", {}, owners || "—"),
      h("dt", {}, "Bucket"), h("dd", {}, memory.bucket ?? "—"),
      h("dt", {}, "Categories"), h("dd", {}, (memory.categories ?? []).join(", ") || "—"),
      h("dt", {}, "Created"), h("dd", {}, when(memory.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, when(memory.updated_at)),
      h("dt", {}, "Expires"), h("dd", {}, when(memory.expiration_date))),
    h("h3", {}, "Metadata"),
    h("pre", { class: "metadata" }, memory.metadata ? JSON.stringify(memory.metadata, null, 2) : "none"),
    h("h3", {}, "Edit"), edit, move,
    h("h3", {}, "History"),
    h("ol", { class: "history" }, events.map((e) => h("li", {},
      h("strong", {}, e.event), ` · ${when(e.created_at)}`,
      e.old_memory ? h("div", {}, h("span", { class: "muted" }, "before: "), e.old_memory) : null,
      e.new_memory ? h("div", {}, h("span", { class: "muted" }, "after: "), e.new_memory) : null))));
  $("#detail-close").onclick = () => dialog.close();
  if (!dialog.open) dialog.showModal();
}
