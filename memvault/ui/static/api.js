// The key and the calls to memvault's own APIs. The key lives in this tab's sessionStorage only and travels
// in the Authorization header: never in a URL, never in a cookie.

const KEY = "memvault.key";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  keep: (key) => sessionStorage.setItem(KEY, key),
  forget: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Called with every 401 after sign-in (a revoked key): the app signs out.
let onRefused = () => {};
export function whenRefused(handler) { onRefused = handler; }

/** One call: `path` is a memvault path ("/v2/memories/", "/api/buckets"), `query` an object of query parameters. */
export async function call(method, path, { body, query, key } = {}) {
  const secret = key ?? session.key();
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const scheme = path.startsWith("/v") ? "Token" : "Bearer"; // each face's documented scheme
  const init = {
    method,
    headers: { Authorization: `${scheme} ${secret ?? ""}`, Accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(url, init);
  } catch {
    throw new ApiError(0, "Cannot reach the memvault server.");
  }
  const text = await answer.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!answer.ok) {
    const said = data && (data.detail ?? data.error);
    const message = typeof said === "string" ? said : `The server answered ${answer.status}.`;
    const error = new ApiError(answer.status, message);
    if (answer.status === 401 && key === undefined) onRefused(error);
    throw error;
  }
  return data;
}

// The calls the dashboard makes, by what it does. Mem0 dialect for memories, owners and history; MemoryPlugin
// dialect for buckets, moves and the bulk delete; /ui/api for delete-by-filter.
export const api = {
  ping: (key) => call("GET", "/v1/ping/", { key }),
  list: (filters, page, pageSize) =>
    call("POST", "/v2/memories/", { query: { page, page_size: pageSize }, body: filters ? { filters } : {} }),
  search: (query, filters, topK) =>
    call("POST", "/v2/memories/search/", { body: { query, top_k: topK, ...(filters ? { filters } : {}) } }),
  get: (id) => call("GET", `/v1/memories/${encodeURIComponent(id)}/`),
  history: (id) => call("GET", `/v1/memories/${encodeURIComponent(id)}/history/`),
  setText: (id, text) => call("PUT", `/v1/memories/${encodeURIComponent(id)}/`, { body: { text } }),
  move: (ids, bucketId) => call("POST", "/api/v2/memory/update", { body: { memoryIds: ids, bucketId } }),
  bulkDelete: (ids) => call("POST", "/api/memories/bulk-delete", { body: { memoryIds: ids } }),
  deleteWhere: (filters, dryRun = false) => call("POST", "/ui/api/memories/delete", { body: { filters, dry_run: dryRun } }),
  entities: () => call("GET", "/v1/entities/"),
  deleteEntity: (type, name) =>
    call("DELETE", `/v2/entities/${encodeURIComponent(type)}/${encodeURIComponent(name)}/`),
  buckets: () => call("GET", "/api/buckets"),
  createBucket: (name, description) => call("POST", "/api/buckets", { body: { name, description } }),
  renameBucket: (id, name) => call("PATCH", `/api/buckets/${encodeURIComponent(id)}`, { body: { name } }),
  deleteBucket: (id, memories) =>
    call("DELETE", `/api/buckets/${encodeURIComponent(id)}`, { query: { memories } }),
  events: (page, pageSize, eventType) =>
    call("GET", "/v1/events/", { query: { page, page_size: pageSize, ...(eventType ? { event_type: eventType } : {}) } }),
  webhooks: (projectId) => call("GET", `/api/v1/webhooks/projects/${encodeURIComponent(projectId)}/`),
};
