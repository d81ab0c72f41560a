/**
 * DEIDENTIFICATION.md of an export bundle: the profile and options the gateway applies on ingest
 * (config.deid), and the de-identification score when one was recorded for this gateway
 * (DATA_DIR/deid-score.txt: the output of `npm run deid-score`, its SCORE and LEAKS lines quoted).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { BASIC_PROFILE_CODE, optionCodes } from '../deid/options';

export const SCORE_FILE = 'deid-score.txt';

export function deidentificationNote(config: Pick<Config, 'deid' | 'dataDir'>, info: { id: string; created: string }): string {
  const d = config.deid;
  const o = d.options;
  const codes = optionCodes(o);
  const lines = [
    '# De-identification',
    '',
    `Export ${info.id}, made ${info.created} by Veilgate. Every object in this bundle was de-identified when it entered the gateway (before anything touched disk); derived objects (segmentations, processed series) were made from de-identified sources.`,
    '',
    '## Profile',
    '',
    `- DICOM PS3.15 Annex E, ${BASIC_PROFILE_CODE.meaning} (DCM ${BASIC_PROFILE_CODE.value})`,
    ...codes.map((c) => `- ${c.meaning} (DCM ${c.value})`),
    '',
    '## Options (config.deid.options)',
    '',
    '| option | value |',
    '| --- | --- |',
    ...Object.entries(o).map(([k, v]) => `| ${k} | ${String(v)} |`),
    '',
    '## How identifiers were replaced',
    '',
    '- UIDs: `2.25.` + 128 bits of HMAC-SHA256(site secret, original UID), per project: deterministic, with no lookup table.',
    '- PatientID and PatientName: a keyed pseudonym per patient (the folder names of this bundle).',
    o.retainLongitudinalTemporal === 'modified'
      ? '- Dates: shifted by a per-patient offset derived the same way, so intervals within a patient survive.'
      : o.retainLongitudinalTemporal === 'full'
        ? '- Dates: kept as they were (Full Dates option).'
        : '- Dates: removed or replaced as the Basic Profile asks.',
    `- Burned-in text: ${d.acceptBurnedIn ? 'objects that may carry it are accepted' : 'objects that may carry it are refused unless a pixel recipe cleans them'}; ${d.pixelRecipes.length} configured pixel recipe(s) plus the shipped ones; OCR check ${d.ocr.enabled ? 'on' : 'off'}.`,
    `- Linkage file (original ↔ pseudonym): ${d.linkage ? 'kept on the gateway, never exported' : 'off'}.`,
    '',
    '## Score',
    '',
  ];
  const scoreFile = path.join(config.dataDir, SCORE_FILE);
  let quoted: string[] = [];
  try {
    quoted = fs.readFileSync(scoreFile, 'utf8').split(/\r?\n/).filter((l) => /^(SCORE|LEAKS)\b/.test(l.trim()));
  } catch {
    quoted = [];
  }
  if (quoted.length) lines.push(`From \`npm run deid-score\` (${SCORE_FILE} on the gateway):`, '', '```', ...quoted.map((l) => l.trim()), '```');
  else lines.push(`No score is recorded for this gateway: run \`npm run deid-score\` and save its output as DATA_DIR/${SCORE_FILE} to have it quoted here.`);
  lines.push('');
  return lines.join('\n');
}
