import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  execForm,
  imageEntrypoint,
  includedByDockerignore,
  parseDockerfile,
  runsImageEntrypoint,
} from './dockerfile.js';
import { find, render, repoRoot } from './render.js';

// Rendered while the tests are collected (kustomize may be built on first use: no test timeout).
const base = render('deploy/base');

// The image cannot be built here (no Docker engine), so its Dockerfile is checked statically.
const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const dockerfile = parseDockerfile(text);
const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
};
const finalStage = dockerfile.stages.length - 1;
const inFinal = (keyword: string) =>
  dockerfile.instructions.filter((i) => i.stage === finalStage && i.keyword === keyword);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('Dockerfile', () => {
  // Node stages, and the Go stage that builds the ctnetlink reader.
  const nodeStages = dockerfile.stages.filter((s) => !s.image.startsWith('golang:'));

  it('is multi-stage on node:<version>-bookworm-slim (Go only to build ctnetlink), every base image pinned by a tag', () => {
    expect(nodeStages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile.stages[finalStage]?.image).toMatch(/^node:/);
    for (const stage of dockerfile.stages) {
      expect(stage.image).toMatch(/^(node:\d+\.\d+\.\d+-bookworm-slim|golang:\d+\.\d+\.\d+-bookworm)$/);
      expect(stage.image).not.toContain('$');
    }
  });

  it('uses the Node major version package.json asks for, and the Go version tools/ctnetlink asks for', () => {
    const major = /(\d+)/.exec(pkg.engines.node)?.[1];
    for (const stage of nodeStages) expect(stage.image.startsWith(`node:${major}.`)).toBe(true);
    const goMod = readFileSync(join(repoRoot, 'tools/ctnetlink/go.mod'), 'utf8');
    const goMinor = /^go (\d+\.\d+)/m.exec(goMod)?.[1];
    const goStage = dockerfile.stages.find((s) => s.image.startsWith('golang:'));
    expect(goStage?.image.startsWith(`golang:${goMinor}.`)).toBe(true);
  });

  it('ships the ctnetlink reader where conntrack.reader auto looks for it', () => {
    expect(inFinal('COPY').map((i) => i.args)).toContain(
      '--from=ctnetlink /out/ctnetlink ./.cache/ctnetlink',
    );
    const build = dockerfile.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('go build'));
    expect(build?.args).toContain('CGO_ENABLED=0');
  });

  it('installs production dependencies only, from the lockfile', () => {
    const runs = dockerfile.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /npm install\b/.test(r))).toBe(false);
  });

  it('runs the compiled CLI: built in a build stage, copied into the final image without sources', () => {
    const entry = readFileSync(join(repoRoot, 'bin/ctflow.js'), 'utf8');
    expect(entry).toContain("join(root, 'dist', 'cli', 'main.js')");
    const runs = dockerfile.instructions.filter((i) => i.keyword === 'RUN' && i.stage < finalStage);
    expect(runs.some((r) => r.args.includes('npm run build'))).toBe(true);
    const copies = inFinal('COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /app/dist ./dist');
    expect(copies.some((c) => /(^| )src( |$)/.test(c))).toBe(false);
    // The development fallback (tsx) stays a runtime dependency: bin/ctflow.js imports it without a build.
    expect(entry).toContain("import('tsx/esm/api')");
    expect(pkg.dependencies).toHaveProperty('tsx');
  });

  it('finds every package src/ imports at run time among the production dependencies', () => {
    const missing = new Set<string>();
    for (const file of sourceFiles(join(repoRoot, 'src'))) {
      const code = readFileSync(file, 'utf8');
      for (const m of code.matchAll(/^\s*import\s+(?!type\b)[^'"]*?['"]([^'"]+)['"]/gm)) {
        const spec = m[1] ?? '';
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] ?? '');
        if (!(name in pkg.dependencies)) missing.add(`${name} (${file.slice(repoRoot.length)})`);
      }
    }
    expect([...missing]).toEqual([]);
  });

  it('installs conntrack-tools and tini in the final image', () => {
    const runs = inFinal('RUN').map((i) => i.args);
    expect(runs.some((r) => /apt-get install\b.*\bconntrack\b/.test(r))).toBe(true);
    expect(runs.some((r) => /apt-get install\b.*\btini\b/.test(r))).toBe(true);
    expect(runs.some((r) => r.includes('rm -rf /var/lib/apt/lists/*'))).toBe(true);
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const stageNames = dockerfile.stages.map((s) => s.name);
    const copies = dockerfile.instructions.filter((i) => i.keyword === 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const parts = copy.args.split(' ');
      const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
      const paths = parts.filter((p) => !p.startsWith('--'));
      const sources = paths.slice(0, -1);
      if (from !== undefined) {
        expect(stageNames.slice(0, copy.stage)).toContain(from);
        continue;
      }
      for (const source of sources) {
        const path = source.replace(/^\.\//, '').replace(/\/$/, '');
        expect(existsSync(join(repoRoot, path)), `${path} exists`).toBe(true);
        expect(includedByDockerignore(path, ignore), `${path} is in the build context`).toBe(true);
      }
    }
    // The runtime needs exactly these from the context.
    const copied = copies.flatMap((c) =>
      c.args
        .split(' ')
        .filter((p) => !p.startsWith('--'))
        .slice(0, -1),
    );
    for (const needed of [
      'package.json',
      'package-lock.json',
      'bin',
      'schemas',
      'src',
      'tsconfig.build.json',
    ]) {
      expect(copied).toContain(needed);
    }
  });

  it('keeps node_modules, .git and .cache out of the build context', () => {
    for (const path of ['node_modules', '.git', '.cache', 'test', 'deploy']) {
      expect(includedByDockerignore(path, ignore), path).toBe(false);
    }
  });

  it('runs as the unprivileged user the manifests expect', () => {
    const users = inFinal('USER');
    expect(users).toHaveLength(1);
    const user = users[0]?.args ?? '';
    expect(user).toMatch(/^\d+:\d+$/);
    const [uid] = user.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    const processor = find(base, 'Deployment', 'ctflow-processor') as unknown as {
      spec: { template: { spec: { securityContext: { runAsUser: number } } } };
    };
    expect(processor.spec.template.spec.securityContext.runAsUser).toBe(Number(uid));
  });

  it('starts bin/ctflow.js under tini in exec form', () => {
    const entrypoint = execForm(inFinal('ENTRYPOINT')[0]?.args ?? '');
    expect(entrypoint).toEqual(['/usr/bin/tini', '--', 'node', `/app/${pkg.bin['ctflow']}`]);
    expect(existsSync(join(repoRoot, pkg.bin['ctflow'] ?? ''))).toBe(true);
    expect(inFinal('WORKDIR').map((i) => i.args)).toContain('/app');
  });

  it('exposes the metrics port and has no HEALTHCHECK (Kubernetes probes instead)', () => {
    expect(inFinal('EXPOSE').map((i) => i.args)).toEqual(['9464']);
    expect(dockerfile.instructions.some((i) => i.keyword === 'HEALTHCHECK')).toBe(false);
  });

  it('labels the image with the package version', () => {
    const labels = inFinal('LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const key of ['title', 'description', 'version', 'licenses', 'base.name']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
    const versionArg = inFinal('ARG').find((i) => i.args.startsWith('VERSION='));
    expect(versionArg?.args).toBe(`VERSION=${pkg.version}`);
  });
});

