/* consent.js: one tag gives a site a lawful cookie banner, prior blocking, Google Consent Mode v2,
 * Global Privacy Control and consent-aware forms, all recorded by the consent service.
 *
 *   <script src="https://consent.example.nl/v1/consent.js" data-site-key="sk_..." defer></script>
 *
 * Built into services/consent/static/ by scripts/build-consent-js.mjs (esbuild); the CSS beside this
 * file is inlined. It talks only to the server it was loaded from, and never throws into the page. */

const VERSION = __VERSION__;
const CSS = __CSS__;
const me = document.currentScript;
const KEY = me?.dataset.siteKey;
const API = me ? new URL(me.src, location.href).origin : "";
const NONCE = me?.nonce || "";
const LANG = /^en\b/i.test(document.documentElement.lang) ? "en" : "nl";
const GPC = navigator.globalPrivacyControl === true;
const STORE = "privacyconsent"; // localStorage: the choice in effect
const QUEUE = "privacyconsent.queue"; // localStorage: requests the server has not accepted yet
const CFG = "privacyconsent.notice." + LANG; // localStorage: the last notice seen, for when the server is down
const GA_SENT = "privacyconsent.ga"; // localStorage: the Google Analytics client id the server has

let cfg = null; // the notice: texts, categories, version and hash (GET /v1/banner)
let granted = { functional: true }; // category -> allowed, as applied in this page
let banner = null;
let dialog = null;
let opener = null;

const warn = (message) => console.warn("[consent.js] " + message);
const load = (key) => {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
};
const save = (key, value) => {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage full or blocked: the choice still applies to this page */
  }
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const random = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

// Google Consent Mode v2: everything denied before any tag can run; `update` follows each choice.
window.dataLayer = window.dataLayer || [];
function gtag() {
  window.dataLayer.push(arguments); // gtag reads Arguments objects, not arrays
}
gtag("consent", "default", {
  ad_storage: "denied",
  analytics_storage: "denied",
  ad_user_data: "denied",
  ad_personalization: "denied",
  wait_for_update: 500,
});

// --- the browser id: a first-party cookie, so the server can tie a choice to this browser ---------------

function browserId() {
  const found = document.cookie.match(/(?:^|; )pc_bid=([\w-]{8,128})/);
  const id = found ? found[1] : random();
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `pc_bid=${id}; Path=/; Max-Age=34300000; SameSite=Lax${secure}`; // ~13 months
  return id;
}

// --- talking to the server: every choice is queued first, so a failed POST is retried, once ---------------

async function post(path, body) {
  const r = await fetch(API + path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-site-key": KEY },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(8000),
  });
  if (r.status === 429 || r.status >= 500) throw new Error(r.headers.get("retry-after") || "");
  const answer = await r.json().catch(() => null);
  if (!r.ok) warn(`${path} refused (${r.status}): ${JSON.stringify(answer?.detail ?? answer)}`);
  return r.ok ? answer : null; // a 4xx is not retried: sending it again would not change the answer
}

let chain = Promise.resolve();
let retryIn = 2000;
let timer = 0;

function flush() {
  // one flush at a time, in order; items leave the queue only once the server answered
  chain = chain.then(async () => {
    const answers = {};
    for (const item of load(QUEUE) || []) {
      try {
        answers[item.id] = await post(item.path, item.body);
      } catch (e) {
        clearTimeout(timer);
        timer = setTimeout(flush, Math.max(+e.message * 1000 || 0, retryIn));
        retryIn = Math.min(retryIn * 2, 60000);
        break;
      }
      retryIn = 2000;
      save(QUEUE, (load(QUEUE) || []).filter((other) => other.id !== item.id));
    }
    return answers;
  });
  return chain;
}

async function send(path, body) {
  const id = random();
  save(QUEUE, [...(load(QUEUE) || []), { id, path, body }]);
  return (await flush())[id] ?? null;
}

addEventListener("online", flush);

// --- applying a choice: Consent Mode, blocked scripts and iframes, an event for the page ------------------

const allowed = (el) => el.dataset.consent.split(/\s+/).every((category) => granted[category]);

let activating = Promise.resolve();

