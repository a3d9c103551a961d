/**
 * Text from a server, made fit to show: without the characters that can rewrite what a terminal or a screen displays.
 *
 * @module
 */

/**
 * C0 and C1 control characters, DEL, the line and paragraph separators, and the bidirectional controls (marks,
 * embeddings, overrides and isolates): on a terminal they move the cursor or run commands, and anywhere they can make
 * text read other than it is (Unicode Technical Standard #39 §5; "Trojan Source", CVE-2021-42574).
 */
export const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every character of {@link UNSAFE_CHARACTERS} replaced by a space: what the package puts into messages
 * built from a server's words.
 *
 * @see [Unicode Bidirectional Algorithm, explicit formatting](https://www.unicode.org/reports/tr9/#Explicit_Directional_Embeddings)
 */
export function printable(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, ' ');
}

/** Whether `text` holds a character of {@link UNSAFE_CHARACTERS}. */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE_CHARACTERS.lastIndex = 0;
  return UNSAFE_CHARACTERS.test(text);
}
