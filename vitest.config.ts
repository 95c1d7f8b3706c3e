import { defineConfig } from 'vitest/config';

// Two projects, separated mechanically: `unit` needs no services; `integration` runs against a real
// Kafka broker, the real kernel (network namespaces) and real third-party collectors.
export default defineConfig({
  test: {
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: '.cache/vitest-report.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Network namespaces, the broker and collectors are shared machine resources.
          fileParallelism: false,
        },
      },
    ],
  },
});
