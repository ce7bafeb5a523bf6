import { type CommandSpec, GLOBAL_OPTIONS, type OptionSpec } from './spec.js';

function flagColumn(name: string, spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : '    ';
  const value = spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : '';
  return `${short}--${name}${value}${spec.multiple ? '...' : ''}`;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const env = spec.env ? ` [env ${spec.env}]` : '';
    return [flagColumn(name, spec), `${spec.description}${env}`] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

/**
 * The usage line of a command, e.g. `cachevol attach NAME [options]`.
 *
 * @param spec - the command
 */
export function usageLine(spec: CommandSpec): string {
  const positionals = spec.positionals.map((p) => p.name).join(' ');
  return ['cachevol', spec.name, positionals, '[options]', spec.command ? '-- COMMAND [ARGS...]' : '']
    .filter(Boolean)
    .join(' ');
}

/**
 * The `--help` text of one command.
 *
 * @param spec - the command
 */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${usageLine(spec)}`, '', spec.summary];
  if (spec.details) lines.push('', spec.details);
  if (spec.positionals.length > 0) {
    lines.push('', 'Arguments:');
    const width = Math.max(...spec.positionals.map((p) => p.name.length));
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(width)}  ${p.description}`);
  }
  if (Object.keys(spec.options).length > 0) lines.push('', 'Options:', ...optionLines(spec.options));
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (spec.example) lines.push('', 'Example:', `  ${spec.example}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The top-level `cachevol --help` text (or the help of a command group such as `pipeline`).
 *
 * @param commands - every command
 * @param group - list only the sub-commands of this group
 */
export function mainHelp(commands: readonly CommandSpec[], group: string | null = null): string {
  const shown = group ? commands.filter((c) => c.name.startsWith(`${group} `)) : commands;
  const width = Math.max(...shown.map((c) => c.name.length));
  const lines = [
    `Usage: cachevol ${group ?? 'COMMAND'} ${group ? 'SUB-COMMAND ' : ''}[options]`,
    '',
    'CI cache volumes: attach a private copy-on-write fork of the last committed version,',
    'commit it when the job succeeds, abandon it when the job fails.',
    '',
    'Commands:',
    ...shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage error or invalid argument;',
    "`run` exits with its command's code (128+N when ended by signal N, 127 when not found).",
    '',
    `Run \`cachevol ${group ? `${group} SUB-COMMAND` : 'COMMAND'} --help\` for a command's options.`,
  ];
  return `${lines.join('\n')}\n`;
}
