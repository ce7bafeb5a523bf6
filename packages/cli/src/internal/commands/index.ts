import type { CommandSpec } from '../spec.js';
import { gcCommand, lsCommand, reconcileCommand, rmCommand, statsCommand } from './admin.js';
import { pullCommand, serveCommand } from './fleet.js';
import {
  abandonCommand,
  attachCommand,
  commitCommand,
  finishCommand,
  heartbeatCommand,
} from './fork-commands.js';
import { gitCheckoutCommand } from './git-checkout.js';
import { abandonJobCommand, finishJobCommand } from './job-commands.js';
import { pipelinePlanCommand, pipelineRunCommand } from './pipeline.js';
import { runCommand } from './run.js';

/** Every command, in the order `cachevol --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  runCommand,
  attachCommand,
  finishCommand,
  commitCommand,
  abandonCommand,
  heartbeatCommand,
  finishJobCommand,
  abandonJobCommand,
  gitCheckoutCommand,
  pipelinePlanCommand,
  pipelineRunCommand,
  lsCommand,
  statsCommand,
  gcCommand,
  rmCommand,
  reconcileCommand,
  serveCommand,
  pullCommand,
];
