/* Storyboard: drag shots to reorder them within and across scenes (SortableJS), and print.
   One move request per drop; the server answers the refreshed lists of the scenes involved.
   Frames: hovering a frame that has a take scrubs its filmstrip, a click plays the take in the card;
   sketches and new takes come through the project's live events and replace the picture in place. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function showFlash(html) {
    var area = document.getElementById("flash");
    if (area) area.innerHTML = html;
  }

  function swapLists(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    doc.querySelectorAll(".shot-list[id]").forEach(function (fresh) {
      var old = document.getElementById(fresh.id);
      if (!old) return;
      if (old._sortable) old._sortable.destroy();
      old.replaceWith(document.importNode(fresh, true));
    });
    refreshCounts();
    init(document);
  }

  function refreshCounts() {      // the "N shots" of each scene header follows the cards
    document.querySelectorAll("section.scene").forEach(function (scene) {
      var label = scene.querySelector(".scene-count");
      if (!label) return;
      var n = scene.querySelectorAll(".shot-list .shot-card").length;
      label.textContent = n + (n === 1 ? " shot" : " shots");
    });
  }

  function reloadLists() {        // after a refused move: show the order the server has
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(swapLists);
  }

  function move(shotId, sceneId, index) {
    document.body.classList.add("is-saving");
    fetch("/shots/" + encodeURIComponent(shotId) + "/move", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRF-Token": csrfToken(),
        "HX-Request": "true"
      },
      body: new URLSearchParams({ scene_id: sceneId, index: String(index) })
    }).then(function (resp) {
      return resp.text().then(function (text) {
        if (resp.ok) { swapLists(text); return; }
        showFlash(/^\s*</.test(text) ? text : '<div class="flash error" role="alert">The move was not saved.</div>');
        reloadLists();
      });
    }, function () {
      showFlash('<div class="flash error" role="alert">Could not reach Slate; the move was not saved.</div>');
      reloadLists();
    }).finally(function () {
      document.body.classList.remove("is-saving");
    });
  }

  function init(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".shot-list[data-sortable]").forEach(function (list) {
      if (list._sortable) return;
      list._sortable = window.Sortable.create(list, {
        group: "shots",            // one group: shots move across every scene on the page
        handle: ".drag-handle",
        draggable: ".shot-card",
        animation: 150,
        ghostClass: "is-ghost",
        chosenClass: "is-chosen",
        onEnd: function (evt) {
          if (evt.from === evt.to && evt.oldDraggableIndex === evt.newDraggableIndex) return;
          move(evt.item.getAttribute("data-shot-id"), evt.to.getAttribute("data-scene-id"), evt.newDraggableIndex);
        }
      });
    });
  }

  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-print]");
    if (btn) { evt.preventDefault(); window.print(); }
  });

  /* ---- frames: hover scrubs a take's filmstrip, a click plays it in place, sketches arrive live ---- */

  function scrub(frame, evt) {       // show the filmstrip tile under the pointer
    var tiles = parseInt(frame.getAttribute("data-tiles"), 10);
    if (!tiles || frame.classList.contains("is-playing")) return;
    var strip = frame.querySelector(".frame-strip");
    if (!strip) {
      strip = document.createElement("span");
      strip.className = "frame-strip";
      strip.style.backgroundImage = 'url("/api/v1/takes/' + frame.getAttribute("data-take") + '/filmstrip")';
      strip.style.backgroundSize = (tiles * 100) + "% 100%";
      frame.insertBefore(strip, frame.querySelector(".frame-code"));
    }
    var box = frame.getBoundingClientRect();
    var x = Math.min(Math.max((evt.clientX - box.left) / box.width, 0), 0.9999);
    var tile = Math.floor(x * tiles);
    strip.style.backgroundPosition = (tiles > 1 ? tile / (tiles - 1) * 100 : 0) + "% 0";
    strip.setAttribute("data-tile", String(tile));
    frame.classList.add("is-scrubbing");
  }

  function stopScrub(frame) {
    frame.classList.remove("is-scrubbing");
  }

  function stopPlaying(frame) {
    var video = frame.querySelector("video");
    if (video) { video.pause(); video.remove(); }
    frame.classList.remove("is-playing");
  }

  function play(frame) {             // the take, in the card, with controls; a second click or Esc stops it
    if (frame.classList.contains("is-playing")) { stopPlaying(frame); return; }
    document.querySelectorAll(".shot-frame.is-playing").forEach(stopPlaying);
    var video = document.createElement("video");
    video.src = "/api/v1/takes/" + frame.getAttribute("data-take") + "/video";
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    video.loop = true;
    video.setAttribute("aria-label", "Take playing");
    frame.classList.remove("is-scrubbing");
    frame.classList.add("is-playing");
    frame.insertBefore(video, frame.querySelector(".frame-code"));
  }

  document.addEventListener("mousemove", function (evt) {
    var frame = evt.target.closest && evt.target.closest(".shot-frame[data-take]");
    if (frame) scrub(frame, evt);
  });
  document.addEventListener("mouseout", function (evt) {
    var frame = evt.target.closest && evt.target.closest(".shot-frame[data-take]");
    if (frame && !frame.contains(evt.relatedTarget)) stopScrub(frame);
  });
  document.addEventListener("click", function (evt) {
    var frame = evt.target.closest && evt.target.closest(".shot-frame[data-take]");
    if (!frame || evt.metaKey || evt.ctrlKey || evt.shiftKey) return;   // modified clicks open the shot page
    evt.preventDefault();
    play(frame);
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") document.querySelectorAll(".shot-frame.is-playing").forEach(stopPlaying);
  });

  function showFrame(shotId, url) {  // a new sketch or take: the card's picture is replaced where it is
    var frame = document.querySelector("#shot-" + shotId + " .shot-frame");
    if (!frame || frame.classList.contains("is-playing")) return;
    var img = frame.querySelector("img");
    if (!img) {
      img = document.createElement("img");
      img.alt = "";
      img.decoding = "async";
      var wait = frame.querySelector(".frame-wait");
      if (wait) wait.replaceWith(img); else frame.insertBefore(img, frame.firstChild);
    }
    img.loading = "lazy";
    img.src = url;
    frame.classList.remove("frame-pending");
  }

  var FALLBACK_MS = 4000;

  function fetchPending() {           // a sketch drawn before this page was listening: ask the frame route for it
    document.querySelectorAll(".shot-frame.frame-pending").forEach(function (frame) {
      var card = frame.closest(".shot-card");
      if (card) showFrame(card.getAttribute("data-shot-id"), "/shots/" + card.getAttribute("data-shot-id") + "/frame");
    });
  }

  function listen() {
    var source = document.querySelector("[data-board-events]");
    if (!source) return;
    if (!window.EventSource) { window.setTimeout(fetchPending, FALLBACK_MS); return; }
    if (!document.querySelector(".shot-frame.frame-pending")) FALLBACK_MS = 0;
    var events = new EventSource(source.getAttribute("data-board-events"));
    events.addEventListener("ready", function () {
      if (FALLBACK_MS) window.setTimeout(fetchPending, FALLBACK_MS);
      FALLBACK_MS = 0;                 // once per page: a reconnection does not ask again
    });
    events.addEventListener("sketch", function (evt) {
      var data = JSON.parse(evt.data);
      var frame = document.querySelector("#shot-" + data.shot_id + " .shot-frame");
      if (frame && !frame.hasAttribute("data-take")) showFrame(data.shot_id, data.url);  // a take outranks it
    });
    events.addEventListener("take", function (evt) {
      var data = JSON.parse(evt.data);
      var frame = document.querySelector("#shot-" + data.shot_id + " .shot-frame");
      if (!frame) return;
      var approved = frame.classList.contains("frame-approved");
      if (!approved && data.id) {
        frame.setAttribute("data-take", String(data.id));
        frame.removeAttribute("data-tiles");   // its geometry comes with the next page load
        var strip = frame.querySelector(".frame-strip");
        if (strip) strip.remove();
        showFrame(data.shot_id, "/shots/" + data.shot_id + "/frame?v=t" + data.id);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); listen(); });
  } else {
    init(document);
    listen();
  }
})();
