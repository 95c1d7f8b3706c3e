/**
 * Command-line flags for configuration settings. Commands add the flags they support with
 * addConfigOptions(command, keys); descriptions come from the schema, and flagLayer() maps parsed
 * options back onto setting paths. Flags get no commander defaults, so an absent flag never
 * overrides the environment or the file. `--set KEY=VALUE` reaches any setting.
 */
import type { Command } from 'commander';
import { coerceText } from './coerce.js';
import { configError } from './errors.js';
import { emptyLayer, type Layer, setIn } from './layers.js';
import { configSettings, type Setting, settingByKey } from './settings.js';
import { nearest } from './suggest.js';

/** A flag bound to a setting. */
export interface FlagSpec {
  /** Setting key, e.g. kafka.brokers. */
  key: string;
  /** Long flag, e.g. --brokers. */
  flag: string;
  /** Value placeholder in help; absent for boolean switches. */
  placeholder?: string;
  /** May be given several times (values accumulate). */
  repeatable?: boolean;
}

/** Every setting that has a dedicated flag. */
export const FLAG_SPECS: readonly FlagSpec[] = [
  { key: 'node.name', flag: '--node-name', placeholder: 'name' },
  { key: 'node.observationDomainId', flag: '--observation-domain-id', placeholder: 'id' },
  { key: 'conntrack.pollInterval', flag: '--poll-interval', placeholder: 'seconds' },
  { key: 'conntrack.enableSysctls', flag: '--enable-sysctls' },
  { key: 'conntrack.reader', flag: '--reader', placeholder: 'conntrack-tools|ctnetlink' },
  { key: 'flow.activeTimeout', flag: '--active-timeout', placeholder: 'seconds' },
  { key: 'flow.idleTimeout', flag: '--idle-timeout', placeholder: 'seconds' },
  { key: 'flow.maxLife', flag: '--max-life', placeholder: 'seconds' },
  { key: 'flow.nodeTimeout', flag: '--node-timeout', placeholder: 'seconds' },
  { key: 'ipfix.collectors', flag: '--collector', placeholder: 'url', repeatable: true },
  { key: 'ipfix.templateRefresh', flag: '--template-refresh', placeholder: 'seconds' },
  { key: 'ipfix.mtu', flag: '--mtu', placeholder: 'bytes' },
  { key: 'ipfix.timestampPrecision', flag: '--timestamp-precision', placeholder: 'precision' },
  { key: 'kafka.brokers', flag: '--brokers', placeholder: 'host:port,...', repeatable: true },
  { key: 'kafka.clientId', flag: '--client-id', placeholder: 'id' },
  { key: 'kafka.topics.observations', flag: '--observations-topic', placeholder: 'topic' },
  { key: 'kafka.topics.flowstate', flag: '--flowstate-topic', placeholder: 'topic' },
  { key: 'kafka.topics.deadLetter', flag: '--dead-letter-topic', placeholder: 'topic' },
  { key: 'kafka.partitions', flag: '--partitions', placeholder: 'n' },
  { key: 'kafka.replicationFactor', flag: '--replication-factor', placeholder: 'n' },
  { key: 'agent.watermarkInterval', flag: '--watermark-interval', placeholder: 'seconds' },
  { key: 'agent.buffer.spoolDir', flag: '--spool-dir', placeholder: 'dir' },
  { key: 'run.source', flag: '--source', placeholder: 'conntrack|file:PATH' },
  { key: 'run.record', flag: '--record', placeholder: 'path' },
  { key: 'processor.groupId', flag: '--group-id', placeholder: 'group' },
  { key: 'replay.from', flag: '--from', placeholder: 'time|earliest' },
  { key: 'replay.to', flag: '--to', placeholder: 'time' },
  { key: 'collect.listen', flag: '--listen', placeholder: 'url', repeatable: true },
  { key: 'collect.format', flag: '--format', placeholder: 'text|json' },
  { key: 'metrics.listen', flag: '--metrics-listen', placeholder: 'host:port' },
  { key: 'log.level', flag: '--log-level', placeholder: 'level' },
];

/** Commander's attribute name of a long flag: --poll-interval -> pollInterval. */
export function attributeOf(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function specFor(key: string): FlagSpec {
  const spec = FLAG_SPECS.find((f) => f.key === key);
  if (spec === undefined) throw new Error(`no flag is defined for setting ${key}`);
  return spec;
}

function describeSetting(setting: Setting): string {
  const def =
    setting.docDefault ??
    (setting.default === undefined || (Array.isArray(setting.default) && setting.default.length === 0)
      ? undefined
      : JSON.stringify(setting.default));
  return `${setting.description}${def === undefined ? '' : ` [default: ${def}]`} (env ${setting.env})`;
}

/** Adds --config and --set, which every command that reads configuration accepts. */
export function addCommonConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'configuration file, YAML or JSON (env CTFLOW_CONFIG)')
    .option(
      '--set <key=value>',
      'set any configuration key, e.g. --set kafka.sasl.mechanism=scram-sha-512 (repeatable)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    );
}

/** Adds the flags of the given settings to a command, described from the schema. */
export function addConfigOptions(command: Command, keys: readonly string[]): Command {
  for (const key of keys) {
    const spec = specFor(key);
    const setting = settingByKey(key);
    if (setting === undefined) throw new Error(`flag ${spec.flag} names unknown setting ${key}`);
    const synopsis = spec.placeholder === undefined ? spec.flag : `${spec.flag} <${spec.placeholder}>`;
    if (spec.repeatable) {
      command.option(
        synopsis,
        `${describeSetting(setting)} (repeatable)`,
        (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
      );
    } else {
      command.option(synopsis, describeSetting(setting));
    }
  }
  return command;
}

function flagValue(raw: unknown, setting: Setting): unknown {
  if (typeof raw === 'boolean' || typeof raw === 'number') return raw;
  if (Array.isArray(raw)) {
    const items = raw.flatMap((r) => {
      const v = coerceText(String(r), setting);
      return Array.isArray(v) ? v : [v];
    });
    return items;
  }
  return coerceText(String(raw), setting);
}

/**
 * The configuration layer of parsed commander options (`command.opts()`): every FLAG_SPECS
 * attribute present, plus each --set KEY=VALUE. Unknown --set keys are errors with a suggestion.
 */
export function flagLayer(opts: Readonly<Record<string, unknown>>): Layer {
  const layer = emptyLayer();
  for (const spec of FLAG_SPECS) {
    const raw = opts[attributeOf(spec.flag)];
    if (raw === undefined) continue;
    const setting = settingByKey(spec.key)!;
    setIn(layer, setting.path, flagValue(raw, setting), `flag ${spec.flag}`);
  }
  const sets = opts['set'];
  for (const assignment of Array.isArray(sets) ? sets : []) {
    const text = String(assignment);
    const eq = text.indexOf('=');
    const key = eq < 0 ? text : text.slice(0, eq);
    const setting = settingByKey(key);
    if (eq < 0 || setting === undefined) {
      const suggestion = nearest(
        key,
        configSettings().map((s) => s.key),
      );
      throw configError([
        {
          path: key,
          value: '<not shown>',
          expected:
            eq < 0
              ? 'KEY=VALUE'
              : suggestion
                ? `no such setting; did you mean "${suggestion}"?`
                : 'no such setting',
          origin: `flag --set ${key}`,
        },
      ]);
    }
    setIn(layer, setting.path, coerceText(text.slice(eq + 1), setting), `flag --set ${key}`);
  }
  return layer;
}
