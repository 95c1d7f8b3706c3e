import { describe, expect, it } from 'vitest';
import { schemaErrors, strictFieldErrors } from './k8s-schema.js';
import { kustomizations, render } from './render.js';

// Every object of every kustomization (base and overlays) is valid for the Kubernetes API (and the KEDA
// and prometheus-operator CRDs), with no field the API does not know.
describe.each(kustomizations())('%s', (dir) => {
  const objects = render(dir);

  it('renders objects', () => {
    expect(objects.length).toBeGreaterThan(5);
  });

  it('validates against the API schemas', async () => {
    const errors = (await Promise.all(objects.map(schemaErrors))).flat();
    expect(errors).toEqual([]);
  });

  it('has no field the API does not know', () => {
    expect(strictFieldErrors(objects)).toEqual([]);
  });
});

describe('the schema checks themselves', () => {
  const container = { name: 'c', image: 'i' };
  const daemonSet = (containers: unknown[]) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'x' },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers } } },
  });

  it('reports a wrong type', async () => {
    const errors = await schemaErrors(daemonSet([{ ...container, ports: [{ containerPort: 'metrics' }] }]));
    expect(errors.join()).toContain('containerPort must be integer');
  });

  it('reports an unknown field', () => {
    const errors = strictFieldErrors([daemonSet([{ ...container, readinesProbe: {} }])]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/readinesProbe.*does not exist in type 'IContainer'/);
    expect(errors[0]).toMatch(/^DaemonSet\/x: /);
  });

  it('accepts a valid object', async () => {
    expect(await schemaErrors(daemonSet([container]))).toEqual([]);
    expect(strictFieldErrors([daemonSet([container])])).toEqual([]);
  });
});
