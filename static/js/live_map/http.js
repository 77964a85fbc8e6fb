// Same-origin JSON calls with Django's CSRF token, and the URL templates of the config.
// "/map/vehicles/0/" -> "/map/vehicles/42/": the last "/0/" of a URL template is the id.

export function urlFor(template, id) {
  const at = template.lastIndexOf("/0/");
  if (at < 0) {
    return "";
  }
  return template.slice(0, at) + "/" + encodeURIComponent(id) + "/" + template.slice(at + 3);
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) {
    return decodeURIComponent(match[1]);
  }
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (error) {
    return "";
  }
}

export async function sendJson(url, method, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      "Content-Type": "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    if (data && data.errors) {
      message = Object.values(data.errors).flat().join(" ");
    } else if (data && data.detail) {
      message = String(data.detail);
    }
    throw new Error(message);
  }
  return data;
}
