/**
 * `npm run docs`: regenerates docs/statechart.md and its diagrams (docs/statechart-*.svg) from the machine, and the API
 * reference in docs/api/. Fails (exit 1) when an export lacks TSDoc or a `@see`, so the reference cannot silently rot.
 *
 * @module
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { buildApiReference } from './apiReference.js';
import { statechartPage, statechartSvgs } from './statechart.js';

await writeFile('docs/statechart.md', statechartPage(deviceAuthorizationChart));
const svgs = statechartSvgs(deviceAuthorizationChart);
for (const [name, svg] of Object.entries(svgs)) await writeFile(`docs/${name}`, svg);
// A diagram the machine no longer draws must not linger beside the others.
for (const name of await readdir('docs')) if (/^statechart.*\.svg$/.test(name) && !(name in svgs)) await rm(`docs/${name}`);
console.log(`wrote docs/statechart.md and ${Object.keys(svgs).map((name) => `docs/${name}`).join(', ')}`);

const report = await buildApiReference('docs/api');
for (const name of report.undocumented) console.error(`no TSDoc on ${name}`);
for (const name of report.withoutSee) console.error(`no @see in the TSDoc of ${name}`);
if (report.problems > 0 || report.undocumented.length > 0 || report.withoutSee.length > 0) {
  console.error(
    `API reference incomplete: ${report.problems} TypeDoc warning(s), ${report.undocumented.length} undocumented, ${report.withoutSee.length} without @see`,
  );
  process.exit(1);
}
console.log('wrote the API reference to docs/api/index.html');
