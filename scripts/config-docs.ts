// `npm run docs:config`: writes docs/configuration.md from the configuration schema (src/config.ts),
// the one place each variable is described. A test fails when the file is stale.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_GROUPS, describeVariables } from '../src/config';

export const CONFIGURATION_DOC = path.join(__dirname, '..', 'docs', 'configuration.md');

const shown = (value: unknown) =>
  value === undefined ? 'unset' : `\`${typeof value === 'object' ? JSON.stringify(value) : String(value)}\``;

/** The document as markdown, before Prettier aligns its tables. */
export function renderConfigurationDoc(): string {
  const variables = describeVariables();
  const sections = Object.entries(CONFIG_GROUPS).map(([group, title]) => {
    const rows = variables
      .filter((v) => v.group === group)
      .map((v) => {
        const fallback = v.shownDefault ?? shown(v.default);
        return `| \`${v.name}\` | ${v.range ? `${fallback} (${v.range})` : fallback} | ${v.description.replaceAll('|', '\\|')} |`;
      });
    return [`## ${title}`, '', '| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
  });
  const text = [
    '# Configuration',
    '',
    '<!-- Generated from src/config.ts by `npm run docs:config`; edit the schema, not this file. -->',
    '',
    'All configuration comes from the environment, parsed once at start (`src/config.ts`). A wrong value',
    'stops the process with one message listing every problem (a number outside the range beside its',
    'default, say); a settings file that cannot be used (`RECOMMENDATION_SETTINGS_FILE`) stops it',
    'before, with its own. An empty variable counts as unset.',
    '',
    ...sections.flatMap((section) => [section, '']),
  ].join('\n');
  return text;
}

/** The same text whatever the tables' padding: what the staleness test compares. */
export const withoutPadding = (markdown: string) =>
  markdown
    .trim()
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split('|')
            .map((cell) => cell.trim().replace(/^-+$/, '---'))
            .join('|')
        : line,
    )
    .join('\n');

if (require.main === module) {
  // Prettier is loaded here only: the staleness test compares the text without it.
  import('prettier')
    .then(({ format }) => format(renderConfigurationDoc(), { parser: 'markdown', filepath: CONFIGURATION_DOC }))
    .then(
      (text) => {
        writeFileSync(CONFIGURATION_DOC, text);
        console.log(`wrote ${path.relative(process.cwd(), CONFIGURATION_DOC)}`);
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
}
