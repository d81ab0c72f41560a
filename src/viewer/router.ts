/**
 * The OHIF viewer at /viewer: the prebuilt app from the npm package `@ohif/app` (its
 * `dist/`), pointed at this gateway's own DICOMweb root.
 *
 * The dist is built for the site root, so three things are adapted as they are served:
 * - `app-config.js` is generated per request (src/viewer/app-config.ts), with the DICOMweb
 *   root as the client reaches it (PUBLIC_URL or the proxy's Forwarded headers).
 * - `index.html` (and `manifest.json`) get `window.PUBLIC_URL` and their root-relative
 *   links rewritten to the viewer's path.
 * - The webpack runtimes inside the bundles have the public path `"/"` compiled in; it is
 *   replaced by one computed in the browser (`window.PUBLIC_URL`, or in a web worker the
 *   worker script's own folder), so chunks, workers and WebAssembly load from /viewer/;
 *   stylesheets' root-relative `url(/…)` become relative. Rewritten files are kept in
 *   memory (with a gzip copy) after their first request.
 * Any other path without a file extension is a route of the single-page app: index.html.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import express, { NextFunction, Request, Response } from 'express';
import { DicomWebContext, publicBase } from '../dicomweb/context';
import { log } from '../log';
import { appConfigScript } from './app-config';
import { TOKEN_SCRIPT } from './token-script';
import { Authenticator, GuardMark, TOKEN_COOKIE, publicRoute, requireRole } from '../auth/middleware';
import { VeilgateError } from '../errors';

const gzipAsync = promisify(gzip);

/** Where the built viewer is: `@ohif/app`'s dist folder, or null when the package is not installed. */
function findViewerDist(): string | null {
  try {
    const dist = path.join(path.dirname(require.resolve('@ohif/app/package.json')), 'dist');
    return fs.existsSync(path.join(dist, 'index.html')) ? dist : null;
  } catch {
    return null;
  }
}

/** What the webpack runtimes compile in, and what replaces it. */
const PUBLIC_PATH = '__webpack_require__.p = "/";';
const DYNAMIC_PUBLIC_PATH =
  '__webpack_require__.p = (typeof window !== "undefined" && window.PUBLIC_URL) || self.location.pathname.replace(/[^\\/]*$/, "");';
/** The microscopy mode imports its library from an absolute path. */
const MICROSCOPY_IMPORT = "browserImportFunction('/dicom-microscopy-viewer/";
const MICROSCOPY_IMPORT_FIXED = "browserImportFunction((window.PUBLIC_URL || '/') + 'dicom-microscopy-viewer/";

/** A JavaScript-safe string literal that cannot close a <script> element. */
function jsString(s: string): string {
  return JSON.stringify(s).replace(/</g, '\\u003c');
}

