// Copy the minified front-end builds from node_modules/ into static/vendor/.
// Run by `npm run vendor` (and `make install`) after `npm ci`; static/vendor/ is not committed.
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dest = join(root, "static", "vendor");

// [source under node_modules/, file name under static/vendor/]
const files = [
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
  ["htmx-ext-sse/dist/sse.min.js", "htmx-ext-sse.js"],
  ["sortablejs/Sortable.min.js", "Sortable.min.js"],
  // The API reference at /docs and /redoc, served from here so it works with no network.
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
  ["swagger-ui-dist/favicon-32x32.png", "swagger-favicon.png"],
  ["redoc/bundles/redoc.standalone.js", "redoc.standalone.js"],
];

mkdirSync(dest, { recursive: true });
let failed = false;
for (const [src, name] of files) {
  const from = join(root, "node_modules", src);
  if (!existsSync(from)) {
    console.error(`vendor: missing ${relative(root, from)} (run \`npm ci\` first)`);
    failed = true;
    continue;
  }
  const to = join(dest, name);
  copyFileSync(from, to);
  console.log(`vendor: ${relative(root, from)} -> ${relative(root, to)} (${statSync(to).size} bytes)`);
}
process.exit(failed ? 1 : 0);
