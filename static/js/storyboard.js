/* Storyboard: drag shots to reorder them within and across scenes (SortableJS), and print.
   One move request per drop; the server answers the refreshed lists of the scenes involved. */
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();
