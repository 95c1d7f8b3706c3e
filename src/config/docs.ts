/**
 * Renders docs/configuration.md from the schema (scripts/gen-config-docs.ts writes it; a unit test
 * fails when the checked-in file differs). Pure: the same schema gives the same text on any machine.
 */
import { FLAG_SPECS } from './flags.js';
import { configSections, configSettings, type Section, type Setting } from './settings.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(s: Setting): string {
  const range = (): string => {
    const parts: string[] = [];
    if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
    if (s.minimum !== undefined && s.minimum > -Number.MAX_SAFE_INTEGER) parts.push(`≥ ${s.minimum}`);
    // z.int() adds the safe-integer bound; it says nothing to a reader.
    if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${s.maximum}`);
    return parts.length > 0 ? ` ${parts.join(', ')}` : '';
  };
  switch (s.kind) {
    case 'enum':
      return `one of ${(s.values ?? []).map((v) => `\`${v}\``).join(', ')}`;
    case 'list':
      return `list of ${s.itemKind === 'enum' ? (s.values ?? []).join('/') : `${s.itemKind}s`}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
    case 'number':
    case 'integer':
      return `${s.kind}${range()}`;
    default:
      return s.kind;
  }
}

function defaultOf(s: Setting): string {
  if (s.docDefault !== undefined) return s.docDefault;
  if (s.default === undefined) return s.required ? '**required**' : '—';
  return `\`${JSON.stringify(s.default)}\``;
}

function flagOf(s: Setting): string {
  const spec = FLAG_SPECS.find((f) => f.key === s.key);
  return spec === undefined ? '' : `\`${spec.flag}\``;
}

function table(settings: readonly Setting[]): string[] {
  const lines = ['| Key | Type | Default | Environment | Flag | Description |', '|---|---|---|---|---|---|'];
  for (const s of settings) {
    const secret = s.secret ? ' **Secret**: never printed or logged.' : '';
    lines.push(
      `| \`${s.key}\` | ${cell(typeOf(s))} | ${cell(defaultOf(s))} | \`${s.env}\` | ${flagOf(s)} | ${cell(s.description)}${secret} |`,
    );
  }
  return lines;
}

const INTRO = `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npx tsx scripts/gen-config-docs.ts\`. Do not edit by hand:
     test/unit/config/docs.test.ts fails when this file is stale. -->

One schema configures every role (\`run\`, \`agent\`, \`processor\`, \`replay\`, \`collect\`, \`topics\`), so one
file (e.g. a Kubernetes ConfigMap) can serve all of them; each role reads the sections it uses.

## Sources and precedence

From lowest to highest precedence:

1. the defaults below;
2. a YAML or JSON file: \`--config FILE\` (or \`CTFLOW_CONFIG=FILE\`);
3. environment variables: \`CTFLOW_\` followed by the key's segments in SCREAMING_SNAKE_CASE joined by a
   double underscore, e.g. \`kafka.brokers\` is \`CTFLOW_KAFKA__BROKERS\` and \`kafka.topics.deadLetter\` is
   \`CTFLOW_KAFKA__TOPICS__DEAD_LETTER\`. Lists are comma-separated (or a JSON array); booleans are
   \`true\`/\`false\` (also \`1\`/\`0\`, \`yes\`/\`no\`); an empty value counts as unset. Names containing \`__\` are
   configuration: an unknown one is an error;
4. command-line flags (the table lists them per key), and \`--set KEY=VALUE\` for any key.

Durations are in seconds (fractions allowed), sizes in bytes.

## Errors

Every problem is reported with the key's path, the value seen, where it came from and what was expected;
an unknown key suggests the nearest known one, and the command exits with status 2. For example:

\`\`\`
ctflow: invalid configuration: kafka.brokrs (from file ctflow.yaml): no such key; did you mean "kafka.brokers"?
ctflow: invalid configuration: conntrack.pollInterval = 0.5 (from flag --poll-interval): expected a number >= 1
ctflow: invalid configuration: kafka.brokers = missing: expected at least one broker HOST:PORT for the agent role (...)
\`\`\`

Secrets (marked below) are never printed: \`ctflow config print\` shows the effective configuration with
them redacted, and logs redact them too. Prefer \`kafka.sasl.passwordFile\` (a mounted Secret) or the
environment over writing passwords into the file.

## Required settings per role

| Role | Needs |
|---|---|
| \`run\` | \`ipfix.collectors\` (at least one) or \`run.record\` |
| \`agent\` | \`kafka.brokers\` |
| \`processor\` | \`kafka.brokers\`, \`ipfix.collectors\` |
| \`replay\` | \`kafka.brokers\`, \`ipfix.collectors\` |
| \`topics\` | \`kafka.brokers\` |
| \`collect\` | nothing |
`;

/** The full text of docs/configuration.md. */
export function renderConfigDocs(): string {
  const out = [INTRO];
  const settings = configSettings();
  const sections: Section[] = configSections();
  for (const section of sections) {
    const direct = settings.filter((s) => s.path.slice(0, -1).join('.') === section.key);
    const heading = section.path.length === 1 ? '##' : '###';
    out.push(`${heading} \`${section.key}\``, '', section.description, '');
    if (!section.alwaysPresent)
      out.push('This section is optional; when present, its required keys must be set.', '');
    if (direct.length > 0) out.push(...table(direct), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
