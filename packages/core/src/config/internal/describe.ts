/** Longest value quoted in an error message before it is cut short. */
const MAX_SHOWN = 80;

/**
 * Writes a value the way error messages quote it: strings and lists as JSON, cut short when
 * long, so a message stays one readable line.
 *
 * @param value - anything a user wrote
 */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'nothing';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text;
}
