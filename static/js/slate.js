/* Slate: small progressive enhancements. Plain JS, no build step.
   Loaded with `defer` after htmx, so window.htmx is normally there; every
   part below still works (or quietly does nothing) without it. */
(function () {
  "use strict";

  var FLASH_MS = 6000;     // ok/info flashes in #flash fade out after this
  var COPIED_MS = 1800;    // how long a copy button says "Copied"

  /* ---- Helpers --------------------------------------------------------- */
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var liveRegion = null;
  function announce(text) {          // polite message for screen readers
    if (!liveRegion) {
      liveRegion = document.createElement("div");
      liveRegion.className = "sr-only";
      liveRegion.setAttribute("aria-live", "polite");
      document.body.appendChild(liveRegion);
    }
    liveRegion.textContent = "";
    setTimeout(function () { liveRegion.textContent = text; }, 50);
  }

  /* ---- 1. Copy to clipboard: <button data-copy="#selector"> ----------- */
  function textOf(el) {
    return el.matches("input, textarea, select") ? el.value : el.textContent.trim();
  }

  function legacyCopy(text) {        // plain-http origins have no navigator.clipboard
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.cssText = "position:fixed;top:0;left:0;opacity:0;pointer-events:none";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        if (!legacyCopy(text)) throw new Error("copy failed");
      });
    }
    return legacyCopy(text) ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function selectContents(el) {      // so the person can press Ctrl+C themselves
    if (el.select) { el.focus(); el.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function showOnButton(btn, label, ok) {
    if (btn.dataset.label === undefined) btn.dataset.label = btn.textContent;
    btn.textContent = label;
    btn.classList.toggle("copied", ok);
    clearTimeout(btn._slateCopyTimer);
    btn._slateCopyTimer = setTimeout(function () {
      btn.textContent = btn.dataset.label;
      delete btn.dataset.label;
      btn.classList.remove("copied");
    }, COPIED_MS);
  }

  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-copy]");
    if (!btn) return;
    var source = null;
    try { source = document.querySelector(btn.getAttribute("data-copy")); } catch (e) { source = null; }
    if (!source) return;
    evt.preventDefault();
    copyText(textOf(source)).then(function () {
      btn.focus();
      showOnButton(btn, "Copied", true);
      announce("Copied to the clipboard");
    }, function () {
      selectContents(source);
      showOnButton(btn, "Press Ctrl+C", false);
      announce("Could not copy; the text is selected, press Control C");
    });
  });

  /* ---- 2. Flash messages in #flash ------------------------------------- */
  // ok/info fade out after FLASH_MS (paused while hovered or focused);
  // role="alert" (errors) stay until clicked or Escape is pressed.
  function dismiss(el) {
    if (!el || el._slateGone) return;
    el._slateGone = true;
    clearTimeout(el._slateTimer);
    el.classList.add("is-leaving");
    var done = function () { if (el.parentNode) el.parentNode.removeChild(el); };
    el.addEventListener("transitionend", done, { once: true });
    setTimeout(done, 450);           // reduced motion, or no transition at all
  }

  function schedule(el, ms) {
    clearTimeout(el._slateTimer);
    el._slateTimer = setTimeout(function () { dismiss(el); }, ms);
  }

  function arm(el) {
    if (!(el instanceof Element) || !el.classList.contains("flash") || el._slateArmed) return;
    el._slateArmed = true;
    el.title = "Click to dismiss";
    if (el.getAttribute("role") === "alert") return;
    schedule(el, FLASH_MS);
    el.addEventListener("mouseenter", function () { clearTimeout(el._slateTimer); });
    el.addEventListener("mouseleave", function () { schedule(el, FLASH_MS / 2); });
  }

  function initFlash() {
    var area = document.getElementById("flash");
    if (!area) return;
    Array.prototype.forEach.call(area.children, arm);
    if (window.MutationObserver) {
      new MutationObserver(function (records) {
        records.forEach(function (r) { Array.prototype.forEach.call(r.addedNodes, arm); });
      }).observe(area, { childList: true });
    }
    area.addEventListener("click", function (evt) {
      if (evt.target.closest("a, button, input, select, textarea")) return;
      var flash = evt.target.closest(".flash");
      if (flash) dismiss(flash);
    });
    document.addEventListener("keydown", function (evt) {
      if (evt.key !== "Escape" || evt.defaultPrevented) return;
      var flashes = area.querySelectorAll(".flash");
      if (flashes.length) dismiss(flashes[flashes.length - 1]);
    });
  }

  function showError(text) {         // for failures the server could not describe
    var area = document.getElementById("flash");
    if (!area) return;
    var current = area.querySelector(".flash.error");
    if (current && current.textContent === text) return;   // polling: don't repeat
    area.innerHTML = '<div class="flash error" role="alert">' + escapeHtml(text) + "</div>";
  }

  /* ---- 3. htmx: swap error responses too -------------------------------- */
  function configureHtmx() {
    var htmx = window.htmx;
    if (!htmx || !htmx.config) return;
    // htmx 2 does not swap 4xx/5xx. Slate's server answers an htmx request that
    // fails with an error fragment and `HX-Retarget: #flash`, so show it.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true },
      { code: "...", swap: false }
    ];
  }

  // An error answer that is not an HTML fragment (a proxy's 502 page, a JSON
  // body, nothing at all) must not land inside the element that asked: show a
  // short message in #flash instead. Fragments (e.g. a 422 form) swap as usual.
  function isFragment(xhr, body) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    return type.indexOf("text/html") === 0 && /\S/.test(body || "") && !/^\s*<(!doctype|html)/i.test(body);
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var d = evt.detail;
    if (!d || !d.isError || !d.xhr || d.xhr.getResponseHeader("HX-Retarget")) return;
    if (isFragment(d.xhr, d.serverResponse)) return;
    d.shouldSwap = false;
    var status = d.xhr.status;
    showError("The server answered " + status + (d.xhr.statusText ? " (" + d.xhr.statusText + ")" : "") + ". Please try again.");
  });

  document.addEventListener("htmx:sendError", function () {
    showError("Could not reach Slate. Check the connection and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    showError("Slate took too long to answer. Please try again.");
  });

  /* ---- 4. CSRF header on every htmx request (defensive) ---------------- */
  // <body hx-headers> already sends X-CSRF-Token; the meta tag is a fallback
  // for fragments swapped outside the body's inheritance or extensions.
  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta && meta.getAttribute("content");
    var d = evt.detail;
    if (!token || !d || !d.headers || d.headers["X-CSRF-Token"]) return;
    try {
      if (new URL(d.path, window.location.href).origin !== window.location.origin) return;
    } catch (e) { return; }
    d.headers["X-CSRF-Token"] = token;
  });

  /* ---- 5. Small form helpers (opt-in; the CSP allows no inline JS) ------- */
  // <form data-confirm="Remove Ada?">: ask first. <select data-autosubmit>: submit on change.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) evt.preventDefault();
  }, true);
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  // <input data-select-on-click readonly>: a click selects the whole value (an invitation link, a token).
  document.addEventListener("click", function (evt) {
    var el = evt.target;
    if (el && el.hasAttribute && el.hasAttribute("data-select-on-click") && el.select) el.select();
  });

  // <a data-history-back href="/the/form">: go back in history, so the browser gives the form back as it was
  // typed; the href is the way when there is no history (a page opened in a new tab).
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a[data-history-back]");
    if (!link || evt.button !== 0 || evt.metaKey || evt.ctrlKey || evt.shiftKey) return;
    if (window.history.length < 2) return;
    evt.preventDefault();
    window.history.back();
  });

  // A form the server sent back with a field error: put the cursor in the first field that needs attention.
  function focusInvalid(root) {
    var el = root && root.querySelector && root.querySelector("[aria-invalid='true']");
    if (el && el.focus) { el.focus(); if (el.scrollIntoView) el.scrollIntoView({ block: "center" }); }
  }
  document.addEventListener("htmx:afterSwap", function (evt) { focusInvalid(evt.detail && evt.detail.target); });

  /* ---- Start ------------------------------------------------------------ */
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { focusInvalid(document); });
  } else {
    focusInvalid(document);
  }
  configureHtmx();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initFlash);
  } else {
    initFlash();
  }
})();
