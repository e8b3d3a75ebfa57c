// Live updates for the agent console: follow /events and swap in freshly rendered parts.
(function () {
  "use strict";
  const ticket = document.body.dataset.ticket || "";
  if (!document.body.dataset.agent) return;  // the sign-in page

  function bindCanned(root) {
    root.querySelectorAll("button.canned-reply").forEach(function (button) {
      button.addEventListener("click", function () {
        const box = document.querySelector("textarea[name=text]");
        if (box) { box.value = button.dataset.text; box.focus(); }
      });
    });
  }

  async function swap(id, url) {
    const el = document.getElementById(id);
    if (!el) return;
    const response = await fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}});
    if (response.redirected || response.status === 401) { window.location.href = "/login"; return; }
    if (!response.ok) return;
    const html = await response.text();
    const draft = el.querySelector("textarea[name=text]");
    const kept = draft ? draft.value : "";
    el.innerHTML = html;
    if (kept) { const box = el.querySelector("textarea[name=text]"); if (box) box.value = kept; }
    bindCanned(el);
    if (id === "messages") el.scrollTop = el.scrollHeight;
  }

  function refresh(kind) {
    if (!ticket) return swap("queue", "/part/queue");
    if (kind !== "message") swap("status", "/tickets/" + ticket + "/part/status");
    return swap("messages", "/tickets/" + ticket + "/part/messages");
  }

  bindCanned(document);
  const messages = document.getElementById("messages");
  if (messages) messages.scrollTop = messages.scrollHeight;
  const live = document.getElementById("live");
  const source = new EventSource("/events");
  source.onopen = function () { if (live) live.className = "live on"; refresh(); };
  source.onerror = function () { if (live) live.className = "live off"; };
  source.onmessage = function (event) {
    let data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (ticket && data.ticket !== ticket) return;
    refresh(data.type);
  };
  if (!ticket) setInterval(function () { refresh(); }, 30000);  // ages move on
})();
