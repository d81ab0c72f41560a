/**
 * The OpenAPI 3.1 description of /api, served at /api/openapi.json. It is data, kept beside the
 * routes it describes; test/integration/openapi.test.ts checks it against every route express has
 * registered under /api (both ways) and checks real answers against its schemas.
 *
 * JSON keys across /api are camelCase (DICOM attributes appear only inside DICOM JSON, under
 * /dicom-web).
 */
type Schema = Record<string, unknown>;

const uid = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const json = (description: string, schema: Schema) => ({ description, content: { 'application/json': { schema } } });

const errors = {
  '400': text('The request is malformed (the message says how).'),
  '401': text('No credential, or one that does not verify.'),
  '403': text('The credential lacks the role.'),
  '404': text('No such resource, or not visible to the caller.'),
};

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
      get: { summary: 'One job', responses: { '200': json('The job', ref('Job')), ...errors } },
      delete: { summary: 'Cancel a queued or running job (role process)', responses: { '200': json('The job as it is now', ref('Job')), ...errors } },
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
          op: { enum: ['resample', 'normalize', 'denoise', 'segment', 'model'] },
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
