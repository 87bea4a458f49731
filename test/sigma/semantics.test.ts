import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Event } from '../../src/evidence/event.js';
import { compileDetection } from '../../src/sigma/compile.js';
import { parseCondition } from '../../src/sigma/condition.js';
import { RuleError } from '../../src/sigma/errors.js';

/** An event from plain fields. */
function ev(fields: Record<string, unknown>): Event {
  return { get: (f) => fields[f], values: () => Object.values(fields) };
}

/** Whether a one-selection detection matches the event. */
function matches(selection: unknown, fields: Record<string, unknown>, condition = 'sel'): boolean {
  return compileDetection({ sel: selection, condition })(ev(fields));
}

const table: [string, unknown, Record<string, unknown>, boolean][] = [
  // maps are AND, lists are OR
  ['map AND', { A: 'x', B: 'y' }, { A: 'x', B: 'y' }, true],
  ['map AND fails', { A: 'x', B: 'y' }, { A: 'x', B: 'z' }, false],
  ['list OR', { A: ['x', 'y'] }, { A: 'y' }, true],
  ['list of maps OR', [{ A: 'x' }, { B: 'y' }], { B: 'y' }, true],
  // case and wildcards
  ['case-insensitive by default', { A: 'CMD.exe' }, { A: 'cmd.EXE' }, true],
  ['cased', { 'A|cased': 'CMD.exe' }, { A: 'cmd.exe' }, false],
  ['* wildcard', { A: 'c*.exe' }, { A: 'cmd.exe' }, true],
  ['? wildcard', { A: 'c?d.exe' }, { A: 'cmd.exe' }, true],
  ['? needs one character', { A: 'c?d.exe' }, { A: 'cd.exe' }, false],
  ['escaped \\* is a star', { A: 'a\\*b' }, { A: 'a*b' }, true],
  ['escaped \\* is not a wildcard', { A: 'a\\*b' }, { A: 'axb' }, false],
  ['\\\\* is a backslash then a wildcard', { A: 'C:\\\\*' }, { A: 'C:\\Windows' }, true],
  ['\\\\\\* is a backslash and a star', { A: 'a\\\\\\*' }, { A: 'a\\*' }, true],
  ['plain backslash', { A: 'C:\\Windows\\cmd.exe' }, { A: 'c:\\windows\\CMD.exe' }, true],
  ['four backslashes are two', { A: '\\\\\\\\' }, { A: '\\\\' }, true],
  ['numbers compare as text', { EventID: 4624 }, { EventID: 4624 }, true],
  ['number to string value', { EventID: '4624' }, { EventID: 4624 }, true],
  // string modifiers
  ['contains', { 'A|contains': 'whoami' }, { A: 'cmd /c WHOAMI /all' }, true],
  ['startswith', { 'A|startswith': 'cmd' }, { A: 'cmd /c' }, true],
  ['endswith', { 'A|endswith': '\\cmd.exe' }, { A: 'C:\\Windows\\System32\\cmd.exe' }, true],
  ['endswith fails', { 'A|endswith': '\\cmd.exe' }, { A: 'C:\\cmd.exe.bak' }, false],
  ['contains|all', { 'A|contains|all': ['net', 'user', '/add'] }, { A: 'net user bob /add' }, true],
  ['contains|all needs every value', { 'A|contains|all': ['net', 'user', '/add'] }, { A: 'net user bob' }, false],
  ['windash matches slash for dash', { 'A|windash|contains': ' -exec ' }, { A: 'x /exec y' }, true],
  ['windash matches en dash', { 'A|windash|contains': ' -exec ' }, { A: 'x –exec y' }, true],
  ['base64', { 'A|base64': 'foo' }, { A: 'Zm9v' }, true],
  ['base64offset|contains, offset 0', { 'A|base64offset|contains': 'ping' }, { A: Buffer.from('ping 1.2.3.4').toString('base64') }, true],
  ['base64offset|contains, offset 1', { 'A|base64offset|contains': 'ping' }, { A: Buffer.from('a ping 1.2.3.4').toString('base64') }, true],
  ['base64offset|contains, offset 2', { 'A|base64offset|contains': 'ping' }, { A: Buffer.from('ab ping 1.2.3.4').toString('base64') }, true],
  ['wide|base64offset|contains', { 'A|wide|base64offset|contains': 'IEX' }, { A: Buffer.from('x IEX (New-Object', 'utf16le').toString('base64') }, true],
  ['utf16le|base64', { 'A|utf16le|base64': 'ab' }, { A: Buffer.from('ab', 'utf16le').toString('base64') }, true],
  ['utf16be|base64', { 'A|utf16be|base64': 'ab' }, { A: Buffer.from([0, 0x61, 0, 0x62]).toString('base64') }, true],
  ['utf16|base64', { 'A|utf16|base64': 'ab' }, { A: Buffer.from([0xff, 0xfe, 0x61, 0, 0x62, 0]).toString('base64') }, true],
  // regular expressions
  ['re is case-sensitive', { 'A|re': 'cmd\\.exe$' }, { A: 'CMD.EXE' }, false],
  ['re|i', { 'A|re|i': 'cmd\\.exe$' }, { A: 'CMD.EXE' }, true],
  ['re searches anywhere', { 'A|re': 'c.d' }, { A: 'x cmd y' }, true],
  ['re|s dot matches newline', { 'A|re|s': 'a.b' }, { A: 'a\nb' }, true],
  ['re without s', { 'A|re': 'a.b' }, { A: 'a\nb' }, false],
  ['re|m anchors per line', { 'A|re|m': '^b$' }, { A: 'a\nb\nc' }, true],
  ['hostile regex is linear (RE2)', { 'A|re': '(a+)+$' }, { A: 'a'.repeat(50_000) + 'b' }, false],
  // numbers
  ['gt', { 'A|gt': 10 }, { A: 11 }, true],
  ['gt fails equal', { 'A|gt': 10 }, { A: '10' }, false],
  ['gte', { 'A|gte': 10 }, { A: '10' }, true],
  ['lt', { 'A|lt': 10 }, { A: 9.5 }, true],
  ['lte not a number', { 'A|lte': 10 }, { A: 'x' }, false],
  ['neq', { 'A|neq': 'x' }, { A: 'y' }, true],
  ['neq same', { 'A|neq': 'x' }, { A: 'X' }, false],
  ['neq on a missing field', { 'A|neq': 'x' }, {}, false],
  // IP
  ['cidr v4', { 'A|cidr': '10.0.0.0/8' }, { A: '10.1.2.3' }, true],
  ['cidr v4 outside', { 'A|cidr': '10.0.0.0/8' }, { A: '11.1.2.3' }, false],
  ['cidr v6', { 'A|cidr': '2001:db8::/32' }, { A: '2001:db8:1::5' }, true],
  ['cidr v6 outside', { 'A|cidr': '2001:db8::/32' }, { A: '2001:db9::5' }, false],
  ['cidr v4 on IPv4-mapped v6', { 'A|cidr': '192.168.0.0/16' }, { A: '::ffff:192.168.1.1' }, true],
  ['cidr on a non-address', { 'A|cidr': '10.0.0.0/8' }, { A: '-' }, false],
  // existence, null, empty
  ['exists true', { 'A|exists': true }, { A: '' }, true],
  ['exists false', { 'A|exists': false }, { B: 1 }, true],
  ['exists true on missing', { 'A|exists': true }, {}, false],
  ['null matches a missing field', { A: null }, {}, true],
  ['null matches an empty element', { A: null }, { A: null }, true],
  ['null does not match a value', { A: null }, { A: 'x' }, false],
  ["'' matches an empty value", { A: '' }, { A: '' }, true],
  ["'' does not match a missing field", { A: '' }, {}, false],
  // field references and time
  ['fieldref', { 'A|fieldref': 'B' }, { A: 'x', B: 'X' }, true],
  ['fieldref differs', { 'A|fieldref': 'B' }, { A: 'x', B: 'y' }, false],
  ['fieldref|neq', { 'A|fieldref|neq': 'B' }, { A: 'x', B: 'y' }, true],
  ['hour', { 'T|hour': 3 }, { T: '2021-03-03 03:10:00.000' }, true],
  ['month', { 'T|month': 3 }, { T: '2021-03-03T03:10:00Z' }, true],
  // arrays in events match by item
  ['array value', { Data: 'b' }, { Data: ['a', 'b'] }, true],
];

