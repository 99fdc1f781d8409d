// The admin API (/api/v1/) with the operator's bearer token, kept in sessionStorage only.
const KEY = 'scepd.token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  sessionStorage.setItem(KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

// An answer that is not 2xx: its status and the API's "error" text.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The API's {"error": TEXT}; from anything else on the way (a proxy), its first line of text.
async function errorOf(res) {
  const raw = await res.text().catch(() => '');
  let text = '';
  try {
    const body = JSON.parse(raw);
    text = body && typeof body.error === 'string' ? body.error : '';
  } catch (e) {
    text = raw.split('\n')[0].slice(0, 200);
  }
  return new ApiError(res.status, `${res.status}: ${text || res.statusText || 'request failed'}`);
}

// Calls METHOD /api/v1/PATH (body: an object sent as JSON) and answers the parsed JSON.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/v1/${path}`, init);
  } catch (e) {
    throw new ApiError(0, `the server cannot be reached: ${e.message}`);
  }
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

// A query string of the set values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
