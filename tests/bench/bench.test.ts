import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');
const run = promisify(execFile);

/**
 * The harness must not rot: a quick run over every system and scenario writes a report whose
 * figures are all positive numbers. No timing is asserted; benchmarks are reports, not tests.
 */
describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-'));
  const out = join(dir, 'benchmarks.md');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a report naming every system and scenario, every figure positive', async () => {
    await run('npm', ['run', 'bench', '--', '--quick', '--out', out], { cwd: root, timeout: 100_000 });
    const report = readFileSync(out, 'utf8');

    for (const heading of [
      '## Enqueue, single endpoint',
      '## Enqueue, batch endpoint',
      '## Drain',
      '## Slow tasks',
      '## Machine',
    ]) {
      expect(report).toContain(heading);
    }
    const rows = tableRows(report);
    const systemsIn = (section: string) =>
      new Set(rows.filter((r) => r.section.startsWith(section)).map((r) => r.cells[0]));
    expect(systemsIn('Enqueue, single')).toEqual(new Set(['bare', 'spillway', 'bullmq', 'naive']));
    expect(systemsIn('Enqueue, batch')).toEqual(new Set(['spillway', 'bullmq']));
    expect(systemsIn('Drain')).toEqual(new Set(['spillway', 'bullmq']));
    expect(systemsIn('Slow tasks')).toEqual(new Set(['spillway', 'bullmq', 'naive']));

    for (const { section, cells } of rows) {
      // Every figure (median and its spread) after the system name; "failed requests" may be 0.
      const figures = section.startsWith('Enqueue') ? cells.slice(1, -1) : cells.slice(1);
      for (const cell of figures) {
        for (const n of cell.match(/[\d.,]+/g) ?? ['missing']) {
          expect(Number(n.replace(/,/g, ''))).toBeGreaterThan(0);
        }
      }
    }
  }, 110_000);
});

/** The body rows of every markdown table, with the `##` section each sits in. */
function tableRows(report: string): { section: string; cells: string[] }[] {
  let section = '';
  const rows: { section: string; cells: string[] }[] = [];
  for (const line of report.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3);
    else if (
      line.startsWith('| ') &&
      !/^\| -+/.test(line) &&
      !line.startsWith('| system') &&
      section !== 'Machine'
    ) {
      // Prettier pads the cells of the report's tables: split on the bars, then trim.
      rows.push({
        section,
        cells: line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim()),
      });
    }
  }
  return rows;
}
