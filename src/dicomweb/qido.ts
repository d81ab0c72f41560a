/** QIDO-RS (PS3.18 10.6): search for studies, series and instances. */
import type { Request, Response } from 'express';
import { Level } from '../query/attributes';
import { VeilgateError } from '../errors';
import { instancePath, seriesPath, studyPath } from '../metadata/urls';
import { DicomWebContext, baseUrl, readView } from './context';
import { parseAccept, matchesType } from './media-types';
import { parseQido } from './qido-params';
import { requireUid } from './params';
import { sendJson } from './json-response';
import { httpCaller } from '../audit/gateway-audit';

const AUDIT_LEVEL = { study: 'STUDY', series: 'SERIES', instance: 'IMAGE' } as const;

function warning(req: Request, text: string): string {
  return `299 ${req.hostname ?? 'veilgate'}: "${text.replace(/"/g, "'")}"`;
}

export function qidoHandler(ctx: DicomWebContext, level: Level) {
  return async (req: Request, res: Response): Promise<void> => {
    const accept = parseAccept(req.headers.accept);
    if (!accept.some((r) => ['application/dicom+json', 'application/json'].some((t) => matchesType(r.type, t)))) {
      throw new VeilgateError('not-acceptable', 'search results are available as application/dicom+json only');
    }
    const scope = {
      study: req.params.study !== undefined ? requireUid(req.params.study, 'study') : undefined,
      series: req.params.series !== undefined ? requireUid(req.params.series, 'series') : undefined,
    };
    const { query, unsupported, matchKeys } = parseQido(level, scope, req.query as Record<string, unknown>, {
      defaultLimit: ctx.config.qidoDefaultLimit,
      maxLimit: ctx.config.qidoMaxLimit,
    });
    const result = await readView(ctx, req).search(query);
    ctx.ingestDeps.audit?.queried('QIDO-RS', httpCaller(req), AUDIT_LEVEL[level], [
      ...matchKeys,
      ...(query.includeFields === 'all' ? [] : query.includeFields),
    ]);
    const base = baseUrl(ctx, req);
    const warnings: string[] = [];
    if (unsupported.length) warnings.push(warning(req, `The following attributes are not supported for matching: ${unsupported.join(', ')}`));
    if (result.more) warnings.push(warning(req, 'There are additional results that can be requested'));
    if (warnings.length) res.setHeader('Warning', warnings);
    const body = result.rows.map((m) => {
      const url =
        level === 'study'
          ? studyPath(m.studyUID)
          : level === 'series'
            ? seriesPath(m.studyUID, m.seriesUID!)
            : instancePath(m.studyUID, m.seriesUID!, m.sopInstanceUID!);
      return { ...m.json, '00081190': { vr: 'UR', Value: [base + url] } };
    });
    await sendJson(req, res, JSON.stringify(body));
  };
}
