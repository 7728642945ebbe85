// Starts ReDoc from the vendored standalone bundle.
(function () {
  "use strict";
  var el = document.getElementById("redoc");
  window.Redoc.init(el.getAttribute("data-openapi-url"), {}, el);
})();
