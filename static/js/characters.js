/* Character editor: add trait rows (<button data-add-trait="#rows"> clones <template id="trait-row-template">). */
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-add-trait]");
    if (!btn) return;
    var rows = document.querySelector(btn.getAttribute("data-add-trait"));
    var tpl = document.getElementById("trait-row-template");
    if (!rows || !tpl || !tpl.content) return;
    evt.preventDefault();
    var row = tpl.content.firstElementChild.cloneNode(true);
    rows.appendChild(row);
    var first = row.querySelector("input");
    if (first) first.focus();
  });
})();
