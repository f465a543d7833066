// Builds the web console (services/api/console/app) into dist/console: `npm run build` runs it
// after tsc. Output: index.html plus content-hashed JS, CSS and icon, so the API can let browsers
// cache every asset for a year and revalidate only index.html (services/api/console/serve.ts).
// index.html has no inline script or style: the console's Content-Security-Policy forbids both.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const app = join(here, 'app');
const out = join(root, 'dist', 'console');

const started = performance.now();
await mkdir(out, { recursive: true });

// Written here, not by esbuild: every file lands by rename (see writeAtomic), and test runs that
// build at the same time as an API starts (or as each other) never see half a file.
const result = await build({
  entryPoints: { console: join(app, 'main.tsx') },
  outdir: out,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  // What the supported browsers run natively: evergreen ones, two years back.
  target: ['chrome109', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  write: false,
  logLevel: 'warning',
});

const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint !== undefined);
if (!entry) throw new Error('esbuild produced no entry point');
const [jsPath, jsOutput] = entry;
const js = basename(jsPath);
const css = jsOutput.cssBundle ? basename(jsOutput.cssBundle) : undefined;
const iconFile = join(app, 'icon.svg');
const iconBody = await readFile(iconFile);
const icon = hashedName(iconFile, iconBody);

// Relative URLs: they resolve under /console/ (the API redirects /console there), and still do
// behind a proxy that serves the API under a path of its own.
const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Spillway console</title>
    <link rel="icon" type="image/svg+xml" href="./${icon}" />
${css ? `    <link rel="stylesheet" href="./${css}" />\n` : ''}    <script type="module" src="./${js}"></script>
  </head>
  <body>
    <div id="app"></div>
    <noscript>The Spillway console needs JavaScript.</noscript>
  </body>
</html>
`;
const files = new Map([
  ...result.outputFiles.map((f) => [basename(f.path), f.contents]),
  [icon, iconBody],
  // Last: it names the others, which must be in place first.
  ['index.html', Buffer.from(html)],
]);
for (const [name, body] of files) await writeAtomic(join(out, name), body);
// Earlier builds' files: content-hashed, so harmless to serve, but they would pile up.
for (const name of await readdir(out)) {
  if (!files.has(name) && !name.includes('.tmp-'))
    await rm(join(out, name), { force: true, recursive: true });
}
const ms = Math.round(performance.now() - started);
console.log(`console built in ${ms} ms: ${relative(root, out)}/{index.html, ${js}${css ? `, ${css}` : ''}}`);

/** A static file's name under esbuild's `[name]-[hash]` naming (8 characters of A-Z, 0-9). */
function hashedName(file, body) {
  const hash = createHash('sha256').update(body).digest('hex').toUpperCase();
  const [name, ext] = basename(file).split('.');
  return `${name}-${hash.slice(0, 8)}.${ext}`;
}

/** Write, then rename into place: a reader sees the old file or the new one, never a part. */
async function writeAtomic(file, body) {
  const temp = `${file}.tmp-${process.pid}`;
  await writeFile(temp, body);
  await rename(temp, file);
}