for (const [name, selection, fields, expected] of table) {
  test(`value: ${name}`, () => assert.equal(matches(selection, fields), expected));
}

test('keywords: a list is OR, anywhere in any value, case-insensitive', () => {
  assert.equal(matches(['event::clear', 'event::drop'], { A: 'mimikatz EVENT::Clear' }), true);
  assert.equal(matches(['event::clear'], { A: 'x' }), false);
  assert.equal(matches(['Set-OabVirtual*'], { A: 'x Set-OABVirtualDirectory y' }), true);
});

test("keywords: '|all' needs every keyword", () => {
  assert.equal(matches({ '|all': ['OabVirtualDirectory', ' -ExternalUrl '] }, { A: 'Set-OabVirtualDirectory -ExternalUrl http://x' }), true);
  assert.equal(matches({ '|all': ['OabVirtualDirectory', ' -ExternalUrl '] }, { A: 'Set-OabVirtualDirectory' }), false);
});

test('conditions: precedence or < and < not < x of < ( )', () => {
  assert.deepEqual(parseCondition('a or b and c'), { op: 'or', args: [{ op: 'id', name: 'a' }, { op: 'and', args: [{ op: 'id', name: 'b' }, { op: 'id', name: 'c' }] }] });
  assert.deepEqual(parseCondition('not a and b'), { op: 'and', args: [{ op: 'not', arg: { op: 'id', name: 'a' } }, { op: 'id', name: 'b' }] });
  assert.deepEqual(parseCondition('(a or b) and c'), { op: 'and', args: [{ op: 'or', args: [{ op: 'id', name: 'a' }, { op: 'id', name: 'b' }] }, { op: 'id', name: 'c' }] });
  assert.deepEqual(parseCondition('1 of sel* and not all of filter*'), {
    op: 'and', args: [{ op: 'of', count: 1, pattern: 'sel*' }, { op: 'not', arg: { op: 'of', count: 'all', pattern: 'filter*' } }],
  });
  assert.throws(() => parseCondition('a and'), /ends too early/);
  assert.throws(() => parseCondition('a b'), /unexpected "b"/);
  assert.throws(() => parseCondition('(a or b'), /expected "\)"/);
  // Nesting is bounded (later stages walk the tree by recursion); 100 levels are read, 101 are not.
  assert.deepEqual(parseCondition(`${'('.repeat(99)}not a${')'.repeat(99)}`), { op: 'not', arg: { op: 'id', name: 'a' } });
  assert.throws(() => parseCondition(`${'not '.repeat(50)}${'('.repeat(51)}a${')'.repeat(51)}`), /nested deeper than 100 levels/);
  assert.throws(() => parseCondition(`${'('.repeat(50_000)}a${')'.repeat(50_000)}`), /nested deeper than 100 levels/);
});