function activate() {
  for (const frame of document.querySelectorAll("iframe[data-consent-src][data-consent]")) {
    if (allowed(frame)) {
      frame.src = frame.dataset.consentSrc;
      frame.removeAttribute("data-consent-src");
    }
  }
  for (const old of document.querySelectorAll('script[type="text/plain"][data-consent]')) {
    if (!allowed(old)) continue;
    old.removeAttribute("data-consent"); // taken: a later choice does not run it twice
    // one at a time, in page order, so an inline snippet runs after the library it needs
    activating = activating.then(
      () =>
        new Promise((done) => {
          const s = document.createElement("script");
          for (const a of old.attributes) if (a.name !== "type") s.setAttribute(a.name, a.value);
          if (old.dataset.type) s.type = old.dataset.type;
          if (NONCE) s.nonce = NONCE; // a site's CSP nonce carries over to what it activates
          s.async = false;
          if (old.src) s.onload = s.onerror = done;
          else s.text = old.text;
          old.replaceWith(s);
          if (!old.src) done();
        }),
    );
  }
}

// Google Analytics erases only by its client id (the _ga cookie's, GA1.1.<client id>), never by an address:
// once analytics is granted the id is sent once, and kept sealed for this browser, so that an erasure can
// name it. GA sets the cookie after its script ran, so it is looked for again a little later.
function presentGaId() {
  const found = document.cookie.match(/(?:^|; )_ga=GA\d+\.\d+\.(\d{1,20}\.\d{1,20})(?:;|$)/);
  if (!granted.analytics || !found || load(GA_SENT) === found[1]) return;
  save(GA_SENT, found[1]);
  send("/v1/analytics-ids", { browser_id: browserId(), client_id: found[1] });
}

function apply(choice) {
  granted = { functional: true, ...choice };
  if (granted.analytics) [0, 3000, 10000].forEach((ms) => setTimeout(presentGaId, ms));
  const update = {};
  for (const c of cfg.categories) for (const signal of c.consent_mode) update[signal] = granted[c.id] ? "granted" : "denied";
  gtag("consent", "update", update);
  activate();
  document.dispatchEvent(new CustomEvent("privacyconsent", { detail: { ...granted } }));
}

