/** The program that runs a pipeline's `command:` lines, exactly as a CI agent would. */
export const PIPELINE_SHELL = '/bin/sh';
