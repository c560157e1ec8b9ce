// lookout's page: plain JS, no build step, no libraries.
// - the events list fetches its rows again every few seconds and swaps them in when they
//   changed (new events appear without a reload);
// - an open visit's page says when the visit ends (no reload: a review being drawn stays);
// - camera tiles load the next JPEG only after the last one arrived (a slow tab asks for
//   less; the server caps the rate anyway), and their health line is refreshed.
"use strict";

(function () {
  function every(ms, fn) {
    // fn returns a promise; the next run is scheduled when it settles, never overlapping
    function tick() {
      if (document.hidden) { setTimeout(tick, ms); return; }
      Promise.resolve().then(fn).catch(function () {}).then(function () { setTimeout(tick, ms); });
    }
    setTimeout(tick, ms);
  }

  function pollRows(tbody) {
    // the server numbers what it has read of the events log (X-Revision); rows are
    // swapped only when that number moved past the one the page was rendered with
    every(+tbody.dataset.pollMs || 2000, function () {
      return fetch(tbody.dataset.poll, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (!r.ok) { throw new Error(r.status); }
          var revision = r.headers.get("X-Revision");
          return r.text().then(function (html) {
            if (revision !== tbody.dataset.revision) {
              tbody.innerHTML = html;
              tbody.dataset.revision = revision;
            }
          });
        });
    });
  }

  function liveTile(img) {
    var n = 0, wait = +img.dataset.everyMs || 500;
    function next(delay) {
      setTimeout(function () {
        if (document.hidden) { next(wait); return; }
        n += 1;
        img.src = img.dataset.src + "?n=" + n;
      }, delay);
    }
    img.addEventListener("load", function () { next(wait); });
    img.addEventListener("error", function () { next(2000); });
    // the first picture may have arrived (or failed: no frame yet) before this script ran
    if (img.complete) { next(img.naturalWidth ? wait : 2000); }
  }

  function healthText(c) {
    if (c.up === null || c.up === undefined) { return c.state; }
    return c.state + " · " + (c.fps || 0).toFixed(1) + " fps · detector " +
      Math.round((c.detector_share || 0) * 100) + "% · reconnects " + (c.reconnects || 0) +
      " · events " + (c.events || 0);
  }

  function pollHealth(box) {
    every(+box.dataset.pollMs || 2000, function () {
      return fetch(box.dataset.health, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var model = document.querySelector("[data-model]");
          if (model && data.model) { model.textContent = data.model; }
          data.cameras.forEach(function (c) {
            box.querySelectorAll(".tile").forEach(function (tile) {
              if (tile.dataset.camera !== c.name) { return; }
              var span = tile.querySelector(".health");
              span.textContent = healthText(c);
              span.className = "health " + (c.up ? "up" : (c.up === false ? "down" : ""));
            });
          });
        });
    });
  }

  function watchOpenEvent(note) {
    var ended = false;
    every(+note.dataset.pollMs || 2000, function () {
      if (ended) return;
      return fetch(note.dataset.eventApi, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (e) {
          if (!e || e.duration_s === null || e.duration_s === undefined) return;
          ended = true;
          note.classList.add("ended");
          note.textContent = "This visit ended after " + e.duration_s.toFixed(1) + " s (" +
            (e.end_reason || "ended") + "). ";
          var link = document.createElement("a");
          link.href = location.href;
          link.textContent = "Reload for its clip and snapshots";
          note.appendChild(link);
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("tbody[data-poll]").forEach(pollRows);
    document.querySelectorAll("img.live").forEach(liveTile);
    document.querySelectorAll("[data-health]").forEach(pollHealth);
    document.querySelectorAll("#open-event").forEach(watchOpenEvent);
  });
})();
