// JSON over HTTP to /api/v1 with a bearer token; errors become ApiError with the
// server's code (SPEC section 5), so callers can tell "not there yet" from "refused".

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * api(base, '/specialists', {token, method: 'POST', json: {...}})
 * `form` sends a FormData (multipart) instead of JSON. Resolves to the parsed body, or
 * null for 204.
 */
export async function api(base, path, { token, method = 'GET', json, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(`${base}/api/v1${path}`, { method, headers, body });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection.');
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data && data.error;
    throw new ApiError(
      response.status,
      error ? error.code : 'internal',
      error ? error.message : `request failed (${response.status})`,
    );
  }
  return data;
}

/**
 * Saves an attachment. Its URL needs the bearer token, which a plain link cannot send,
 * so the file is fetched and handed to the browser as a blob download.
 */
export async function download(base, token, attachment) {
  const response = await fetch(new URL(attachment.url, base), {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new ApiError(response.status, 'download', `download failed (${response.status})`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = attachment.file_name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
