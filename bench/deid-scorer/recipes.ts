/**
 * The pixel recipes a site running the synthetic modalities would configure: where their
 * ultrasound and secondary-capture images carry the burned-in banner (deid.pixelRecipes).
 */
import { bannerRegion, BURNED_IN_LAYOUTS, SYNTHETIC_MANUFACTURER } from '../../src/synthetic/deid-corpus';
import { PixelRecipe } from './gateway-run';

export function syntheticPixelRecipes(): PixelRecipe[] {
  const us = BURNED_IN_LAYOUTS.US;
  const sc = BURNED_IN_LAYOUTS.SC;
  return [
    {
      name: 'synthetic US banner',
      match: { Modality: 'US', Manufacturer: SYNTHETIC_MANUFACTURER, Rows: us.rows, Columns: us.columns },
      regions: [bannerRegion(us)],
    },
    {
      // Secondary captures carry Modality OT (other), as most capture stations write it.
      name: 'synthetic SC banner',
      match: { Modality: 'OT', Manufacturer: SYNTHETIC_MANUFACTURER, Rows: sc.rows, Columns: sc.columns },
      regions: [bannerRegion(sc)],
    },
  ];
}
