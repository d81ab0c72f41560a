/**
 * Response headers that fit a DICOMweb server and its viewer: no content sniffing (a stored
 * object is never run as a script or page), no Referer (a viewer URL may still carry the
 * `?token=` hand-off), no framing by other sites, HSTS when served over TLS. With auth on, every
 * answer depends on the credential, so caches are told so (Vary, private). Where a trusted proxy
 * builds the URLs, answers vary with its headers.
 */
import type { NextFunction, Request, Response } from 'express';
import { FORWARDED_HEADERS } from './proxy';

export interface HeaderPolicy {
  tls: boolean;
  authEnabled: boolean;
  /** URLs in answers come from a trusted proxy's headers. */
  forwardedUrls: boolean;
}

export function securityHeaders(policy: HeaderPolicy) {
  const vary = [...(policy.authEnabled ? ['Authorization', 'Cookie'] : []), ...(policy.forwardedUrls ? FORWARDED_HEADERS : [])];
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'SAMEORIGIN');
    res.setHeader('Content-Security-Policy', "frame-ancestors 'self'");
    if (policy.tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    if (vary.length) res.vary(vary.join(', '));
    if (policy.authEnabled) {
      // Handlers that set their own Cache-Control (rendered images, the viewer) keep "private" in it.
      const set = res.setHeader.bind(res);
      res.setHeader = (name: string, value: number | string | readonly string[]) => {
        if (name.toLowerCase() === 'cache-control' && !/\b(private|no-store)\b/.test(String(value))) {
          const rest = String(value).replace(/\bpublic\b\s*,?\s*/i, '').trim();
          value = rest ? `private, ${rest}` : 'private';
        }
        return set(name, value);
      };
      res.setHeader('Cache-Control', 'private');
    }
    next();
  };
}
