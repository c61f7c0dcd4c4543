/* The shot page's player: "Watch large" on a take card plays that take in the player above, without leaving the
   page (the link itself opens /shots/{id}?take={take} where scripts do not run). The take playing is marked in
   the grid again after the grid refreshes from live events. */
(function () {
  "use strict";

  function player() {
    return document.querySelector("[data-player]");
  }

  function mark(takeId) {
    document.querySelectorAll(".take-grid .take").forEach(function (card) {
      card.classList.toggle("is-playing", card.dataset.take === takeId);
    });
  }

  function watch(link) {
    var fig = player();
    var card = link.closest(".take");
    if (!fig || !card) return false;
    var video = fig.querySelector("video");
    video.poster = link.dataset.poster;
    video.src = link.dataset.src;
    fig.dataset.take = link.dataset.watch;
    var title = card.querySelector(".take-title");
    var meta = card.querySelector(".take-meta");
    var badges = card.querySelector(".take-badges");
    fig.querySelector("[data-player-title]").textContent = title ? title.textContent : "";
    fig.querySelector("[data-player-meta]").textContent = meta ? meta.textContent : "";
    var slot = fig.querySelector("[data-player-badges]");
    slot.replaceChildren();
    if (badges) badges.querySelectorAll(".badge").forEach(function (b) { slot.appendChild(b.cloneNode(true)); });
    mark(link.dataset.watch);
    fig.scrollIntoView({ block: "nearest", behavior: "smooth" });
    var playing = video.play();
    if (playing && playing.catch) playing.catch(function () { /* autoplay refused: the controls are there */ });
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-watch]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    if (watch(link)) event.preventDefault();
  });

  document.addEventListener("htmx:afterSwap", function () {
    var fig = player();
    if (fig) mark(fig.dataset.take);
  });
})();
