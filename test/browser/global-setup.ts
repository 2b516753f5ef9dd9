/** The browser project builds the web bundle once, as `npm start` would, before any test file runs. */
import { buildWeb } from '../../web/build';
import { assertChromium } from '../support/browser';

export default async function globalSetup(): Promise<void> {
  assertChromium();
  await buildWeb();
}
