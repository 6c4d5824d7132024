// Offline check of a certificate code with WebCrypto Ed25519: the page
// carries every district key ever published and the revoked list, so once
// loaded it verifies with no network. Without Ed25519 in WebCrypto (or with
// JavaScript off) the form posts to the server, which checks the same way.
"use strict";
(function () {
  var form = document.getElementById("verify-form");
  var out = document.getElementById("offline");
  var field = document.getElementById("f-payload");
  if (!form || !out || !field || !window.crypto || !crypto.subtle) return;

  function unb64(text, url) {
    var s = url ? text.replace(/-/g, "+").replace(/_/g, "/") : text;
    while (s.length % 4) s += "=";
    var raw = atob(s), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function show(text, ok) {
    out.textContent = text + " " + out.dataset.checked;
    out.className = "notice " + (ok ? "ok" : "error");
    out.hidden = false;
  }

  async function check(code) {
    var parts = code.trim().split("#").pop().split(".");
    if (parts.length !== 3 || parts[0] !== "BSC1") return ["bad"];
    var fields = JSON.parse(new TextDecoder().decode(unb64(parts[1], true)));
    var keys = JSON.parse(out.dataset.keys);
    if (!keys[fields.kid]) return ["bad"];
    var key = await crypto.subtle.importKey("raw", unb64(keys[fields.kid], false), { name: "Ed25519" }, false, ["verify"]);
    var signed = new TextEncoder().encode(parts[0] + "." + parts[1]);
    var good = await crypto.subtle.verify({ name: "Ed25519" }, key, unb64(parts[2], true), signed);
    if (!good) return ["bad"];
    if (JSON.parse(out.dataset.revoked).indexOf(fields.id) >= 0) return ["revoked-text"];
    if (fields.expires < new Date().toISOString().slice(0, 10)) return ["expired"];
    return ["valid", fields];
  }

  function run() {
    return check(field.value).then(function (verdict) {
      var name = verdict[0] === "revoked-text" ? "revokedText" : verdict[0];
      var text = out.dataset[name];
      if (verdict[1]) text += " " + verdict[1].name + " · " + verdict[1].expires;
      show(text, verdict[0] === "valid");
    });
  }

  // A scanned QR opens this page with the code in the fragment (never sent):
  // check it here at once. "Verify" asks the server (logged, and it knows
  // revocations made since this page loaded) unless there is no network.
  function fromLink() {
    if (location.hash.length < 2) return;
    field.value = decodeURIComponent(location.hash.slice(1));
    run().catch(function () {});
  }
  fromLink();
  window.addEventListener("hashchange", fromLink);
  form.addEventListener("submit", function (event) {
    if (navigator.onLine) return;
    event.preventDefault();
    run().catch(function () { show(out.dataset.bad, false); });
  });
})();
