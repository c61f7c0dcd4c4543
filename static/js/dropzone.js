/* Drag-and-drop for upload forms: <form class="dropzone" method="post" enctype="multipart/form-data">
   with an <input type="file" name="file">. Dropping files fills the input and submits the form, so the
   same form works with the file picker alone (no JavaScript needed for that). */
(function () {
  "use strict";
  function setup(form) {
    if (form.dataset.dropzoneReady) return;
    form.dataset.dropzoneReady = "1";
    var input = form.querySelector('input[type="file"]');
    if (!input) return;
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (e) { e.preventDefault(); form.classList.add("is-dragover"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      form.addEventListener(name, function (e) { e.preventDefault(); form.classList.remove("is-dragover"); });
    });
    form.addEventListener("drop", function (e) {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      input.files = e.dataTransfer.files;
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
    input.addEventListener("change", function () {
      if (input.files.length && form.hasAttribute("data-autosubmit-file")) {
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }
    });
  }
  function scan(root) { (root || document).querySelectorAll("form.dropzone").forEach(setup); }
  document.addEventListener("DOMContentLoaded", function () { scan(); });
  document.addEventListener("htmx:load", function (e) { scan(e.target); });
})();
