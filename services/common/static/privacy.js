// Progressive enhancement for the pages people see: every page works without this file.
// [data-show-when="select-id=value"]: shown only while that select has that value.
"use strict";
document.querySelectorAll("[data-show-when]").forEach(function (part) {
  var rule = part.getAttribute("data-show-when").split("=");
  var select = document.getElementById(rule[0]);
  if (!select) return;
  function update() { part.hidden = select.value !== rule[1]; }
  select.addEventListener("change", update);
  update();
});
