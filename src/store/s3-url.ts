/**
 * STORE_URL for an S3-compatible object store:
 *
 *   s3://bucket[/prefix][?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true]
 *
 * Parsed by hand rather than with WHATWG URL: `new URL` resolves dot segments away
 * (s3://b/a/../c has the path /c), so a `..` could not be refused, and AWS secrets contain '/',
 * which moves an `@` into the path where a URL parser would not see credentials at all.
 * Every message names the part that is wrong, never the value of a parameter: a mistyped URL
 * may carry a secret anywhere.
 */

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing '/'; '' for the bucket's root. */
  prefix: string;
  /** An S3-compatible server (MinIO, Ceph, s3rver); absent for AWS itself. */
  endpoint?: string;
  region: string;
  /** bucket in the path (http://host/bucket/key) rather than the host name. */
  forcePathStyle: boolean;
}

const SCHEME = 's3://';

/** AWS's general-purpose bucket rules, which S3-compatible servers also accept. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Prefix components use the blob-key alphabet, so prefix/files/key is always a plain key. */
const PREFIX_COMPONENT = /^[0-9A-Za-z._-]+$/;
const REGION = /^[a-z0-9-]{1,32}$/;
/** Query parameter names that would carry a credential: refused with the credentials message. */
const CREDENTIAL_PARAMETER = /key|secret|token|password|credential|signature/i;

const KNOWN_PARAMETERS = new Set(['endpoint', 'region', 'forcePathStyle']);

const CREDENTIALS_REFUSED =
  'STORE_URL must not contain credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or use the AWS config and credentials files (AWS_PROFILE)';

export function parseS3Url(url: string): S3Location {
  if (!url.startsWith(SCHEME)) throw new Error('STORE_URL for an object store must start with s3://');
  const rest = url.slice(SCHEME.length);
  const queryAt = rest.indexOf('?');
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = queryAt < 0 ? '' : rest.slice(queryAt + 1);
  // Neither a bucket nor a prefix may hold '@': one before the query is userinfo, however the
  // secret around it is spelt.
  if (beforeQuery.includes('@')) throw new Error(CREDENTIALS_REFUSED);
  if (url.includes('#')) throw new Error('STORE_URL must not have a #fragment');

  const slash = beforeQuery.indexOf('/');
  const bucket = slash < 0 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash < 0 ? '' : beforeQuery.slice(slash + 1);
  checkBucket(bucket);
  const prefix = parsePrefix(path);
  const params = parseQuery(query);

  const endpoint = params.get('endpoint');
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const region = params.get('region') ?? 'us-east-1';
  if (!REGION.test(region)) throw new Error('STORE_URL: region must be an AWS region name such as us-east-1');
  const forcePathStyle = parseBoolean(params.get('forcePathStyle'), endpoint !== undefined);
  return { bucket, prefix, ...(endpoint !== undefined ? { endpoint: endpoint.replace(/\/$/, '') } : {}), region, forcePathStyle };
}

function checkBucket(bucket: string): void {
  if (bucket === '') throw new Error('STORE_URL: the bucket name is missing (s3://bucket/prefix)');
  const valid =
    BUCKET.test(bucket) &&
    !bucket.includes('..') &&
    !bucket.includes('.-') &&
    !bucket.includes('-.') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket) &&
    !bucket.startsWith('xn--') &&
    !bucket.endsWith('-s3alias') &&
    !bucket.endsWith('--ol-s3');
  // Not echoed: in s3://key:secret (the '@' forgotten) the "bucket" is a credential.
  if (!valid) throw new Error("STORE_URL: the bucket name is not valid (3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit)");
}

function parsePrefix(path: string): string {
  // One trailing '/' is how people write a folder; any other empty component is a mistake that
  // would put objects under a key nobody can list with the prefix as written.
  // (path is what follows the bucket's '/', so s3://bucket/ gives '' and s3://bucket// gives '/'.)
  if (path === '') return '';
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  for (const component of trimmed.split('/')) {
    if (component === '') throw new Error('STORE_URL: the prefix has an empty path component (//)');
    if (component === '.' || component === '..') throw new Error("STORE_URL: the prefix must not contain '.' or '..' components");
    if (!PREFIX_COMPONENT.test(component)) throw new Error("STORE_URL: prefix components may hold only letters, digits, '.', '_' and '-'");
  }
  return trimmed;
}

function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const [name, value] of new URLSearchParams(query)) {
    if (CREDENTIAL_PARAMETER.test(name)) throw new Error(CREDENTIALS_REFUSED);
    if (!KNOWN_PARAMETERS.has(name)) {
      const shown = /^[A-Za-z0-9_-]{1,40}$/.test(name) ? ` ${name}` : '';
      throw new Error(`STORE_URL: unknown parameter${shown} (known: endpoint, region, forcePathStyle)`);
    }
    if (params.has(name)) throw new Error(`STORE_URL: parameter ${name} is given twice`);
    if (value === '') throw new Error(`STORE_URL: parameter ${name} is empty`);
    params.set(name, value);
  }
  return params;
}

function checkEndpoint(endpoint: string): void {
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new Error('STORE_URL: endpoint must be an http:// or https:// URL such as http://127.0.0.1:9000');
  }
  if (parsed.username !== '' || parsed.password !== '') throw new Error(CREDENTIALS_REFUSED);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('STORE_URL: endpoint must be an http:// or https:// URL');
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    throw new Error('STORE_URL: endpoint must be a scheme, host and port only (http://host:port), with no path or query');
  }
}

function parseBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error('STORE_URL: forcePathStyle must be true or false');
}

/**
 * The STORE_URL as it may be logged: any userinfo (before the last '@' ahead of the query, since
 * a secret may hold '/'), any credential-like parameter and any userinfo inside a parameter
 * value (an endpoint) are replaced by ***.
 */
export function redactedStoreUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const beforeQuery = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
  const redactedQuery = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      if (CREDENTIAL_PARAMETER.test(safeDecode(name))) return `${name}=***`;
      const value = safeDecode(pair.slice(eq + 1));
      return value.includes('@') ? `${name}=${encodeURIComponent(withoutUserinfo(value))}` : pair;
    })
    .join('&');
  return withoutUserinfo(beforeQuery) + (queryAt < 0 ? '' : `?${redactedQuery}`);
}

function withoutUserinfo(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const schemeEnd = url.indexOf('://');
  // A plain path (a data directory) has no userinfo, whatever it holds.
  if (schemeEnd < 0 || schemeEnd > at) return url;
  return `${url.slice(0, schemeEnd + 3)}***${url.slice(at)}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
