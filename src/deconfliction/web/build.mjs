// Build the offline map page into dist/: index.html, one IIFE bundle (app.js), one stylesheet (app.css, with
// Leaflet's and geoman's), their images, and the Natural Earth basemap. Nothing in dist/ refers to another host.
import { copyFile, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const BASEMAP = "countries-50m.json";

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const common = {
  bundle: true,
  minify: process.env.MINIFY !== "0",
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
  target: ["chrome110", "firefox115", "safari16"],
};

await esbuild.build({
  ...common,
  entryPoints: [join(here, "src/main.js")],
  outfile: join(dist, "app.js"),
  format: "iife",
  loader: { ".json": "json" },
});

await esbuild.build({
  ...common,
  entryPoints: [join(here, "src/app.css")],
  outfile: join(dist, "app.css"),
  // The hub serves dist/ flat under /static/: keep images beside the stylesheet.
  loader: { ".png": "file", ".svg": "dataurl", ".gif": "file" },
  assetNames: "[name]",
});

await copyFile(join(here, "src/index.html"), join(dist, "index.html"));
await copyFile(join(here, "node_modules/world-atlas", BASEMAP), join(dist, BASEMAP));
for (const name of ["marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"]) {
  await copyFile(join(here, "node_modules/leaflet/dist/images", name), join(dist, name));
}

// Neither the page nor its stylesheet may load anything from another host (the page runs with no network but the
// hub). The bundle's strings may name hosts (Leaflet's attribution link, which the page switches off).
for (const name of await readdir(dist)) {
  if (!/\.(css|html)$/.test(name)) continue;
  const text = await readFile(join(dist, name), "utf8");
  for (const m of text.matchAll(/(?:src|href)\s*=\s*["']?(https?:)?\/\/[^"'\s>]+|url\(\s*["']?https?:\/\/[^)]+\)|@import\s+["']?https?:/g)) {
    throw new Error(`${name} refers to another host: ${m[0].slice(0, 120)}`);
  }
}
const files = await readdir(dist);
console.log(`built ${dist}: ${files.join(", ")}`);
