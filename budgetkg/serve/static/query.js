// Query page: YASGUI bound to this server's endpoint only, offline (no LOV/prefix.cc lookups).
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("budgetkg-config").textContent);
  cfg.endpoint = new URL(cfg.endpoint, window.location.href).href;
  var el = document.getElementById("yasgui");
  if (typeof Yasgui === "undefined") {
    el.innerHTML = '<p class="notice">YASGUI did not load. <a href="/query?ui=plain">Use the plain form</a>.</p>';
    return;
  }
  var yasgui = new Yasgui(el, {
    requestConfig: { endpoint: cfg.endpoint, method: "POST" },
    copyEndpointOnNewTab: false,
    persistenceId: "budgetkg:" + cfg.endpoint,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: cfg.endpoint }]; } },
    // Term autocompletion (classes, properties) calls an external service: keep it off.
    // The prefix list is the one bundled with YASGUI (prefixCcApi: null means no lookup).
    yasqe: { autocompleters: ["prefixes", "variables"], prefixCcApi: null, value: cfg.defaultQuery },
    populateFromUrl: false
  });
  window.budgetkgYasgui = yasgui;
  function current() {
    var tab = yasgui.getTab();
    if (tab && tab.getEndpoint && tab.getEndpoint() !== cfg.endpoint && tab.setEndpoint) {
      tab.setEndpoint(cfg.endpoint);
    }
    return tab;
  }
  if (cfg.query) {
    current().setQuery(cfg.query);
  }
  document.querySelectorAll("button.example").forEach(function (button) {
    button.addEventListener("click", function () {
      var ex = cfg.examples[Number(button.getAttribute("data-example"))];
      var tab = current();
      tab.setQuery(ex.query);
      if (tab.setName) { tab.setName(ex.title.slice(0, 40)); }
    });
  });
})();
