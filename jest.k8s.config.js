/**
 * The cluster tests (tests/k8s): the chart on the local cluster of `npm run cluster:up`, one file
 * at a time (they share one node's two cores and measure scaling). `npm run test:k8s` runs them.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests/k8s'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/tests/k8s/global-setup.ts',
  testTimeout: 10 * 60_000,
  maxWorkers: 1,
  // A failed cluster test can leave a port-forward or a watch open; the run must still end (and
  // stop the cluster) instead of waiting for them.
  forceExit: true,
};
