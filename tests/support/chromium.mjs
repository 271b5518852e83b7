// How every Playwright user here (the e2e tests and the bench) launches Debian's Chromium:
// headless, as root, and without the background traffic this closed network refuses.
import { chromium } from 'playwright-core';

/** The flags every launch uses. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The Chromium binary: `PU_CHROMIUM`, else Debian's. */
export const CHROMIUM_PATH = process.env.PU_CHROMIUM || '/usr/bin/chromium';

/** Launches Chromium with the shared flags plus `extraArgs`. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}
