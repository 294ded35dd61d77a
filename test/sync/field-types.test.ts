import { describe, expect, it } from 'vitest';
import { mappingTypeProblem } from '../../src/sync/field-types.js';

describe('mapping types against destination properties', () => {
  it('accepts what fits', () => {
    expect(mappingTypeProblem('score', 'INTEGER', 'integer', { name: 'score', type: 'NUMBER' })).toBeUndefined();
    expect(mappingTypeProblem('signed_up', 'TIMESTAMP', 'timestamp with time zone', { name: 'signup', type: 'DATE' })).toBeUndefined();
    expect(mappingTypeProblem('plan', 'STRING', 'text', { name: 'plan', type: 'ENUM', options: ['free', 'pro'] })).toBeUndefined();
    expect(mappingTypeProblem('score', 'NUMBER', 'numeric', { name: 'note', type: 'STRING' })).toBeUndefined();
    expect(mappingTypeProblem('segmentMembership', 'SEGMENT_LIST', '', { name: 'segments', type: 'STRING' })).toBeUndefined();
  });
  it('refuses a date mapped to a number property, saying what would fit', () => {
    const problem = mappingTypeProblem('birthday', 'DATE', 'date', { name: 'age', type: 'NUMBER' });
    expect(problem).toBe('"birthday" is a date (date), which cannot be written to the number property "age"; expected an integer or number column (a date (date) fits text, date, date-time properties)');
  });
  it('refuses text into booleans and lists into numbers', () => {
    expect(mappingTypeProblem('plan', 'STRING', 'text', { name: 'is_vip', type: 'BOOLEAN' })).toMatch(/cannot be written to the boolean property "is_vip"; expected a boolean column/);
    expect(mappingTypeProblem('segmentMembership', 'SEGMENT_LIST', '', { name: 'n', type: 'NUMBER' })).toMatch(/the list of segment names, which cannot be written to the number property "n"/);
  });
});
