import { describe, expect, it } from 'vitest';
import { jsonTextProblem, jsonValueProblem, MAX_JSON_DEPTH, MAX_JSON_VALUES } from '../../src/core/jsonLimits.js';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const members = (count: number) => `{${Array.from({ length: count }, (_, index) => `"m${index}":${index}`).join(',')}}`;

describe('jsonTextProblem', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    expect(jsonTextProblem(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonTextProblem(nested(MAX_JSON_DEPTH + 1))).toBe('nests objects and arrays deeper than 32 levels');
  });

  it('counts members and elements at every level, and refuses more than the limit', () => {
    expect(jsonTextProblem(members(MAX_JSON_VALUES - 1))).toBeNull();
    expect(jsonTextProblem(members(MAX_JSON_VALUES + 1))).toBe('holds more than 4096 members and elements');
    expect(jsonTextProblem(`{"a":[${Array.from({ length: MAX_JSON_VALUES }, () => '{}').join(',')}]}`)).toMatch(/more than 4096/);
  });

  it('ignores brackets, braces and commas inside strings, escaped quotes included', () => {
    expect(jsonTextProblem(JSON.stringify({ text: `${'[{,'.repeat(10_000)}\\"[[[` }))).toBeNull();
  });
});

describe('jsonValueProblem', () => {
  it('accepts plain JSON', () => {
    expect(jsonValueProblem({ a: [1, 'two', null, true, { b: 2.5 }] })).toBeNull();
  });

  it('refuses what JSON cannot carry', () => {
    expect(jsonValueProblem({ a: Number.NaN })).toBe('holds a number that is not finite');
    expect(jsonValueProblem({ a: () => 1 })).toBe('holds a function, which JSON cannot carry');
    expect(jsonValueProblem({ a: undefined })).toBe('holds a undefined, which JSON cannot carry');
    expect(jsonValueProblem({ a: new Date() })).toBe('holds an object that is not plain JSON');
  });

  it('refuses deep, wide and cyclic values without following them', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = [deep];
    expect(jsonValueProblem(deep)).toMatch(/deeper than 32/);
    expect(jsonValueProblem(Array.from({ length: MAX_JSON_VALUES + 1 }, () => 0))).toMatch(/more than 4096/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(jsonValueProblem(cyclic)).toMatch(/deeper than 32/);
  });
});
