/** Reading a configuration file: YAML or JSON (YAML 1.2 reads JSON too). */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { CtflowError } from '../errors.js';
import { emptyLayer, type Layer, layerFromObject } from './layers.js';

/** The configuration layer of a file; errors name the file (and line for syntax errors). */
export function fileLayer(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `invalid configuration: cannot read config file ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      { details: { file: path }, cause },
    );
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const where = error.linePos?.[0];
    throw new CtflowError(
      'CONFIG_INVALID',
      `invalid configuration: config file ${path}${where ? `:${where.line}:${where.col}` : ''}: ${error.message.split('\n')[0]}`,
      { details: { file: path, line: where?.line, column: where?.col } },
    );
  }
  const values: unknown = doc.toJS();
  if (values === null || values === undefined) return emptyLayer();
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw new CtflowError(
      'CONFIG_INVALID',
      `invalid configuration: config file ${path}: expected a mapping of sections (node, kafka, ipfix, ...), got ${Array.isArray(values) ? 'a list' : JSON.stringify(values)}`,
      { details: { file: path } },
    );
  }
  return layerFromObject(values as Record<string, unknown>, `file ${path}`);
}
