/**
 * Where an instance comes from into the one ingest path: each adapter names its origin with a
 * type of its own, so ingest, metrics and the audit trail never parse a free-text source.
 * Nothing here is PHI: addresses, AE titles and job ids only.
 */
export type IngestOrigin =
  /** STOW-RS from an HTTP client. */
  | { kind: 'stow'; address: string }
  /** C-STORE from a DICOM peer. */
  | { kind: 'dimse'; address: string; aeTitle: string }
  /** `veilgate import` on this machine. */
  | { kind: 'import'; address: string }
  /** A processing job's result. */
  | { kind: 'job'; jobId: string }
  /** A NIfTI volume posted to /api, published as a derived series. */
  | { kind: 'nifti-post'; address: string }
  /** The rejection note (KOS) the gateway made for an IOCM rejection asked over HTTP. */
  | { kind: 'rejection'; address: string };

/** The origin in one line, for logs and the audit trail ("http 127.0.0.1", "dimse PACS1", "job 4f…"). */
export function originLabel(o: IngestOrigin): string {
  switch (o.kind) {
    case 'stow':
      return `http ${o.address}`.trim();
    case 'dimse':
      return `dimse ${o.aeTitle}`;
    case 'import':
      return 'import';
    case 'job':
      return `job ${o.jobId}`;
    case 'nifti-post':
      return `api ${o.address}`.trim();
    case 'rejection':
      return `reject ${o.address}`.trim();
  }
}

/** The network end the origin stands for, for the audit trail's security alerts (none for a job). */
export function originPeer(o: IngestOrigin): { address: string; aeTitle?: string } {
  if (o.kind === 'job') return { address: '' };
  return o.kind === 'dimse' ? { address: o.address, aeTitle: o.aeTitle } : { address: o.address };
}
