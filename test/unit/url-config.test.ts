import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, checkCriterion, readConfig } from '../../src/ui/url';

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
