/**
 * Pixel data that may carry burned-in identity cannot be cleaned by attribute rules. Such an
 * instance is cleaned by the first pixel recipe its header matches; without one it is refused,
 * unless the sender says there is none (BurnedInAnnotation = NO) or the site accepts the risk
 * by configuration.
 */
import { Dataset } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { stringValue } from '../dicom/values';
import { readUidValue } from '../dicom/parse';
import { VeilgateError } from '../errors';
import { PixelRecipe, findRecipe } from './pixel-recipes';

export const BURNED_IN_ANNOTATION = 0x00280301;

/** Ultrasound, secondary and screen capture, and visible-light video: identity is often in the pixels. */
const PRONE_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.6.1', // Ultrasound Image
  '1.2.840.10008.5.1.4.1.1.6.2', // Enhanced US Volume
  '1.2.840.10008.5.1.4.1.1.3.1', // Ultrasound Multi-frame Image
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture Image
  '1.2.840.10008.5.1.4.1.1.7.1', // Multi-frame Single Bit SC
  '1.2.840.10008.5.1.4.1.1.7.2', // Multi-frame Grayscale Byte SC
  '1.2.840.10008.5.1.4.1.1.7.3', // Multi-frame Grayscale Word SC
  '1.2.840.10008.5.1.4.1.1.7.4', // Multi-frame True Color SC
  '1.2.840.10008.5.1.4.1.1.77.1.1.1', // Video Endoscopic
  '1.2.840.10008.5.1.4.1.1.77.1.2.1', // Video Microscopic
  '1.2.840.10008.5.1.4.1.1.77.1.4.1', // Video Photographic
]);
const PRONE_MODALITIES = new Set(['US', 'SC', 'XC', 'ES', 'OT']);

export type PixelAction =
  /** Nothing in the pixels is thought to identify anyone. */
  | { kind: 'none' }
  /** Blank the recipe's regions in every frame. */
  | { kind: 'clean'; recipe: PixelRecipe }
  /** Burned-in identity is possible and the site accepts it (DEID_ACCEPT_BURNED_IN). */
  | { kind: 'accepted-risk' };

export function pixelAction(ds: Dataset, recipes: readonly PixelRecipe[], acceptRisk: boolean): PixelAction {
  if (!ds.has(Tags.PixelData)) return { kind: 'none' };
  // A recipe that matches is applied even when the sender declares no burned-in annotation:
  // the recipe knows the layout, and blanking a banner costs nothing clinical.
  const recipe = findRecipe(ds, recipes);
  if (recipe) return { kind: 'clean', recipe };
  const burnedIn = stringValue(ds, BURNED_IN_ANNOTATION)?.toUpperCase();
  const sopClass = readUidValue(ds.get(Tags.SOPClassUID)) ?? '';
  const modality = stringValue(ds, Tags.Modality)?.toUpperCase() ?? '';
  const prone = burnedIn === 'YES' || ((PRONE_SOP_CLASSES.has(sopClass) || PRONE_MODALITIES.has(modality)) && burnedIn !== 'NO');
  if (!prone) return { kind: 'none' };
  if (acceptRisk) return { kind: 'accepted-risk' };
  if (burnedIn === 'YES') {
    throw new VeilgateError('refused', 'BurnedInAnnotation is YES and no pixel recipe matches this device and layout: the pixel data cannot be de-identified');
  }
  throw new VeilgateError(
    'refused',
    'ultrasound, secondary capture and screen-capture images may carry identity in their pixels; refused: no pixel recipe matches this device and layout, and BurnedInAnnotation is not NO',
  );
}
