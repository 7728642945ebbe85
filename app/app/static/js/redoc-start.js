// Starts ReDoc from the vendored standalone bundle (an ES module). ReDoc's CSS-in-JS puts the
// nonce of <meta property="csp-nonce"> on the <style> elements it creates, which this page's
// CSP (style-src 'self' 'nonce-...') allows without 'unsafe-inline'.
const el = document.getElementById("redoc");
const { init } = await import(el.getAttribute("data-bundle"));
// No telemetry: ReDoc 3 would otherwise post traces to otel.cloud.redocly.com (the CSP
// blocks that anyway). Its attribution logo (cdn.redoc.ly) is blocked by the CSP too.
init(el.getAttribute("data-openapi-url"), { disableTelemetry: true }, el);
