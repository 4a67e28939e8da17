// Builds services/consent/static/consent-<version>.js from services/consent/js/ (consent.js with
// consent.css inlined), minified by esbuild. The first line names the sources' SHA-256, so a test can
// tell without node that the committed build was made from the committed sources.
//   node scripts/build-consent-js.mjs [--out DIR]     (npm run build)
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "services/consent/js");
const args = process.argv.slice(2);
const out = args[0] === "--out" ? args[1] : join(root, "services/consent/static");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const js = readFileSync(join(src, "consent.js"), "utf8");
const css = readFileSync(join(src, "consent.css"), "utf8");

const sources = createHash("sha256").update(js).update("\0").update(css).update("\0").update(version).digest("hex");
const minCss = (await esbuild.transform(css, { loader: "css", minify: true })).code.trim();
const built = await esbuild.transform(js, {
  loader: "js",
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "none",
  define: { __VERSION__: JSON.stringify(version), __CSS__: JSON.stringify(minCss) },
});
const header = `/*! consent.js ${version} | Apache-2.0 | sources sha256:${sources} */\n`;
mkdirSync(out, { recursive: true });
const file = join(out, `consent-${version}.js`);
writeFileSync(file, header + built.code);
console.log(`${file}: ${(header + built.code).length} bytes`);
