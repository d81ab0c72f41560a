/** The pieces every part of the /api OpenAPI description is written with (openapi.ts, transfers-openapi.ts). */
export type Schema = Record<string, unknown>;

export const uid = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 };
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
export const json = (description: string, schema: Schema) => ({ description, content: { 'application/json': { schema } } });

export const errors = {
  '400': text('The request is malformed (the message says how).'),
  '401': text('No credential, or one that does not verify.'),
  '403': text('The credential lacks the role.'),
  '404': text('No such resource, or not visible to the caller.'),
};

/** The answers of a route that changes what one caller made (a transfer, an export): 403 names the owner check too. */
export const ownerErrors = {
  ...errors,
  '403': text('The credential lacks the role, or the caller sees the resource but is neither its owner nor an admin (a routing rule\'s: not an admin).'),
};
