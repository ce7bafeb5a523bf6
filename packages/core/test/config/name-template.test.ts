import { describe, expect, it } from 'vitest';
import { expandNameTemplate, hasNameTemplate, parsePipeline } from '../../src/index.js';

const files: Record<string, string> = { 'package-lock.json': 'v1', 'yarn.lock': 'y' };
const checksum = (paths: readonly string[]) => paths.map((p) => `${p.length}${files[p] ?? '?'}`).join('.');
const context = { os: 'linux', arch: 'x64', checksum };

describe('volume name templates', () => {
  it('expand checksum (one or more files), os and arch; other text is kept', () => {
    expect(expandNameTemplate('deps-{{ checksum "package-lock.json" }}', context)).toBe('deps-17v1');
    expect(expandNameTemplate('d-{{checksum \'package-lock.json\' "yarn.lock"}}', context)).toBe('d-17v1.9y');
    expect(expandNameTemplate('tools-{{ os }}-{{ arch }}', context)).toBe('tools-linux-x64');
    expect(expandNameTemplate('plain', context)).toBe('plain');
    expect(hasNameTemplate('plain')).toBe(false);
    expect(hasNameTemplate('a-{{ os }}')).toBe(true);
  });

  it('refuse unknown tokens, a checksum without files, and a checksum where no files can be read', () => {
    expect(() => expandNameTemplate('x-{{ branch }}', context)).toThrow(/the tokens are \{\{ checksum/);
    expect(() => expandNameTemplate('x-{{ checksum }}', context)).toThrow(/name the files/);
    expect(() => expandNameTemplate('x-{{ os "a" }}', context)).toThrow(/takes no arguments/);
    expect(() => expandNameTemplate('x-{{ checksum "a" }}', { os: 'linux', arch: 'x64' })).toThrow(
      /no files can be read here/,
    );
  });

  it('name pipeline volumes, and are a problem where the reader has no files', () => {
    const yaml =
      'cache:\n  name: deps-{{ checksum "package-lock.json" }}-{{ os }}\n  paths: node_modules\nsteps:\n  - command: make\n';
    const parsed = parsePipeline(yaml, { pipelineSlug: 'web', os: 'linux', checksum });
    expect(parsed.steps[0]?.volumes[0]?.name).toBe('deps-17v1-linux');
    expect(() => parsePipeline(yaml, { pipelineSlug: 'web', os: 'linux' })).toThrow(
      /cache\.name \(line 2, column 9\): Cannot expand \{\{ checksum "package-lock.json" \}\}.*no files can be read here/,
    );
  });
});
