// "Check this proof yourself" (privacy centre): the person's own browser recomputes one ledger entry's
// inclusion proof (RFC 9162), checks the checkpoint's signature (C2SP signed note, Ed25519) and each outside
// witness's cosignature on it (C2SP tlog-cosignature), with WebCrypto only. The page works without this
// file: it then shows the proof and the offline command.
"use strict";
(function () {
  var data = document.getElementById("proof-data");
  var out = document.getElementById("proof-result");
  if (!data || !out) return;
  var en = out.getAttribute("data-lang") === "en";
  var SAY = {
    checking: ["Je browser controleert het bewijs…", "Your browser is checking the proof…"],
    ok: [
      "Klopt. Regel {seq} staat in ons grootboek van {size} regels, en dat grootboek is ondertekend met onze sleutel ({origin}). Je browser heeft dit zelf nagerekend.",
      "Verified. Entry {seq} is in our ledger of {size} entries, and that ledger is signed with our key ({origin}). Your browser recomputed this itself.",
    ],
    witnessed: [
      " De onafhankelijke getuige {witness} heeft dit grootboek op {time} medeondertekend: die tekent geen geschiedenis die teruggaat of verandert.",
      " The independent witness {witness} cosigned this ledger on {time}: it signs no history that goes back or changes.",
    ],
    unwitnessed: [
      " Een onafhankelijke getuige heeft dit controlepunt nog niet medeondertekend; probeer het over een minuut opnieuw.",
      " An independent witness has not cosigned this checkpoint yet; try again in a minute.",
    ],
    bad: [
      "Klopt niet: dit bewijs verifieert niet ({why}). Vertrouw deze vastlegging niet, en laat het ons weten.",
      "Does not verify: this proof is not valid ({why}). Do not trust this entry, and please tell us.",
    ],
    unable: [
      "Je browser kan deze controle niet zelf doen (geen Ed25519 in WebCrypto). Gebruik de opdracht hieronder.",
      "Your browser cannot do this check itself (no Ed25519 in WebCrypto). Use the command below.",
    ],
    leaf: ["de vastlegging past niet bij haar vingerafdruk", "the entry does not match its fingerprint"],
    path: ["het pad leidt niet naar de wortel die ondertekend is", "the path does not lead to the signed root"],
    size: ["het bewijs en het controlepunt noemen een ander aantal regels", "the proof and the checkpoint name other sizes"],
    signature: ["de handtekening onder het grootboek klopt niet", "the signature on the ledger does not verify"],
    key: ["het controlepunt is niet met onze sleutel ondertekend", "the checkpoint is not signed with our key"],
    cosignature: ["de medeondertekening van de getuige klopt niet", "the witness's cosignature does not verify"],
    form: ["het bewijs is beschadigd", "the proof is damaged"],
  };
  function say(key, values) {
    var text = SAY[key][en ? 1 : 0];
    Object.keys(values || {}).forEach(function (k) { text = text.replace("{" + k + "}", values[k]); });
    return text;
  }
  function fail(key) { var e = new Error(key); e.key = key; return e; }
  function b64(s) {
    try { return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }); } catch (e) { throw fail("form"); }
  }
  function hex(s) { return Uint8Array.from((s.match(/../g) || []).map(function (h) { return parseInt(h, 16); })); }
  function concat(parts) {
    var n = parts.reduce(function (a, p) { return a + p.length; }, 0), all = new Uint8Array(n), i = 0;
    parts.forEach(function (p) { all.set(p, i); i += p.length; });
    return all;
  }
  function same(a, b) { return a.length === b.length && a.every(function (x, i) { return x === b[i]; }); }
  async function sha(parts) { return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(parts))); }
  async function rootFrom(index, size, leaf, path) {
    if (index >= size) throw fail("path");
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) throw fail("path");
      if (fn % 2 === 1 || fn === sn) {
        r = await sha([Uint8Array.of(1), path[i], r]);
        if (fn % 2 === 0) while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await sha([Uint8Array.of(1), r, path[i]]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw fail("path");
    return r;
  }
  async function openNote(note, vkey) {
    var parts = vkey.split("+"), name = parts[0], raw = b64(parts.slice(2).join("+")); // base64 may hold a +
    var bound = (await sha([new TextEncoder().encode(name + "\n"), raw])).slice(0, 4);
    if (raw[0] !== 1 || raw.length !== 33 || !same(bound, hex(parts[1]))) throw fail("key");
    var at = note.indexOf("\n\n");
    if (at < 0) throw fail("form");
    var body = note.slice(0, at + 1), lines = note.slice(at + 2).split("\n").filter(Boolean);
    var key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    var signed = false;
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].indexOf("\u2014 ") !== 0) throw fail("form");
      var who = lines[i].slice(2).split(" ");
      if (who[0] !== name) continue;
      var blob = b64(who[1]);
      if (!same(blob.slice(0, 4), hex(parts[1]))) continue;
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(4), new TextEncoder().encode(body)))) {
        throw fail("signature");
      }
      signed = true;
    }
    if (!signed) throw fail("key");
    var head = body.split("\n");
    return { origin: head[0], size: Number(head[1]), root: b64(head[2]), body: body, lines: lines };
  }
  // A witness's cosignature (type 0x04): key hash (4 bytes), the UNIX time (8, big-endian), Ed25519 over
  // "cosignature/v1\ntime <t>\n" + the checkpoint's body. Returns the time, null when it has not cosigned.
  async function cosigned(cp, vkey) {
    var parts = vkey.split("+"), name = parts[0], raw = b64(parts.slice(2).join("+"));
    var bound = (await sha([new TextEncoder().encode(name + "\n"), raw])).slice(0, 4);
    if (raw[0] !== 4 || raw.length !== 33 || !same(bound, hex(parts[1]))) throw fail("cosignature");
    var key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    for (var i = 0; i < cp.lines.length; i++) {
      var who = cp.lines[i].slice(2).split(" ");
      if (who[0] !== name) continue;
      var blob = b64(who[1]);
      if (blob.length !== 76 || !same(blob.slice(0, 4), bound)) continue;
      var t = 0;
      for (var j = 4; j < 12; j++) t = t * 256 + blob[j];
      var message = new TextEncoder().encode("cosignature/v1\ntime " + t + "\n" + cp.body);
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(12), message))) throw fail("cosignature");
      return { name: name, time: new Date(t * 1000) };
    }
    return null;
  }
  async function check(d) {
    var p = d.proof, entry = b64(p.entry);
    var leaf = await sha([Uint8Array.of(0), entry]);
    if (!same(leaf, b64(p.leaf_hash))) throw fail("leaf");
    var cp = await openNote(p.checkpoint, d.vkey);
    if (cp.size !== p.tree_size) throw fail("size");
    var root = await rootFrom(p.seq, p.tree_size, leaf, p.proof.map(b64));
    if (!same(root, cp.root)) throw fail("path");
    cp.witnessed = [];
    for (var i = 0; i < (d.witnesses || []).length; i++) {
      var w = await cosigned(cp, d.witnesses[i]);
      if (w) cp.witnessed.push(w);
    }
    return cp;
  }
  function when(date) {
    var options = { timeZone: "Europe/Amsterdam", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit" };
    return date.toLocaleString(en ? "en-GB" : "nl-NL", options);
  }
  out.textContent = say("checking");
  var d;
  try { d = JSON.parse(data.textContent); } catch (e) { d = null; }
  if (!d || !window.crypto || !crypto.subtle) { out.textContent = say("unable"); return; }
  check(d).then(
    function (cp) {
      out.className = "notice ok";
      var text = say("ok", { seq: d.proof.seq, size: cp.size, origin: cp.origin });
      if (cp.witnessed.length) {
        var w = cp.witnessed[0];
        text += say("witnessed", { witness: w.name, time: when(w.time) });
      } else if ((d.witnesses || []).length) {
        text += say("unwitnessed");
      }
      out.textContent = text;
    },
    function (e) {
      if (e && e.name === "NotSupportedError") { out.textContent = say("unable"); return; }
      out.className = "notice bad";
      out.textContent = say("bad", { why: say(e && e.key && SAY[e.key] ? e.key : "form") });
    },
  );
})();
