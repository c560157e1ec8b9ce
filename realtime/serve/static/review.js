// lookout's review editor and retrain panel: plain JS, no build step, no libraries.
// - the event page's frame (clean snapshot, or a frame of the clip) is drawn on a canvas
//   in its own pixels; pointer events (mouse, pen and touch alike) draw a missing box or
//   pick one, whose label can be changed or which can be deleted from the list below;
// - "Save review" POSTs {verdict, boxes, version} with the page's CSRF token; a 409 (the
//   labels on disk changed, e.g. in labelImg) shows both choices instead of overwriting;
// - the reviews page starts one background retrain and polls its progress.
"use strict";

(function () {
  var MIN_BOX = 4; // px of the frame: a smaller drag is a click, not a box

  function csrf() { return document.querySelector('meta[name="csrf-token"]').content; }

  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (method !== "GET") { init.headers["X-CSRF-Token"] = csrf(); }
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { data = { error: text.trim() }; }
        return { status: r.status, data: data };
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function Editor(root) {
    var id = root.dataset.event;
    var canvas = root.querySelector("canvas.editor");
    var ctx = canvas.getContext("2d");
    var list = root.querySelector("ol.boxes");
    var status = root.querySelector(".status");
    var newLabel = root.querySelector("select.new-label");
    var otherLabel = root.querySelector("input.other-label");
    var conflict = root.querySelector(".conflict");
    var labels = JSON.parse(root.dataset.labels || "[]");
    var image = new Image();
    var state = { boxes: [], selected: -1, version: null, frame: null, drag: null,
                  theirs: null, theirVersion: null };

    function reviewUrl() {
      return "/api/events/" + encodeURIComponent(id) + "/review" +
        (state.frame === null ? "" : "?frame=" + state.frame);
    }

    function say(text, bad) {
      status.textContent = text;
      status.className = "status" + (bad ? " error" : "");
    }

    function point(e) {
      var rect = canvas.getBoundingClientRect();
      var x = (e.clientX - rect.left) * canvas.width / rect.width;
      var y = (e.clientY - rect.top) * canvas.height / rect.height;
      return [Math.max(0, Math.min(canvas.width, x)), Math.max(0, Math.min(canvas.height, y))];
    }

    function draw() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (image.naturalWidth) { ctx.drawImage(image, 0, 0); }
      var line = Math.max(2, canvas.width / 320);
      ctx.font = Math.round(12 * line / 2 + 6) + "px system-ui, sans-serif";
      state.boxes.forEach(function (b, i) {
        var chosen = i === state.selected;
        ctx.lineWidth = chosen ? line * 2 : line;
        ctx.strokeStyle = chosen ? "#ffd400" : "#00e5ff";
        ctx.strokeRect(b.box[0], b.box[1], b.box[2] - b.box[0], b.box[3] - b.box[1]);
        ctx.fillStyle = ctx.strokeStyle;
        ctx.fillText((i + 1) + " " + b.label, b.box[0] + 3, Math.max(12, b.box[1] - 4));
      });
      var d = state.drag;
      if (d && d.end) {
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = line;
        ctx.strokeStyle = "#ffd400";
        ctx.strokeRect(d.start[0], d.start[1], d.end[0] - d.start[0], d.end[1] - d.start[1]);
        ctx.setLineDash([]);
      }
    }

    function renderList() {
      list.textContent = "";
      state.boxes.forEach(function (b, i) {
        var item = el("li", { "class": i === state.selected ? "box selected" : "box" });
        var pick = el("select", { "class": "box-label", "aria-label": "label of box " + (i + 1) });
        labels.concat(labels.indexOf(b.label) < 0 ? [b.label] : []).forEach(function (l) {
          var option = el("option", {}, l);
          option.selected = l === b.label;
          pick.appendChild(option);
        });
        pick.addEventListener("change", function () { b.label = pick.value; draw(); });
        pick.addEventListener("focus", function () { select(i); });
        var remove = el("button", { type: "button", "class": "delete" }, "Delete");
        remove.addEventListener("click", function () {
          state.boxes.splice(i, 1);
          state.selected = -1;
          renderList();
          draw();
        });
        item.appendChild(el("span", { "class": "coords" }, b.box.map(Math.round).join(", ") + " "));
        item.appendChild(pick);
        item.appendChild(remove);
        list.appendChild(item);
      });
      if (!state.boxes.length) {
        list.appendChild(el("li", { "class": "none" }, "No boxes: saved as a frame with nothing to find."));
      }
    }

    function select(i) {
      if (state.selected === i) { return; }
      state.selected = i;
      list.querySelectorAll("li.box").forEach(function (li, j) {
        li.className = j === i ? "box selected" : "box";
      });
      draw();
    }

    function hit(p) {
      for (var i = state.boxes.length - 1; i >= 0; i--) {
        var b = state.boxes[i].box;
        if (p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]) { return i; }
      }
      return -1;
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (e.button !== undefined && e.button > 0) { return; }
      var p = point(e);
      state.drag = { start: p, end: null, hit: hit(p), id: e.pointerId };
      canvas.setPointerCapture(e.pointerId);
      e.preventDefault();
      canvas.focus(); // preventDefault keeps focus away; Delete removes the picked box
    });
    canvas.addEventListener("pointermove", function (e) {
      var d = state.drag;
      if (!d || d.id !== e.pointerId) { return; }
      d.end = point(e);
      draw();
    });
    function finish(e) {
      var d = state.drag;
      if (!d || d.id !== e.pointerId) { return; }
      state.drag = null;
      var end = e.type === "pointercancel" ? d.start : point(e);
      var box = [Math.min(d.start[0], end[0]), Math.min(d.start[1], end[1]),
                 Math.max(d.start[0], end[0]), Math.max(d.start[1], end[1])];
      if (box[2] - box[0] >= MIN_BOX && box[3] - box[1] >= MIN_BOX) {
        var label = (otherLabel && otherLabel.value.trim()) || newLabel.value;
        if (!label) { say("Type a label for the new box first.", true); draw(); return; }
        state.boxes.push({ label: label, box: box.map(function (v) { return Math.round(v * 10) / 10; }) });
        state.selected = state.boxes.length - 1;
        renderList();
      } else {
        select(d.hit);
      }
      draw();
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("keydown", function (e) {
      if ((e.key === "Delete" || e.key === "Backspace") && state.selected >= 0) {
        state.boxes.splice(state.selected, 1);
        state.selected = -1;
        renderList();
        draw();
        e.preventDefault();
      }
    });
    canvas.tabIndex = 0;

    function setVerdict(v) {
      root.querySelectorAll('input[name="verdict"]').forEach(function (r) { r.checked = r.value === v; });
    }

    function loadReview(fallback) {
      return api("GET", reviewUrl()).then(function (r) {
        if (r.status === 200) {
          state.boxes = r.data.boxes;
          state.version = r.data.version;
          setVerdict(r.data.verdict);
          say(r.data.edited ? "Reviewed before, and edited since (labelImg?)." : "Reviewed before.");
        } else {
          state.boxes = fallback;
          state.version = null;
          say("");
        }
        state.selected = -1;
        renderList();
        draw();
      });
    }

    function show(src, frame, name, fallback, verdict) {
      state.frame = frame;
      root.querySelector(".frame-name").textContent = name;
      conflict.hidden = true;
      setVerdict(verdict);
      image.onload = function () {
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        loadReview(fallback).then(function () { root.dataset.ready = "1"; });
      };
      root.dataset.ready = "";
      image.src = src;
    }

    function showSnapshot() {
      var alertBox = JSON.parse(root.dataset.alertBox || "[]");
      var fallback = alertBox.length === 4 ? [{ label: root.dataset.alertLabel, box: alertBox }] : [];
      show(root.dataset.image, null, "the snapshot", fallback, null);
    }

    function showVideoFrame() {
      var video = document.getElementById("clip");
      video.pause();
      api("GET", "/api/events/" + encodeURIComponent(id) + "/frame?t=" + video.currentTime)
        .then(function (r) {
          if (r.status !== 200) { say(r.data.error, true); return; }
          show(r.data.url, r.data.frame, "clip frame " + r.data.frame, [], "missed");
        });
    }

    function save(overwriteVersion) {
      var verdict = root.querySelector('input[name="verdict"]:checked');
      if (!verdict) { say("Mark it right, wrong or missed first.", true); return; }
      var body = { verdict: verdict.value, boxes: state.boxes };
      var version = overwriteVersion || state.version;
      if (version) { body.version = version; }
      say("Saving...");
      api("POST", reviewUrl(), body).then(function (r) {
        if (r.status === 200) {
          state.version = r.data.version;
          conflict.hidden = true;
          say("Saved " + r.data.xml + " (" + (r.data.negative ? "no objects: a negative example"
            : r.data.boxes.length + " box(es)") + ").");
        } else if (r.status === 409) {
          state.theirs = r.data.current;
          state.theirVersion = r.data.version;
          root.querySelector(".conflict-text").textContent = "The labels on disk changed since " +
            "this page loaded them (" + r.data.error + "). Nothing was overwritten.";
          conflict.hidden = false;
          say("Not saved: choose below.", true);
        } else {
          say("Not saved: " + (r.data.error || r.status), true);
        }
      }).catch(function (e) { say("Not saved: " + e, true); });
    }

    root.querySelector(".save").addEventListener("click", function () { save(null); });
    root.querySelector(".take-theirs").addEventListener("click", function () {
      var t = state.theirs;
      state.boxes = t ? t.boxes : [];
      state.version = state.theirVersion;
      if (t) { setVerdict(t.verdict); }
      conflict.hidden = true;
      state.selected = -1;
      renderList();
      draw();
      say("Loaded the labels on disk.");
    });
    root.querySelector(".keep-mine").addEventListener("click", function () { save(state.theirVersion); });
    var snap = root.querySelector(".use-snapshot");
    if (snap) { snap.addEventListener("click", showSnapshot); }
    var fromVideo = root.querySelector(".use-video-frame");
    if (fromVideo) { fromVideo.addEventListener("click", showVideoFrame); }
    if (!labels.length && otherLabel) { otherLabel.hidden = false; }
    if (root.dataset.image) { showSnapshot(); } else { renderList(); }
  }

  function RetrainPanel(root) {
    var state = root.querySelector(".state");
    var tasks = root.querySelector(".tasks");
    var outcome = root.querySelector(".outcome");
    var start = root.querySelector(".start");
    var stop = root.querySelector(".stop");
    var timer = null;

    function render(s) {
      var running = s.state === "running" || s.state === "stopping";
      start.disabled = running;
      stop.hidden = !running;
      state.textContent = { idle: "", running: "running...", stopping: "stopping...",
        done: "finished", failed: "failed: " + (s.error || ""), stopped: "stopped" }[s.state] || s.state;
      root.dataset.state = s.state;
      tasks.textContent = "";
      (s.tasks || []).forEach(function (t) {
        var item = el("li", { "class": "task" }, t.task + " ");
        var bar = el("progress", { max: String(t.total || 1) });
        if (t.total) { bar.value = t.done; }
        item.appendChild(bar);
        item.appendChild(document.createTextNode(" " + (t.total ? t.done + "/" + t.total : "") +
          " " + (t.note || "")));
        tasks.appendChild(item);
      });
      outcome.textContent = "";
      var res = s.result;
      if (res) {
        outcome.appendChild(el("p", { "class": "verdict" }, res.promoted
          ? "Promoted: the candidate replaced the model (the previous one is in " + res.previous + ")."
          : "Kept the current model."));
        var ap = function (m) { return m && m.test && m.test.AP50 !== undefined ? m.test.AP50.toFixed(3) : "-"; };
        outcome.appendChild(el("p", {}, "Test AP50: current " + ap(res.current) + ", candidate " + ap(res.new)));
        var reasons = el("ul", {});
        (res.reasons || []).forEach(function (r) { reasons.appendChild(el("li", {}, r)); });
        outcome.appendChild(reasons);
      }
      clearTimeout(timer);
      timer = setTimeout(poll, running ? 1000 : 5000);
    }

    function poll() {
      return api("GET", root.dataset.status).then(function (r) { render(r.data); });
    }

    function post(url) {
      api("POST", url).then(function (r) {
        if (r.status >= 400) { state.textContent = r.data.error || String(r.status); }
        poll();
      });
    }

    start.addEventListener("click", function () { post("/api/retrain"); });
    stop.addEventListener("click", function () { post("/api/retrain/stop"); });
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("section.review[data-event]").forEach(Editor);
    document.querySelectorAll("section.retrain .start").forEach(function (b) {
      RetrainPanel(b.closest("section.retrain"));
    });
  });
})();
