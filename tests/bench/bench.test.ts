import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..', '..');
const run = promisify(execFile);

/**
 * The harness must not rot: a quick run over every system and scenario writes a report whose
 * figures are all positive numbers, plots beside it, and a burst that lost and duplicated
 * nothing. No timing is asserted; benchmarks are reports, not tests.
 */
describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-bench-'));
  const out = join(dir, 'benchmarks.md');
  let report = '';
  let rows: Row[] = [];
  const inSection = (section: string) => rows.filter((r) => r.section.startsWith(section));
  const systemsIn = (section: string) => new Set(inSection(section).map((r) => r.cells[0]));

  beforeAll(async () => {
    // The priority scenario adds about 20 s to the run, the noisy-neighbour one about 50 s, fan-out
    // (200 children) about 16 s, the listing (20,000 records) about 20 s, index upkeep about 45 s.
    await run('npm', ['run', 'bench', '--', '--quick', '--out', out], { cwd: root, timeout: 520_000 });
    report = readFileSync(out, 'utf8');
    rows = tableRows(report);
  }, 530_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names every system and scenario, every figure positive', () => {
    for (const heading of [
      '## Enqueue, single endpoint',
      '## Enqueue, batch endpoint',
      '## Drain',
      '## Slow tasks',
      '## End-to-end latency',
      '## Priority',
      '## Noisy neighbour',
      '### Tenant B, steady',
      "### Tenant A's burst",
      '## Burst',
      '### Burst reconciliation',
      '## Scale-out',
      '## Fan-out',
      '## Task listing',
      '### Records and indexes',
      '### Queries',
      '## Index upkeep',
      '## Ceilings',
      '## Profiles',
      '## Machine',
    ]) {
      expect(report).toContain(heading);
    }
    expect(systemsIn('Enqueue, single')).toEqual(
      new Set(['bare', 'spillway', 'spillway-tenants', 'bullmq', 'naive']),
    );
    expect(systemsIn('Enqueue, batch')).toEqual(new Set(['spillway', 'spillway-tenants', 'bullmq']));
    // What tenants cost at intake, single and batch, against Spillway without them in the same run.
    expect(report).toMatch(
      /Tenants on, single endpoint \(best of each\): [\d,]+ tasks\/s against [\d,]+ without/,
    );
    expect(report).toMatch(
      /Tenants on, batch endpoint \(best of each\): [\d,]+ tasks\/s against [\d,]+ without/,
    );
    expect(systemsIn('Drain')).toEqual(new Set(['spillway', 'bullmq']));
    expect(systemsIn('Slow tasks')).toEqual(new Set(['spillway', 'bullmq', 'naive']));
    expect(systemsIn('End-to-end')).toEqual(new Set(['spillway', 'bullmq', 'naive']));
    expect(systemsIn('Priority')).toEqual(new Set(['spillway', 'bullmq']));
    expect(systemsIn('Burst (')).toEqual(new Set(['spillway']));
    expect(inSection('Scale-out').map((r) => r.cells[0])).toEqual(['1', '2', '4']);

    // Every figure (median and its spread) after the first column; a last column counting
    // failures may be 0.
    const positive: [string, (cells: string[]) => string[]][] = [
      ['Enqueue', (c) => c.slice(1, -1)],
      ['Drain', (c) => c.slice(1)],
      ['Slow tasks', (c) => c.slice(1)],
      ['End-to-end', (c) => c.slice(1, -1)],
      ['Priority', (c) => c.slice(1, -1)],
      ['Burst (', (c) => c.slice(1, -1)],
      ['Scale-out', (c) => c.slice(1)],
    ];
    for (const [section, figures] of positive) {
      for (const { section: heading, cells } of inSection(section)) {
        for (const cell of figures(cells)) expectPositive(cell, `${heading}: ${cells[0]}`);
      }
    }
  });

  it('starts every high task while the low backlog is still waiting', () => {
    for (const { cells } of inSection('Priority')) {
      const [system, , , startedOfAccepted, , , , lowRun, lowLeft] = cells;
      const [started, accepted] = startedOfAccepted!.split(' / ').map(Number);
      expect({ system, started }).toEqual({ system, started: accepted });
      expect(accepted).toBeGreaterThan(0);
      // Low tasks ran during the window (the worker was busy with them) and some were left at its
      // end: the high tasks were measured behind a backlog, not on an idle worker.
      expectPositive(lowRun!, `Priority: ${system} low run in window`);
      expectPositive(lowLeft!, `Priority: ${system} low left at end`);
    }
  });

  it('starts every task of the steady tenant and drains the bursting one, beside BullMQ', () => {
    const b = inSection('Tenant B, steady');
    const a = inSection("Tenant A's burst");
    expect(new Set(b.map((r) => r.cells[0]))).toEqual(new Set(['spillway-fair', 'bullmq']));
    expect(new Set(a.map((r) => r.cells[0]))).toEqual(new Set(['spillway-fair', 'bullmq']));
    for (const { cells } of b) {
      const [system, , startedOfAccepted, ...figures] = cells;
      const [started, accepted] = startedOfAccepted!.split(' / ').map(Number);
      expect({ system, started }).toEqual({ system, started: accepted });
      expect(accepted).toBeGreaterThan(0);
      // Latencies alone and in the burst, B's tasks in the burst, the ratio; failures may be 0.
      for (const cell of figures.slice(0, -1)) expectPositive(cell, `Noisy B: ${system}`);
    }
    for (const { cells } of a) {
      const [system, tasks, finishedOfAccepted, ...figures] = cells;
      const [finished, accepted] = finishedOfAccepted!.split(' / ').map(Number);
      // Over all runs: every run's whole burst accepted and finished.
      expect({ system, finished }).toEqual({ system, finished: accepted });
      expect(accepted! % Number(tasks!.replace(/,/g, ''))).toBe(0);
      expect(accepted).toBeGreaterThan(0);
      // Drain alone, beside B, their ratio; batches retried may be 0.
      for (const cell of figures.slice(0, -1)) expectPositive(cell, `Noisy A: ${system}`);
    }
    expect(report).toMatch(/Noisy neighbour \(spill allowance [^)]+\): B's p99 during A's [\d,]+-task burst/);
  });

  it('fans one parent out to its children and hears once that it finished, beside BullMQ', () => {
    const rows = inSection('Fan-out');
    expect(new Set(rows.map((r) => r.cells[0]))).toEqual(new Set(['spillway', 'bullmq']));
    for (const { cells } of rows) {
      const [system, children, , completion, spawn, parentStart, span, rate, , succeededOf, noticesOf] =
        cells;
      // BullMQ's parent runs after its children: no start figure of its own.
      const figures = [children!, completion!, spawn!, span!, rate!];
      if (system === 'spillway') figures.push(parentStart!);
      for (const cell of figures) expectPositive(cell, `Fan-out: ${system}`);
      // The last child → notice gap may round to 0 ms, so it is not asserted.
      const [succeeded, spawned] = succeededOf!.split(' / ').map(Number);
      expect({ system, succeeded }).toEqual({ system, succeeded: spawned });
      expect(spawned! % Number(children!.replace(/,/g, ''))).toBe(0);
      const [notices, runs] = noticesOf!.split(' / ').map(Number);
      expect({ system, notices }).toEqual({ system, notices: runs });
    }
  });

  it('answers every listing query with a page of tasks, and accounts the indexes', () => {
    const [records, ...more] = inSection('Records and indexes');
    expect(more).toEqual([]);
    for (const cell of records!.cells) expectPositive(cell, 'Listing: records and indexes');
    const [count, , , , , , indexes, entriesPerTask] = records!.cells;
    // Every task is in idx:created and its type's index; some in a tenant's or a status's too.
    expect(Number(entriesPerTask)).toBeGreaterThanOrEqual(2);
    expect(Number(entriesPerTask)).toBeLessThan(4);
    expect(Number(indexes)).toBeGreaterThan(20);
    // The counts hash after the fill holds every record, in the mix's statuses.
    const mix = /Tasks by status after the fill: ([^.]+)\./.exec(report)?.[1] ?? '';
    const byStatus = new Map(
      [...mix.matchAll(/(\w+) ([\d,]+) \(/g)].map((m) => [m[1], Number(m[2]!.replace(/,/g, ''))]),
    );
    expect([...byStatus.keys()].sort()).toEqual(['cancelled', 'failed', 'queued', 'running', 'succeeded']);
    expect([...byStatus.values()].reduce((a, b) => a + b, 0)).toBe(Number(count!.replace(/,/g, '')));

    const queries = inSection('Queries');
    expect(queries.map((r) => r.cells[0])).toEqual([
      'unfiltered, first page',
      'status=failed',
      'type, common',
      'type, rare',
      'status=failed, type common',
      'tenant, status=failed',
      'status=failed, text',
      'key prefix',
      'unfiltered, deep pages',
      'unfiltered, limit=200',
    ]);
    for (const { cells } of queries) {
      const [name, , requests, p50, p99, max, items, scanned, failedOrEmpty, goal] = cells;
      // Every request answered 200 with at least one task; figures positive, never a speed asserted.
      expect({ name, failedOrEmpty }).toEqual({ name, failedOrEmpty: '0 / 0' });
      for (const cell of [requests!, p50!, p99!, max!, items!, scanned!])
        expectPositive(cell, `Listing: ${name}`);
      expect(Number(scanned!.replace(/,/g, ''))).toBeGreaterThanOrEqual(Number(items!.replace(/,/g, '')));
      expect(goal).toMatch(/^(met|\*\*not met\*\*)$/);
    }
    expect(queries.find((r) => r.cells[0] === 'unfiltered, limit=200')!.cells[6]).toBe('200');
    expect(report).toMatch(/Goal, p99 ≤ 50 ms for a filtered page at [\d,]+ records/);
  });

  it('measures each path with the indexes on and off, side by side', () => {
    const rows = inSection('Index upkeep');
    const paths = rows.map((r) => r.cells[0]!);
    expect(paths.some((p) => p.startsWith('submit, `POST /v1/tasks`,'))).toBe(true);
    expect(paths.some((p) => p.startsWith('submit, `POST /v1/tasks/batch`'))).toBe(true);
    expect(paths.some((p) => p.startsWith('drain'))).toBe(true);
    // redis-benchmark's figures, or the reason they are missing.
    expect(paths.includes('Redis alone') || /Redis alone: not measured/.test(report)).toBe(true);
    for (const { cells } of rows) {
      const [path, figure, on, off, onOff, goal] = cells;
      for (const cell of [on!, off!, onOff!]) expectPositive(cell, `Upkeep: ${path} ${figure}`);
      expect(goal).toMatch(figure!.includes('µs') ? /^n\/a/ : /^(met|\*\*not met\*\*)$/);
    }
    expect(report).toContain('Failed submissions over every turn: 0.');
  });

  it('names the commit it measured', async () => {
    const { stdout } = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root });
    expect(report).toMatch(new RegExp(`^Generated by .* at commit ${stdout.trim()}[ .]`, 'm'));
  });

  it('reconciles the burst: every accepted task succeeded, none ran twice', () => {
    const [row, ...more] = inSection('Burst reconciliation');
    expect(more).toEqual([]);
    const [system, accepted, succeeded, lost, executions, twice, attemptsNotOne] = row!.cells;
    expect(system).toBe('spillway');
    expect(Number(accepted)).toBeGreaterThan(0);
    expect(succeeded).toBe(accepted);
    expect(executions).toBe(accepted);
    expect([lost, twice, attemptsNotOne]).toEqual(['0', '0', '0']);
  });

  it('measures both ceilings, or says why one is unavailable', () => {
    const ceilings = inSection('Ceilings');
    for (const name of ['Kafka', 'Redis']) {
      const mine = ceilings.filter((r) => r.cells[0] === name);
      expect(mine.length).toBeGreaterThan(0);
      for (const { cells } of mine) {
        if (cells[2]!.startsWith('unavailable')) continue;
        for (const cell of cells.slice(2).filter(Boolean)) expectPositive(cell);
      }
    }
  });

  it('summarises a CPU profile of the API and of the worker', () => {
    for (const heading of ['### Spillway API during enqueue', '### Spillway worker during drain']) {
      expect(report).toContain(heading);
    }
    for (const section of ['Spillway API during enqueue', 'Spillway worker during drain']) {
      const profile = inSection(section);
      // The module table and the function table, each with its biggest entry first.
      expect(profile.length).toBeGreaterThanOrEqual(4);
      expect(Number(profile[0]!.cells[1]!.replace(/,/g, ''))).toBeGreaterThan(0);
      expect(profile[0]!.cells.at(-1)).toMatch(/^\d+%$/);
    }
  });

  it("accounts each process's CPU per task, beside the rate it allows", () => {
    const sections: [string, string[], number][] = [
      // The section, its systems, and the column of the system's own process (API or worker).
      ['CPU per task: enqueue, single', ['bare', 'spillway', 'spillway-tenants', 'bullmq', 'naive'], 2],
      ['CPU per task: enqueue, batch', ['spillway', 'spillway-tenants', 'bullmq'], 2],
      ['CPU per task: drain', ['spillway', 'bullmq'], 1],
    ];
    for (const [section, systems, own] of sections) {
      const rows = inSection(section);
      expect(new Set(rows.map((r) => r.cells[0]))).toEqual(new Set(systems));
      for (const { cells } of rows) {
        // Redis' and the broker's share may read 0 in a smoke run (10 ms ticks); the system's own
        // process, the total, the bound it gives and the measured rate may not.
        for (const cell of [cells[own]!, ...cells.slice(-3)]) expectPositive(cell, `${section}: ${cells[0]}`);
      }
    }
  });

  it('draws the plots beside the report and links them', () => {
    for (const name of ['enqueue', 'scaleout', 'e2e', 'noisy-spillway', 'noisy-bullmq']) {
      const file = `benchmarks-${name}.svg`;
      expect(report).toContain(`](${file})`);
      const svg = readFileSync(join(dir, file), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
    }
  });
});

/** Every number in the cell is above zero; the cell is named in the failure. */
function expectPositive(cell: string, where = ''): void {
  const numbers = (cell.match(/[\d.,]+/g) ?? ['missing']).map((n) => Number(n.replace(/,/g, '')));
  expect({ where, cell, positive: numbers.every((n) => n > 0) }).toEqual({ where, cell, positive: true });
}

interface Row {
  section: string;
  cells: string[];
}

/** The body rows of every markdown table, with the `##` or `###` heading each sits under. */
function tableRows(report: string): Row[] {
  let section = '';
  const rows: Row[] = [];
  const lines = report.split('\n');
  lines.forEach((line, i) => {
    const heading = /^#{2,3} (.*)$/.exec(line);
    if (heading) section = heading[1]!;
    const isRow = line.startsWith('| ') && !/^\| -+/.test(line);
    // A header row is the one above the separator.
    const isHeader = /^\| -+/.test(lines[i + 1] ?? '');
    if (isRow && !isHeader && section !== 'Machine') {
      // Prettier pads the cells of the report's tables: split on the bars, then trim.
      rows.push({
        section,
        cells: line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim()),
      });
    }
  });
  return rows;
}
