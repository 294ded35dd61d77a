// Naming of mutation results: `<Name>Result = <Name>Payload | <errors…>`,
// with the payload's data under a field named for what it holds.
import type { RosterError } from './errors.js';

type ErrorClass = new (...args: never[]) => RosterError;

export function resultOf(name: string, dataField: string, types: ErrorClass[]) {
  return {
    types,
    union: { name: `${name}Result` },
    result: { name: `${name}Payload` },
    dataField: { name: dataField },
  } as const;
}
