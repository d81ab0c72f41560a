/**
 * Resource paths of PS3.18 10.4 and the base-URL placeholder in stored metadata: stored
 * JSON holds BulkDataURIs as "vg-base:/studies/...", resolved against the request's
 * base URL when served, so a change of PUBLIC_URL or proxy never needs a re-index.
 */
export const BASE_TOKEN = 'vg-base:';

export function studyPath(study: string): string {
  return `/studies/${study}`;
}

export function seriesPath(study: string, series: string): string {
  return `${studyPath(study)}/series/${series}`;
}

export function instancePath(study: string, series: string, instance: string): string {
  return `${seriesPath(study, series)}/instances/${instance}`;
}

export function storedBulkDataUri(study: string, series: string, instance: string, tagPath: string): string {
  return `${BASE_TOKEN}${instancePath(study, series, instance)}/bulk/${tagPath}`;
}

/** Replace the placeholder in stored metadata JSON with the DICOMweb base URL. */
export function resolveStoredUris(json: string, baseUrl: string): string {
  return json.split(`"${BASE_TOKEN}`).join(`"${baseUrl}`);
}
