/**
 * Three projects: unit (pure code, no I/O), integration (real Postgres, Redis, servers) and browser
 * (the console and wallboard in headless Chromium against a real app; the web bundle is built once first).
 */
const transform = {
  '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
};
// A few dependencies ship ESM only; Jest runs CommonJS, so swc compiles them too.
const transformIgnorePatterns = ['/node_modules/(?!(content-disposition|cookie|typebox)/)'];
const common = { testEnvironment: 'node', transform, transformIgnorePatterns, moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'] };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'], slowTestThreshold: 30 },
    {
      ...common,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
      globalSetup: '<rootDir>/test/browser/global-setup.ts',
      slowTestThreshold: 60,
    },
  ],
  testTimeout: 60000,
  maxWorkers: 2,
  // A worker is replaced between files once its heap passes this. Workers that had run browser
  // files beside integration files reached ~500 MB and were force-killed at the end ("A worker
  // process has failed to exit gracefully") in every run of all three projects; with the limit,
  // not.
  workerIdleMemoryLimit: '512MB',
};
