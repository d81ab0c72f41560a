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

console.log(`dictionary: ${Object.keys(exact).length} exact + ${masked.length} masked; sop classes: ${sops.length}`);
