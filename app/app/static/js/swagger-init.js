// Starts Swagger UI from the vendored bundle (kept out of the page: the CSP forbids inline scripts).
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: el.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
