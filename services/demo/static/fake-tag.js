// A stand-in for an analytics or advertising tag: it runs only once consent.js activated it, i.e. once the
// visitor consented to the category in data-consent; it sets a cookie and says so on the page.
(function () {
  var me = document.currentScript;
  var tag = me.dataset.tag;
  var en = me.dataset.lang === "en";
  document.cookie = "demo_" + tag + "=1; Path=/; Max-Age=3600; SameSite=Lax";
  window.demoRan = window.demoRan || {};
  window.demoRan[tag] = (window.demoRan[tag] || 0) + 1;
  var el = document.getElementById("status-" + tag);
  if (el) {
    el.textContent = en ? "running: consent given" : "draait: toestemming gegeven";
    el.className = "on";
  }
})();
