// Playwright: the UI suites in Debian's Chromium (/usr/bin/chromium; never `playwright install`)
// against the real engine host on a generated fixture model. globalSetup builds the renderer,
// starts a fake Hub and the host in a temp HEARTH_HOME; the specs drive the UI like a user.
import { defineConfig } from '@playwright/test';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '*.spec.ts',
  globalSetup: './test/e2e/globalSetup.ts',
  // One worker: the specs share globalSetup's host, which serves one model at a time. No test
  // depends on another or on their order (each passes alone, `-g <title>`); file order is kept
  // only so that runs read alike.
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  outputDir: 'test-results/playwright',
  use: {
    browserName: 'chromium',
    viewport: { width: 1360, height: 900 },
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
    trace: 'off',
  },
});
