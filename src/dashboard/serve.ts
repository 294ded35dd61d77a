// The live dashboard: a few static files served by Roster itself, in front of
// yoga on the same HTTP server (the page talks to /graphql over HTTP and
// graphql-ws on the same origin, so no CORS and no separate web server).
//
// Wiring (src/app.ts):
//
//   const dashboard = dashboardHandler();
//   const server = createServer((req, res) => { if (!dashboard(req, res)) yoga(req, res); });
//
// The set of files is fixed here: a request path is only ever looked up in
// that table, never joined onto a directory, so there is no path traversal to
// get wrong. Everything is read once when the handler is built (they are
// small); `reload: true` re-reads per request, for working on the page.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface DashboardOptions {
  /** Read the files on every request instead of once (development). Default false. */
  reload?: boolean;
}

interface Asset {
  body: Buffer;
  etag: string;
}

interface Route {
  contentType: string;
  load: () => Buffer;
}

/**
 * Scripts only from this origin, no inline script or style (the page sets
 * styles through the CSSOM, which CSP allows), API calls and WebSockets only
 * to this host; nothing may frame the page.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

/**
 * graphql-ws's browser client, as an ES module the page can import by a
 * relative URL. The package's `dist/client.js` is ESM but imports a chunk with
 * a content-hashed name that changes between releases; its UMD build is one
 * self-contained file. The UMD wrapper fills `exports` when it sees CommonJS
 * (`exports` and `module` defined), so it is given a local pair of them and
 * the result is re-exported: no global is created and nothing is rewritten.
 */
export function graphqlWsBrowserModule(): Buffer {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('graphql-ws/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string };
  const umdPath = join(dirname(pkgPath), 'umd', 'graphql-ws.js');
  const umd = readFileSync(umdPath, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  return Buffer.from(
    `// graphql-ws ${pkg.version ?? ''} (MIT, https://github.com/enisdenjo/graphql-ws): its UMD build,\n` +
      `// given a local CommonJS \`exports\` and re-exported as an ES module by Roster.\n` +
      `const module = { exports: {} };\nconst exports = module.exports;\n` +
      `${umd}\n` +
      `export const { createClient, CloseCode, MessageType, TerminatedCloseEvent } = module.exports;\n`,
    'utf8',
  );
}

const ROUTES: ReadonlyMap<string, Route> = new Map([
  ['/', { contentType: 'text/html; charset=utf-8', load: () => readFileSync(here('./index.html')) }],
  ['/dashboard/app.js', { contentType: 'text/javascript; charset=utf-8', load: () => readFileSync(here('./app.js')) }],
  ['/dashboard/documents.js', { contentType: 'text/javascript; charset=utf-8', load: () => readFileSync(here('./documents.js')) }],
  ['/dashboard/style.css', { contentType: 'text/css; charset=utf-8', load: () => readFileSync(here('./style.css')) }],
  ['/dashboard/vendor/graphql-ws.js', { contentType: 'text/javascript; charset=utf-8', load: graphqlWsBrowserModule }],
]);

function asset(body: Buffer): Asset {
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/**
 * A request listener for the dashboard's files. It answers GET and HEAD of
 * its own paths and returns true; for anything else it does nothing and
 * returns false, so the caller hands the request on (to yoga).
 */
export function dashboardHandler(options: DashboardOptions = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  // Read everything now, so a missing file fails at start, not on first visit.
  const cache = new Map<string, Asset>();
  for (const [path, route] of ROUTES) cache.set(path, asset(route.load()));

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    // Only the path decides; a query string (cache busting) is ignored.
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = ROUTES.get(path);
    if (!route) return false;

    const file = options.reload ? asset(route.load()) : cache.get(path)!;
    const headers: Record<string, string> = {
      'Content-Type': route.contentType,
      // Revalidate every time (the ETag makes that a 304), so a new Roster
      // version's page is never mixed with an old cached script.
      'Cache-Control': 'no-cache',
      ETag: file.etag,
      'Content-Security-Policy': DASHBOARD_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
    };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers['Content-Length'] = String(file.body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
