// Vega-Lite spec -> Vega -> SVG (headless: renderer 'none') -> PNG with @resvg/resvg-js, which draws
// text only with the font files it is given: DejaVu Sans from Debian's fonts-dejavu-core (scripts/setup.sh).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const FONT_FILES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'];

/** Why plots cannot be drawn here, or undefined. */
export function plotProblem() {
  if (!existsSync(FONT_FILES[0])) return `${FONT_FILES[0]} is missing: apt-get install -y fonts-dejavu-core (scripts/setup.sh does)`;
  return undefined;
}

/** Renders a Vega-Lite spec to SVG text and PNG bytes. */
export async function renderPlot(spec) {
  const vl = require('vega-lite');
  const vega = require('vega');
  const withFont = { ...spec, config: { ...(spec.config ?? {}), font: 'DejaVu Sans' } };
  const view = new vega.View(vega.parse(vl.compile(withFont).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const { Resvg } = require('@resvg/resvg-js');
  const png = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { fontFiles: FONT_FILES.filter((f) => existsSync(f)), loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' },
  }).render().asPng();
  return { svg, png };
}
