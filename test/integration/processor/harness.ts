/** Shared set-up of processor integration tests: unique topics, a collector, processors with exporters. */
import { createExporter, type ExporterOptions, type IpfixExporter } from '../../../src/ipfix/exporter.js';
import { deleteGroups, deleteTopics } from '../../../src/kafka/admin.js';
import { createKafka, type KafkaClient, parseBrokers } from '../../../src/kafka/client.js';
import { createProducer, type Producer } from '../../../src/kafka/producer.js';
import { ensureTopics, type TopicNames } from '../../../src/kafka/topics.js';
import { engineOptions } from '../../../src/config/derive.js';
import { parseConfig } from '../../../src/config/load.js';
import type { EngineOptions } from '../../../src/flow/types.js';
import {
  type Processor,
  type ProcessorGroupOptions,
  type ProcessorOptions,
  startProcessor,
} from '../../../src/processor/processor.js';
import { appendFileSync } from 'node:fs';
import type { RoleLog } from '../../../src/processor/log.js';
import { testKafka, uniqueName, waitFor } from '../kafka/helpers.js';
import { compareTotals, TestCollector } from './collector.js';
import type { Workload } from './workload.js';

/**
 * Engine settings of the tests, derived from the configuration exactly as `ctflow processor` derives them
 * (so in-process processors and processor child processes agree): short timers for records within seconds.
 */
export const TEST_FLOW_CONFIG = { activeTimeout: 10, idleTimeout: 5 };
export const TEST_ENGINE: Partial<EngineOptions> = engineOptions(parseConfig({ flow: TEST_FLOW_CONFIG }));

/** CTFLOW_TEST_LOG=FILE: processor logs as JSON lines (for debugging a failing run). */
function testLog(name: string): RoleLog | undefined {
  const file = process.env.CTFLOW_TEST_LOG;
  if (!file) return undefined;
  const line = (level: string) => (fields: Record<string, unknown>, message: string) =>
    appendFileSync(
      file,
      `${JSON.stringify({ t: new Date().toISOString(), name, level, message, ...fields })}\n`,
    );
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

let processorCount = 0;

/** A processor and the exporter it writes to. */
export interface RunningProcessor {
  processor: Processor;
  exporter: IpfixExporter;
  /** Graceful stop of both. */
  stop(): Promise<void>;
}

/** One test's Kafka topics, group, producer and collector. */
export class ProcessorHarness {
  readonly client: KafkaClient;
  readonly topics: TopicNames;
  readonly groupId = uniqueName('ctflow-test-processors');
  readonly collector = new TestCollector();
  readonly processors: RunningProcessor[] = [];
  collectorUrl = '';
  producer!: Producer;

  /** `brokers`: a dedicated broker ("host:port"); default the integration run's shared one. */
  constructor(
    readonly partitions: number,
    readonly brokers?: string,
  ) {
    this.client = this.newClient('ctflow-processor-test');
    const base = uniqueName('ctflow-test');
    this.topics = {
      observations: `${base}.observations`,
      flowState: `${base}.flowstate`,
      deadLetter: `${base}.deadletter`,
    };
  }

  /** A client of this test's broker. */
  newClient(clientId: string): KafkaClient {
    return this.brokers === undefined
      ? testKafka(clientId)
      : createKafka({ brokers: parseBrokers(this.brokers), clientId });
  }

  /** A harness whose topics, collector and producer are ready. */
  static async started(partitions: number, brokers?: string): Promise<ProcessorHarness> {
    const h = new ProcessorHarness(partitions, brokers);
    await h.start();
    return h;
  }

  async start(): Promise<void> {
    await ensureTopics(this.client, {
      topics: this.topics,
      partitions: this.partitions,
      replicationFactor: 1,
    });
    this.collectorUrl = await this.collector.start();
    this.producer = await createProducer(this.client, { lingerMs: 2 });
  }

  /**
   * Starts one more in-process processor in the test group (exporter settings may be overridden; `extra`
   * adds group settings and the consumer factory).
   */
  async startProcessor(
    exporterOptions: Partial<ExporterOptions> = {},
    extra: Pick<ProcessorOptions, 'createConsumer' | 'input'> & { group?: ProcessorGroupOptions } = {},
  ): Promise<RunningProcessor> {
    const exporter = createExporter({
      collectors: [this.collectorUrl],
      observationDomainId: 1,
      flushIntervalMs: 20,
      ...exporterOptions,
    });
    const processor = await startProcessor({
      client: this.newClient('ctflow-processor'),
      groupId: this.groupId,
      topics: this.topics,
      engine: TEST_ENGINE,
      sink: exporter,
      ...(testLog(`p${++processorCount}`) === undefined ? {} : { log: testLog(`p${processorCount}`)! }),
      group: {
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 300,
        maxWaitTimeMs: 100,
        rebalanceTimeoutMs: 20_000,
        ...extra.group,
      },
      ...(extra.createConsumer === undefined ? {} : { createConsumer: extra.createConsumer }),
      ...(extra.input === undefined ? {} : { input: extra.input }),
    });
    const running: RunningProcessor = {
      processor,
      exporter,
      stop: async () => {
        await processor.stop();
        await exporter.flush();
        await exporter.close();
        this.processors.splice(this.processors.indexOf(running), 1);
      },
    };
    this.processors.push(running);
    return running;
  }

  /** Waits until the collector's totals equal the workload's truth; returns the remaining differences. */
  async settle(workload: Workload, timeoutMs = 60_000): Promise<string[]> {
    const truth = workload.truth();
    await waitFor(
      'collector totals to match the truth',
      () => compareTotals(truth, this.collector.totals()).length === 0,
      timeoutMs,
    ).catch(() => {});
    return compareTotals(truth, this.collector.totals());
  }

  async close(): Promise<void> {
    for (const p of [...this.processors]) await p.stop().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
    await this.collector.close();
    await deleteGroups(this.client, [this.groupId]).catch(() => {});
    await deleteTopics(this.client, [
      this.topics.observations,
      this.topics.flowState,
      this.topics.deadLetter,
    ]).catch(() => {});
  }
}
