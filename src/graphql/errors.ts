// Expected failures, returned as typed results (plugin-errors) with a message
// that says what was expected and what arrived. Anything else is unexpected
// and masked by yoga.

/** Base of every expected error; `path` names the input field at fault. */
export class RosterError extends Error {
  constructor(message: string, readonly path: string[] = []) {
    super(message);
    this.name = new.target.name;
  }
}

/** The id does not exist in the caller's workspace (whether or not it exists elsewhere). */
export class NotFoundError extends RosterError {
  constructor(readonly typeName: string, readonly id: string, path: string[] = ['id']) {
    super(`${typeName} "${id}" not found in this workspace`, path);
  }
}

export interface ValidationProblem {
  path: string[];
  message: string;
  suggestion?: string;
}

/** One or more inputs are invalid; every problem is reported at once. */
export class ValidationError extends RosterError {
  constructor(readonly problems: ValidationProblem[]) {
    super(
      problems.length === 1
        ? formatProblem(problems[0]!)
        : `${problems.length} problems: ${problems.map(formatProblem).join('; ')}`,
      problems[0]?.path ?? [],
    );
  }
}

/** ["and", "1", "attribute", "path"] → "and[1].attribute.path" */
export function formatPath(path: readonly string[]): string {
  return path.reduce((out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part), '');
}

export function formatProblem(p: ValidationProblem): string {
  const at = p.path.length ? `${formatPath(p.path)}: ` : '';
  return `${at}${p.message}${p.suggestion ? `; did you mean "${p.suggestion}"?` : ''}`;
}

/** A name is already taken in the workspace. */
export class ConflictError extends RosterError {}

/** The warehouse could not be reached or refused what was asked. */
export class SourceConnectionError extends RosterError {
  constructor(message: string, readonly code: string, path: string[] = []) {
    super(message, path);
  }
}

/** The object exists but the operation is not allowed in its current state. */
export class InvalidStateError extends RosterError {}
