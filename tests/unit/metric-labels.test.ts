import { BoundedLabel } from '../../services/shared/bounded-label';
import { WorkerMetrics } from '../../services/worker/metrics';

describe('task type labels', () => {
  it('keep the first values when nothing is known, and fold the rest into "other"', () => {
    const label = new BoundedLabel(2);
    expect(['a', 'b', 'c', 'a'].map((v) => label.of(v))).toEqual(['a', 'b', 'other', 'a']);
  });

  it('name only known values when given, whatever arrives first', () => {
    const label = new BoundedLabel(100, new Set(['email.send']));
    expect(['junk-1', 'junk-2', 'email.send'].map((v) => label.of(v))).toEqual([
      'other',
      'other',
      'email.send',
    ]);
  });

  it('give a worker a series per type it has a handler for, and junk types none of their own', async () => {
    const metrics = new WorkerMetrics(['echo']);
    for (let i = 0; i < 150; i++) metrics.duplicateSkipped(`junk-${i}`);
    metrics.duplicateSkipped('echo');
    const text = await metrics.text();
    expect(text).toContain('spillway_task_duplicates_skipped_total{type="other"} 150');
    expect(text).toContain('spillway_task_duplicates_skipped_total{type="echo"} 1');
    expect(text).not.toContain('junk-');
  });
});
