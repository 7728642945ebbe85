// The stand-in frontend's script: asks the API behind the same edge for its release.
"use strict";
(function () {
  const out = document.getElementById("api-status");
  fetch("/version", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then((v) => { out.textContent = "release " + (v.release || v.version || "?"); })
    .catch((e) => { out.textContent = "unreachable (" + e.message + ")"; });
})();
