// Switchboard chat widget loader. Embed with one tag:
//   <script src="https://chat.example.com/widget.js" async></script>
// Optional attributes: data-title="Support", data-prechat="off" (skip the name/e-mail
// form). The widget itself is an ES module next to this file; this loader only works out
// where the Switchboard server is (the origin of this script) and imports it.
(function loadSwitchboardWidget() {
  var script = document.currentScript;
  if (!script || !script.src) return;
  var server = new URL(script.src).origin;
  var options = { server: server, title: script.dataset.title, prechat: script.dataset.prechat };
  import(server + '/assets/widget/main.js')
    .then(function (widget) { widget.mount(options); })
    .catch(function (error) { console.warn('Switchboard widget could not load', error); });
})();
