#!/bin/bash
# Sourced by the plugin's hooks: its configuration as the agent passes it, and the cachevol
# command. The agent sets BUILDKITE_PLUGIN_<NAME>_<KEY> for each configuration key, where NAME
# comes from the plugin's location (CACHEVOL for .../cachevol-buildkite-plugin) and is given in
# BUILDKITE_PLUGIN_NAME; a list is KEY_0, KEY_1, ...; a map in a list is KEY_0_SUBKEY.

# The prefix of this plugin's configuration variables.
cachevol_prefix() {
  printf 'BUILDKITE_PLUGIN_%s_' "${BUILDKITE_PLUGIN_NAME:-CACHEVOL}"
}

# cachevol_config KEY: a string key's value, or nothing.
cachevol_config() {
  local var
  var="$(cachevol_prefix)$1"
  printf '%s' "${!var:-}"
}

# cachevol_list KEY: a key that is one string (KEY) or a list (KEY_0, KEY_1, ...), into the
# array CACHEVOL_LIST.
cachevol_list() {
  local base var i=0
  base="$(cachevol_prefix)$1"
  CACHEVOL_LIST=()
  if [[ -n "${!base+set}" ]]; then
    CACHEVOL_LIST+=("${!base}")
    return 0
  fi
  while var="${base}_${i}" && [[ -n "${!var+set}" ]]; do
    CACHEVOL_LIST+=("${!var}")
    i=$((i + 1))
  done
}

# cachevol_fallbacks: the fallbacks key (a list of names, or of { name, scope }) as
# NAME[@SCOPE] values of `cachevol attach --fallback`, into the array CACHEVOL_LIST.
cachevol_fallbacks() {
  local base var name scope i=0
  base="$(cachevol_prefix)FALLBACKS"
  CACHEVOL_LIST=()
  while true; do
    var="${base}_${i}"
    name="${base}_${i}_NAME"
    scope="${base}_${i}_SCOPE"
    if [[ -n "${!var+set}" ]]; then
      CACHEVOL_LIST+=("${!var}")
    elif [[ -n "${!name+set}" ]]; then
      CACHEVOL_LIST+=("${!name}${!scope:+@${!scope}}")
    else
      return 0
    fi
    i=$((i + 1))
  done
}

# The job label the hooks attach with and end by: one per Buildkite job.
cachevol_job() {
  printf 'buildkite-%s' "${BUILDKITE_JOB_ID:?BUILDKITE_JOB_ID is not set: run this as a Buildkite plugin hook}"
}

# The cachevol executable: CACHEVOL_BIN (set it in the agent's environment hook), else the one
# on PATH.
cachevol_bin() {
  printf '%s' "${CACHEVOL_BIN:-cachevol}"
}

# cachevol_warn MESSAGE: one warning line in the job's log.
cachevol_warn() {
  printf 'cachevol: warning: %s\n' "$1" >&2
}
