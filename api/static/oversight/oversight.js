// The oversight views' charts and live list. Each chart reads its figures from the JSON beside its
// canvas (the same figures as the table below it); a click on a bar opens the activities behind it.
// Chart.js 4.6.1 (vendor/, MIT). No build step.
(function () {
  "use strict";
  // One colour per stage, in stage order; all distinguishable and at least 3:1 against white.
  const STAGE_COLOURS = {
    thematic_group: "#0b4f8a", task_team: "#00703c", pilot_project: "#b35c00",
    report_to_cop: "#6f2c91", closed: "#4b4b4b", withdrawn: "#a4161a",
  };
  const OTHER_COLOURS = ["#0b4f8a", "#b35c00", "#00703c", "#6f2c91"];

  function drawChart(script) {
    const canvas = document.getElementById(script.dataset.chart);
    const spec = JSON.parse(script.textContent);
    if (!canvas || typeof Chart === "undefined") return;
    const horizontal = !!spec.horizontal;
    const valueAxis = horizontal ? "x" : "y";
    const categoryAxis = horizontal ? "y" : "x";
    const datasets = spec.datasets.map((d, i) => {
      const colour = STAGE_COLOURS[d.stage] || OTHER_COLOURS[i % OTHER_COLOURS.length];
      return {
        label: d.label, data: d.data, links: d.links,
        backgroundColor: spec.area ? colour + "cc" : colour, borderColor: colour,
        fill: spec.area ? (i === 0 ? "origin" : "-1") : false,
        pointRadius: spec.area ? 0 : 3, borderWidth: spec.area ? 1 : 0,
      };
    });
    const scales = {};
    // Stacked bands share one axis that starts at 0 and runs to the top of the stack.
    scales[valueAxis] = {
      beginAtZero: true, stacked: !!spec.stacked,
      title: { display: !!spec.valueTitle, text: spec.valueTitle || "" },
      ticks: { precision: 0 },
    };
    scales[categoryAxis] = { stacked: !!spec.stacked, ticks: { autoSkip: true } };
    const chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "nearest", intersect: true },
        plugins: { legend: { position: "bottom" } },
        scales,
        onHover: (event, elements) => {
          const link = elements.length && linkOf(elements[0]);
          event.native.target.style.cursor = link ? "pointer" : "default";
        },
        onClick: (event, elements) => {
          const link = elements.length && linkOf(elements[0]);
          if (link) window.location.assign(link);
        },
      },
    });
    function linkOf(element) {
      const links = chart.data.datasets[element.datasetIndex].links || [];
      return links[element.index];
    }
  }

  // Recent transitions: the page arrives with its rows (loaded once, by the server); then it asks
  // the JSON view only for moves after the newest one shown and adds them at the top. Never two
  // requests at once: one poll runs at a time, a poll asked for meanwhile is coalesced into one
  // follow-up, a request that hangs is cancelled, and the next poll is scheduled only when the
  // previous one has finished (no timer queue builds up behind a slow server). Hidden tabs do not
  // poll; they catch up once when shown again. (The SSE stream at /events/stream needs an API
  // token, which the signed-in page does not hold: it polls the same log by id instead.)
  const POLL_MS = 10000;
  const REQUEST_TIMEOUT_MS = 8000;
  const MAX_LIVE_ROWS = 200;

  function followTransitions(table) {
    const pollMs = window.ovPollMs || POLL_MS; // tests shorten it
    const url = table.dataset.live;
    let after = Number(table.dataset.after || 0);
    const status = document.getElementById("ov-live-status");
    const body = table.tBodies[0];
    const shown = new Set();
    body.querySelectorAll("tr[data-id]").forEach((row) => shown.add(Number(row.dataset.id)));
    const stageNames = JSON.parse(table.dataset.stageNames || "{}");  // the server's STAGE_LABELS
    let inFlight = null; // the AbortController of the running request
    let again = false; // a poll was asked for while one ran
    let timer = null;

    function cell(tag, text) { const c = document.createElement(tag); c.textContent = text; return c; }

    function addRows(items) {
      const fresh = items.filter((t) => !shown.has(t.id));
      if (!fresh.length) return 0;
      const empty = body.querySelector(".ov-empty");
      if (empty) empty.remove();
      const fragment = document.createDocumentFragment();
      for (const t of fresh) { // newest first, as the view sends them
        shown.add(t.id);
        const row = document.createElement("tr");
        row.className = "ov-new";
        row.dataset.id = String(t.id);
        row.append(cell("td", t.at.slice(0, 16).replace("T", " ")));
        const title = cell("th", "");
        title.scope = "row";
        const link = document.createElement("a");
        link.href = "/app/activities/" + t.activity_id;
        link.textContent = t.activity_title;
        title.append(link);
        row.append(title, cell("td", stageNames[t.from_stage] || "—"), cell("td", stageNames[t.to_stage]),
          cell("td", t.actor_name || "—"), cell("td", t.reason || ""));
        fragment.append(row);
      }
      body.insertBefore(fragment, body.firstChild);
      while (body.rows.length > MAX_LIVE_ROWS) body.deleteRow(body.rows.length - 1); // a page, not a log
      return fresh.length;
    }

    function schedule(ms) {
      clearTimeout(timer);
      timer = document.hidden ? null : setTimeout(poll, ms);
    }

    async function poll() {
      if (inFlight) { again = true; return; } // coalesce: one follow-up after the running one
      clearTimeout(timer);
      const controller = new AbortController();
      inFlight = controller;
      const abort = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
      try {
        const response = await fetch(url + (url.includes("?") ? "&" : "?") + "after_id=" + after, {
          headers: { Accept: "application/json" }, credentials: "same-origin", signal: controller.signal,
        });
        if (response.ok) {
          const view = await response.json();
          const items = view.items || [];
          if (items.length) {
            after = Math.max(after, ...items.map((t) => t.id));
            const added = addRows(items);
            if (status && added) {
              status.textContent = added + (added === 1 ? " new move" : " new moves") + " added at the top." +
                (view.has_next ? " More moves arrived than fit: reload the page for all of them." : "");
            }
          }
        }
      } catch (error) {
        /* offline for a moment, or cancelled: the next poll tries again */
      } finally {
        clearTimeout(abort);
        inFlight = null;
      }
      if (again) { again = false; schedule(0); } else { schedule(pollMs); }
    }

    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(timer);
        timer = null;
        if (inFlight) inFlight.abort(); // a stale answer for a hidden page: drop it
      } else {
        poll(); // catch up once, then the usual rhythm
      }
    });
    schedule(pollMs);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("script[data-chart]").forEach(drawChart);
    // On a phone the filter folds away until asked for (it stays open when something is chosen).
    document.querySelectorAll("details.ov-filter-box").forEach((box) => {
      if (window.matchMedia("(max-width: 40rem)").matches && box.dataset.chosen === "no") {
        box.open = false;
      }
    });
    // Leave the "any" choices out of the URL, so a bookmark reads ?convention=minamata.
    document.querySelectorAll("form.ov-filters").forEach((form) => form.addEventListener("submit", () => {
      form.querySelectorAll("select, input").forEach((field) => { if (!field.value) field.disabled = true; });
    }));
    document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
    // Print the figures folded away on screen too.
    window.addEventListener("beforeprint", () => document.querySelectorAll("details.ov-details").forEach((d) => { d.open = true; }));
    const live = document.querySelector("table[data-live]");
    if (live) followTransitions(live);
  });
})();
