// arclamp /status: polls /api/status and updates the page in place (no reload). Rates are
// the difference of two reports divided by the time between them. Every value is set with
// textContent, so nothing from the report is ever parsed as markup.
"use strict";
(function () {
  var root = document.getElementById("status");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var interval = Number(root.getAttribute("data-interval-ms")) || 2000;
  var previous = null;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
    return el;
  }
  function number(value) {
    if (value === null || value === undefined || isNaN(value)) { return "–"; }
    return Math.round(value).toLocaleString("en-US");
  }
  function rate(value) {
    if (value === null || isNaN(value)) { return "–"; }
    return value.toFixed(value < 10 ? 1 : 0);
  }
  function bytes(value) {
    if (value === null || value === undefined) { return "–"; }
    var units = ["B", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return value.toFixed(i === 0 ? 0 : 1) + " " + units[i];
  }
  function time(seconds) {
    if (seconds === null || seconds === undefined) { return "never"; }
    return new Date(seconds * 1000).toISOString().replace(".000Z", "Z").replace("T", " ");
  }
  function cell(row, value, className) {
    var td = document.createElement("td");
    td.textContent = value;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }
  function replaceRows(id, rows) {
    var body = document.getElementById(id);
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (row) { body.appendChild(row); });
  }
  function sumRejected(channel) {
    var total = 0;
    Object.keys(channel.rejected).forEach(function (r) { total += channel.rejected[r]; });
    return total;
  }

  function byKind(values) {
    var parts = Object.keys(values).filter(function (k) { return values[k] > 0; })
      .map(function (k) { return k + ": " + number(values[k]); });
    return parts.length ? parts.join(", ") : "none";
  }
  function updateStream(stream) {
    replaceRows("stream-channels", stream.channels.map(function (c) {
      var row = document.createElement("tr");
      cell(row, c.channel);
      cell(row, number(c.length), "num");
      cell(row, number(c.lag), "num");
      cell(row, number(c.pending), "num");
      cell(row, number(c.active_consumers) + " of " + number(c.consumers), "num");
      cell(row, number(c.open_windows), "num");
      cell(row, c.oldest_open_window_end === null ? "–" : time(c.oldest_open_window_end));
      cell(row, byKind(c.lost));
      return row;
    }));
    text("stream-lease", stream.lease_held ? "held by this replica" : "held by another replica");
    text("stream-epoch", number(stream.epoch));
    text("stream-uncommitted", number(stream.uncommitted_entries));
    text("stream-commits", byKind(stream.commits));
    text("stream-acked", number(stream.entries_acked));
    text("stream-claimed", number(stream.entries_claimed));
    text("stream-last-commit", time(stream.last_commit));
  }

  function update(report) {
    var dt = previous ? report.time - previous.time : 0;
    var before = {};
    if (previous) { previous.channels.forEach(function (c) { before[c.channel] = c; }); }
    var totalRate = null;
    var totalRejectedRate = null;

    var state = text("redis-state", report.redis_connected ? "connected" : "disconnected");
    if (state) { state.className = report.redis_connected ? "ok" : "bad"; }
    text("redis-reconnects", number(report.redis_reconnects));
    text("redis-channels", report.overview.channels.join(", "));

    replaceRows("channels", report.channels.map(function (c) {
      var row = document.createElement("tr");
      var old = before[c.channel];
      var received = null;
      var rejected = null;
      if (old && dt > 0) {
        received = (c.samples_received - old.samples_received) / dt;
        rejected = (sumRejected(c) - sumRejected(old)) / dt;
        totalRate = (totalRate || 0) + received;
        totalRejectedRate = (totalRejectedRate || 0) + rejected;
      }
      cell(row, c.channel);
      cell(row, rate(received), "num");
      cell(row, number(c.samples_received), "num");
      cell(row, rate(rejected), "num");
      var reasons = Object.keys(c.rejected).filter(function (r) { return c.rejected[r] > 0; })
        .map(function (r) {
          var perSecond = old && dt > 0 ? (c.rejected[r] - (old.rejected[r] || 0)) / dt : null;
          return r + ": " + number(c.rejected[r]) + (perSecond === null ? "" : " (" + rate(perSecond) + "/s)");
        });
      cell(row, reasons.length ? reasons.join(", ") : "none");
      return row;
    }));
    var total = text("received-rate", rate(totalRate));
    if (total && totalRate !== null) { total.setAttribute("data-value", String(totalRate)); }
    text("rejected-rate", rate(totalRejectedRate));

    replaceRows("periods", report.periods.map(function (p) {
      var row = document.createElement("tr");
      cell(row, p.period);
      cell(row, number(p.active_aggregators), "num");
      cell(row, number(p.distinct_stacks), "num");
      cell(row, time(p.last_checkpoint));
      cell(row, time(p.last_render));
      cell(row, bytes(p.log_bytes), "num");
      cell(row, bytes(p.graph_bytes), "num");
      cell(row, p.oldest_window === null ? "–" : time(p.oldest_window));
      cell(row, p.newest_window === null ? "–" : time(p.newest_window));
      return row;
    }));
    if (report.stream) { updateStream(report.stream); }
    text("queue-depth", number(report.render_queue_depth));
    text("checkpoint-failures", number(report.checkpoint_failures));
    text("render-failures", number(report.render_failures));
    replaceRows("restarts", Object.keys(report.actor_restarts).map(function (kind) {
      var row = document.createElement("tr");
      cell(row, kind);
      cell(row, number(report.actor_restarts[kind]), "num");
      return row;
    }));
    text("config-generation", String(report.overview.config_generation));
    text("config-digest", report.overview.config_digest);
    text("config-applied", time(report.overview.config_applied_at));
    var reload = report.overview.last_reload;
    var last = text("config-last-reload", reload === null ? "none since start"
      : (reload.error === null ? "applied at " + time(reload.at) : "refused at " + time(reload.at) + ": " + reload.error));
    if (last) { last.className = reload !== null && reload.error !== null ? "bad" : ""; }
    text("updated", "updated " + time(report.time));
    previous = report;
  }

  function poll() {
    fetch(url, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (report) {
        update(report);
        root.removeAttribute("data-error");
      })
      .catch(function (error) {
        root.setAttribute("data-error", String(error));
        text("updated", "cannot reach the service (" + error + "): retrying");
      })
      .then(function () { window.setTimeout(poll, interval); });
  }
  poll();
})();
