// A stand-in for an analytics or advertising tag: it runs only once consent.js activated it, i.e. once the
// visitor consented to the category in data-consent; it sets a cookie and says so on the page.
(function () {
  var me = document.currentScript;
  var tag = me.dataset.tag;
  var en = me.dataset.lang === "en";
  document.cookie = "demo_" + tag + "=1; Path=/; Max-Age=3600; SameSite=Lax";
  if (tag === "analytics" && !/(?:^|; )_ga=/.test(document.cookie)) {
    // as Google's tag does: a client id of a random number and the time, GA1.1.<client id>
    var id = Math.floor(Math.random() * 2147483647) + "." + Math.floor(Date.now() / 1000);
    document.cookie = "_ga=GA1.1." + id + "; Path=/; Max-Age=34560000; SameSite=Lax";
  }
  window.demoRan = window.demoRan || {};
  window.demoRan[tag] = (window.demoRan[tag] || 0) + 1;
  var el = document.getElementById("status-" + tag);
  if (el) {
    el.textContent = en ? "running: consent given" : "draait: toestemming gegeven";
    el.className = "on";
  }
})();
