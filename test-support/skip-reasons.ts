/**
 * A vitest reporter that prints one line per suite (or test) that a gate skipped, with the
 * reason: the default reporter only shows `↓ file (7 tests | 7 skipped)`. Listed before
 * `default` in vitest.config.ts, so the lines come just before the summary.
 *
 * The reason is the `skipReason` meta that `describeWith` and `itWith` (gate.ts) set. Test
 * files never import this; it is part of no published package.
 */
import type { Reporter, TestCase, TestModule, TestSuite, Vitest } from 'vitest/node';

/** One skipped suite or test and why. */
export interface SkipLine {
  /** `file > suite > test` */
  where: string;
  reason: string;
}

function visit(module: TestModule, node: TestSuite | TestCase, out: SkipLine[]): void {
  const reason = node.meta().skipReason;
  const skipped = node.type === 'suite' ? node.state() === 'skipped' : node.result().state === 'skipped';
  if (reason !== undefined && skipped) {
    out.push({ where: `${module.relativeModuleId} > ${node.fullName}`, reason });
    return; // its tests were skipped for the same reason
  }
  if (node.type === 'suite') for (const child of node.children) visit(module, child, out);
}

/**
 * The suites and tests of `modules` that a gate skipped, outermost first, in file order.
 *
 * @param modules - the finished test modules
 */
export function skipLines(modules: ReadonlyArray<TestModule>): SkipLine[] {
  const out: SkipLine[] = [];
  for (const module of modules) for (const child of module.children) visit(module, child, out);
  return out;
}

/** Prints {@link skipLines} at the end of a run. */
export default class SkipReasons implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines = skipLines(modules);
    if (lines.length === 0) return;
    const log = (text: string) => (this.vitest ? this.vitest.logger.log(text) : console.log(text));
    log('');
    for (const { where, reason } of lines) log(` ↓ ${where}: skipped: ${reason}`);
  }
}
