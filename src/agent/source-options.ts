/** The conntrack source's options from the configuration, the same for `ctflow run` and `ctflow agent`. */
import { accessSync, constants } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { ReaderKind } from '../conntrack/reader.js';
import type { SourceOptions } from '../conntrack/source.js';

/** The package root (this file is src/agent/source-options.ts, or dist/agent/source-options.js). */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the ctnetlink binary is: an absolute path as given; a relative one from the working
 * directory, else from the package root (the default `.cache/ctnetlink` is where
 * scripts/build-ctnetlink.sh puts it, whatever directory ctflow is started from).
 */
export function locateCtnetlink(path: string, cwd: string = process.cwd()): string {
  if (isAbsolute(path)) return path;
  const fromCwd = join(cwd, path);
  if (executable(fromCwd)) return fromCwd;
  const fromPackage = join(PACKAGE_ROOT, path);
  return executable(fromPackage) ? fromPackage : fromCwd;
}

/** The reader a configuration asks for, and why (for the start-up log). */
export interface ReaderChoice {
  reader: ReaderKind;
  /** The ctnetlink binary, when that reader is chosen. */
  ctnetlinkBin?: string;
  why: string;
}

/**
 * Resolves `conntrack.reader`. `auto` (the default) takes ctflow's netlink reader when its binary
 * is built (faster: it diffs dumps itself), else the conntrack CLI.
 */
export function chooseReader(c: Config['conntrack'], cwd: string = process.cwd()): ReaderChoice {
  if (c.reader === 'conntrack-tools') return { reader: 'conntrack-tools', why: 'configured' };
  const bin = locateCtnetlink(c.ctnetlinkPath, cwd);
  if (c.reader === 'ctnetlink') return { reader: 'ctnetlink', ctnetlinkBin: bin, why: 'configured' };
  return executable(bin)
    ? { reader: 'ctnetlink', ctnetlinkBin: bin, why: `auto: ${bin} is built` }
    : {
        reader: 'conntrack-tools',
        why: `auto: no ctnetlink binary at ${c.ctnetlinkPath} (bash scripts/build-ctnetlink.sh builds the faster reader)`,
      };
}

/** Source options for this node; `commandPrefix` runs conntrack elsewhere (e.g. in a network namespace). */
export function sourceOptions(config: Config, commandPrefix?: readonly string[]): SourceOptions {
  const c = config.conntrack;
  const choice = chooseReader(c);
  return {
    node: config.node.name,
    pollIntervalMs: Math.round(c.pollInterval * 1000),
    events: c.events,
    enableSysctls: c.enableSysctls,
    reader: choice.reader,
    ...(choice.ctnetlinkBin === undefined ? {} : { ctnetlinkBin: choice.ctnetlinkBin }),
    ...(commandPrefix ? { commandPrefix } : {}),
  };
}
