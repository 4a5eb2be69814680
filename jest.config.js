// The SDK's notice that it will need Node 22 from 2027 is known (see README); workers inherit this.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics are CloudWatch's embedded format on stdout; tests that look at them turn them on themselves.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// Test output shows tests: the bus's log lines stay off it (a test that reads them sets its own level).
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

/** Tests run TypeScript through swc (type checking is `npm run typecheck`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // middy and p-map ship ES modules only; jest on Node 20 cannot require them untransformed.
    'node_modules/(@middy|p-map)/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/|p-map/)'],
  // One set of emulators (DynamoDB Local, s3rver) serves the whole run.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
