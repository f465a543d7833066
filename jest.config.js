/** Every test runs against the real Kafka and Redis of `npm run stack:up` (see tests/global-setup.ts). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // The cluster tests have their own configuration (jest.k8s.config.js) and command (test:k8s).
  testPathIgnorePatterns: ['/node_modules/', '/tests/k8s/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/tests/global-setup.ts',
  globalTeardown: '<rootDir>/tests/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores: more workers only fight the broker for CPU.
  maxWorkers: 2,
};
