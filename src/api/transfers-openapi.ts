/**
 * The OpenAPI description of /api/transfers, added to /api/openapi.json (api/router.ts).
 */
import { errors, json, ownerErrors, ref, text, uid } from './openapi-parts';

const id = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }];
const counts = {
  type: 'object',
  properties: Object.fromEntries(['total', 'queued', 'sending', 'sent', 'failed', 'cancelled', 'retrying'].map((k) => [k, { type: 'integer', minimum: 0 }])),
};

export const TRANSFERS_OPENAPI = {
  paths: {
    '/transfers': {
      get: {
        summary: 'The newest transfers on studies the caller may see',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }],
        responses: { '200': json('Transfers, newest first', { type: 'array', items: ref('Transfer') }), ...errors },
      },
      post: {
        summary: 'Queue a study, a series, a QIDO-style query or a CSV of StudyInstanceUIDs to a destination (role read)',
        parameters: [{ name: 'destination', in: 'query', schema: { type: 'string' }, description: 'The destination, for a text/csv body' }],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: ref('NewTransfer') },
            'text/csv': { schema: { type: 'string', description: 'One StudyInstanceUID (pseudonymous) a line, in the first column; a header line is skipped' } },
          },
        },
        responses: {
          '202': { ...json('Queued; Location names the transfer', ref('Transfer')), headers: { Location: { schema: { type: 'string' } } } },
          '413': text('The selection holds more instances than egress.maxTransferInstances.'),
          ...errors,
        },
      },
    },
    '/transfers/destinations': {
      get: {
        summary: 'The configured destinations (without secrets) and their queues (role admin)',
        description:
          'The gateway\'s configuration (hosts, AE titles, settings) and its queues over every project: for the admin role only; a reader gets 403. A reader names a destination it was told of in POST /transfers.',
        responses: { '200': json('Destinations', { type: 'array', items: { type: 'object' } }), ...errors },
      },
    },
    '/transfers/{id}': {
      parameters: id,
      get: {
        summary: 'One transfer with per-instance progress',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 10000, default: 1000 }, description: 'Items shown' },
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
        ],
        responses: { '200': json('The transfer', ref('Transfer')), ...errors },
      },
      delete: {
        summary: 'Cancel a transfer: its queued and sending items are cancelled (its owner, or role admin)',
        description:
          'Allowed to the transfer\'s owner (the caller that POSTed it: the same API key or token subject) and to the admin role; a routing rule\'s transfer (origin "route:<name>") to the admin role only. A caller that sees the transfer but may not cancel it gets 403; one that may not see every study in it gets 404, as for an unknown id.',
        responses: { '200': json('The transfer as it is now', ref('Transfer')), ...ownerErrors },
      },
    },
  },
  schemas: {
    NewTransfer: {
      type: 'object',
      required: ['destination'],
      properties: {
        destination: { type: 'string' },
        study: uid,
        series: uid,
        studies: { type: 'array', items: uid },
        query: { type: 'object', description: 'QIDO-RS parameters, such as { "ModalitiesInStudy": "CT" }' },
        level: { enum: ['study', 'series'], default: 'study', description: 'The level the query searches at' },
      },
    },
    Transfer: {
      type: 'object',
      required: ['id', 'url', 'destination', 'origin', 'request', 'state', 'counts', 'created'],
      additionalProperties: false,
      properties: {
        id: { type: 'string', format: 'uuid' },
        url: { type: 'string', format: 'uri' },
        destination: { type: 'string' },
        origin: { type: 'string', description: '"api", or "route:<name>" for a routing rule\'s' },
        request: { type: 'object' },
        state: { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
        counts,
        created: { type: 'string', format: 'date-time' },
        updated: { type: 'string', format: 'date-time' },
        cancelled: { type: 'string', format: 'date-time' },
        items: { type: 'array', items: ref('TransferItem') },
        itemsOffset: { type: 'integer' },
      },
    },
    TransferItem: {
      type: 'object',
      required: ['study', 'series', 'instance', 'state', 'attempts'],
      additionalProperties: false,
      properties: {
        study: uid,
        series: uid,
        instance: uid,
        state: { enum: ['queued', 'sending', 'sent', 'failed', 'cancelled'] },
        attempts: { type: 'integer', minimum: 0 },
        lastError: { type: 'string', description: 'Why the last attempt failed: a status or an error code' },
        nextAttempt: { type: 'string', format: 'date-time', description: 'When a queued item is tried again' },
        updated: { type: 'string', format: 'date-time' },
      },
    },
  },
};

/** A description of /api with the transfer routes in it. */
export function withTransfers<D extends { paths: object; components: { schemas: object } }>(doc: D): D {
  return { ...doc, paths: { ...doc.paths, ...TRANSFERS_OPENAPI.paths }, components: { ...doc.components, schemas: { ...doc.components.schemas, ...TRANSFERS_OPENAPI.schemas } } };
}
