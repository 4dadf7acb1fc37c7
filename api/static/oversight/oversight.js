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

  // Recent transitions: the page arrives with its rows (loaded once, by the server), then goes live
  // on the event stream (/events/stream, which the session cookie opens): each new move is added
  // at the top once (by id), at most MAX_LIVE_ROWS rows kept. The stream carries the filter it can
  // (conventions, thematic groups, meetings); with a lead or a stage chosen too, an event only says
  // "something moved" and the page asks its own view for the moves after the newest it has.
  // Reconnecting resumes after the last event seen: the browser sends Last-Event-ID itself; when
  // it gives up (an HTTP error), the page opens a new stream with `after` = that id, and only after
  // STREAM_ATTEMPTS failures in a row falls back to polling the view by id. A hidden tab closes the
  // stream (or stops polling) and catches up when shown again.
  // Polling: never two requests at once: one poll runs at a time, a poll asked for meanwhile is
  // coalesced into one follow-up, a request that hangs is cancelled, and the next poll is scheduled
  // only when the previous one has finished (no timer queue builds up behind a slow server).
  const POLL_MS = 10000;
  const REQUEST_TIMEOUT_MS = 8000;
  const MAX_LIVE_ROWS = 200;
  const STREAM_ATTEMPTS = 3;
  const STREAM_RETRY_MS = 1000;

  function followTransitions(table) {
    const pollMs = window.ovPollMs || POLL_MS; // tests shorten it
    const url = table.dataset.live;
    const streamUrl = table.dataset.stream;
    const exact = table.dataset.exact === "yes"; // the stream's filter is the page's
    let after = Number(table.dataset.after || 0); // the newest move this page has asked for
    let streamAfter = after; // the newest event the stream has sent
    const status = document.getElementById("ov-live-status");
    const body = table.tBodies[0];
    const shown = new Set();
    body.querySelectorAll("tr[data-id]").forEach((row) => shown.add(Number(row.dataset.id)));
    const stageNames = JSON.parse(table.dataset.stageNames || "{}");  // the server's STAGE_LABELS
    let polling = false; // the fallback is on
    let inFlight = null; // the AbortController of the running request
    let again = false; // a poll was asked for while one ran
    let timer = null;
    let source = null; // the EventSource
    let failures = 0; // streams that failed in a row
    let pending = []; // events not yet shown (a burst is added at once)
    let signedOut = false; // the stream said the session ended: nothing more to ask for

    function cell(tag, text) { const c = document.createElement(tag); c.textContent = text; return c; }

    function addRows(items, more) {
      const fresh = items.filter((t) => !shown.has(t.id));
      if (!fresh.length) return;
      const empty = body.querySelector(".ov-empty");
      if (empty) empty.remove();
      const fragment = document.createDocumentFragment();
      for (const t of fresh) { // newest first
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
      if (status) {
        status.textContent = fresh.length + (fresh.length === 1 ? " new move" : " new moves") + " added at the top." +
          (more ? " More moves arrived than fit: reload the page for all of them." : "");
      }
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
            addRows(items, view.has_next);
          }
        }
      } catch (error) {
        /* offline for a moment, or cancelled: the next poll tries again */
      } finally {
        clearTimeout(abort);
        inFlight = null;
      }
      if (again) { again = false; schedule(0); } else if (polling) { schedule(pollMs); }
    }

    function startPolling() {
      polling = true;
      schedule(0); // catch up with what the stream may have missed
    }

    function flush() {
      const events = pending.sort((a, b) => b.id - a.id);
      pending = [];
      after = Math.max(after, events[0].id);
      addRows(events, false);
    }

    function openStream() {
      const joiner = streamUrl.includes("?") ? "&" : "?";
      const opened = new EventSource(streamUrl + joiner + "after=" + streamAfter);
      source = opened;
      opened.addEventListener("open", () => { failures = 0; });
      opened.addEventListener("transition", (event) => {
        const move = JSON.parse(event.data);
        streamAfter = Math.max(streamAfter, move.id);
        if (!exact) { poll(); return; } // the view applies the lead and stage
        if (!pending.length) setTimeout(flush, 50);
        pending.push(move);
      });
      opened.addEventListener("unauthorized", () => {
        opened.close();
        source = null;
        signedOut = true;
        if (status) status.textContent = "Your session has ended: sign in again to see new moves.";
      });
      opened.addEventListener("error", () => {
        // CONNECTING: the browser reconnects by itself, with Last-Event-ID. CLOSED: it gave up.
        if (opened.readyState !== EventSource.CLOSED || source !== opened) return;
        source = null;
        failures += 1;
        if (failures >= STREAM_ATTEMPTS) { startPolling(); return; }
        setTimeout(() => { if (!source && !document.hidden) openStream(); }, STREAM_RETRY_MS * failures);
      });
    }

    const streaming = () => streamUrl && typeof EventSource !== "undefined" && !polling;

    document.addEventListener("visibilitychange", () => {
      if (signedOut) return;
      if (document.hidden) {
        clearTimeout(timer);
        timer = null;
        if (inFlight) inFlight.abort(); // a stale answer for a hidden page: drop it
        if (source) { source.close(); source = null; }
      } else if (streaming()) {
        if (!source) openStream(); // resumes after the last event seen
      } else {
        poll(); // catch up once, then the usual rhythm
      }
    });
    if (streaming()) {
      openStream();
    } else {
      polling = true;
      schedule(pollMs);
    }
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
