import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from '../../src/lib/suggest.js';

describe('editDistance (Damerau–Levenshtein)', () => {
  it.each([
    ['', '', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['plan', 'plan', 0],
    ['plann', 'plan', 1], // deletion
    ['pln', 'plan', 1], // insertion
    ['plon', 'plan', 1], // substitution
    ['palns', 'plans', 1], // adjacent transposition counts once
    ['ca', 'abc', 2], // unrestricted: transpose, then insert between (OSA would say 3)
    ['kitten', 'sitting', 3],
    ['émail', 'email', 1], // code points, not UTF-16 units
  ])('%j → %j = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('suggest', () => {
  const columns = ['id', 'email', 'plan', 'created_at', 'first_name', 'last_name'];

  it('suggests the closest candidate for a typo', () => {
    expect(suggest('plann', columns)).toBe('plan');
    expect(suggest('emial', columns)).toBe('email');
    expect(suggest('creatd_at', columns)).toBe('created_at');
    expect(suggest('frist_name', columns)).toBe('first_name');
  });

  it('ignores case and returns the candidate as spelled', () => {
    expect(suggest('EMAIL', columns)).toBe('email');
    expect(suggest('Plan', ['PLAN', 'x'])).toBe('PLAN');
  });

  it('allows at most max(1, floor(length / 3)) edits', () => {
    // "ab" (length 2): one edit allowed.
    expect(suggest('ix', ['id'])).toBe('id');
    expect(suggest('xy', ['id'])).toBeUndefined();
    expect(suggest('lst_nme', columns)).toBe('last_name'); // length 7 → 2 edits
    expect(suggest('lst_nm', columns)).toBeUndefined(); // 3 edits, only 2 allowed
  });

  it('returns undefined when nothing is close, or there are no candidates', () => {
    expect(suggest('revenue', columns)).toBeUndefined();
    expect(suggest('plan', [])).toBeUndefined();
  });

  it('prefers the nearest, and the first listed on a tie', () => {
    expect(suggest('nam', ['names', 'name'])).toBe('name');
    expect(suggest('cat', ['bat', 'hat'])).toBe('bat');
    expect(suggest('cat', ['hat', 'bat'])).toBe('hat');
  });
});
