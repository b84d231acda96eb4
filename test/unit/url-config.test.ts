import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, checkCriterion, configQuery, readConfig } from '../../src/ui/url';

describe('criterion in a shared link', () => {
  it('an unknown criterion gets the sentence every bad address value gets, and the real default', () => {
    const { config, problems } = readConfig('?crit=bogus&rate=7');
    expect(problems).toEqual(['The address sets rate="7", which the lab does not understand; it uses 0.5 instead.']);
    const checked = checkCriterion(config, ['random', 'l1', 'fpgm']);
    expect(checked).toEqual({ criterion: 'l1', problem: 'The address sets crit="bogus", which the lab does not understand; it uses l1 instead.' });
    expect(DEFAULT_CONFIG.criterion).toBe('l1');
  });

  it('a known criterion is kept; nothing is decided before the worker lists its criteria', () => {
    const { config } = readConfig('?crit=fpgm');
    expect(checkCriterion(config, ['l1', 'fpgm'])).toEqual({ criterion: 'fpgm' });
    expect(checkCriterion(readConfig('?crit=bogus').config, [])).toEqual({ criterion: 'bogus' });
  });
});

describe('wasm threads in a shared link', () => {
  it('a whole number from 1 to 16 is kept and written back; anything else falls back to one per core with a sentence', () => {
    expect(readConfig('?threads=1')).toEqual({ config: { ...DEFAULT_CONFIG, threads: 1 }, problems: [] });
    expect(configQuery({ ...DEFAULT_CONFIG, threads: 3 })).toBe('?threads=3');
    expect(configQuery(DEFAULT_CONFIG)).toBe('');
    for (const raw of ['0', '2.5', '17', 'two', '-1']) {
      const { config, problems } = readConfig(`?threads=${raw}`);
      expect(config.threads).toBeUndefined();
      expect(problems).toEqual([`The address sets threads="${raw}", which the lab does not understand; it uses the default instead.`]);
    }
  });
});
