/**
 * The web console at /console: one static page (HTML, a stylesheet and one ES module, no build
 * step) that shows jobs, transfers and exports with live progress, destinations and their queues,
 * recent ingest per source kind, and the configured rules, polling the gateway's own /api.
 *
 * The page holds no data, so it is public; everything it shows comes from /api calls, which are
 * guarded like any client's. With AUTH=keys the key is handed over as `/console/?token=<key>`
 * (as for the viewer) or typed into the page: the script keeps it for the tab (sessionStorage),
 * removes it from the address bar and sends it as a bearer token to this origin only. Without a
 * key, the API answers 401 and the page says so. The console's own Content-Security-Policy allows
 * scripts, styles and requests from this origin only: no inline script, no eval.
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { Request, Response } from 'express';
import { publicRoute } from '../auth/middleware';
import { projectRoot } from '../paths';

/** The static files, read from the source tree (they are not compiled: the same files run from src/ or dist/). */
export function consoleDir(): string {
  return path.join(projectRoot(), 'src', 'console', 'static');
}

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

export function consoleRouter(dir = consoleDir()): express.Router {
  const r = express.Router();
  r.use(publicRoute('a static page without data; every API call it makes is guarded'));
  const files = new Map(Object.keys(FILES).map((name) => [name, fs.readFileSync(path.join(dir, name))]));
  const send = (name: string) => (_req: Request, res: Response) => {
    res.set({ 'Content-Type': FILES[name], 'Cache-Control': 'no-cache', 'Content-Security-Policy': CONSOLE_CSP });
    res.send(files.get(name));
  };
  const index = send('index.html');
  r.get(['/', '/index.html'], (req, res) => {
    // /console without the slash: the page's relative URLs need it. A relative Location keeps a proxy's prefix.
    if (req.originalUrl.split('?')[0] === req.baseUrl) {
      const query = req.originalUrl.slice(req.baseUrl.length);
      return res.redirect(301, `${path.posix.basename(req.baseUrl)}/${query}`);
    }
    index(req, res);
  });
  r.get('/console.js', send('console.js'));
  r.get('/console.css', send('console.css'));
  r.get('/favicon.svg', send('favicon.svg'));
  r.use((_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('no such resource\n');
  });
  return r;
}
