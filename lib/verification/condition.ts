/**
 * The conditions a verification analysis judges a measurement by: a tiny
 * comparison language, parsed here and never evaluated as code.
 *
 *   condition  := or
 *   or         := and ( "||" and )*
 *   and        := term ( "&&" term )*
 *   term       := "(" or ")" | operand op operand
 *   op         := "<" | "<=" | ">" | ">=" | "==" | "!="
 *   operand    := "result" | number | "string" | true | false | input.<field>[.<field>...]
 *
 * `result` is the measured value; `input.replicas` is a field of the step's
 * own input, so that a condition can say "the live read equals what the step
 * set" (`result == input.replicas`). A condition must look at `result`.
 * Ordering operators compare numbers only; `==`/`!=` compare values of one
 * type. A comparison that cannot be made (a string against a number, an
 * input field that is absent) makes the measurement inconclusive, never a
 * pass. Pure and import-free: the workflow sandbox evaluates it.
 */

export type Scalar = number | string | boolean;

export type Operand =
  | { readonly kind: "result" }
  | { readonly kind: "literal"; readonly value: Scalar }
  | { readonly kind: "input"; readonly path: readonly string[] };

export type Operator = "<" | "<=" | ">" | ">=" | "==" | "!=";

export type Condition =
  | { readonly kind: "compare"; readonly op: Operator; readonly left: Operand; readonly right: Operand }
  | { readonly kind: "and" | "or"; readonly terms: readonly Condition[] };

export type ParsedCondition =
  | { readonly ok: true; readonly condition: Condition; readonly inputFields: readonly string[] }
  | { readonly ok: false; readonly message: string; readonly fix: string };

/** What `evaluate` answers: the condition's truth, or why it could not be judged. */
export type Evaluation =
  | { readonly ok: true; readonly holds: boolean }
  | { readonly ok: false; readonly reason: string };

const MAX_LENGTH = 200;
const FIX =
  'write a comparison of result, e.g. "result < 0.05", "result == input.replicas" or "result >= 1 && result <= 3"';

type Token =
  | { readonly t: "op"; readonly v: Operator }
  | { readonly t: "logic"; readonly v: "&&" | "||" }
  | { readonly t: "paren"; readonly v: "(" | ")" }
  | { readonly t: "operand"; readonly v: Operand; readonly text: string };

class ConditionSyntaxError extends Error {}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const two = rest.slice(0, 2);
    if (two === "&&" || two === "||") {
      tokens.push({ t: "logic", v: two });
      i += 2;
      continue;
    }
    const op = /^(<=|>=|==|!=|<|>)/.exec(rest);
    if (op) {
      tokens.push({ t: "op", v: op[0] as Operator });
      i += op[0].length;
      continue;
    }
    if (rest[0] === "(" || rest[0] === ")") {
      tokens.push({ t: "paren", v: rest[0] });
      i += 1;
      continue;
    }
    const number = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(rest);
    if (number) {
      tokens.push({ t: "operand", v: { kind: "literal", value: Number(number[0]) }, text: number[0] });
      i += number[0].length;
      continue;
    }
    const string = /^"([^"\\]*)"/.exec(rest);
    if (string) {
      tokens.push({ t: "operand", v: { kind: "literal", value: string[1] as string }, text: string[0] });
      i += string[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest);
    if (word) {
      tokens.push({ t: "operand", v: wordOperand(word[0]), text: word[0] });
      i += word[0].length;
      continue;
    }
    throw new ConditionSyntaxError(`unexpected "${rest[0]}" at position ${i + 1}`);
  }
  return tokens;
}

function wordOperand(word: string): Operand {
  if (word === "result") return { kind: "result" };
  if (word === "true" || word === "false") return { kind: "literal", value: word === "true" };
  const [head, ...path] = word.split(".");
  if (head === "input" && path.length > 0) return { kind: "input", path };
  throw new ConditionSyntaxError(
    `unknown name "${word}": only result, input.<field>, numbers, "strings", true and false`,
  );
}

