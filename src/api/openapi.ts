/**
 * The OpenAPI 3.1 description of /api, served at /api/openapi.json. It is data, kept beside the
 * routes it describes; test/integration/openapi.test.ts checks it against every route express has
 * registered under /api (both ways) and checks real answers against its schemas.
 *
 * JSON keys across /api are camelCase (DICOM attributes appear only inside DICOM JSON, under
 * /dicom-web).
 */
import { errors, json, ownerErrors, ref, text, uid } from './openapi-parts';

const seriesParams = [
  { name: 'study', in: 'path', required: true, schema: uid, description: 'StudyInstanceUID (pseudonymous)' },
  { name: 'series', in: 'path', required: true, schema: uid, description: 'SeriesInstanceUID (pseudonymous)' },
];

const busy = { '503': text('Saturated (heavy work at its limit): retry after the Retry-After header.') };

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Veilgate API',
    version: '1',
    description: 'The gateway API beside DICOMweb (/dicom-web): processing jobs and NIfTI conversion. Every route needs a credential when AUTH is on.',
  },
  servers: [{ url: '/api' }],
  security: [{ bearer: [] }],
  paths: {
    '/openapi.json': {
      get: { summary: 'This description (public: it says nothing about stored data)', security: [], responses: { '200': json('OpenAPI 3.1 document', { type: 'object' }) } },
    },
    '/jobs': {
      get: {
        summary: 'The newest jobs on studies the caller may see',
        description: 'A job is listed when the caller may see its study; a registration (op "register") when it may see both its moving study and its fixed study (params.fixed).',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }],
        responses: { '200': json('Jobs, newest first', { type: 'array', items: ref('Job') }), ...errors },
      },
      post: {
        summary: 'Queue a processing job on a stored series (role process)',
        requestBody: { required: true, content: { 'application/json': { schema: ref('NewJob') } } },
        responses: {
          '202': { ...json('Queued; Location names the job', ref('Job')), headers: { Location: { schema: { type: 'string' } } } },
          '429': text('This client has too many jobs queued or running: retry after the Retry-After header.'),
          ...errors,
        },
      },
    },
    '/jobs/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      get: { summary: 'One job', description: 'A job on a study the caller may not see (for a registration: the moving or the fixed study) is 404, as an unknown id.', responses: { '200': json('The job', ref('Job')), ...errors } },
      delete: { summary: 'Cancel a queued or running job (role process)', responses: { '200': json('The job as it is now', ref('Job')), ...errors } },
    },
    '/ingest/summary': {
      get: {
        summary: 'Recent ingest on this node per kind of source: stored, duplicates, refused, warnings (counts only; no address, UID or project; role admin)',
        description: 'The counts are gateway-wide and cannot be narrowed to a caller\'s projects: for the admin role only, as /metrics; a reader gets 403.',
        responses: { '200': json('The tally since this node started and over the last hour', ref('IngestSummary')), ...errors },
      },
    },
    '/rules': {
      get: {
        summary: 'The configured job rules and routing rules (no secrets; destinations by name; role admin)',
        description:
          'Rules are the gateway\'s configuration, and job rules and routing rules without a project apply to every project\'s series: for the admin role only; a reader gets 403. An admin limited to projects sees the routing rules of its projects and those without one.',
        responses: { '200': json('The rules', ref('Rules')), ...errors },
      },
    },
    '/exports': {
      get: { summary: 'The newest export bundles on studies the caller may see', responses: { '200': json('Exports, newest first', { type: 'array', items: ref('Export') }), ...errors } },
      post: {
        summary: 'Queue an export bundle of a QIDO-style query, a list of studies or a project (role read)',
        requestBody: { required: true, content: { 'application/json': { schema: ref('NewExport') } } },
        responses: {
          '202': { ...json('Queued; Location names the export', ref('Export')), headers: { Location: { schema: { type: 'string' } } } },
          '413': text('The selection holds more series than qidoMaxLimit.'),
          ...errors,
        },
      },
    },
    '/exports/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      get: { summary: 'One export: state, progress in series, size and sha256 when done, expiry', responses: { '200': json('The export', ref('Export')), ...errors } },
      delete: {
        summary: 'Cancel an export and delete its bundle (its owner, or role admin)',
        description:
          'Allowed to the export\'s owner (the caller that POSTed it: the same API key or token subject) and to the admin role. A caller that sees the export but is neither gets 403; one that may not see every study in it gets 404, as for an unknown id.',
        responses: { '204': { description: 'Deleted' }, ...ownerErrors },
      },
    },
    '/exports/{id}/bundle': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      get: {
        summary: 'The bundle file (zip or tar), with Range support',
        parameters: [{ name: 'Range', in: 'header', schema: { type: 'string' }, description: 'bytes=first-last (one range)' }],
        responses: {
          '200': { description: 'The bundle', headers: { 'Accept-Ranges': { schema: { type: 'string' } } }, content: { 'application/zip': { schema: { type: 'string' } }, 'application/x-tar': { schema: { type: 'string' } } } },
          '206': { description: 'The range asked for', headers: { 'Content-Range': { schema: { type: 'string' } } }, content: { 'application/zip': { schema: { type: 'string' } }, 'application/x-tar': { schema: { type: 'string' } } } },
          '409': text('The export is not done yet (or failed, or was cancelled).'),
          '410': text('The bundle has expired (exportTtlHours after it was done).'),
          '416': text('The range is not satisfiable.'),
          ...errors,
        },
      },
    },
    '/studies/{study}/series/{series}/nifti': {
      parameters: seriesParams,
      get: {
        summary: 'The series as NIfTI-1 (dcm2niix geometry)',
        parameters: [
          { name: 'format', in: 'query', schema: { enum: ['nii.gz', 'nii'], default: 'nii.gz' } },
          { name: 'volume', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 }, description: 'Which volume, when the series makes several (X-Volume-Count)' },
        ],
        responses: {
          '200': {
            description: 'The volume',
            headers: { 'X-Volume-Count': { schema: { type: 'integer' } } },
            content: { 'application/gzip': { schema: { type: 'string', contentMediaType: 'application/gzip' } }, 'application/octet-stream': { schema: { type: 'string' } } },
          },
          ...busy,
          ...errors,
        },
      },
      post: {
        summary: 'Publish a NIfTI volume on this series\' grid back as a derived series in its study (role process)',
        parameters: [{ name: 'description', in: 'query', schema: { type: 'string', maxLength: 64 }, description: 'SeriesDescription of the new series (cleaned of identifiers)' }],
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', description: 'NIfTI-1, gzipped or not' } } } },
        responses: {
          '201': { ...json('The new series', ref('ResultSeries')), headers: { Location: { schema: { type: 'string' } } } },
          '413': text('The volume is over maxNiftiBytes.'),
          '422': text('The volume does not lie on a grid of the series.'),
          ...busy,
          ...errors,
        },
      },
    },
    '/studies/{study}/series/{series}/nifti.json': {
      parameters: seriesParams,
      get: { summary: 'The BIDS-style sidecar dcm2niix writes for the series (-ba y: anonymised)', responses: { '200': json('Sidecar', { type: 'object' }), ...busy, ...errors } },
    },
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'An API key (vgk_…, AUTH=keys) or an OIDC access token (AUTH=oidc)' },
    },
    schemas: {
      NewJob: {
        type: 'object',
        required: ['op', 'input'],
        additionalProperties: false,
        properties: {
          op: { enum: ['resample', 'normalize', 'denoise', 'segment', 'model', 'register'] },
          input: { type: 'object', required: ['study', 'series'], additionalProperties: false, properties: { study: uid, series: uid } },
          params: { type: 'object', description: 'The operation\'s parameters (see README, Processing jobs)' },
        },
      },
      Job: {
        type: 'object',
        required: ['id', 'op', 'input', 'params', 'state', 'progress', 'created'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', format: 'uuid' },
          op: { type: 'string' },
          input: { type: 'object', properties: { study: uid, series: uid } },
          params: { type: 'object' },
          state: { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
          progress: { type: 'integer', minimum: 0, maximum: 100 },
          node: { type: 'string', description: 'The gateway node running it' },
          error: { type: 'string' },
          created: { type: 'string', format: 'date-time' },
          started: { type: 'string', format: 'date-time' },
          finished: { type: 'string', format: 'date-time' },
          seconds: { type: 'number' },
          result: { type: 'array', items: ref('ResultSeries') },
          transform: { type: 'object', description: 'A registration\'s final elastix transform parameter map', additionalProperties: { type: 'array', items: { type: 'string' } } },
        },
      },
      IngestCounts: {
        type: 'object',
        required: ['stored', 'duplicate', 'refused', 'warnings'],
        additionalProperties: false,
        properties: {
          stored: { type: 'integer', minimum: 0 },
          duplicate: { type: 'integer', minimum: 0, description: 'Re-sent instances already stored with the same content' },
          refused: { type: 'integer', minimum: 0 },
          warnings: { type: 'integer', minimum: 0, description: 'Instances stored (or duplicate) that raised at least one warning' },
        },
      },
      IngestSummary: {
        type: 'object',
        required: ['since', 'windowMinutes', 'sources'],
        additionalProperties: false,
        properties: {
          node: { type: 'string', description: 'The gateway node this tally is of (each node counts its own)' },
          since: { type: 'string', format: 'date-time', description: 'When this node started counting' },
          windowMinutes: { type: 'integer', description: 'The span of "recent"' },
          sources: {
            type: 'array',
            items: {
              type: 'object',
              required: ['source', 'stored', 'duplicate', 'refused', 'warnings', 'lastAt', 'recent'],
              additionalProperties: false,
              properties: {
                source: { type: 'string', description: 'The kind of origin: stow, dimse, import, job, nifti-post, rejection' },
                stored: { type: 'integer', minimum: 0 },
                duplicate: { type: 'integer', minimum: 0 },
                refused: { type: 'integer', minimum: 0 },
                warnings: { type: 'integer', minimum: 0 },
                lastAt: { type: 'string', format: 'date-time' },
                recent: ref('IngestCounts'),
              },
            },
          },
        },
      },
      Rules: {
        type: 'object',
        required: ['jobRules', 'routes'],
        additionalProperties: false,
        properties: {
          jobRules: {
            type: 'object',
            properties: {
              quietSeconds: { type: 'integer' },
              rules: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    modality: { type: 'string' },
                    minInstances: { type: 'integer' },
                    jobs: { type: 'array', items: { type: 'object', properties: { op: { type: 'string' }, params: { type: 'object' } } } },
                  },
                },
              },
            },
          },
          routes: {
            type: 'object',
            properties: {
              quietSeconds: { type: 'integer' },
              rules: {
                type: 'array',
                description: 'Routing rules; an admin limited to projects sees those of its projects and those without one',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    name: { type: 'string' },
                    from: { enum: ['ingest', 'jobs'] },
                    modality: { type: 'array', items: { type: 'string' } },
                    sopClassUID: { type: 'array', items: uid },
                    project: { type: 'string' },
                    seriesDescription: { type: 'string', description: 'Matched with * and ?, ignoring case' },
                    minInstances: { type: 'integer' },
                    destinations: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
      NewExport: {
        type: 'object',
        additionalProperties: false,
        properties: {
          query: { type: 'object', description: 'QIDO-RS parameters, such as { "Modality": "CT" }; the segmentations of the selected series come along' },
          level: { enum: ['study', 'series'], default: 'series', description: 'The level the query searches at (study: whole studies)' },
          studies: { type: 'array', items: uid, minItems: 1 },
          project: { type: 'string' },
          format: { enum: ['zip', 'tar'], default: 'zip' },
          includeDicom: { type: 'boolean', default: false, description: 'Put the stored (de-identified) DICOM files in the bundle too' },
        },
      },
      Export: {
        type: 'object',
        required: ['id', 'url', 'state', 'format', 'includeDicom', 'request', 'progress', 'created'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', format: 'uuid' },
          url: { type: 'string', format: 'uri' },
          state: { enum: ['queued', 'running', 'done', 'failed', 'cancelled', 'expired'] },
          format: { enum: ['zip', 'tar'] },
          includeDicom: { type: 'boolean' },
          request: { type: 'object' },
          progress: {
            type: 'object',
            required: ['seriesDone', 'seriesTotal'],
            additionalProperties: false,
            properties: { seriesDone: { type: 'integer', minimum: 0 }, seriesTotal: { type: 'integer', minimum: 0 } },
          },
          bytes: { type: 'integer', minimum: 0, description: 'The bundle\'s size, when done' },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'The bundle\'s SHA-256, when done' },
          files: { type: 'integer', minimum: 0 },
          skipped: {
            type: 'array',
            description: 'Series that gave no file (not convertible, or no longer stored), with the reason',
            items: { type: 'object', additionalProperties: false, required: ['study', 'series', 'reason'], properties: { study: uid, series: uid, reason: { type: 'string' } } },
          },
          error: { type: 'string' },
          bundle: { type: 'string', format: 'uri', description: 'Where the bundle is downloaded, when done' },
          created: { type: 'string', format: 'date-time' },
          started: { type: 'string', format: 'date-time' },
          finished: { type: 'string', format: 'date-time' },
          expires: { type: 'string', format: 'date-time' },
        },
      },
      ResultSeries: {
        type: 'object',
        required: ['seriesInstanceUID', 'kind', 'instances', 'retrieveURL'],
        additionalProperties: false,
        properties: {
          seriesInstanceUID: uid,
          kind: { enum: ['image', 'segmentation'] },
          instances: { type: 'integer', minimum: 1 },
          retrieveURL: { type: 'string', format: 'uri' },
        },
      },
    },
  },
} as const;