function dropCookies(category) {
  const patterns = category.cookies.map((p) => new RegExp("^" + p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*") + "$"));
  const host = location.hostname.split(".");
  for (const pair of document.cookie.split("; ")) {
    const name = pair.split("=")[0];
    if (!patterns.some((p) => p.test(name))) continue;
    document.cookie = `${name}=; Max-Age=0; Path=/`;
    for (let i = 0; i < host.length - 1; i++) document.cookie = `${name}=; Max-Age=0; Path=/; Domain=.${host.slice(i).join(".")}`;
  }
}

const optional = () => cfg.categories.filter((c) => !c.required);
const everything = (value) => Object.fromEntries(optional().map((c) => [c.id, value]));

async function choose(asked, overGpc = false) {
  // `asked` is what the person chose; GPC refuses what it objects to, unless they switched it on
  // themselves in the settings layer (`overGpc`). The server applies the same rule and records why.
  const choice = Object.fromEntries(optional().map((c) => [c.id, !!asked[c.id] && !(GPC && c.gpc && !overGpc)]));
  const previous = granted;
  save(STORE, { v: cfg.version, h: cfg.hash, at: Date.now(), c: choice, over: overGpc });
  close();
  banner?.remove();
  banner = null;
  const recorded = send("/v1/cookies", {
    browser_id: browserId(),
    analytics: !!asked.analytics,
    tracking: !!asked.tracking,
    notice: { version: cfg.version, hash: cfg.hash },
    page: location.origin + location.pathname, // never the query: it may carry tokens
    gpc: GPC,
    tracking_over_gpc: GPC && overGpc && !!asked.tracking,
  });
  const withdrawn = optional().filter((c) => previous[c.id] && !choice[c.id]);
  if (withdrawn.length) {
    // GDPR 7(3): a withdrawal stops what runs now, so the page starts again without it
    withdrawn.forEach(dropCookies);
    await Promise.race([recorded, sleep(4000)]);
    // a GET of the same page: reloading a form's answer page would send the form again
    if (location.hash) location.reload();
    else location.replace(location.href);
    return;
  }
  apply(choice);
}

// --- what the visitor sees: the first layer and the settings layer -------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  el.append(...children.filter((c) => c != null && c !== false)); // strings become text, never HTML
  return el;
}

const button = (label, onclick, cls) => h("button", { type: "button", class: cls || "", onclick }, label);
const processors = (c) => (c.processors.length ? ` (${c.processors.join(", ")})` : "");

function showBanner() {
  const t = cfg.texts;
  banner = h(
    "div",
    { class: "pc pc-b", role: "dialog", "aria-modal": "false", "aria-labelledby": "pc-t", "aria-describedby": "pc-d", lang: LANG },
    h("h2", { id: "pc-t" }, t.title),
    h("p", { id: "pc-d" }, t.text),
    h("ul", null, ...optional().map((c) => h("li", null, h("b", null, c.name), processors(c), ": " + c.about))),
    GPC && h("p", { class: "pc-g" }, t.gpc),
    h("div", { class: "pc-a" }, button(t.refuse, () => choose(everything(false))), button(t.accept, () => choose(everything(true)))),
    h("p", null, button(t.settings, openSettings, "pc-k"), " · ", h("a", { href: cfg.policy_url }, t.policy)),
  );
  document.body.prepend(banner); // first in the page, so the first Tab reaches it; it takes no focus
}

function openSettings() {
  if (!cfg || dialog?.open) return;
  close(); // one closed by Escape whose close event has not run yet: done now, or this click is lost
  const t = cfg.texts;
  const stored = load(STORE);
  opener = document.activeElement;
  const rows = cfg.categories.map((c) => {
    const box = h("input", { type: "checkbox", id: "pc-c-" + c.id, name: c.id });
    box.checked = c.required || !!granted[c.id];
    box.disabled = c.required;
    return h(
      "div",
      { class: "pc-r" },
      box,
      h("label", { for: box.id }, c.name, c.required && ` (${t.always_on})`),
      h("p", null, c.about),
      h("p", { class: "pc-m" }, c.processors.length ? `${t.processors}: ${c.processors.join(", ")}. ` : "", `${t.kept}: ${c.kept}.`),
      GPC && c.gpc && !stored?.over && h("p", { class: "pc-g" }, t.gpc_setting),
    );
  });
  const read = () => Object.fromEntries(optional().map((c) => [c.id, dialog.querySelector("#pc-c-" + c.id).checked]));
  dialog = h(
    "dialog",
    { class: "pc pc-s", "aria-modal": "true", "aria-labelledby": "pc-st", lang: LANG, onkeydown: trap, onclose: (e) => close(e.currentTarget) },
    h("h2", { id: "pc-st" }, t.settings_title),
    ...rows,
    h(
      "div",
      { class: "pc-a" },
      button(t.refuse, () => choose(everything(false))),
      button(t.accept, () => choose(everything(true))),
      button(t.save, () => choose(read(), GPC)),
    ),
    h("p", null, button(t.close, () => close(), "pc-k"), " · ", h("a", { href: cfg.policy_url }, t.policy)),
  );
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector("input:not([disabled])")?.focus();
}

function close(d = dialog) {
  // the settings layer `d` (its close event names it; a later one is left open)
  if (!d || d !== dialog) return;
  dialog = null;
  if (d.open) d.close();
  d.remove();
  if (opener?.isConnected) opener.focus();
}

function trap(e) {
  // focus stays in the settings layer; Escape closes it (the dialog's own cancel)
  if (e.key !== "Tab") return;
  const items = [...dialog.querySelectorAll("button, input:not([disabled]), a[href]")];
  const [first, last] = [items[0], items[items.length - 1]];
  if (e.shiftKey ? document.activeElement === first : document.activeElement === last) {
    (e.shiftKey ? last : first).focus();
    e.preventDefault();
  }
}

// --- forms and chat widgets: consent captured with the notice and the page -----------------------------------

async function capture({ email, name, purposes, channel, page }) {
  await ready;
  if (!cfg) throw new Error("consent.js has no notice from the server");
  const choices = (purposes || []).map((p) => (typeof p === "string" ? { purpose: p, granted: true } : p));
  const answer = await send("/v1/consents", {
    email: email || undefined,
    name: name || undefined,
    browser_id: browserId(),
    channel: channel || "contact_form",
    notice: { version: cfg.version, hash: cfg.hash },
    page: page || location.origin + location.pathname,
    purposes: choices,
  });
  return answer && { receiptId: answer.receipt.consentReceiptID, states: answer.states, confirmation: answer.confirmation };
}

let boxes = 0;

function enhanceForm(form) {
  const ids = form.dataset.consentPurposes.split(/[\s,]+/).filter(Boolean);
  const unknown = ids.filter((id) => !cfg.purposes[id]);
  if (unknown.length) warn(`data-consent-purposes names purposes the server does not know: ${unknown.join(", ")}`);
  const checks = ids
    .filter((id) => cfg.purposes[id])
    .map((id) => {
      const box = h("input", { type: "checkbox", id: `pc-f${++boxes}`, "data-purpose": id });
      const row = h("p", { class: "pc-f" }, box, " ", h("label", { for: box.id }, cfg.purposes[id].label), " ", h("a", { href: cfg.notice_url || cfg.policy_url, target: "_blank", rel: "noopener" }, cfg.texts.policy));
      const submit = form.querySelector('[type="submit"], button:not([type])');
      submit ? submit.before(row) : form.append(row);
      return box;
    });
  if (!checks.length) return;
  form.addEventListener("submit", async (e) => {
    if (form.dataset.consentSent) return;
    e.preventDefault();
    const field = (sel) => form.querySelector(sel)?.value || undefined;
    const out = await capture({
      email: field('[type="email"], [name="email"]'),
      name: field('[name="name"]'),
      channel: form.dataset.consentChannel,
      purposes: checks.map((box) => ({ purpose: box.dataset.purpose, granted: box.checked })),
    }).catch((err) => warn(String(err)));
    if (out) form.append(h("input", { type: "hidden", name: "consent_receipt", value: out.receiptId }));
    form.dispatchEvent(new CustomEvent("consentcaptured", { bubbles: true, detail: out || null }));
    if (!("consentNoSubmit" in form.dataset)) {
      form.dataset.consentSent = "1";
      HTMLFormElement.prototype.submit.call(form);
    }
  });
}

// --- start ----------------------------------------------------------------------------------------------------

async function notice() {
  // the notice from the server; null when it refuses this site; undefined when it cannot be reached
  try {
    const r = await fetch(`${API}/v1/banner?site_key=${encodeURIComponent(KEY)}&lang=${LANG}`);
    const answer = await r.json();
    if (r.ok) {
      setTimeout(() => save(CFG, answer)); // after the banner is up: a first write to storage is slow
      return answer;
    }
    if (r.status < 429 || r.status === 404) {
      warn(`no banner: the server refused this site (${r.status}): ${answer.detail}`);
      return null;
    }
  } catch {
    /* offline or server down */
  }
}

function fresh(n) {
  const stored = load(STORE);
  // asked again when the notice's version or its text (its SHA-256) changed, or after renew_after_days
  const same = stored && stored.v === n.version && (!stored.h || stored.h === n.hash);
  return same && Date.now() - stored.at < n.renew_after_days * 864e5 && stored;
}

async function start() {
  if (!KEY) return warn("data-site-key is missing on the script tag; no banner");
  const style = h("style", null, CSS);
  if (NONCE) style.nonce = NONCE;
  document.head.append(style);
  const asked = notice();
  const cached = load(CFG); // read while the request is under way
  if (cached && !fresh(cached)) {
    cfg = cached; // a later page, still without a choice: the banner at once, checked below
    showBanner();
  }
  const got = await asked;
  if (got === null) {
    banner?.remove();
    banner = cfg = null;
    return;
  }
  const next = got || cached;
  if (!next) return warn("the consent server cannot be reached: no banner, and nothing that needs consent runs");
  if (!(cfg && next.hash === cfg.hash)) {
    banner?.remove();
    banner = null;
    cfg = next;
    const stored = fresh(cfg);
    if (stored) apply(stored.c);
    else showBanner();
  }
  document.querySelectorAll("form[data-consent-purposes]").forEach(enhanceForm);
  if ((load(QUEUE) || []).length) flush();
}

document.addEventListener("click", (e) => {
  if (e.target.closest?.("[data-consent-settings]")) {
    e.preventDefault();
    openSettings();
  }
});

const ready = start().catch((err) => warn("failed: " + err));

window.PrivacyConsent = {
  version: VERSION,
  ready,
  capture,
  open: openSettings,
  get: () => ({ ...granted }),
};
