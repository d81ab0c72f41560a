/** Tests run from TypeScript sources; integration tests start real servers, so run serially. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  testTimeout: 60000,
  maxWorkers: 1,
  // A worker thread or timer left by a test must not hold CI open after the run: the suite ends
  // when its tests do (the leak itself is tracked in the issue notes).
  forceExit: true,
};
