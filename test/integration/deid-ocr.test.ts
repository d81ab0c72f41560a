/**
 * The optional OCR check (deid.ocr): an ultrasound with the patient's ID burned in twice, once
 * in the banner a recipe blanks and once lower down where it does not, is refused because
 * tesseract.js still reads the ID; a recipe that covers both lets it through. The trained data
 * comes from node_modules (@tesseract.js-data/eng): nothing is fetched.
 */
import { loadConfig } from '../../src/config';
import { PixelRecipe } from '../../src/deid/pixel-recipes';
import { Tags } from '../../src/dicom/tags';
import { stringElement, uint16Element } from '../../src/dicom/values';
import { writePart10 } from '../../src/dicom/write';
import { syntheticDataset } from '../../src/synthetic/instances';
import { drawText } from '../../src/synthetic/deid-corpus/font';
import { startTestGateway } from '../support/gateway';

const US_IMAGE = '1.2.840.10008.5.1.4.1.1.6.1';
const ROWS = 240;
const COLUMNS = 320;

function ultrasound(): Buffer {
  const { dataset, uids } = syntheticDataset({ patientName: 'Kowalczyk^Agnieszka', patientID: '48213377', modality: 'US', rows: ROWS, columns: COLUMNS });
  const pixels = new Uint8Array(ROWS * COLUMNS);
  // An ultrasound sector of speckle in the middle, black around it where the annotations stand.
  for (let y = 30; y < 180; y++) for (let x = 60; x < 260; x++) pixels[y * COLUMNS + x] = (x * 37 + y * 11) % 90;
  const canvas = { data: pixels, columns: COLUMNS, rows: ROWS, samplesPerPixel: 1 };
  drawText(canvas, 'KOWALCZYK AGNIESZKA 48213377', 4, 4, [255]);
  drawText(canvas, 'ID 48213377', 150, 200, [255]);
  dataset.set(Tags.SOPClassUID, stringElement(Tags.SOPClassUID, 'UI', US_IMAGE));
  dataset.set(Tags.Manufacturer, stringElement(Tags.Manufacturer, 'LO', 'Veilgate OCR test'));
  for (const [t, v] of [[Tags.BitsAllocated, 8], [Tags.BitsStored, 8], [0x00280102, 7]] as const) dataset.set(t, uint16Element(t, [v]));
  dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', value: pixels });
  for (const t of [0x00281052, 0x00281053]) dataset.delete(t);
  return Buffer.concat(writePart10(dataset, { sopClassUID: US_IMAGE, sopInstanceUID: uids.sopInstanceUID, transferSyntaxUID: '1.2.840.10008.1.2.1' }).chunks);
}

const recipe = (height: number): PixelRecipe => ({ name: 'OCR test banner', match: { Manufacturer: 'Veilgate OCR test' }, regions: [{ x: 0, y: 0, width: COLUMNS, height }] });
const withOcr = (r: PixelRecipe) => ({ deid: { ...loadConfig({}).deid, pixelRecipes: [r], ocr: { enabled: true, maxFrames: 3, workers: 1 } } });

async function stow(url: string, body: Buffer) {
  const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body });
  return { status: res.status, json: (await res.json()) as Record<string, { Value: Record<string, { Value: number[] }>[] }> };
}

describe('OCR check of cleaned pixels', () => {
  test('text a recipe missed is still read: refused, nothing stored', async () => {
    const gw = await startTestGateway(withOcr(recipe(20)));
    try {
      const { status, json } = await stow(gw.url, ultrasound());
      expect(status).toBe(409);
      expect(json['00081198'].Value[0]['00081197'].Value[0]).toBe(0xc000);
      expect((await gw.gateway.index.counts()).instances).toBe(0);
      const rejection = gw.logLines.find((l) => l.includes('"outcome":"rejected"'))!;
      expect(rejection).toContain('"reason":"refused"');
      expect(gw.logLines.join('\n')).not.toContain('48213377');
    } finally {
      await gw.close();
    }
  });

  test('a recipe that covers every line of text lets the same image through', async () => {
    const gw = await startTestGateway(withOcr(recipe(ROWS)));
    try {
      expect((await stow(gw.url, ultrasound())).status).toBe(200);
      expect((await gw.gateway.index.counts()).instances).toBe(1);
    } finally {
      await gw.close();
    }
  });
});
