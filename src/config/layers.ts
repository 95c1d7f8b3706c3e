/**
 * Configuration layers (file, environment, flags) as partial nested objects, each remembering where
 * every value came from so errors can say "from CTFLOW_KAFKA__BROKERS" or "from flag --brokers".
 * Merge order gives the precedence: flags > environment > file > schema defaults.
 */

/** A nested partial configuration and the origin of its values. */
export interface Layer {
  values: Record<string, unknown>;
  /** Dotted path -> human-readable origin ("file ctflow.yaml", "environment CTFLOW_X", "flag --x"). */
  origins: Map<string, string>;
}

/** An empty layer. */
export function emptyLayer(): Layer {
  return { values: {}, origins: new Map() };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets `value` at `path` in a layer, creating sections on the way. */
export function setIn(layer: Layer, path: readonly string[], value: unknown, origin: string): void {
  let node = layer.values;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (!isPlainObject(next)) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
  layer.origins.set(path.join('.'), origin);
}

/** Records `origin` for every path of a parsed file, so errors inside it name the file. */
export function layerFromObject(values: Record<string, unknown>, origin: string): Layer {
  const origins = new Map<string, string>([['', origin]]);
  return { values, origins };
}

function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    // Sections merge key by key; lists and scalars are replaced as a whole.
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeValues(b, v) : v;
  }
  return out;
}

/** Merges layers, later ones winning. */
export function mergeLayers(layers: readonly Layer[]): Layer {
  let values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const layer of layers) {
    values = mergeValues(values, layer.values);
    for (const [k, v] of layer.origins) {
      // A later layer replacing a section or list also replaces the origins beneath it.
      for (const old of [...origins.keys()]) if (k !== '' && old.startsWith(`${k}.`)) origins.delete(old);
      origins.set(k, v);
    }
  }
  return { values, origins };
}

/** Where the value at `path` came from: the longest recorded prefix, or the schema default. */
export function originOf(layer: Layer, path: readonly PropertyKey[]): string {
  const segs = path.filter((p) => typeof p !== 'number').map(String);
  for (let n = segs.length; n >= 0; n--) {
    const origin = layer.origins.get(segs.slice(0, n).join('.'));
    if (origin !== undefined) return origin;
  }
  return 'default';
}

/** The value at `path` in nested values, or undefined. */
export function valueAt(values: unknown, path: readonly PropertyKey[]): unknown {
  let node = values;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return node;
}
