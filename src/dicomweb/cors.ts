/**
 * Cross-origin access for browser viewers (CORS): allowed origins from CORS_ORIGINS, preflight
 * answered here, and the headers a DICOMweb client reads exposed.
 */
import type { NextFunction, Request, Response } from 'express';

const EXPOSED = ['Content-Type', 'Content-Length', 'Content-Encoding', 'ETag', 'Warning', 'Location', 'X-Volume-Count', 'Retry-After', 'WWW-Authenticate'];

export function cors(allowed: string[]) {
  const any = allowed.includes('*');
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    if (!origin || !(any || allowed.includes(origin))) return next();
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    if (!any) res.append('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED.join(', '));
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', String(req.headers['access-control-request-headers'] ?? 'Accept, Content-Type, Authorization, If-None-Match'));
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
