/**
 * The condition grammar: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`, `any of x`,
 * `N of x`. Precedence, least to most binding: or, and, not, x of, ( ).
 */
export type Condition =
  | { op: 'and' | 'or'; args: Condition[] }
  | { op: 'not'; arg: Condition }
  | { op: 'id'; name: string }
  | { op: 'of'; count: number | 'all'; pattern: string };

export class ConditionError extends Error {}

/** Parentheses and `not`s nested deeper than this are refused: every stage after parsing walks the tree by recursion. */
export const MAX_CONDITION_DEPTH = 100;

const TOKEN = /\s*(\(|\)|[^\s()]+)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) tokens.push(m[1]!);
  if (text.slice(TOKEN.lastIndex).trim()) throw new ConditionError(`cannot read condition at "${text.slice(TOKEN.lastIndex)}"`);
  return tokens;
}

export function parseCondition(text: string): Condition {
  const tokens = tokenize(text);
  let i = 0;
  let depth = 0;
  const deeper = () => {
    if (++depth > MAX_CONDITION_DEPTH) throw new ConditionError(`condition nested deeper than ${MAX_CONDITION_DEPTH} levels`);
  };
  const peek = () => tokens[i]?.toLowerCase();
  const expect = (what: string) => {
    if (peek() !== what) throw new ConditionError(`expected "${what}" at "${tokens.slice(i).join(' ') || 'end'}" in "${text}"`);
    i++;
  };
  /** `next (op next)*`: a chain of one operator over the tighter-binding level below it. */
  const chain = (op: 'and' | 'or', next: () => Condition) => (): Condition => {
    const args = [next()];
    while (peek() === op) {
      i++;
      args.push(next());
    }
    return args.length === 1 ? args[0]! : { op, args };
  };
  const and = chain('and', () => not());
  const or = chain('or', and);
  const not = (): Condition => {
    if (peek() === 'not') {
      i++;
      deeper();
      const arg = not();
      depth--;
      return { op: 'not', arg };
    }
    return primary();
  };
  const primary = (): Condition => {
    const t = tokens[i];
    if (t === undefined) throw new ConditionError(`condition "${text}" ends too early`);
    if (t === '(') {
      i++;
      deeper();
      const inner = or();
      expect(')');
      depth--;
      return inner;
    }
    const lower = t.toLowerCase();
    if (/^(\d+|all|any)$/.test(lower) && tokens[i + 1]?.toLowerCase() === 'of') {
      i += 2;
      const pattern = tokens[i++];
      if (pattern === undefined || pattern === '(' || pattern === ')') throw new ConditionError(`"${t} of" needs a search identifier or "them" in "${text}"`);
      const count = lower === 'all' ? 'all' : lower === 'any' ? 1 : Number(lower);
      return { op: 'of', count, pattern };
    }
    if (['and', 'or', 'not', 'of', ')'].includes(lower)) throw new ConditionError(`unexpected "${t}" in "${text}"`);
    i++;
    return { op: 'id', name: t };
  };
  const result = or();
  if (i < tokens.length) throw new ConditionError(`unexpected "${tokens[i]}" in "${text}"`);
  return result;
}

/** Search identifiers a pattern of `x of` names: `them` is all not starting with `_`; `*` matches any run. */
export function identifiersFor(pattern: string, identifiers: readonly string[]): string[] {
  if (pattern.toLowerCase() === 'them') return identifiers.filter((id) => !id.startsWith('_'));
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return identifiers.filter((id) => re.test(id));
}
