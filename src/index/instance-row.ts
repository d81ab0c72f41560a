/** An instance's row as both index backends keep it (the same column names), and what it means. */
import type { StoredInstance } from './index';

export interface InstanceRow {
  study_uid: string;
  series_uid: string;
  sop_instance_uid: string;
  sop_class_uid: string;
  transfer_syntax_uid: string;
  blob_key: string;
  /** A number (SQLite) or a bigint's decimal string (PostgreSQL). */
  size: number | string;
  frames: string | null;
  bulk: string;
  content_sha256: string | null;
}

export const INSTANCE_COLUMNS =
  'i.study_uid, i.series_uid, i.sop_instance_uid, i.sop_class_uid, i.transfer_syntax_uid, i.blob_key, i.size, i.frames, i.bulk, i.content_sha256';

export function toStored(r: InstanceRow): StoredInstance {
  return {
    studyUID: r.study_uid,
    seriesUID: r.series_uid,
    sopInstanceUID: r.sop_instance_uid,
    sopClassUID: r.sop_class_uid,
    transferSyntaxUID: r.transfer_syntax_uid,
    blobKey: r.blob_key,
    size: Number(r.size),
    frames: r.frames ? JSON.parse(r.frames) : undefined,
    bulk: JSON.parse(r.bulk),
    contentSha256: r.content_sha256 ?? undefined,
  };
}
