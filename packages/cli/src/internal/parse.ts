import { parseArgs } from 'node:util';
import { type CommandSpec, GLOBAL_OPTIONS, type OptionSpec, type ParsedArgs } from './spec.js';
import { UsageError } from './usage-error.js';

/** What the command line asks for. */
export type Invocation =
  | { kind: 'help'; command: CommandSpec | null; group: string | null }
  | { kind: 'version' }
  | { kind: 'command'; spec: CommandSpec; args: ParsedArgs };

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

function toParseArgs(options: Record<string, OptionSpec>): ParseArgsOptions {
  const out: ParseArgsOptions = {};
  for (const [name, spec] of Object.entries(options)) {
    out[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  return out;
}

/** Every flag any command knows, so the first pass can tell flag values from the command name. */
function allOptions(commands: readonly CommandSpec[]): ParseArgsOptions {
  const out: ParseArgsOptions = { ...toParseArgs(GLOBAL_OPTIONS), version: { type: 'boolean', short: 'V' } };
  for (const command of commands) Object.assign(out, toParseArgs(command.options));
  return out;
}

/** Turns node's parseArgs errors into one short line that names the flag. */
function usageFromParseError(error: unknown, command: string): UsageError {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(?:-[^-], )?(-[^' ]+)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return new UsageError(`unknown option '${flag}' for \`cachevol ${command}\``, command);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/does not take an argument/.test(message))
      return new UsageError(`option '${flag}' does not take a value`, command);
    return new UsageError(`option '${flag}' needs a value`, command);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /argument '([^']*)'/.exec(message)?.[1] ?? '';
    return new UsageError(`unexpected argument '${arg}' for \`cachevol ${command}\``, command);
  }
  return new UsageError(message.split('\n')[0] ?? message, command);
}

/**
 * Reads a command line: finds the command (and sub-command), parses its flags strictly, and
 * splits off the program after `--` for commands that run one. Pure: no I/O.
 *
 * @param argv - the arguments after the program name
 * @param commands - the known commands
 * @throws {@link UsageError} for unknown commands or flags, missing values, wrong positionals
 */
export function parseCommandLine(argv: readonly string[], commands: readonly CommandSpec[]): Invocation {
  const dashDash = argv.indexOf('--');
  const before = dashDash === -1 ? [...argv] : argv.slice(0, dashDash);
  const after = dashDash === -1 ? [] : argv.slice(dashDash + 1);

  let tokens: ReturnType<typeof parseArgs>['tokens'];
  try {
    ({ tokens } = parseArgs({
      args: before,
      options: allOptions(commands),
      strict: false,
      allowPositionals: true,
      tokens: true,
    }));
  } catch (error) {
    throw usageFromParseError(error, '');
  }
  const positionals = (tokens ?? []).filter((t) => t.kind === 'positional');
  const wantsHelp = (tokens ?? []).some((t) => t.kind === 'option' && t.name === 'help');
  const first = positionals[0];

  if (!first) {
    if ((tokens ?? []).some((t) => t.kind === 'option' && t.name === 'version')) return { kind: 'version' };
    if (wantsHelp || before.length === 0) return { kind: 'help', command: null, group: null };
    throw new UsageError('missing command');
  }
  if (first.value === 'help') {
    const name = positionals
      .slice(1)
      .map((t) => t.value)
      .join(' ');
    if (!name) return { kind: 'help', command: null, group: null };
    const spec = commands.find((c) => c.name === name);
    if (spec) return { kind: 'help', command: spec, group: null };
    if (commands.some((c) => c.name.startsWith(`${name} `)))
      return { kind: 'help', command: null, group: name };
    throw new UsageError(`unknown command '${name}'`);
  }

  const taken = [first.index];
  let name = first.value;
  if (commands.some((c) => c.name.startsWith(`${name} `))) {
    const sub = positionals[1];
    if (!sub) {
      if (wantsHelp) return { kind: 'help', command: null, group: name };
      throw new UsageError(`\`cachevol ${name}\` needs a sub-command`, name);
    }
    name = `${name} ${sub.value}`;
    taken.push(sub.index);
  }
  const spec = commands.find((c) => c.name === name);
  if (!spec) throw new UsageError(`unknown command '${name}'`);
  if (wantsHelp) return { kind: 'help', command: spec, group: null };

  const rest = before.filter((_, i) => !taken.includes(i));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: toParseArgs({ ...GLOBAL_OPTIONS, ...spec.options }),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw usageFromParseError(error, spec.name);
  }

  const extra = parsed.positionals.slice(spec.positionals.length);
  if (spec.command) {
    if (dashDash === -1) {
      const hint =
        extra.length > 0
          ? ` (got '${extra.join(' ')}'; write \`cachevol ${spec.name} [flags] -- ${extra.join(' ')}\`)`
          : '';
      throw new UsageError(`missing '--' before the command to run${hint}`, spec.name);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' before '--'`, spec.name);
    if (after.length === 0) throw new UsageError("missing the command to run after '--'", spec.name);
  } else {
    if (dashDash !== -1)
      throw new UsageError(`\`cachevol ${spec.name}\` does not run a command; remove '--'`, spec.name);
    if (extra.length > 0)
      throw new UsageError(`unexpected argument '${extra[0]}' for \`cachevol ${spec.name}\``, spec.name);
  }
  const missing = spec.positionals[parsed.positionals.length];
  if (missing) throw new UsageError(`missing ${missing.name} (${missing.description})`, spec.name);

  return {
    kind: 'command',
    spec,
    args: { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals, command: after },
  };
}
