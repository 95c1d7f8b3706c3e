/**
 * Configuration from the environment. Mapping: CTFLOW_ + each path segment in SCREAMING_SNAKE_CASE,
 * segments joined by a double underscore:
 *   kafka.brokers            -> CTFLOW_KAFKA__BROKERS=host1:9092,host2:9092
 *   kafka.topics.deadLetter  -> CTFLOW_KAFKA__TOPICS__DEAD_LETTER=...
 *   flow.activeTimeout       -> CTFLOW_FLOW__ACTIVE_TIMEOUT=60
 * Every setting lives in a section, so only names containing "__" are configuration (others, such
 * as CTFLOW_CONFIG, the config file path, are left alone); an unknown one is an error. Empty values
 * count as unset. Lists are comma-separated or a JSON array.
 */
import { coerceText } from './coerce.js';
import { configError } from './errors.js';
import { emptyLayer, type Layer, setIn } from './layers.js';
import { configSettings, envNameFor } from './settings.js';
import { nearest } from './suggest.js';

/** Environment variable naming the configuration file (same as --config). */
export const CONFIG_FILE_ENV = 'CTFLOW_CONFIG';

/** The configuration layer of an environment. */
export function envLayer(env: Readonly<Record<string, string | undefined>>): Layer {
  const layer = emptyLayer();
  const byEnv = new Map(configSettings().map((s) => [s.env, s]));
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('CTFLOW_') || !name.includes('__') || text === undefined || text === '') continue;
    const setting = byEnv.get(name);
    if (setting === undefined) {
      const suggestion = nearest(name, [...byEnv.keys()]);
      throw configError([
        {
          path: name,
          value: '<not shown>',
          expected: suggestion ? `no such setting; did you mean "${suggestion}"?` : 'no such setting',
          origin: 'environment',
        },
      ]);
    }
    setIn(layer, setting.path, coerceText(text, setting), `environment ${name}`);
  }
  return layer;
}

export { envNameFor };