interface Rewritten {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

export interface ViewerOptions {
  /** The dist folder to serve; default `@ohif/app`'s. `null` serves the "not installed" answer. */
  distDir?: string | null;
  /** With auth on: verifies the `?token=` hand-off (AUTH=keys). */
  authenticator?: Authenticator;
}

const SIGN_IN_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Veilgate viewer</title></head>
<body><p>The viewer needs an API key with the read role: open it as <code>/viewer/?token=&lt;API key&gt;</code>.</p></body></html>
`;

/**
 * Who may open the viewer. AUTH=keys: a reader, by the \`?token=\` hand-off (the key is then kept
 * in an HttpOnly cookie for the viewer's own files and the tab's script sends it as a bearer
 * token) or that cookie. AUTH=oidc: anyone may load the page, since it is where the sign-in
 * starts; everything it then reads is guarded like any client's request.
 */
function viewerGuard(authenticator: Authenticator | undefined, secure: (req: Request) => boolean) {
  if (!authenticator?.enabled) return publicRoute('authentication is off (loopback only)');
  if (authenticator.config.oidc) return publicRoute('the OIDC sign-in starts on this page; all data it reads is guarded');
  const guard = requireRole('read');
  const handOff = async (req: Request, res: Response, next: NextFunction) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (token) {
      const principal = await authenticator.verifyFrom(token, req);
      if (!principal) return void res.status(401).type('html').send(SIGN_IN_PAGE);
      req.principal = principal;
    }
    guard(req, res, (err?: unknown) => {
      if (err) return void res.status(err instanceof VeilgateError && err.kind === 'forbidden' ? 403 : 401).type('html').send(SIGN_IN_PAGE);
      // Only a key that may read becomes the viewer's cookie; Secure whenever the client uses https.
      if (token) res.cookie(TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: secure(req), path: '/' });
      next();
    });
  };
  return Object.assign(handOff, { requiredRoles: guard.requiredRoles } as GuardMark);
}

export function viewerRouter(ctx: DicomWebContext, options: ViewerOptions = {}): express.Router {
  const r = express.Router();
  r.use(viewerGuard(options.authenticator, (req) => req.secure || publicBase(ctx, req).startsWith('https:')));
  const keysHandOff = !!options.authenticator?.enabled && !options.authenticator.config.oidc;
  const dist = options.distDir === undefined ? findViewerDist() : options.distDir;
  if (!dist) {
    log.warn('viewer-absent', { reason: 'npm package @ohif/app not installed' });
    r.use((_req, res) => {
      res
        .status(404)
        .type('text/plain')
        .send('The viewer is not installed: the npm package @ohif/app is missing (run npm install). DICOMweb is at /dicom-web.\n');
    });
    return r;
  }

  const shippedIndex = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
  // With API keys, the token script runs before the app (and before its config).
  const indexTemplate = keysHandOff ? shippedIndex.replace(/<script[^>]*src="\/app-config\.js"/, (tag) => `<script src="/veilgate-token.js"></script>${tag}`) : shippedIndex;
  const manifestTemplate = fs.existsSync(path.join(dist, 'manifest.json')) ? fs.readFileSync(path.join(dist, 'manifest.json'), 'utf8') : null;
  /** Per top-level .js file: its rewritten form, or null when it needs none. */
  const bundles = new Map<string, Promise<Rewritten | null>>();

  /** The viewer's path as the browser sees it, e.g. /viewer or /pacs/viewer behind a proxy. */
  const basePath = (req: Request): string => {
    let prefix = '';
    try {
      prefix = new URL(publicBase(ctx, req)).pathname.replace(/\/+$/, '');
    } catch {
      prefix = '';
    }
    return prefix + req.baseUrl;
  };

  const sendIndex = (req: Request, res: Response) => {
    const base = basePath(req);
    const html = indexTemplate
      .replace(/window\.PUBLIC_URL="\/"/g, `window.PUBLIC_URL=${jsString(base + '/')}`)
      .replace(/(\s(?:href|src|content))="\/(?!\/)/g, (_m, attr: string) => `${attr}="${base}/`);
    res.set('Cache-Control', 'no-cache').type('html').send(html);
  };

  const rewriteBundle = async (file: string): Promise<Rewritten | null> => {
    const text = await fs.promises.readFile(file, 'utf8');
    let out: string;
    if (file.endsWith('.css')) {
      // Fonts and images referenced from the site root: make them relative to the stylesheet.
      out = text.replace(/url\((["']?)\/(?!\/)/g, 'url($1./');
    } else {
      out = text.split(PUBLIC_PATH).join(DYNAMIC_PUBLIC_PATH).split(MICROSCOPY_IMPORT).join(MICROSCOPY_IMPORT_FIXED);
    }
    if (out === text) return null;
    const body = Buffer.from(out);
    const stat = await fs.promises.stat(file);
    return { body, gzipped: await gzipAsync(body), etag: `W/"vg-${body.length.toString(16)}-${Math.round(stat.mtimeMs).toString(16)}"` };
  };

  const oidc = options.authenticator?.config.oidc;
  const signIn = oidc?.clientId ? { issuer: oidc.issuer, clientId: oidc.clientId } : undefined;
  r.get('/app-config.js', (req, res) => {
    const script = appConfigScript({ dicomWebRoot: `${publicBase(ctx, req)}/dicom-web`, routerBasename: basePath(req), oidc: signIn });
    res.set('Cache-Control', 'no-cache').type('text/javascript').send(script);
  });
  if (keysHandOff) {
    r.get('/veilgate-token.js', (_req, res) => {
      res.set('Cache-Control', 'no-cache').type('text/javascript').send(TOKEN_SCRIPT);
    });
  }
  r.get(['/', '/index.html'], (req, res) => {
    // /viewer without the slash: relative URLs need the slash, so redirect first.
    if (req.originalUrl.split('?')[0] === req.baseUrl) {
      const query = req.originalUrl.slice(req.baseUrl.length);
      return res.redirect(301, `${basePath(req)}/${query}`);
    }
    sendIndex(req, res);
  });
  if (manifestTemplate) {
    r.get('/manifest.json', (req, res) => {
      const base = basePath(req);
      res.type('application/manifest+json').send(manifestTemplate.replace(/("(?:src|start_url|scope)"\s*:\s*")\/(?!\/)/g, `$1${base}/`));
    });
  }
  // Bundles whose webpack runtime needs the public path rewritten, stylesheets with root URLs
  // (top-level files only).
  r.get(/^\/[\w.\-]+\.(?:js|css)$/, async (req: Request, res: Response, next: NextFunction) => {
    const name = req.path.slice(1);
    const file = path.join(dist, name);
    let entry = bundles.get(name);
    if (!entry) {
      if (!fs.existsSync(file)) return next();
      entry = rewriteBundle(file);
      bundles.set(name, entry);
      entry.catch(() => bundles.delete(name));
    }
    let rewritten: Rewritten | null;
    try {
      rewritten = await entry;
    } catch (err) {
      return next(err);
    }
    if (!rewritten) return next();
    res.set({ ETag: rewritten.etag, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' }).type(name.endsWith('.css') ? 'text/css' : 'text/javascript');
    if (req.headers['if-none-match'] === rewritten.etag) return void res.status(304).end();
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      res.set('Content-Encoding', 'gzip').send(rewritten.gzipped);
    } else {
      res.send(rewritten.body);
    }
  });
  r.use(express.static(dist, { index: false, redirect: false, dotfiles: 'ignore' }));
  // Routes of the single-page app (/viewer/viewer?StudyInstanceUIDs=…, /viewer/segmentation…): index.html.
  r.use((req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && !/\.[A-Za-z0-9]+$/.test(req.path)) return sendIndex(req, res);
    next();
  });
  r.use((_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('no such resource\n');
  });
  return r;
}
