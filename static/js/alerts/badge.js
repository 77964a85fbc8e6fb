// On every console page: the alerts websocket (/ws/alerts/), the open-count badge in the
// navigation, and a toast when an alert opens. The one socket of the page: other scripts (the
// inbox) listen to its messages as window events:
//   "doorstep:alert"        detail = { event, alert, seq }   one alert changed
//   "doorstep:alerts-state" detail = { state, reconnected }  connecting / live / reconnecting / ended
// Protocol: alerts/consumers.py.

import { SeqMemory, severityClass, TOASTS_KEY } from "./logic.js";

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const TOAST_MS = 8000;
const TOAST_MAX = 4;

const badge = document.getElementById("alerts-badge");
let attempt = 0;
let everLive = false;
const seen = new SeqMemory(); // each alert event once, newest last (logic.js)

function setCount(count) {
  if (!badge) return;
  const n = Number(count) || 0;
  badge.textContent = n > 999 ? "999+" : String(n);
  badge.hidden = n === 0;
  badge.dataset.count = String(n);
  badge.title = `${n} open alert${n === 1 ? "" : "s"}`;
}

function toastsWanted() {
  try {
    return window.localStorage.getItem(TOASTS_KEY) !== "off";
  } catch (error) {
    return true;
  }
}

function toastBox() {
  let box = document.getElementById("toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    box.className = "toasts";
    box.setAttribute("aria-live", "polite");
    document.body.appendChild(box);
  }
  return box;
}

function toast(alert) {
  if (!toastsWanted()) return;
  const box = toastBox();
  const item = document.createElement("a");
  item.className = `toast ${severityClass(alert.severity)}`;
  item.href = `/alerts/${Number(alert.id)}/`;
  item.dataset.testid = "alert-toast";
  const head = document.createElement("strong");
  head.textContent = "New alert";
  const title = document.createElement("span");
  title.textContent = alert.title || "";
  const subject = document.createElement("span");
  subject.className = "toast__subject";
  subject.textContent = alert.subject_label || "";
  item.append(head, title, subject);
  box.prepend(item);
  while (box.children.length > TOAST_MAX) box.lastChild.remove();
  setTimeout(() => item.remove(), TOAST_MS);
}

function emit(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  let socket;
  try {
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/alerts/`);
  } catch (error) {
    retry(null);
    return;
  }
  emit("doorstep:alerts-state", { state: attempt ? "reconnecting" : "connecting" });
  socket.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.type === "hello") {
      const reconnected = everLive;
      everLive = true;
      attempt = 0;
      setCount(message.open_count);
      emit("doorstep:alerts-state", { state: "live", reconnected });
    } else if (message.type === "count") {
      setCount(message.open_count);
    } else if (message.type === "alert" && message.alert) {
      if (!seen.fresh(message.alert.id, message.seq)) return;
      if (message.event === "alert.opened") toast(message.alert);
      emit("doorstep:alert", { event: message.event, alert: message.alert, seq: message.seq });
    }
  };
  socket.onclose = (event) => retry(event);
}

function retry(event) {
  if (event && (event.code === 4401 || event.code === 4403)) {
    emit("doorstep:alerts-state", { state: "ended", code: event.code });
    return;
  }
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  attempt += 1;
  emit("doorstep:alerts-state", { state: "reconnecting" });
  setTimeout(connect, delay);
}

window.doorstepAlerts = { setCount, toast };
connect();
