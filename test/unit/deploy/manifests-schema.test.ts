import { beforeAll, describe, expect, it } from 'vitest';
import type { FieldError } from './k8s-schema.js';
import { schemaErrors, strictFieldErrors } from './k8s-schema.js';
import { type K8sObject, kustomizations, render } from './render.js';

// Every object of every kustomization (base and overlays) is valid for the Kubernetes API (and the KEDA
// and prometheus-operator CRDs), with no field the API does not know.

const renderings = kustomizations().map((dir) => ({ dir, objects: render(dir) }));
const probe = (containers: unknown[]): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'probe' },
  spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers } } },
});
const container = { name: 'c', image: 'i' };
const typo = probe([{ ...container, readinesProbe: {} }]);
const valid = probe([container]);

// One compiler program for all renderings and the probes (see strictFieldErrors).
const everything = [...renderings.flatMap((r) => r.objects), typo, valid];
let fieldErrors: FieldError[] = [];
const errorsOf = (object: K8sObject) =>
  fieldErrors.filter((e) => everything[e.index] === object).map((e) => e.message);
beforeAll(() => {
  fieldErrors = strictFieldErrors(everything);
}, 120_000);

describe.each(renderings)('$dir', ({ objects }) => {
  it('renders objects', () => {
    expect(objects.length).toBeGreaterThan(5);
  });

  it('validates against the API schemas', async () => {
    const errors = (await Promise.all(objects.map(schemaErrors))).flat();
    expect(errors).toEqual([]);
  });

  it('has no field the API does not know', () => {
    expect(objects.flatMap(errorsOf)).toEqual([]);
  });
});

describe('the schema checks themselves', () => {
  it('report a wrong type', async () => {
    const errors = await schemaErrors(probe([{ ...container, ports: [{ containerPort: 'metrics' }] }]));
    expect(errors.join()).toContain('containerPort must be integer');
  });

  it('report an unknown field, naming the object', () => {
    const errors = errorsOf(typo);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/readinesProbe.*does not exist in type 'IContainer'/);
    expect(errors[0]).toMatch(/^DaemonSet\/probe: /);
  });

  it('accept a valid object', async () => {
    expect(await schemaErrors(valid)).toEqual([]);
    expect(errorsOf(valid)).toEqual([]);
  });
});
