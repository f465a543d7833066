import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ApiError } from '../../shared/errors';
import { CONSOLE_PATH } from './paths';
import { INDEX_FILE, type ConsoleAsset, type ConsoleAssets } from './assets';

/**
 * Serves the web console (issue 21) under /console. It needs no key to load: it holds no data,
 * and every call it makes to /v1 carries the key the user typed. What protects the key is the
 * policy below: only this origin's own scripts run (no inline script, nothing from elsewhere, so
 * an injected string cannot become code), the page cannot be framed (no clickjacking of "Discard
 * matching"), and no Referer carries the console's hash route (a task id, filters) to anyone.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

const YEAR_SECONDS = 365 * 24 * 3600;

/** Mounted before /v1's key check; absent from the app when CONSOLE_ENABLED is false. */
export function consoleRouter(assets: ConsoleAssets): Router {
  const router = Router();
  // Every answer under /console, the redirect and the 404s included.
  const securityHeaders: RequestHandler = (_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  };
  router.use(CONSOLE_PATH, securityHeaders);
  // One route (so one metrics label): Express matches /console and /console/ alike, so the
  // handler tells them apart, and `file` is one path segment: nothing deeper exists.
  router.get(`${CONSOLE_PATH}{/:file}`, (req: Request<{ file?: string }>, res) => {
    // Relative asset URLs in index.html resolve against /console/, never against /console.
    if (req.path === CONSOLE_PATH) {
      res.redirect(301, `${CONSOLE_PATH}/`);
      return;
    }
    const name = req.params.file ?? INDEX_FILE;
    const asset = assets.get(name);
    if (!asset) throw new ApiError(404, 'route_not_found', `no console file ${name}`);
    send(req, res, asset);
  });
  return router;
}

function send(req: Request, res: Response, asset: ConsoleAsset): void {
  res.set({
    'Content-Type': asset.contentType,
    'Cache-Control': asset.immutable ? `public, max-age=${YEAR_SECONDS}, immutable` : 'no-cache',
  });
  if (!asset.gzip) {
    res.send(asset.body);
    return;
  }
  res.vary('Accept-Encoding');
  if (req.acceptsEncodings('gzip') === 'gzip') {
    res.set('Content-Encoding', 'gzip');
    res.send(asset.gzip);
  } else {
    res.send(asset.body);
  }
}
