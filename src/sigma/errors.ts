/** A rule that cannot be used, with the reason (shown by `spoor rules check`). */
export class RuleError extends Error {}
