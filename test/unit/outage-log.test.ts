import { OutageLog } from '../../src/ops/outage-log';

describe('the outage log', () => {
  let now = 0;
  beforeEach(() => {
    now = Date.parse('2026-11-30T12:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  const recording = () => {
    const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ level: 'warn', fields, msg }),
      info: (fields: Record<string, unknown>, msg: string) => void lines.push({ level: 'info', fields, msg }),
    };
    return { lines, log: new OutageLog(logger as never, 'Redis') };
  };

  test('one line when it begins, one a minute while it lasts, one when it ends, with counts', () => {
    const { lines, log } = recording();
    for (let second = 0; second < 150; second += 1) {
      log.failed(new Error('connect ECONNREFUSED'), 10);
      now += 1000;
    }
    log.recovered();
    log.recovered(); // nothing to say twice
    expect(lines.map((l) => [l.level, l.msg, l.fields.failures])).toEqual([
      ['warn', 'Redis: outage began', undefined],
      ['warn', 'Redis: outage goes on', 610],
      ['warn', 'Redis: outage goes on', 1210],
      ['info', 'Redis: outage over', 1500],
    ]);
  });

  test('after a quiet minute with no word of recovery, a failure begins a new outage', () => {
    const { lines, log } = recording();
    log.failed('first');
    now += 61_000;
    log.failed('second');
    expect(lines.map((l) => l.msg)).toEqual(['Redis: outage began', 'Redis: outage over', 'Redis: outage began']);
  });
});
