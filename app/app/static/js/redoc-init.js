// Runs before redoc.standalone.js: styled-components put this nonce on the <style> elements they
// create, which the page's CSP (style-src 'self' 'nonce-...') then allows without 'unsafe-inline'.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csp-nonce"]');
  if (meta) { window.__webpack_nonce__ = meta.getAttribute("content"); }
})();
