// Read-only oversight dashboard: plain JS, no build step, no third-party code.
// Data: the /dashboard/* JSON endpoints (Authorization: Bearer) and the /events/stream SSE feed
// (EventSource cannot send headers, so it passes ?token=).
"use strict";

(function () {
  const TOKEN_KEY = "synergies.dashboard.token";
  const STAGES = ["thematic_group", "task_team", "pilot_project", "report_to_cop", "closed", "withdrawn"];
  const COLORS = {
    thematic_group: "#8fb8de", task_team: "#4f8fc0", pilot_project: "#f2a541",
    report_to_cop: "#6aa84f", closed: "#9e9e9e", withdrawn: "#d98880",
  };
  const FEED_MAX = 50;
  const $ = (id) => document.getElementById(id);
  const label = (stage) => stage.replace(/_/g, " ");

  let token = null;
  let source = null;
  let refreshTimer = null;
  let lastCounts = null;

  function takeToken() {
    const url = new URL(window.location.href);
    const fromUrl = url.searchParams.get("token");
    if (fromUrl) {
      localStorage.setItem(TOKEN_KEY, fromUrl);
      url.searchParams.delete("token");  // keep the token out of history and bookmarks
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    return fromUrl || localStorage.getItem(TOKEN_KEY);
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function setStatus(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  class Unauthorized extends Error {}

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: "Bearer " + token, Accept: "application/json" } });
    if (response.status === 401) throw new Unauthorized("the token was refused");
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  // --- rendering ---------------------------------------------------------------------------------

  function renderSummary(summary) {
    const head = $("stage-head");
    const row = $("stage-row");
    head.replaceChildren(...STAGES.map((s) => el("th", label(s))));
    row.replaceChildren(...STAGES.map((s) => {
      const cell = el("td", summary.by_stage[s] ?? 0, { "data-testid": "count-" + s, "data-stage": s });
      if (lastCounts && lastCounts[s] !== summary.by_stage[s]) cell.classList.add("changed");
      return cell;
    }));
    lastCounts = summary.by_stage;
    $("total").textContent = summary.total;
  }

  function renderOverdue(list) {
    $("overdue-total").textContent = "(" + list.total + ")";
    const body = $("overdue");
    if (!list.items.length) {
      body.replaceChildren(el("tr", null).appendChild(el("td", "Nothing overdue", { colspan: 5, class: "empty" })).parentNode);
      return;
    }
    body.replaceChildren(...list.items.map((item) => {
      const tr = el("tr", null, { "data-activity-id": item.id });
      tr.append(el("td", item.title), el("td", label(item.stage)), el("td", item.due_on),
        el("td", item.days, { class: "late" }), el("td", item.lead_name || "–"));
      return tr;
    }));
  }

  function renderUpcoming(upcoming) {
    const body = $("upcoming");
    if (!upcoming.items.length) {
      body.replaceChildren(el("tr", null).appendChild(el("td", "Nothing in the next 90 days", { colspan: 3, class: "empty" })).parentNode);
      return;
    }
    body.replaceChildren(...upcoming.items.map((item) => {
      const what = item.kind === "stage_due" ? item.title + " (" + label(item.stage) + " due)" : item.title;
      const tr = el("tr", null, { "data-kind": item.kind });
      tr.append(el("td", item.date), el("td", what), el("td", item.days_left + " d"));
      return tr;
    }));
  }

  // A stacked area chart in inline SVG: one band per stage, bottom to top in stage order.
  function renderFlow(flow) {
    const width = 900, height = 260, left = 36, right = 8, top = 8, bottom = 24;
    const points = flow.points;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Cumulative flow: activities in each stage per day");
    const totals = points.map((p) => STAGES.reduce((sum, s) => sum + (p.counts[s] || 0), 0));
    const max = Math.max(1, ...totals);
    const x = (i) => left + (points.length > 1 ? (i * (width - left - right)) / (points.length - 1) : 0);
    const y = (v) => height - bottom - (v * (height - top - bottom)) / max;
    const base = points.map(() => 0);
    for (const stage of STAGES) {
      const upper = points.map((p, i) => base[i] + (p.counts[stage] || 0));
      if (upper.some((v, i) => v !== base[i])) {
        const forward = upper.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
        const back = base.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).reverse();
        const path = document.createElementNS(ns, "path");
        path.setAttribute("d", "M" + forward.join("L") + "L" + back.join("L") + "Z");
        path.setAttribute("fill", COLORS[stage]);
        path.setAttribute("data-stage", stage);
        const title = document.createElementNS(ns, "title");
        title.textContent = label(stage);
        path.appendChild(title);
        svg.appendChild(path);
      }
      upper.forEach((v, i) => { base[i] = v; });
    }
    const axis = (x1, y1, x2, y2) => {
      const line = document.createElementNS(ns, "line");
      line.setAttribute("x1", x1); line.setAttribute("y1", y1);
      line.setAttribute("x2", x2); line.setAttribute("y2", y2);
      line.setAttribute("stroke", "#99a"); return line;
    };
    svg.appendChild(axis(left, height - bottom, width - right, height - bottom));
    svg.appendChild(axis(left, top, left, height - bottom));
    const text = (content, tx, ty, anchor) => {
      const node = document.createElementNS(ns, "text");
      node.setAttribute("x", tx); node.setAttribute("y", ty);
      node.setAttribute("text-anchor", anchor); node.textContent = content; return node;
    };
    svg.appendChild(text(String(max), left - 4, top + 8, "end"));
    svg.appendChild(text("0", left - 4, height - bottom, "end"));
    if (points.length) {
      svg.appendChild(text(points[0].date, left, height - 6, "start"));
      svg.appendChild(text(points[points.length - 1].date, width - right, height - 6, "end"));
    }
    $("flow-chart").replaceChildren(svg);
    $("flow-legend").replaceChildren(...STAGES.map((s) => {
      const item = el("li", null);
      item.append(el("span", null, { style: "background:" + COLORS[s] }), label(s));
      return item;
    }));
  }

  function addToFeed(event) {
    const item = el("li", null, { "data-transition-id": event.id });
    const when = new Date(event.at);
    item.append(el("time", when.toISOString().replace("T", " ").slice(0, 16), { datetime: event.at }));
    const from = event.from_stage ? label(event.from_stage) + " → " : "";
    item.append(event.activity_title + ": " + from + label(event.to_stage) +
      (event.actor_name ? " (" + event.actor_name + ")" : ""));
    const feed = $("feed");
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  }

  // --- data flow ---------------------------------------------------------------------------------

  async function refresh() {
    const today = new Date();
    const from = new Date(today.getTime() - 29 * 86400000);
    try {
      const [summary, flow, overdue, upcoming] = await Promise.all([
        api("/dashboard/summary"),
        api(`/dashboard/cumulative-flow?interval=day&from=${isoDay(from)}&to=${isoDay(today)}`),
        api("/dashboard/overdue?limit=50"),
        api("/dashboard/upcoming?days=90&limit=50"),
      ]);
      renderSummary(summary);
      renderFlow(flow);
      renderOverdue(overdue);
      renderUpcoming(upcoming);
      document.body.dataset.loaded = String(Date.now());
    } catch (error) {
      if (error instanceof Unauthorized) { signOut("The token was refused; enter another."); return; }
      setStatus("error: " + error.message, "error");
    }
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 250);  // a burst of transitions refreshes once
  }

  function connect() {
    if (source) source.close();
    const url = "/events/stream?token=" + encodeURIComponent(token);
    source = new EventSource(url);
    source.onopen = () => { setStatus("live", "live"); scheduleRefresh(); };
    source.onerror = () => setStatus("reconnecting…", "error");  // EventSource retries by itself
    source.addEventListener("transition", (message) => {
      addToFeed(JSON.parse(message.data));
      scheduleRefresh();
    });
  }

  function showForm(message) {
    $("dashboard").hidden = true;
    $("sign-out").hidden = true;
    $("token-form").hidden = false;
    $("token-error").textContent = message || "";
    setStatus("offline");
  }

  function signOut(message) {
    localStorage.removeItem(TOKEN_KEY);
    token = null;
    if (source) { source.close(); source = null; }
    showForm(message);
  }

  async function start() {
    $("token-form").hidden = true;
    $("dashboard").hidden = false;
    $("sign-out").hidden = false;
    setStatus("loading…");
    await refresh();
    if (token) connect();  // transitions from now on; /events has the history
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token-input").value.trim();
    if (!token) return;
    localStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => signOut());

  token = takeToken();
  if (token) start(); else showForm();
})();