/** Parses a condition; the error names what is wrong and how to write it. */
export function parseCondition(text: string): ParsedCondition {
  if (text.trim() === "") return { ok: false, message: "the condition is empty", fix: FIX };
  if (text.length > MAX_LENGTH) {
    return { ok: false, message: `the condition is ${text.length} characters, more than ${MAX_LENGTH}`, fix: FIX };
  }
  try {
    const tokens = tokenize(text);
    let at = 0;
    const peek = () => tokens[at];
    const expectOperand = (): Operand => {
      const token = tokens[at++];
      if (token?.t !== "operand") throw new ConditionSyntaxError(`expected a value ${where(token)}`);
      return token.v;
    };
    const term = (): Condition => {
      if (peek()?.t === "paren" && peek()?.v === "(") {
        at++;
        const inner = or();
        const close = tokens[at++];
        if (close?.t !== "paren" || close.v !== ")") throw new ConditionSyntaxError(`expected ")" ${where(close)}`);
        return inner;
      }
      const left = expectOperand();
      const op = tokens[at++];
      if (op?.t !== "op") throw new ConditionSyntaxError(`expected a comparison (<, <=, >, >=, ==, !=) ${where(op)}`);
      const right = expectOperand();
      return { kind: "compare", op: op.v, left, right };
    };
    const chain = (logic: "&&" | "||", next: () => Condition): Condition => {
      const terms = [next()];
      while (peek()?.t === "logic" && peek()?.v === logic) {
        at++;
        terms.push(next());
      }
      return terms.length === 1 ? (terms[0] as Condition) : { kind: logic === "&&" ? "and" : "or", terms };
    };
    const and = () => chain("&&", term);
    const or = (): Condition => chain("||", and);
    const condition = or();
    if (at < tokens.length)
      throw new ConditionSyntaxError(`unexpected ${describe(tokens[at])} after a complete condition`);
    const operands = operandsOf(condition);
    if (!operands.some((o) => o.kind === "result")) {
      return { ok: false, message: `"${text}" never looks at result, so it could not judge a measurement`, fix: FIX };
    }
    for (const c of comparisons(condition)) {
      if (c.left.kind === "literal" && c.right.kind === "literal") {
        return { ok: false, message: `"${text}" compares two constants`, fix: FIX };
      }
      for (const side of [c.left, c.right]) {
        if (side.kind === "literal" && typeof side.value !== "number" && !(c.op === "==" || c.op === "!=")) {
          return {
            ok: false,
            message: `"${text}" orders a ${typeof side.value} with ${c.op}; only numbers are ordered`,
            fix: `compare strings and booleans with == or != (result == "Healthy"), numbers with < <= > >=`,
          };
        }
      }
    }
    const inputFields = [...new Set(operands.flatMap((o) => (o.kind === "input" ? [o.path.join(".")] : [])))];
    return { ok: true, condition, inputFields };
  } catch (error) {
    if (error instanceof ConditionSyntaxError) {
      return { ok: false, message: `cannot read condition "${text}": ${error.message}`, fix: FIX };
    }
    throw error;
  }
}

function where(token: Token | undefined): string {
  return token === undefined ? "at the end" : `instead of ${describe(token)}`;
}

function describe(token: Token | undefined): string {
  if (token === undefined) return "the end";
  return token.t === "operand" ? `"${token.text}"` : `"${token.v}"`;
}

function comparisons(c: Condition): Extract<Condition, { kind: "compare" }>[] {
  return c.kind === "compare" ? [c] : c.terms.flatMap(comparisons);
}

function operandsOf(c: Condition): Operand[] {
  return comparisons(c).flatMap((x) => [x.left, x.right]);
}

/** Judges `condition` for a measured value and the step's input. Never throws. */
export function evaluate(condition: Condition, result: Scalar, input: Readonly<Record<string, unknown>>): Evaluation {
  if (condition.kind === "compare") return compare(condition, result, input);
  for (const term of condition.terms) {
    const e = evaluate(term, result, input);
    if (!e.ok) return e;
    if (condition.kind === "and" && !e.holds) return e;
    if (condition.kind === "or" && e.holds) return e;
  }
  return { ok: true, holds: condition.kind === "and" };
}

function compare(
  c: Extract<Condition, { kind: "compare" }>,
  result: Scalar,
  input: Readonly<Record<string, unknown>>,
): Evaluation {
  const left = operandValue(c.left, result, input);
  if (!left.ok) return left;
  const right = operandValue(c.right, result, input);
  if (!right.ok) return right;
  const a = left.value;
  const b = right.value;
  if (typeof a !== typeof b) {
    return {
      ok: false,
      reason: `cannot compare ${typeof a} ${JSON.stringify(a)} with ${typeof b} ${JSON.stringify(b)}`,
    };
  }
  if (c.op === "==") return { ok: true, holds: a === b };
  if (c.op === "!=") return { ok: true, holds: a !== b };
  if (typeof a !== "number" || typeof b !== "number") {
    return { ok: false, reason: `cannot order ${typeof a} values with ${c.op}` };
  }
  const holds = c.op === "<" ? a < b : c.op === "<=" ? a <= b : c.op === ">" ? a > b : a >= b;
  return { ok: true, holds };
}

function operandValue(
  operand: Operand,
  result: Scalar,
  input: Readonly<Record<string, unknown>>,
): { ok: true; value: Scalar } | { ok: false; reason: string } {
  if (operand.kind === "result") return { ok: true, value: result };
  if (operand.kind === "literal") return { ok: true, value: operand.value };
  let value: unknown = input;
  for (const key of operand.path) {
    value =
      value !== null && typeof value === "object" && !Array.isArray(value)
        ? (value as Record<string, unknown>)[key]
        : undefined;
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return { ok: true, value };
  return { ok: false, reason: `the step's input has no value at input.${operand.path.join(".")}` };
}