describe('the Dockerfile reader', () => {
  it('joins continuations, drops comments and substitutes global ARGs in FROM', () => {
    const parsed = parseDockerfile(
      '# c\nARG V=1.2.3\nFROM node:$V-slim AS a\nRUN one \\\n  # inner\n  two\nFROM a\nUSER 1:1\n',
    );
    expect(parsed.stages).toEqual([{ image: 'node:1.2.3-slim', name: 'a' }, { image: 'a' }]);
    expect(parsed.instructions.map((i) => [i.keyword, i.args, i.stage])).toEqual([
      ['ARG', 'V=1.2.3', -1],
      ['FROM', 'node:$V-slim AS a', 0],
      ['RUN', 'one two', 0],
      ['FROM', 'a', 1],
      ['USER', '1:1', 1],
    ]);
  });

  it('applies .dockerignore exceptions in order', () => {
    expect(includedByDockerignore('src', ['**', '!src/'])).toBe(true);
    expect(includedByDockerignore('src/a.ts', ['**', '!src/'])).toBe(true);
    expect(includedByDockerignore('test', ['**', '!src/'])).toBe(false);
    expect(includedByDockerignore('src', ['**', '!src/', 'src'])).toBe(false);
  });

  it('tells a container command that still runs the image entrypoint (node options added at most)', () => {
    const entry = imageEntrypoint(
      'FROM a AS b\nENTRYPOINT ["x"]\nFROM c\nENTRYPOINT ["tini", "--", "node", "ctflow.js"]\n',
    );
    expect(entry).toEqual(['tini', '--', 'node', 'ctflow.js']);
    expect(runsImageEntrypoint(undefined, entry)).toBe(true);
    expect(runsImageEntrypoint(['tini', '--', 'node', 'ctflow.js'], entry)).toBe(true);
    expect(
      runsImageEntrypoint(['tini', '--', 'node', '--optimize-for-size', '--x=1', 'ctflow.js'], entry),
    ).toBe(true);
    expect(runsImageEntrypoint(['tini', '--', 'node', 'other.js', 'ctflow.js'], entry)).toBe(false);
    expect(runsImageEntrypoint(['node', 'ctflow.js'], entry)).toBe(false);
    expect(runsImageEntrypoint(['sh', '-c', 'node ctflow.js'], entry)).toBe(false);
    expect(() => imageEntrypoint('FROM a\nENTRYPOINT node x.js\n')).toThrow(/exec-form/);
  });
});
