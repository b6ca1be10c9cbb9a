/** The pure logic only: no PostgreSQL, no Redis, seconds to run (npm run test:unit). */
const base = require('./jest.config');

module.exports = {
  testEnvironment: base.testEnvironment,
  transform: base.transform,
  roots: ['<rootDir>/test/unit'],
  testMatch: base.testMatch,
};