test('conditions: x of patterns, them, and underscore identifiers', () => {
  const det = (condition: string) => compileDetection({ sel_a: { A: 1 }, sel_b: { B: 1 }, _hidden: { C: 1 }, filter: { D: 1 }, condition });
  const e = ev({ A: 1, B: 2, C: 1, D: 2 });
  assert.equal(det('1 of sel_*')(e), true);
  assert.equal(det('all of sel_*')(e), false);
  assert.equal(det('any of sel_*')(e), true);
  assert.equal(det('2 of them')(e), false); // sel_a only; _hidden is not in "them"
  assert.equal(det('1 of them')(e), true);
  assert.equal(det('sel_a and not filter')(e), true);
  assert.equal(det('all of them')(ev({ A: 1, B: 1, D: 1 })), true);
  assert.equal(compileDetection({ a: { A: 1 }, b: { B: 1 }, condition: ['a', 'b'] })(ev({ B: 1 })), true, 'a list of conditions is OR');
});

test('placeholders with |expand take their values from the pipeline, or the rule is rejected', () => {
  const detection = { sel: { 'User|expand': '%Admins%' }, condition: 'sel' };
  assert.throws(() => compileDetection(detection), (e: unknown) => e instanceof RuleError && /%Admins%/.test((e as Error).message));
  const p = compileDetection(detection, { placeholders: new Map([['Admins', ['root', 'admin*']]]) });
  assert.equal(p(ev({ User: 'administrator' })), true);
  assert.equal(p(ev({ User: 'bob' })), false);
  assert.equal(compileDetection({ sel: { User: '%Admins%' }, condition: 'sel' })(ev({ User: '%Admins%' })), true, 'without expand, a literal');
});

test('bad rules are rejected with a reason', () => {
  assert.throws(() => compileDetection({ sel: { 'A|nosuchmod': 1 }, condition: 'sel' }), /unknown modifier "nosuchmod"/);
  assert.throws(() => compileDetection({ sel: { A: 1 }, condition: 'other' }), /does not define/);
  assert.throws(() => compileDetection({ sel: { A: 1 } }), /no condition/);
  assert.throws(() => compileDetection({ sel: { 'A|re': '(' }, condition: 'sel' }), /not supported/);
  assert.throws(() => compileDetection({ sel: { 'A|cidr': 'x' }, condition: 'sel' }), /CIDR/);
  assert.throws(() => compileDetection({ sel: { 'A|base64': 'a*' }, condition: 'sel' }), /wildcards/);
});
