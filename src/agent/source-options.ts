/** The conntrack source's options from the configuration, the same for `ctflow run` and `ctflow agent`. */
import type { Config } from '../config/schema.js';
import type { SourceOptions } from '../conntrack/source.js';

/** Source options for this node; `commandPrefix` runs conntrack elsewhere (e.g. in a network namespace). */
export function sourceOptions(config: Config, commandPrefix?: readonly string[]): SourceOptions {
  const c = config.conntrack;
  return {
    node: config.node.name,
    pollIntervalMs: Math.round(c.pollInterval * 1000),
    events: c.events,
    enableSysctls: c.enableSysctls,
    reader: c.reader,
    ...(c.reader === 'ctnetlink' ? { ctnetlinkBin: c.ctnetlinkPath } : {}),
    ...(commandPrefix ? { commandPrefix } : {}),
  };
}
