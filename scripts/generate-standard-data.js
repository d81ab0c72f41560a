#!/usr/bin/env node
// Generates the project's copies of DICOM standard tables from ../shared/data/dicom-standard,
// so the gateway runs without ../shared. Re-run after updating the shared tables.
'use strict';
const fs = require('fs');
const path = require('path');

const source = path.resolve(__dirname, '../../shared/data/dicom-standard');
const target = path.resolve(__dirname, '../src/dicom/standard');

function normaliseVr(vr) {
  // The table writes ambiguous VRs as "US or SS", "OB or OW", ...; keep them as "US|SS".
  if (!vr || vr.startsWith('See')) return 'UN';
  return vr.split(' or ').join('|');
}

const attributes = JSON.parse(fs.readFileSync(path.join(source, 'attributes.json'), 'utf8'));
const exact = {};
const masked = [];
for (const a of attributes) {
  if (!a.keyword) continue;
  const id = a.id.toUpperCase();
  const entry = [normaliseVr(a.valueRepresentation), a.keyword, a.valueMultiplicity, a.retired === 'Y' ? 1 : 0];
  if (/X/.test(id)) masked.push([id, ...entry]);
  else exact[id] = entry;
}
fs.writeFileSync(path.join(target, 'dictionary.json'), JSON.stringify({ exact, masked }));

const sops = JSON.parse(fs.readFileSync(path.join(source, 'sops.json'), 'utf8'));
const sopClasses = {};
for (const s of sops) sopClasses[s.id] = s.name;
fs.writeFileSync(path.join(target, 'sop-classes.json'), JSON.stringify(sopClasses, null, 0));

// PS3.15 Table E.1-1: one row per attribute, the Basic Profile action and one column per option.
const OPTION_COLUMNS = ['rtnSafePrivOpt', 'rtnUIDsOpt', 'rtnDevIdOpt', 'rtnInstIdOpt', 'rtnPatCharsOpt', 'rtnLongFullDatesOpt',
  'rtnLongModifDatesOpt', 'cleanDescOpt', 'cleanStructContOpt', 'cleanGraphOpt'];
const profileRows = JSON.parse(fs.readFileSync(path.join(source, 'confidentiality_profile_attributes.json'), 'utf8'));
const profile = profileRows.map((r) => {
  const row = { tag: /^[0-9a-fx]{8}$/i.test(r.id) ? r.id.toUpperCase() : 'PRIVATE', name: r.name, basic: r.basicProfile };
  for (const c of OPTION_COLUMNS) if (r[c]) row[c] = r[c];
  return row;
});
const deidTarget = path.resolve(__dirname, '../src/deid/standard');
fs.mkdirSync(deidTarget, { recursive: true });
fs.writeFileSync(path.join(deidTarget, 'confidentiality-profile.json'), JSON.stringify({ edition: '2024b', rows: profile }, null, 0));

console.log(`profile: ${profile.length} rows; dictionary: ${Object.keys(exact).length} exact + ${masked.length} masked; sop classes: ${sops.length}`);
