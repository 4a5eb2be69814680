// `npm run test:e2e`: the end-to-end suite against a deployed bus (AWS or LocalStack) or a local one,
// named by EVENTBUS_E2E_URL; without it every test is reported skipped.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.e2e.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
