// A chat-like widget: the message stays in the page; consent to be contacted is captured through
// PrivacyConsent.capture (consent.js), which answers with the receipt id.
(function () {
  var form = document.getElementById("chat");
  var log = document.getElementById("chat-log");
  if (!form || !log) return;
  var en = form.dataset.lang === "en";
  function say(text) {
    var li = document.createElement("li");
    li.textContent = text;
    log.appendChild(li);
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var data = new FormData(form);
    say(String(data.get("message")));
    if (!window.PrivacyConsent) return say(en ? "(consent.js is not loaded)" : "(consent.js is niet geladen)");
    window.PrivacyConsent.capture({
      email: data.get("email"),
      name: data.get("name"),
      channel: "chat",
      purposes: [{ purpose: "chat", granted: form.elements.consent.checked }],
    }).then(function (out) {
      if (!out) return say(en ? "Consent will be sent once we are back online." : "Je toestemming wordt verstuurd zodra we weer online zijn.");
      form.dataset.receipt = out.receiptId;
      say((en ? "Recorded, receipt " : "Vastgelegd, ontvangstbewijs ") + out.receiptId);
    }, function (err) {
      say(String(err));
    });
    form.elements.message.value = "";
  });
})();
