/** A rule that cannot be used, with the reason (shown by `spoor rules check`). */
export class RuleError extends Error {
  /** Where in the detection: the search identifier, then the field key (for finding the line). */
  constructor(message: string, readonly path: string[] = []) {
    super(message);
  }
}
