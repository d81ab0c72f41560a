/** The gateway's own API beside DICOMweb: NIfTI conversion (and processing jobs later). */
import express from 'express';
import { DicomWebContext } from '../dicomweb/context';
import { errorHandler } from '../dicomweb/router';
import { getNiftiHandler, getSidecarHandler, postNiftiHandler } from './nifti';
import { jobsRouter } from './jobs';
import { JobRunner } from '../processing/jobs/runner';

const SERIES = '/studies/:study/series/:series';

export function apiRouter(ctx: DicomWebContext, runner: JobRunner): express.Router {
  const r = express.Router();
  r.use('/jobs', jobsRouter(ctx, runner));
  r.get(`${SERIES}/nifti`, getNiftiHandler(ctx));
  r.get(`${SERIES}/nifti.json`, getSidecarHandler(ctx));
  r.post(`${SERIES}/nifti`, postNiftiHandler(ctx));
  r.use((_req, _res, next) => next(Object.assign(new Error('not found'), { status: 404 })));
  r.use(errorHandler);
  return r;
}
