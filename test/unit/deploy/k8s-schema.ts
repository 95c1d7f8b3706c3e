/**
 * Validates rendered objects against the Kubernetes API schemas shipped in npm packages, offline:
 * kubernetes-models (core API, generated from the Kubernetes OpenAPI spec) and @kubernetes-models/keda,
 * @kubernetes-models/prometheus-operator (their CRDs).
 *
 * Two passes, because each catches what the other does not:
 * - the packages' compiled JSON-schema validators: types, formats, enums, required fields;
 * - the packages' TypeScript interfaces, through the compiler's excess-property check: a field the API
 *   does not know (a typo such as `readinesProbe`) is an error, as with `kubectl --validate=strict`.
 *   The OpenAPI schemas leave additionalProperties open, so the first pass alone lets typos through.
 */
import { join } from 'node:path';
import ts from 'typescript';
import type { K8sObject } from './render.js';
import { repoRoot } from './render.js';

/** Where the model of each API group lives: apiVersion prefix -> package path prefix. */
const CRD_PACKAGES: Record<string, string> = {
  'keda.sh/': '@kubernetes-models/keda/',
  'monitoring.coreos.com/': '@kubernetes-models/prometheus-operator/',
};

/** Module specifier of the model class for an apiVersion and kind. */
export function modelModule(apiVersion: string, kind: string): string {
  for (const [group, pkg] of Object.entries(CRD_PACKAGES)) {
    if (apiVersion.startsWith(group)) return `${pkg}${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** The JSON-schema errors of one object (empty when valid). Throws for a kind no package models. */
export async function schemaErrors(object: K8sObject): Promise<string[]> {
  const specifier = modelModule(object.apiVersion, object.kind);
  const mod = (await import(specifier)) as Record<string, ModelClass | undefined>;
  const Class = mod[object.kind];
  if (!Class) throw new Error(`${specifier} has no model ${object.kind}`);
  try {
    new Class(object).validate();
    return [];
  } catch (err) {
    return [`${object.kind}/${object.metadata.name}: ${(err as Error).message}`];
  }
}

/** A type error of one object: its index in the checked list and a message naming it. */
export interface FieldError {
  index: number;
  message: string;
}

/**
 * The excess-property and type errors of a set of objects, from type-checking each one as an object
 * literal of its model's interface (`I<Kind>`). Creating the compiler program is what costs (seconds),
 * so check everything in one call.
 */
export function strictFieldErrors(objects: K8sObject[]): FieldError[] {
  // A path inside the repository, so that node_modules resolves as for any test file.
  const fileName = join(repoRoot, 'test/unit/deploy/__rendered_objects__.ts');
  const lines: string[] = [];
  const starts: number[] = [];
  objects.forEach((object, i) => {
    lines.push(
      `import type { I${object.kind} as T${i} } from '${modelModule(object.apiVersion, object.kind)}';`,
    );
  });
  let text = `${lines.join('\n')}\n`;
  objects.forEach((object, i) => {
    starts.push(text.length);
    text += `export const o${i}: T${i} = ${JSON.stringify(object, null, 2)};\n`;
  });

  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, text, languageVersion, true)
      : getSourceFile(name, languageVersion, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? text : readFile(name));

  const program = ts.createProgram([fileName], options, host);
  const source = program.getSourceFile(fileName);
  if (!source) throw new Error('the generated source file did not load');
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const at = d.start ?? 0;
    let index = -1;
    for (let i = 0; i < starts.length; i++) if ((starts[i] ?? 0) <= at) index = i;
    const object = objects[index];
    const where = object ? `${object.kind}/${object.metadata.name}` : 'imports';
    const line =
      d.start === undefined ? '' : text.slice(text.lastIndexOf('\n', at) + 1, text.indexOf('\n', at)).trim();
    return {
      index,
      message: `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')} (at: ${line})`,
    };
  });
}
